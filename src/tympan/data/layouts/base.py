"""What every layout shares: the ``LAYOUTS`` registry and its ``@layout`` decorator, which checks a layout's
path and options and makes a ``Manifest`` of what it found, and the helpers that scan folders and read tables."""

from __future__ import annotations

import csv
import functools
import inspect
import math
import os
from dataclasses import replace
from pathlib import Path

from ...errors import ConfigError, DatasetError
from ...registry import Registry
from ..manifest import BadFile, Manifest

# Files that travel with datasets but are never recordings: skipped silently when scanning folders.
SIDECAR_EXTENSIONS = frozenset({".txt", ".md", ".csv", ".json", ".yaml", ".yml", ".xml", ".pdf", ".jpg",
                                ".jpeg", ".png", ".db", ".ini", ".log", ".lock", ".npy"})
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}

LAYOUTS = Registry("dataset layout")


def layout(name: str, expects: str, file: bool = False, group_name: str = "group"):
    """Register ``builder(root: Path, **options) -> (items, classes, bad[, extras[, group_name[, other_columns]]])``
    as ``LAYOUTS[name]``: a function of any path (a folder, or a file if ``file``) and options, checked, that
    returns a Manifest. ``expects`` says what the layout reads, for the errors that have to say so (it is the
    function's ``expects``); ``group_name`` says what the layout's groups are (a speaker, a source recording)."""
    def add(builder):
        options = [p for p in inspect.signature(builder).parameters if p != "root"]

        @functools.wraps(builder)
        def build_layout(root, **kwargs) -> Manifest:
            unknown = sorted(set(kwargs) - set(options))
            if unknown:
                raise ConfigError(f"layout {name!r} has no option {', '.join(map(repr, unknown))}; "
                                  f"its options are: {', '.join(options) or 'none'}")
            root = _existing(root)
            if root.is_file() != file:
                raise DatasetError(f"{root}: is a {'file' if root.is_file() else 'folder'}; "
                                   f"the {name} layout expects {expects}")
            found = builder(root, **kwargs)
            manifest = _once_each(Manifest(str(root), name, *found))
            return manifest if len(found) > 4 else replace(manifest, group_name=group_name)

        build_layout.expects = expects
        return LAYOUTS.register(name)(build_layout)
    return add


def _once_each(manifest: Manifest) -> Manifest:
    """The manifest with each recording (or segment) once: a row listed twice would be counted twice, and
    could land in training and in test at once. The first is kept; each repeat is a bad row saying so."""
    seen, items, bad = {}, [], list(manifest.bad)
    for item in manifest.items:
        key = (item.path, item.start, item.end)
        if key in seen:
            other = seen[key]
            bad.append(BadFile(item.path, "listed more than once" + (
                f", with another label ({', '.join(item.labels)}; kept: {', '.join(other.labels)})"
                if item.labels != other.labels else "") + ": kept the first, so it cannot be in two splits"))
            continue
        seen[key] = item
        items.append(item)
    return manifest if len(items) == len(manifest.items) else replace(manifest, items=items, bad=bad)


def _existing(path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: not found; give the dataset's folder (or its CSV file)")
    return path.resolve()


def _scan(folder: Path, recursive: bool = False) -> list[Path]:
    """Files under ``folder`` that may be recordings, sorted; hidden entries and sidecars skipped."""
    found = []
    # a folder that cannot be read is listed among the files, so that it is reported (permission denied)
    # with the bad recordings instead of silently holding nothing
    unreadable = lambda error: found.append(Path(error.filename))  # noqa: E731
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        found += [Path(dirpath, n) for n in filenames
                  if not n.startswith(".") and os.path.splitext(n)[1].lower() not in SIDECAR_EXTENSIONS]
    return sorted(found)


def _class_dirs(root: Path, recursive: bool, exclude=()) -> dict[str, list[Path]]:
    """``{sub-folder name: its candidate files}``, sorted; a stray empty folder is no class."""
    dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".") and d.name not in exclude]
    return {d.name: files for d in dirs if (files := _scan(d, recursive))}


def _read_table(file: Path, required, hint: str = "") -> list[tuple[int, dict]]:
    """Rows of a CSV file as ``(line number, {column: stripped value})``; ``DatasetError`` if unusable."""
    if not file.is_file():
        raise DatasetError(f"{file}: not found")
    try:
        # utf-8-sig: spreadsheets often save a byte-order mark that would otherwise glue onto the 1st column.
        with open(file, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in reader.fieldnames or []]
            rows = [(reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None})
                    for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{file}: cannot read it as CSV ({error})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(f"{file}: missing column(s) {', '.join(missing)}; "
                           f"found {', '.join(header) or 'no header'}{hint}")
    return rows


def _number(value: str, what: str, kind=int, allowed: range | None = None):
    """``value`` as ``kind`` (in ``allowed``), ``None`` if empty; ``ValueError`` saying why otherwise."""
    if not value:
        return None
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a {'whole number' if kind is int else 'number'}") from None
    if allowed is not None and number not in allowed:
        raise ValueError(f"{what} {number} is outside {allowed.start}-{allowed.stop - 1}")
    if kind is float and not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{what} {value!r} is not a finite, non-negative number of seconds")
    return number
