"""Strong labels: events in time, as the DCASE annotation format writes them, and what they add up to.

An annotation file is a table with one row per event, ``filename, onset, offset, event_label`` (seconds),
tab-separated (``.tsv``, DCASE's own) or comma-separated (``.csv``); a recording with no events is a row
whose onset, offset and label are empty. A weak annotation file (DCASE's ``weak.tsv``) has
``filename, event_labels`` instead: the classes heard in each recording, comma-separated, without times. ``read_annotations`` reads one, keeping every bad row with its
reason instead of failing; ``write_annotations`` writes one, atomically; ``statistics`` summarises the
events of a dataset per class, and how often they overlap (polyphony).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DatasetError
from ..files import write_text

COLUMNS = ("filename", "onset", "offset", "event_label")
WEAK_COLUMN = "event_labels"  # DCASE's weak annotations: the classes heard in a recording, comma-separated
OPTIONAL_COLUMNS = ("split", "fold", "group", "duration", WEAK_COLUMN)


class Event(NamedTuple):
    """One sound event: from ``onset`` to ``offset`` seconds, of class ``label``."""

    onset: float
    offset: float
    label: str


class Row(NamedTuple):
    """A readable row of an annotation file: its line, the recording it names, its event (``None`` for a
    recording listed without events) and its other columns."""

    line: int
    filename: str
    event: Event | None
    values: dict


def _delimiter(file: Path, first_line: str) -> str:
    if file.suffix.lower() == ".tsv" or ("\t" in first_line and "," not in first_line):
        return "\t"
    return ","


def read_table(file) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows (``(line number, values)``) of a TSV or CSV file; ``DatasetError`` if it
    cannot be read as text."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is no column name
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{file}: cannot read it as a table ({error})") from None
    lines = text.splitlines()
    if not lines:
        raise DatasetError(f"{file}: empty; an annotation file starts with the header "
                           f"{', '.join(COLUMNS)}")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(file, lines[0]))
    try:
        rows = [(reader.line_num, [v.strip() for v in row]) for row in reader]
    except csv.Error as error:
        raise DatasetError(f"{file}: cannot read it as a table (line {reader.line_num}: {error})") from None
    header = [c.strip() for c in rows[0][1]]
    return header, [(line, values) for line, values in rows[1:] if any(values)]


def _seconds(value: str, what: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{what} {value!r} is not a finite number of seconds")
    if seconds < 0:
        raise ValueError(f"negative {what} {seconds:g} s")
    return seconds


def parse_row(header: list[str], values: list[str]) -> tuple[str, Event | None, dict]:
    """``(filename, event or None, other columns)`` of one row; ``ValueError`` saying what is wrong."""
    if len(values) > len(header):
        raise ValueError(f"{len(values)} values for the {len(header)} columns of the header")
    row = dict(zip(header, values + [""] * (len(header) - len(values))))
    filename = row.get("filename", "")
    if not filename:
        raise ValueError("empty filename")
    onset, offset, label = (row.get(c, "") for c in COLUMNS[1:])
    others = {k: v for k, v in row.items() if k not in COLUMNS}
    if not (onset or offset or label):
        return filename, None, others  # a recording without events, or with weak labels (``weak_labels``)
    if not label:
        raise ValueError("an onset and offset but no event_label")
    if not (onset and offset):
        raise ValueError(f"event {label!r} without its {'onset' if not onset else 'offset'}")
    onset, offset = _seconds(onset, "onset"), _seconds(offset, "offset")
    if onset >= offset:
        raise ValueError(f"onset {onset:g} s is not before offset {offset:g} s")
    return filename, Event(onset, offset, label), others


def weak_labels(row: Row) -> tuple[str, ...] | None:
    """The classes a weak annotation row names (``event_labels``), ``None`` for a row without them."""
    text = row.values.get(WEAK_COLUMN, "")
    labels = tuple(sorted({label.strip() for label in text.split(",") if label.strip()}))
    return labels or None


def read_annotations(file, known=COLUMNS + OPTIONAL_COLUMNS) -> tuple[list[Row], list[tuple[int, str]], list[str]]:
    """Read a DCASE annotation file.

    Returns
    -------
    rows : list of Row
        The readable rows, in file order.
    bad : list of (int, str)
        Every unreadable row: its line number and why.
    unknown : list of str
        Columns of the header that are none of ``known`` (ignored, and worth telling the user about).

    Raises
    ------
    DatasetError
        If the file cannot be read, or lacks a ``filename`` column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "events.tsv"
    >>> _ = file.write_text("filename\\tonset\\toffset\\tevent_label\\na.wav\\t1.0\\t2.5\\tdog\\n"
    ...                     "a.wav\\t3\\t2\\tdog\\nb.wav\\t\\t\\t\\n")
    >>> rows, bad, unknown = read_annotations(file)
    >>> [(r.filename, r.event) for r in rows]
    [('a.wav', Event(onset=1.0, offset=2.5, label='dog')), ('b.wav', None)]
    >>> bad
    [(3, 'onset 3 s is not before offset 2 s')]
    """
    header, table = read_table(file)
    if "filename" not in header:
        raise DatasetError(f"{file}: no filename column; a DCASE annotation file has the columns "
                           f"{', '.join(COLUMNS)} (found {', '.join(header) or 'none'})")
    rows, bad = [], []
    for line, values in table:
        try:
            rows.append(Row(line, *parse_row(header, values)))
        except ValueError as error:
            bad.append((line, str(error)))
    return rows, bad, [c for c in header if c not in known]


def write_annotations(path, events: dict[str, list[Event]], columns: dict[str, dict] | None = None) -> Path:
    """Write ``{filename: events}`` as a DCASE annotation file (TSV, or CSV for a ``.csv`` path),
    atomically; a recording without events gets one row with empty onset, offset and label. ``columns``
    adds columns: ``{column: {filename: value}}``."""
    columns = columns or {}
    text = io.StringIO()
    writer = csv.writer(text, delimiter="," if str(path).lower().endswith(".csv") else "\t", lineterminator="\n")
    writer.writerow([*COLUMNS, *columns])
    for filename, found in events.items():
        extra = [columns[c].get(filename, "") for c in columns]
        for event in sorted(found) or [None]:
            writer.writerow([filename, *(("", "", "") if event is None else
                                         (f"{event.onset:.3f}", f"{event.offset:.3f}", event.label)), *extra])
    return write_text(path, text.getvalue())


def polyphony(events, duration: float, resolution: float = 0.01) -> np.ndarray:
    """How many events sound at each ``resolution``-long step of a recording ``duration`` seconds long."""
    steps = max(1, math.ceil(duration / resolution))
    change = np.zeros(steps + 1, dtype=np.int64)
    for event in events:
        first = min(steps, int(round(event.onset / resolution)))
        last = min(steps, max(first + 1, int(round(event.offset / resolution))))
        change[first] += 1
        change[last] -= 1
    return np.cumsum(change)[:steps]


def statistics(recordings, classes) -> dict:
    """Per class: number of events, their total and median duration; and polyphony over every recording:
    the seconds with 0, 1, 2... events sounding, the most at once, and the share of the time with any event
    during which two or more overlap.

    ``recordings`` is a list of ``(events, duration in seconds)``; ``events`` ``None`` for a recording with
    weak labels only (counted apart: it has no times).

    Examples
    --------
    >>> stats = statistics([([Event(0, 2, "dog"), Event(1, 3, "car")], 4.0)], ["car", "dog"])
    >>> stats["per_class"]["dog"], stats["polyphony"]["max"], stats["polyphony"]["overlap_share"]
    ({'events': 1, 'total_seconds': 2.0, 'median_seconds': 2.0}, 2, 0.333)
    """
    lengths = defaultdict(list)
    seconds_at = Counter()
    weak = sum(1 for events, _ in recordings if events is None)
    recordings = [(events, duration) for events, duration in recordings if events is not None]
    for events, duration in recordings:
        for event in events:
            lengths[event.label].append(event.offset - event.onset)
        counts = np.bincount(polyphony(events, max(duration, max((e.offset for e in events), default=0.0))))
        for k, n in enumerate(counts):
            seconds_at[k] += float(n) * 0.01
    active = sum(s for k, s in seconds_at.items() if k >= 1)
    overlapping = sum(s for k, s in seconds_at.items() if k >= 2)
    per_class = {label: {"events": len(lengths[label]), "total_seconds": round(float(sum(lengths[label])), 3),
                         "median_seconds": round(float(np.median(lengths[label])), 3) if lengths[label] else 0.0}
                 for label in classes}
    return {"per_class": per_class,
            "polyphony": {"seconds": {str(k): round(s, 2) for k, s in sorted(seconds_at.items())},
                          "max": max((k for k, s in seconds_at.items() if s > 0), default=0),
                          "overlap_share": round(float(overlapping / active), 3) if active else 0.0},
            "recordings_without_events": sum(1 for events, _ in recordings if not events),
            "weakly_labelled_recordings": weak}
