"""Reading datasets in their own on-disk layouts into a ``Manifest``, without decoding any audio.

Each layout is one function registered with ``@layout("name")``; ``build`` runs it (``detect`` guesses
which). Metadata problems (a listed file missing, a name that does not parse, an empty label, a bad fold)
become ``manifest.bad`` entries while the good rows load; only unreadable metadata raises ``DatasetError``.
Decoding is checked later (``tympan inspect``), so an undecodable ``.wav`` is still an item here.
"""

from __future__ import annotations

import csv
import functools
import inspect
import math
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..audio import is_audio_path
from ..errors import ConfigError, DatasetError
from .manifest import BadFile, Item, Manifest

# Files that travel with datasets but are never recordings: skipped silently when scanning folders.
SIDECAR_EXTENSIONS = frozenset({".txt", ".md", ".csv", ".json", ".yaml", ".yml", ".xml", ".pdf", ".jpg",
                                ".jpeg", ".png", ".db", ".ini", ".log", ".lock", ".npy"})
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}
CSV_COLUMNS = ("path", "label", "split", "fold", "group", "start", "end")  # defaults of the *_column options
CSV_REQUIRED = ("path", "label")
# Words that name what a group is, for a template's placeholder and for hints about unused CSV columns.
GROUP_WORDS = ("speaker", "singer", "performer", "artist", "instrument", "source", "session", "site", "recording",
               "microphone", "room", "device", "city", "location", "user", "subject")

FSDD_NAME = re.compile(r"^(\d)_([^_]+)_(\d+)\.wav$", re.IGNORECASE)
FSDD_RECORDINGS = "recordings"
FSDD_CLASSES = [str(digit) for digit in range(10)]
FSDD_TEST_TAKES = range(0, 5)  # the official split: takes 0-4 of each speaker and digit are the test set

ESC50_META = Path("meta", "esc50.csv")
ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
ESC50_FOLDS = range(1, 6)
ESC50_SUBSETS = ("esc50", "esc10")

US8K_META = Path("metadata", "UrbanSound8K.csv")
US8K_COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
US8K_FOLDS = range(1, 11)

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_DIRS = ("genres", "genres_original")  # the original release, Kaggle's re-packaging
GTZAN_NAME = re.compile(r"^([a-z]+)\.\d{5}\.\w+$")

SC_LISTS = {"validation_list.txt": "val", "testing_list.txt": "test"}
SC_NOISE = "_background_noise_"
SC_NAME = re.compile(r"^([^_]+)_nohash_\d+\.\w+$")

# What each layout expects, for the errors that have to say so.
EXPECTS = {
    "folder": "root/<class>/**/<audio files> (a folder per class; group_pattern= reads groups from names)",
    "csv": "a .csv file with columns path,label (optional split, fold, group, start, end)",
    "fsdd": "{digit}_{speaker}_{index}.wav files in root/recordings/ or root",
    "esc50": f"root/{ESC50_META.as_posix()} and root/audio/",
    "urbansound8k": f"root/{US8K_META.as_posix()} and root/audio/fold1..fold10/",
    "gtzan": "root/genres/<genre>/<genre>.00000.au or root/genres_original/<genre>/<genre>.00000.wav",
    "speech_commands": f"root/<word>/<speaker>_nohash_<n>.wav with {' or '.join(SC_LISTS)} or {SC_NOISE}/",
}

LAYOUTS: dict[str, Callable[..., Manifest]] = {}


def layout(name: str, file: bool = False, group_name: str = "group"):
    """Register ``builder(root: Path, **options) -> (items, classes, bad[, extras[, group_name[, other_columns]]])``
    as ``LAYOUTS[name]``: a function of any path (a folder, or a file if ``file``) and options, checked, that
    returns a Manifest. ``group_name`` says what the layout's groups are (a speaker, a source recording)."""
    def register(builder):
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
                                   f"the {name} layout expects {EXPECTS[name]}")
            found = builder(root, **kwargs)
            manifest = Manifest(str(root), name, *found)
            return manifest if len(found) > 4 else replace(manifest, group_name=group_name)

        LAYOUTS[name] = build_layout
        return build_layout
    return register


def _existing(path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: not found; give the dataset's folder (or its CSV file)")
    return path.resolve()


def _scan(folder: Path, recursive: bool = False) -> list[Path]:
    """Files under ``folder`` that may be recordings, sorted; hidden entries and sidecars skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
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


@layout("folder")
def folder(root: Path, group_pattern=None):
    """``root/<class>/**/<file>``: the top-level folder names the class; classes sorted. ``group_pattern``
    (``group_matcher``) reads each file's group, e.g. the speaker, from its name."""
    classes = _class_dirs(root, recursive=True)
    if not classes:
        raise DatasetError(f"{root}: no class folders with files in it; "
                           f"the folder layout expects {EXPECTS['folder']}")
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


@layout("csv", file=True)
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


@layout("fsdd", group_name="speaker")
def fsdd(root: Path):
    """Free Spoken Digit Dataset: label = digit, group = speaker, official split (takes 0-4 = test)."""
    items, bad = [], []
    for f in _scan(root / FSDD_RECORDINGS if (root / FSDD_RECORDINGS).is_dir() else root):
        if not (match := FSDD_NAME.match(f.name)):
            bad.append(BadFile(str(f), "name does not match {digit}_{speaker}_{index}.wav"))
            continue
        digit, speaker, take = match.groups()
        items.append(Item(str(f), (digit,), "test" if int(take) in FSDD_TEST_TAKES else "train", group=speaker))
    return items, FSDD_CLASSES, bad


@layout("esc50", group_name="source recording")
def esc50(root: Path, subset="esc50"):
    """ESC-50 (or its ESC-10 subset): label = category in target order, official folds, group = source clip."""
    if subset not in ESC50_SUBSETS:
        raise ConfigError(f"esc50 option subset={subset!r}: choose one of {', '.join(ESC50_SUBSETS)}")
    items, bad, by_target = [], [], {}
    for line, row in _read_table(root / ESC50_META, ESC50_COLUMNS):
        if subset == "esc10" and row["esc10"].lower() != "true":
            continue
        path = str(root / "audio" / row["filename"])
        try:
            by_target.setdefault(_number(row["target"], "target"), row["category"])
            fold = _number(row["fold"], "fold", int, ESC50_FOLDS)
            if not row["category"] or fold is None:
                raise ValueError("empty category" if fold else "empty fold")
            if not os.path.isfile(path):
                raise ValueError(f"listed in {ESC50_META.as_posix()} but not found")
        except ValueError as error:
            bad.append(BadFile(path, f"{error} (line {line} of {ESC50_META.name})"))
            continue
        # Clips cut from one freesound recording share src_file: they must not straddle folds or splits.
        items.append(Item(path, (row["category"],), fold=fold, group=row["src_file"] or None))
    return items, _ordered(by_target), bad


@layout("urbansound8k", group_name="source recording")
def urbansound8k(root: Path):
    """UrbanSound8K: label = class in classID order, official folds, group = freesound recording (fsID)."""
    items, bad, by_id = [], [], {}
    for line, row in _read_table(root / US8K_META, US8K_COLUMNS):
        where = f"line {line} of {US8K_META.name}"
        try:
            by_id.setdefault(_number(row["classID"], "classID"), row["class"])
            fold = _number(row["fold"], "fold", int, US8K_FOLDS)
            if fold is None:
                raise ValueError("empty fold")
        except ValueError as error:  # without a fold there is no folder to look in
            bad.append(BadFile(str(root / US8K_META) + f":{line}", f"{row['slice_file_name']}: {error} ({where})"))
            continue
        path = str(root / "audio" / f"fold{fold}" / row["slice_file_name"])
        if not row["class"] or not os.path.isfile(path):
            bad.append(BadFile(path, f"{'listed but not found' if row['class'] else 'empty class'} ({where})"))
            continue
        # start/end locate the slice inside the original freesound recording, and each slice file already
        # holds only that slice: as Item.start/end they would crop the slice a second time, wrongly.
        items.append(Item(path, (row["class"],), fold=fold, group=row["fsID"] or None))
    return items, _ordered(by_id), bad


def _ordered(by_index: dict) -> list[str]:
    """Class names in the order of the dataset's own class index (ESC-50's target, US8K's classID)."""
    return list(dict.fromkeys(by_index[i] for i in sorted(i for i in by_index if i is not None) if by_index[i]))


@layout("gtzan")
def gtzan(root: Path):
    """GTZAN genres: label = genre folder, classes sorted; no split and no group.

    GTZAN ships no artist metadata, yet many artists recur within a genre (Sturm, 2013): random splits
    share artists between training and test, so their accuracies are optimistic.
    """
    base = root if root.name in GTZAN_DIRS else next((root / d for d in GTZAN_DIRS if (root / d).is_dir()), root)
    genres = _class_dirs(base, recursive=False)
    if not genres:
        raise DatasetError(f"{root}: no genre folders with files; the gtzan layout expects {EXPECTS['gtzan']}")
    # Kaggle's copy holds one undecodable file (jazz.00054.wav): it stays an item, and decoding reports it.
    return [Item(str(f), (genre,)) for genre, files in genres.items() for f in files], list(genres), []


@layout("speech_commands", group_name="speaker")
def speech_commands(root: Path):
    """Google Speech Commands: label = word folder, group = speaker, split from the two official lists."""
    listed, items = {}, []  # "word/file.wav" -> (split, list file)
    for name, split in SC_LISTS.items():
        entries = (root / name).read_text(encoding="utf-8").split() if (root / name).is_file() else []
        listed.update(dict.fromkeys(entries, (split, name)))
    bad = [BadFile(str(root / e), f"listed in {listed[e][1]} but not found")
           for e in sorted(listed) if not (root / e).is_file()]
    words = _class_dirs(root, recursive=False, exclude=(SC_NOISE,))
    for word, files in words.items():
        for f in files:
            if not (match := SC_NAME.match(f.name)):
                bad.append(BadFile(str(f), "name does not match <speaker>_nohash_<n>.wav"))
                continue
            items.append(Item(str(f), (word,), listed.get(f"{word}/{f.name}", ("train",))[0], group=match.group(1)))
    # Long recordings of noise, not a word: kept for augmentation, never as a class.
    noise = [str(f) for f in _scan(root / SC_NOISE) if is_audio_path(f)] if (root / SC_NOISE).is_dir() else []
    return items, list(words), bad, {"background_noise": noise} if noise else {}


def _looks_like_gtzan(path: Path) -> bool:
    if path.name in GTZAN_DIRS or any((path / d).is_dir() for d in GTZAN_DIRS):
        return True
    dirs = _class_dirs(path, recursive=False)
    return bool(dirs) and all(genre in GTZAN_GENRES and all(
        (m := GTZAN_NAME.match(f.name)) and m.group(1) == genre for f in files) for genre, files in dirs.items())


def _looks_like_fsdd(path: Path) -> bool:
    audio = [f for f in _scan(path / FSDD_RECORDINGS if (path / FSDD_RECORDINGS).is_dir() else path)
             if is_audio_path(f)]
    return bool(audio) and all(FSDD_NAME.match(f.name) for f in audio)


def detect(path) -> str:
    """The key of ``LAYOUTS`` that ``path`` (a dataset folder or CSV file) is in, from the files it holds.

    Checked in order: a CSV file; ESC-50's and UrbanSound8K's metadata; Speech Commands' lists or noise
    folder; GTZAN's folders and names; FSDD's names; any class folders. ``DatasetError`` if ``path`` is
    missing or nothing fits, listing what each layout expects.

    Examples
    --------
    >>> import tempfile
    >>> from tympan.data.synthetic import make_demo
    >>> detect(make_demo(tempfile.mkdtemp(), n_per_class=2, overwrite=True))
    'folder'
    """
    path = _existing(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
    elif (path / ESC50_META).is_file():
        return "esc50"
    elif (path / US8K_META).is_file():
        return "urbansound8k"
    elif any((path / name).exists() for name in (*SC_LISTS, SC_NOISE)):
        return "speech_commands"
    elif _looks_like_gtzan(path):
        return "gtzan"
    elif _looks_like_fsdd(path):
        return "fsdd"
    elif _class_dirs(path, recursive=True):
        return "folder"
    known = "\n".join(f"  {name}: {EXPECTS.get(name, 'see its docstring')}" for name in LAYOUTS)
    raise DatasetError(f"{path}: cannot tell which dataset layout this is. Known layouts:\n{known}\n"
                       "Pass layout=... (--layout) to choose one explicitly.")


def build(path, layout: str = "auto", **options) -> Manifest:
    """Read a dataset from its own layout into a ``Manifest``, without decoding audio.

    Parameters
    ----------
    path : str or Path
        The dataset's folder, or a CSV file for the ``csv`` layout.
    layout : str
        A key of ``LAYOUTS`` (folder, csv, fsdd, esc50, urbansound8k, gtzan, speech_commands), or "auto".
    **options
        The layout's own options, e.g. ``subset="esc10"`` for ESC-50, ``label_column="tags"`` for CSV.

    Returns
    -------
    Manifest
        Items with absolute paths in sorted, deterministic order; metadata problems in ``bad``.

    Raises
    ------
    DatasetError
        If ``path`` is missing, the layout unknown or the metadata unreadable.
    ConfigError
        If an option is not one the layout has, or has a bad value.

    Examples
    --------
    >>> import tempfile
    >>> from tympan.data.synthetic import make_demo
    >>> manifest = build(make_demo(tempfile.mkdtemp(), n_per_class=2, overwrite=True))
    >>> manifest.layout, len(manifest), manifest.classes[:2]
    ('folder', 20, ['birdsong', 'chord_major'])
    """
    if layout == "auto":
        layout = detect(path)
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown dataset layout {layout!r}: choose auto or one of {', '.join(LAYOUTS)}")
    return LAYOUTS[layout](path, **options)
