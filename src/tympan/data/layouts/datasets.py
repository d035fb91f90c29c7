"""The layouts of the standard datasets, each as its authors ship it: FSDD, ESC-50, UrbanSound8K, GTZAN and
Speech Commands, with their official splits or folds and their groups (speakers, source recordings)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...audio import is_audio_path
from ...errors import ConfigError, DatasetError
from ..manifest import BadFile, Item
from .base import _class_dirs, _number, _read_table, _scan, layout

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


@layout("fsdd", expects="{digit}_{speaker}_{index}.wav files in root/recordings/ or root", group_name="speaker")
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


@layout("esc50", expects=f"root/{ESC50_META.as_posix()} and root/audio/", group_name="source recording")
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


@layout("urbansound8k", expects=f"root/{US8K_META.as_posix()} and root/audio/fold1..fold10/",
        group_name="source recording")
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


@layout("gtzan", expects="root/genres/<genre>/<genre>.00000.au or root/genres_original/<genre>/<genre>.00000.wav")
def gtzan(root: Path):
    """GTZAN genres: label = genre folder, classes sorted; no split and no group.

    GTZAN ships no artist metadata, yet many artists recur within a genre (Sturm, 2013): random splits
    share artists between training and test, so their accuracies are optimistic.
    """
    base = root if root.name in GTZAN_DIRS else next((root / d for d in GTZAN_DIRS if (root / d).is_dir()), root)
    genres = _class_dirs(base, recursive=False)
    if not genres:
        raise DatasetError(f"{root}: no genre folders with files; the gtzan layout expects {gtzan.expects}")
    # Kaggle's copy holds one undecodable file (jazz.00054.wav): it stays an item, and decoding reports it.
    return [Item(str(f), (genre,)) for genre, files in genres.items() for f in files], list(genres), []


@layout("speech_commands", group_name="speaker",
        expects=f"root/<word>/<speaker>_nohash_<n>.wav with {' or '.join(SC_LISTS)} or {SC_NOISE}/")
def speech_commands(root: Path):
    """Google Speech Commands: label = word folder, group = speaker, split from the two official lists."""
    listed, items = {}, []  # "word/file.wav" -> (split, list file)
    for name, split in SC_LISTS.items():
        try:
            entries = (root / name).read_text(encoding="utf-8").split() if (root / name).is_file() else []
        except (OSError, UnicodeDecodeError) as error:
            raise DatasetError(f"{root / name}: cannot read it as a list of files ({error})") from None
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
