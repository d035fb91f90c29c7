"""The layout of strongly-labelled recordings: a folder of recordings and DCASE annotation files (``events``).

Each annotation file (``.tsv`` or ``.csv``, columns ``filename, onset, offset, event_label``, optional
``split, fold, group``) lists events; a file with a ``filename`` column and no ``event_label`` (DCASE's
``durations.tsv``) lists recordings, which have no events unless an annotation file gives them some; one
with ``filename, event_labels`` (DCASE's ``weak.tsv``) gives recordings weak labels only: the classes
heard, not when (their items' ``events`` are ``None``; strong labels of the same recording win). A
file's split comes from its ``split`` column, else from the annotation file's name or folder
(``train.tsv``, ``validation/``, ``eval``...). Each recording is one item whose ``events`` are its strong
labels and whose ``labels`` are the classes among them (weak labels), so clip-level commands work too.

Headers are read (no decoding) to find missing and unreadable recordings and events past their end.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...audio import info, is_audio_path
from ...defaults import default_workers
from ...errors import AudioError, DatasetError
from ..events import COLUMNS, OPTIONAL_COLUMNS, Event, read_annotations, weak_labels
from ..manifest import BadFile, Item
from .base import SPLIT_NAMES, _number, _scan, layout

EVENT_SPLITS = {**SPLIT_NAMES, "eval": "test", "evaluation": "test", "public": "test", "dev": "train"}
# an offset this far past the end of its file is rounding in the annotation, cut to the end; more is an error
END_TOLERANCE = 0.05
SEARCH_DEPTH = 3


def annotation_files(root: Path) -> list[Path]:
    """Tables under ``root`` (at most ``SEARCH_DEPTH`` folders down) with a ``filename`` column and either
    the event columns (annotations) or none of them (lists of recordings), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < SEARCH_DEPTH else []
        for name in sorted(filenames):
            if name.lower().endswith((".tsv", ".csv")) and not name.startswith("."):
                header = _header(Path(dirpath, name))
                if "filename" in header and (set(COLUMNS) <= header or not set(COLUMNS[1:]) & header):
                    found.append(Path(dirpath, name))
    return found


def _header(file: Path) -> set[str]:
    try:
        with open(file, encoding="utf-8-sig") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return set()
    return {c.strip() for c in re.split(r"[\t,]", first)}


def looks_like_events(root: Path) -> bool:
    """True if ``root`` holds a DCASE annotation file (with the event columns)."""
    return any(set(COLUMNS) <= _header(f) for f in annotation_files(root))


def split_of_file(file: Path, root: Path) -> str | None:
    """The split an annotation file's name or folders name, e.g. ``metadata/validation/x.tsv`` -> ``val``."""
    words = re.split(r"[^a-z]+", file.relative_to(root).with_suffix("").as_posix().lower())
    found = {EVENT_SPLITS[w] for w in words if w in EVENT_SPLITS}
    return found.pop() if len(found) == 1 else None


class _Resolver:
    """Where a ``filename`` of an annotation file is: beside the file, in the root, in ``audio``, or the one
    recording of that name anywhere under the root."""

    def __init__(self, root: Path, audio: Path | None):
        self.root, self.audio = root, audio
        self._by_name = None

    def __call__(self, filename: str, annotations: Path) -> str | None:
        for folder in (annotations.parent, self.root, self.audio):
            if folder is not None and (folder / filename).is_file():
                return str((folder / filename).resolve())
        if self._by_name is None:
            self._by_name = defaultdict(list)
            for f in _scan(self.root, recursive=True):
                if is_audio_path(f):
                    self._by_name[f.name].append(f)
        matches = self._by_name.get(Path(filename).name, [])
        return str(matches[0].resolve()) if len(matches) == 1 else None


def _durations(paths, workers=None) -> dict[str, float | str]:
    """Each recording's duration from its header, or why it cannot be read."""
    def one(path):
        try:
            return path, info(path).duration
        except AudioError as error:
            return path, error.reason

    with ThreadPoolExecutor(workers or default_workers()) as pool:
        return dict(pool.map(one, paths))


@layout("events", expects="a folder of recordings with DCASE annotation files (.tsv or .csv: filename, onset, "
                          "offset, event_label; empty onset, offset and label for a recording without events; "
                          "filename, event_labels for recordings with weak labels only)",
        group_name="recording")
def events(root: Path, annotations=None, audio=None):
    """Recordings with events in time; ``annotations`` names the annotation files (relative to ``root``;
    default: every one found), ``audio`` a folder where their file names are (default: searched)."""
    files = [root / a for a in ([annotations] if isinstance(annotations, str) else annotations)] \
        if annotations else annotation_files(root)
    if not files:
        raise DatasetError(f"{root}: no annotation file found; the events layout expects {events.expects}")
    resolve = _Resolver(root, root / audio if audio else None)
    recordings: dict[str, dict] = {}
    bad: list[BadFile] = []
    for file in files:
        bad += [BadFile(str(file), f"unknown column {c!r} ignored; the columns read are "
                                   f"{', '.join(COLUMNS + OPTIONAL_COLUMNS)}")
                for c in _read_file(file, root, resolve, recordings, bad)]
    durations = _durations(list(recordings))
    items = []
    for path, found in recordings.items():
        if isinstance(durations[path], str):
            bad.append(BadFile(path, durations[path]))
            continue
        kept = _within(found["events"], durations[path], path, bad)
        if found["weak"] and not found["events"]:  # the classes heard, not when
            items.append(Item(path, tuple(sorted(found["weak"])), found["split"], found["fold"], found["group"]))
            continue
        items.append(Item(path, tuple(sorted({e.label for e in kept})), found["split"], found["fold"],
                          found["group"], events=tuple(sorted(kept))))
    classes = sorted({label for item in items for label in item.labels})
    items, group_name = _synthesised_groups(root, items)
    return sorted(items, key=lambda item: item.path), classes, bad, {}, group_name


def _synthesised_groups(root: Path, items: list[Item]) -> tuple[list[Item], str]:
    """Soundscapes from ``tympan datasets synth`` carry, in ``synth.json``, whether each split's source clips
    came from speakers or sources training never heard: their groups say so, so reports tell new sources
    from known ones. Other recordings are each their own group (``None``)."""
    import json
    from dataclasses import replace

    try:
        relation = json.loads((root / "synth.json").read_text())["sources_split"]
    except (OSError, ValueError, KeyError, TypeError):
        return items, "recording"
    name = relation.get("group_name", "group")

    def group(split):
        if split == "train" or relation.get(split) == "new":
            return f"{split} {name}s"
        return f"train {name}s" if relation.get(split) == "known" else None
    return [replace(item, group=group(item.split)) if item.group is None else item for item in items], \
        f"source {name}"


def _read_file(file: Path, root: Path, resolve, recordings: dict, bad: list) -> list[str]:
    """Add the rows of one annotation file to ``recordings`` (``{path: {events, split, fold, group}}``),
    its bad rows to ``bad``; returns its unknown columns."""
    if not file.is_file():
        raise DatasetError(f"{file}: annotation file not found")
    rows, unreadable, unknown = read_annotations(file)
    where = lambda line: f"line {line} of {file.name}"  # noqa: E731
    bad += [BadFile(f"{file}:{line}", f"{reason} ({where(line)})") for line, reason in unreadable]
    file_split = split_of_file(file, root)
    for row in rows:
        path = resolve(row.filename, file)
        try:
            if path is None:
                raise ValueError(f"{row.filename}: listed but not found")
            split = row.values.get("split", "").lower() or file_split
            if split is not None and split not in EVENT_SPLITS:
                raise ValueError(f"split {row.values['split']!r} is not one of train, val, test")
            split = EVENT_SPLITS.get(split) if split else None
            entry = recordings.setdefault(path, {"events": [], "weak": set(), "split": split, "fold": _number(
                row.values.get("fold", ""), "fold"), "group": row.values.get("group") or None})
            if entry["split"] != split:
                raise ValueError(f"{row.filename} is in the {entry['split']} split elsewhere, here in {split}")
        except ValueError as error:
            bad.append(BadFile(f"{file}:{row.line}", f"{error} ({where(row.line)})"))
            continue
        if row.event is not None:
            entry["events"].append((row.event, f"{file}:{row.line}", where(row.line)))
        entry["weak"].update(weak_labels(row) or ())
    return unknown


def _within(found: list, duration: float, path: str, bad: list) -> list[Event]:
    """The events that lie in their recording (an offset a little past the end cut to it); the others bad."""
    kept = []
    for event, place, where in found:
        if event.onset >= duration or event.offset > duration + END_TOLERANCE:
            bad.append(BadFile(place, f"event {event.label!r} {event.onset:g}-{event.offset:g} s is past the end of "
                                      f"{Path(path).name} ({duration:.3f} s long) ({where})"))
        else:
            kept.append(Event(event.onset, min(event.offset, duration), event.label))
    return kept
