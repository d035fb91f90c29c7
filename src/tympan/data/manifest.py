"""The manifest: which recordings a dataset has, their labels, splits, folds and groups.

Every dataset layout (``layouts``) produces one; splitting, caching, inspection and training read it.
An item's ``group`` is what must not leak between training and test (a speaker, a source recording, an
artist); its ``start``/``end`` select a segment of the file in seconds.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import DatasetError
from ..files import write_text
from .events import Event

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    """One labelled recording (or segment of one).

    Attributes
    ----------
    path : str
        Absolute path of the audio file.
    labels : tuple of str
        One label (classification) or several (multi-label tagging).
    split : {"train", "val", "test"} or None
        The split the item belongs to, when known.
    fold : int or None
        Cross-validation fold from the dataset's metadata (ESC-50, UrbanSound8K).
    group : str or None
        What must stay on one side of a split: speaker, source recording, artist.
    start, end : float or None
        Segment of the file to use, in seconds; ``None`` for the whole file.
    events : tuple of (onset, offset, label) or None
        The events in time (strong labels, ``tympan.data.events``) of a recording from an annotated
        dataset, sorted; ``labels`` are then the classes among them (its weak labels, maybe none).
    """

    path: str
    labels: tuple[str, ...]
    split: str | None = None
    fold: int | None = None
    group: str | None = None
    start: float | None = None
    end: float | None = None
    events: tuple | None = None

    @property
    def label(self) -> str:
        """The label of a single-label item (the first one; empty for a recording without events)."""
        return self.labels[0] if self.labels else ""


@dataclass(frozen=True)
class BadFile:
    """A file that cannot be used, and why (shown to the user as is)."""

    path: str
    reason: str


@dataclass
class Manifest:
    """A dataset: its items, classes, and what was found wrong while reading it.

    Attributes
    ----------
    root : str
        The folder (or CSV file) the dataset was read from.
    layout : str
        Name of the layout that read it (``"folder"``, ``"csv"``, ``"fsdd"``, ``"esc50"``...).
    items : list of Item
        The usable recordings.
    classes : list of str
        All labels, in the dataset's canonical order (class index = position).
    bad : list of BadFile
        Files the layout found but could not use (missing, unlabelled, undecodable...).
    extras : dict of str to list of str
        Other files that belong to the dataset but are not items, e.g. Speech Commands'
        ``background_noise`` recordings for augmentation.
    group_name : str
        What a group is in this dataset, in words for reports: ``"speaker"``, ``"source recording"``, or
        the CSV column that names it.
    other_columns : list of str
        Columns of a CSV file that no option uses: one of them may name the groups the user forgot to set.
    """

    root: str
    layout: str
    items: list[Item]
    classes: list[str]
    bad: list[BadFile] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)
    group_name: str = "group"
    other_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def multilabel(self) -> bool:
        """True if any item has more than one label, or the labels are the events' (a set, maybe empty)."""
        return self.has_events or any(len(item.labels) > 1 for item in self.items)

    @property
    def has_events(self) -> bool:
        """True if the items carry events in time (strong labels)."""
        return any(item.events is not None for item in self.items)

    def class_index(self) -> dict[str, int]:
        """Label -> index in ``classes``."""
        return {name: i for i, name in enumerate(self.classes)}

    def subset(self, split: str) -> Manifest:
        """The items of one split, as a manifest with the same classes."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        return replace(self, items=[item for item in self.items if item.split == split], bad=[])

    def drop(self, paths) -> Manifest:
        """Without the items whose path is in ``paths`` (e.g. the files found undecodable)."""
        paths = set(paths)
        return replace(self, items=[item for item in self.items if item.path not in paths])

    def counts(self) -> dict[str, dict[str, int]]:
        """Items per class and split: ``{label: {split: n, ..., "total": n}}``; split ``"none"`` if unset."""
        table: dict[str, Counter] = {name: Counter() for name in self.classes}
        for item in self.items:
            for label in item.labels:
                table.setdefault(label, Counter())[item.split or "none"] += 1
                table[label]["total"] += 1
        return {label: dict(counter) for label, counter in table.items()}

    def split_sizes(self) -> dict[str, int]:
        """Items per split (``"none"`` for items without one)."""
        return dict(Counter(item.split or "none" for item in self.items))

    def groups(self) -> dict[str, int]:
        """Items per group, for the items that have one."""
        return dict(Counter(item.group for item in self.items if item.group is not None))

    @property
    def has_groups(self) -> bool:
        """True if any item names its group."""
        return any(item.group is not None for item in self.items)

    def folds(self) -> dict[int, int]:
        """Items per fold, for the items that have one."""
        return dict(sorted(Counter(item.fold for item in self.items if item.fold is not None).items()))

    # Saved as JSON so a run records exactly which files it used, and a manifest can be edited by hand.
    def to_json(self) -> dict:
        return {"root": self.root, "layout": self.layout, "classes": self.classes,
                "items": [asdict(item) for item in self.items],
                "bad": [asdict(bad) for bad in self.bad], "extras": self.extras, "group_name": self.group_name,
                "other_columns": self.other_columns}

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        items = [Item(**{**item, "labels": tuple(item["labels"]),
                         "events": None if item.get("events") is None else tuple(Event(*e) for e in item["events"])})
                 for item in data["items"]]
        return cls(data["root"], data["layout"], items, list(data["classes"]),
                   [BadFile(**bad) for bad in data.get("bad", [])], dict(data.get("extras", {})),
                   data.get("group_name", "group"), list(data.get("other_columns", [])))

    def save(self, path) -> None:
        """Write the manifest as JSON, atomically."""
        write_text(path, json.dumps(self.to_json(), indent=1))

    def to_csv(self, path, label_separator: str = ";") -> Path:
        """Write the items as a CSV the ``csv`` layout reads back (path, label, split, fold, group, start,
        end), atomically: a split made once, to run several trainings on exactly the same one."""
        import csv
        import io

        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["path", "label", "split", "fold", "group", "start", "end"])
        for item in self.items:
            writer.writerow([os.path.abspath(item.path), label_separator.join(item.labels), item.split or "",
                             "" if item.fold is None else item.fold, item.group or "",
                             "" if item.start is None else item.start, "" if item.end is None else item.end])
        return write_text(path, text.getvalue())

    @classmethod
    def load(cls, path) -> Manifest:
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}: not a readable Tympan manifest ({error})") from None
