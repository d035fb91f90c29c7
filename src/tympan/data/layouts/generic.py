"""The layouts of any dataset: a folder per class (``folder``), or a CSV file listing the recordings (``csv``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from ...errors import ConfigError, DatasetError
from ..manifest import BadFile, Item
from .base import SPLIT_NAMES, _class_dirs, _number, _read_table, _scan, layout

CSV_COLUMNS = ("path", "label", "split", "fold", "group", "start", "end")  # defaults of the *_column options
CSV_REQUIRED = ("path", "label")
# Words that name what a group is, for a template's placeholder and for hints about unused CSV columns.
GROUP_WORDS = ("speaker", "singer", "performer", "artist", "instrument", "source", "session", "site", "recording",
               "microphone", "room", "device", "city", "location", "user", "subject")


def group_matcher(pattern: str) -> tuple[Callable[[str], str | None], str]:
    r"""A file-name pattern that names each recording's group: a function of a file's path below its class
    folder that returns its group (``None`` if the name does not match), and what the group is called.

    A template such as ``{digit}_{speaker}_{index}`` matches a whole file name without its extension: the
    placeholder named ``group``, or else the one named like a source (``speaker``, ``instrument``,
    ``session``... see ``GROUP_WORDS``), is the group; the others match anything. Anything else is a regular
    expression searched in the path below the class folder, whose named group ``group`` or first group is
    the group.

    Examples
    --------
    >>> group_of, name = group_matcher("{digit}_{speaker}_{index}")
    >>> group_of("7_jackson_32.wav"), name
    ('jackson', 'speaker')
    >>> group_matcher(r"^(\w+?)-")[0]("alice-take3.wav")
    'alice'
    """
    fields = re.findall(r"\{(\w*)\}", pattern)
    if fields:
        named = [f for f in fields if f == "group"] or [f for f in fields if f in GROUP_WORDS]
        if len(named) != 1:
            raise ConfigError(f"group_pattern={pattern!r}: name the group's place once, as {{group}} or "
                              f"{{speaker}} (or one of {', '.join(GROUP_WORDS)}), e.g. '{{digit}}_{{speaker}}_{{index}}'")
        regex = re.compile("^" + "".join("(?P<group>.+?)" if part == named[0] else ".*?" if i % 2 else re.escape(part)
                                         for i, part in enumerate(re.split(r"\{(\w*)\}", pattern))) + "$")

        def from_template(relative: str) -> str | None:
            found = regex.match(Path(relative).stem)
            return found.group("group") if found else None
        return from_template, named[0]
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"group_pattern={pattern!r}: not a template like '{{label}}_{{group}}_{{index}}' nor a "
                          f"regular expression ({error})") from None
    if regex.groups < 1:
        raise ConfigError(f"group_pattern={pattern!r}: a regular expression needs a group in parentheses, the "
                          "part of the name that is the group, e.g. '^([a-z]+)_'")

    def from_regex(relative: str) -> str | None:
        found = regex.search(relative)
        return (found.group("group") if "group" in regex.groupindex else found.group(1)) if found else None
    return from_regex, "group"


@layout("folder", expects="root/<class>/**/<audio files> (a folder per class; group_pattern= reads groups "
                          "from names)")
def folder(root: Path, group_pattern=None):
    """``root/<class>/**/<file>``: the top-level folder names the class; classes sorted. ``group_pattern``
    (``group_matcher``) reads each file's group, e.g. the speaker, from its name."""
    classes = _class_dirs(root, recursive=True)
    if not classes:
        raise DatasetError(f"{root}: no class folders with files in it; "
                           f"the folder layout expects {folder.expects}")
    bad = [BadFile(str(f), "not inside a class folder") for f in _scan(root)]
    if not group_pattern:
        return [Item(str(f), (name,)) for name, files in classes.items() for f in files], list(classes), bad
    group_of, group_name = group_matcher(group_pattern)
    items = []
    for name, files in classes.items():
        for f in files:
            group = group_of(f.relative_to(root / name).as_posix())
            if group is None:
                bad.append(BadFile(str(f), f"name does not match group_pattern {group_pattern!r}"))
            else:
                items.append(Item(str(f), (name,), group=group))
    return items, list(classes), bad, {}, group_name


@layout("csv", expects="a .csv file with columns path,label (optional split, fold, group, start, end)", file=True)
def csv_file(root: Path, path_column="path", label_column="label", split_column="split", fold_column="fold",
             group_column="group", start_column="start", end_column="end", label_separator=";"):
    """A CSV file listing ``path,label`` (optional split, fold, group, start, end); paths relative to it."""
    columns = (path_column, label_column, split_column, fold_column, group_column, start_column, end_column)
    # Optional columns may be absent, unless the user named one: then a typo must not pass unnoticed.
    required = [c for c, default in zip(columns, CSV_COLUMNS) if default in CSV_REQUIRED or c != default]
    hint = " (rename them, or name yours with options like path_column=..., label_column=...)"
    items, bad = [], []
    rows = _read_table(root, required, hint)
    header = list(rows[0][1]) if rows else []
    for line, row in rows:
        where = f"line {line} of {root.name}"
        if not row[path_column]:
            bad.append(BadFile(f"{root}:{line}", f"empty {path_column!r} ({where})"))
            continue
        path = str(root.parent / row[path_column])  # an absolute path stays as it is
        labels = tuple(p.strip() for p in row[label_column].split(label_separator) if p.strip())
        split = row.get(split_column, "").lower() or None
        try:
            if not labels:
                raise ValueError(f"empty label in column {label_column!r}")
            if split is not None and split not in SPLIT_NAMES:
                raise ValueError(f"split {row[split_column]!r} is not one of train, val, test")
            fold = _number(row.get(fold_column), "fold")
            start, end = _number(row.get(start_column), "start", float), _number(row.get(end_column), "end", float)
            if start is not None and end is not None and end <= start:
                raise ValueError(f"end {end:g} s is not after start {start:g} s")
            if not os.path.isfile(path):
                raise ValueError("listed but not found")
        except ValueError as error:
            bad.append(BadFile(path, f"{error} ({where})"))
            continue
        items.append(Item(path, labels, SPLIT_NAMES.get(split), fold, row.get(group_column) or None, start, end))
    other = [c for c in header if c not in columns]
    return items, sorted({label for item in items for label in item.labels}), bad, {}, group_column, other
