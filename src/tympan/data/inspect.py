"""What a dataset holds and what is wrong with it, before anything is trained on it.

``check`` decodes every file (in parallel) so corrupt, truncated, empty and non-audio files are found
with their reasons; ``inspect`` summarises classes, splits, folds, groups, durations, sample rates and
channels as a dict with a stable schema (``SCHEMA``), which ``tympan datasets inspect --json`` prints.
"""

from __future__ import annotations

import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from ..audio import AudioInfo, info, stream
from ..defaults import default_workers
from ..errors import AudioError, DatasetError
from .events import statistics
from .manifest import BadFile, Manifest

SCHEMA = "tympan.datasets.inspect/1"
DECODE_BLOCK_SECONDS = 30.0  # memory holds one block, however long the recording


@dataclass(frozen=True)
class Checked:
    """Result of checking one file: its header, or why it cannot be used."""

    path: str
    info: AudioInfo | None
    reason: str | None


def _check_one(path: str, decode: bool) -> Checked:
    try:
        header = info(path)
        if decode:  # every sample, a block at a time: truncation, corruption and NaN/inf the header hides
            for _ in stream(path, block_seconds=DECODE_BLOCK_SECONDS):
                pass
        return Checked(path, header, None)
    except AudioError as error:
        return Checked(path, None, error.reason)


def check(manifest: Manifest, decode: bool = True, workers: int | None = None,
          progress: bool = False) -> tuple[Manifest, list[Checked]]:
    """Read every item's header (and decode it if ``decode``); drop the bad ones into ``manifest.bad``.

    Returns
    -------
    manifest : Manifest
        Only the usable items; ``bad`` holds the layout's findings plus the undecodable files.
    checked : list of Checked
        One per usable item, in order, with its header.
    """
    paths = list(dict.fromkeys(item.path for item in manifest.items))
    workers = workers or default_workers()
    with ThreadPoolExecutor(workers) as pool:
        results = list(tqdm(pool.map(lambda p: _check_one(p, decode), paths), total=len(paths),
                            desc="checking audio", unit="file", leave=False,
                            disable=not (progress and sys.stderr.isatty())))
    failed = [r for r in results if r.reason is not None]
    usable = manifest.drop(r.path for r in failed)
    usable.bad = manifest.bad + [BadFile(r.path, r.reason) for r in failed]
    by_path = {r.path: r for r in results}
    return usable, [by_path[item.path] for item in usable.items]


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"total": 0.0, "min": 0.0, "mean": 0.0, "max": 0.0}
    return {"total": round(sum(values), 3), "min": round(min(values), 3),
            "mean": round(sum(values) / len(values), 3), "max": round(max(values), 3)}


def inspect(manifest: Manifest, decode: bool = True, workers: int | None = None, progress: bool = False,
            strict: bool = False) -> dict:
    """Summarise a dataset: the report behind ``tympan datasets inspect``.

    Parameters
    ----------
    manifest : Manifest
        From ``tympan.data.build``.
    decode : bool
        Decode every file to find corruption past the header (slower, thorough); else headers only.
    workers : int or None
        Parallel readers.
    progress : bool
        Show a progress bar on a terminal.
    strict : bool
        Raise ``DatasetError`` listing every bad file instead of reporting them.

    Returns
    -------
    dict
        ``schema``, ``path``, ``layout``, ``n_items``, ``classes``, ``multilabel``, ``counts``
        (``{class: {split: n, "total": n}}``), ``splits``, ``folds``, ``groups`` (items per group),
        ``n_groups``, ``duration_seconds`` (total/min/mean/max), ``sample_rates``, ``channels``,
        ``extras`` (count per kind), ``bad`` (list of ``{path, reason}``); for a dataset of events in time,
        ``events`` (``tympan.data.events.statistics``: per class events, total and median seconds; polyphony).
    """
    usable, checked = check(manifest, decode=decode, workers=workers, progress=progress)
    if strict and usable.bad:
        listing = "\n".join(f"  {b.path}: {b.reason}" for b in usable.bad)
        raise DatasetError(f"{manifest.root}: {len(usable.bad)} bad file(s) (--strict):\n{listing}")
    # Segments count for their own length, whole files for theirs.
    durations = []
    for item, c in zip(usable.items, checked):
        start, end = item.start or 0.0, item.end if item.end is not None else c.info.duration
        durations.append(max(0.0, min(end, c.info.duration) - start))
    by_path = {c.path: c.info for c in checked}
    report = {
        "schema": SCHEMA,
        "path": manifest.root,
        "layout": manifest.layout,
        "n_items": len(usable.items),
        "classes": list(usable.classes),
        "multilabel": usable.multilabel,
        "counts": usable.counts(),
        "splits": usable.split_sizes(),
        "folds": {str(k): v for k, v in usable.folds().items()},
        "groups": dict(sorted(usable.groups().items())),
        "n_groups": len(usable.groups()),
        "group_name": usable.group_name,
        "other_columns": list(usable.other_columns),
        "group_hint": group_hint(usable),
        "duration_seconds": _spread(durations),
        "sample_rates": {str(k): v for k, v in sorted(Counter(i.sr for i in by_path.values()).items())},
        "channels": {str(k): v for k, v in sorted(Counter(i.channels for i in by_path.values()).items())},
        "extras": {kind: len(paths) for kind, paths in usable.extras.items()},
        "bad": [{"path": b.path, "reason": b.reason} for b in usable.bad],
    }
    if usable.has_events:
        report["events"] = statistics([(item.events, d) for item, d in zip(usable.items, durations)], usable.classes)
    return report


def group_hint(manifest: Manifest) -> str | None:
    """What to do when a dataset names no groups, so splits cannot keep sources apart; ``None`` if it does.

    Examples
    --------
    >>> from tympan.data.manifest import Item
    >>> m = Manifest("/d/list.csv", "csv", [Item("/d/a.wav", ("dog",))], ["dog"], other_columns=["speaker"])
    >>> print(group_hint(m))
    no group is set: none of the columns speaker is used as the group, so test and validation may share speakers, instruments or source recordings with training; if one names the source, pass --option group_column=NAME
    """
    if manifest.has_groups:
        return None
    if manifest.layout == "events":
        return ("each recording is its own group, kept whole on one side of a split; if recordings share a source "
                "(a site, a session, a device), add a group column to the annotations")
    hint = ("no group is set{}, so test and validation may share speakers, instruments or source recordings with "
            "training; ")
    if manifest.other_columns:
        return (hint.format(f": none of the columns {', '.join(manifest.other_columns)} is used as the group")
                + "if one names the source, pass --option group_column=NAME")
    if manifest.layout == "folder":
        return hint.format("") + ("if file names name the source, pass --option group_pattern=TEMPLATE, "
                                  "e.g. '{digit}_{speaker}_{index}'")
    return hint.format("") + "the dataset itself names none"


def format_events(events: dict, width: int) -> list[str]:
    """The events part of the report: a row per class, then how often events overlap."""
    lines = [f"{'events':<{width}}  {'count':>6}  {'total s':>9}  {'median s':>8}"]
    for name, row in events["per_class"].items():
        lines.append(f"{name:<{width}}  {row['events']:>6}  {row['total_seconds']:>9.1f}  {row['median_seconds']:>8.2f}")
    poly = events["polyphony"]
    at = ", ".join(f"{k}: {float(s):.1f} s" for k, s in poly["seconds"].items())
    lines.append(f"polyphony: at most {poly['max']} at once; seconds with 0, 1, 2... events sounding: {at}; "
                 f"{poly['overlap_share']:.0%} of the time with an event has two or more")
    if events["recordings_without_events"]:
        lines.append(f"{events['recordings_without_events']} recording(s) without events")
    if events.get("weakly_labelled_recordings"):
        lines.append(f"{events['weakly_labelled_recordings']} recording(s) with weak labels only (classes heard, "
                     "no times): trained on through clip scores pooled from their frames, never scored as events")
    return lines


def format_report(report: dict, max_groups: int = 12) -> str:
    """The inspection report as text for a terminal."""
    lines = [f"{report['path']}  (layout: {report['layout']})",
             f"{report['n_items']} items, {len(report['classes'])} classes"
             + (", multi-label" if report["multilabel"] else "")]
    d = report["duration_seconds"]
    lines.append(f"duration: {d['total'] / 3600:.2f} h in all; per item {d['min']:.2f} / {d['mean']:.2f} / "
                 f"{d['max']:.2f} s (min / mean / max)")
    lines.append("sample rates: " + ", ".join(f"{sr} Hz x{n}" for sr, n in report["sample_rates"].items()))
    lines.append("channels: " + ", ".join(f"{c} x{n}" for c, n in report["channels"].items()))
    if report["folds"]:
        lines.append("folds: " + ", ".join(f"{k}: {v}" for k, v in report["folds"].items()))
    if report["groups"]:
        shown = list(report["groups"].items())[:max_groups]
        more = f", ... ({report['n_groups']} in all)" if report["n_groups"] > max_groups else ""
        lines.append(f"{report.get('group_name', 'group')}s ({report['n_groups']}): "
                     + ", ".join(f"{g}: {n}" for g, n in shown) + more)
    if report.get("group_hint"):
        lines.append(f"groups: {report['group_hint']}")
    for kind, n in report["extras"].items():
        lines.append(f"extras: {kind}: {n} files")
    splits = [s for s in ("train", "val", "test", "none") if s in report["splits"]]
    width = max([len(c) for c in report["classes"]] + [5])
    lines.append("")
    lines.append(f"{'class':<{width}}  " + "  ".join(f"{s:>6}" for s in splits) + f"  {'total':>6}")
    for name in report["classes"]:
        row = report["counts"].get(name, {})
        lines.append(f"{name:<{width}}  " + "  ".join(f"{row.get(s, 0):>6}" for s in splits)
                     + f"  {row.get('total', 0):>6}")
    lines.append(f"{'all':<{width}}  " + "  ".join(f"{report['splits'][s]:>6}" for s in splits)
                 + f"  {report['n_items']:>6}")
    if report.get("events"):
        lines += ["", *format_events(report["events"], width)]
    if report["bad"]:
        lines.append("")
        lines.append(f"{len(report['bad'])} bad file(s), left out:")
        lines.extend(f"  {b['path']}: {b['reason']}" for b in report["bad"])
    return "\n".join(lines)
