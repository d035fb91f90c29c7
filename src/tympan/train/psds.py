"""The Polyphonic Sound Detection Score (PSDS; Bilen et al., ICASSP 2020) of frame scores, over every
decision threshold at once, as ``sed_scores_eval`` computes it exactly (Ebbers et al., ICASSP 2022), and
tested equal to it.

For each class and each threshold (every distinct score of the class, no grid), the runs of frames at or
above it are the detections. A detection is *relevant* when at least ``dtc_threshold`` of it overlaps
reference events of its class (else it is a false positive, and also a cross-trigger on another class when
``cttc_threshold`` of it overlaps that class's events); a reference event is found when relevant
detections cover at least ``gtc_threshold`` of it. Each class's ROC (true positive ratio against false
positives per hour, plus ``alpha_ct`` times its mean cross-trigger rate per hour of the other classes'
events) is merged over classes (mean minus ``alpha_st`` times the standard deviation), and PSDS is the area
under it up to ``max_efpr``, divided by ``max_efpr``. Times are compared rounded to the microsecond, as in
``sed_scores_eval``. DCASE's two scenarios are ``SCENARIO_1`` and ``SCENARIO_2``.

Memory grows as thresholds x detections x events of one file and class (as in ``sed_scores_eval``): made
for clips of seconds to a minute, not hour-long recordings in one piece.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

SCENARIO_1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0,
              "alpha_st": 1.0, "max_efpr": 100.0}
SCENARIO_2 = {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5,
              "alpha_st": 1.0, "max_efpr": 100.0}
DECIMALS = 6  # times are compared rounded to a microsecond, so float noise decides nothing
SECONDS_PER_HOUR = 3600.0


def _detections(scores: np.ndarray, frame_seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct score (ascending) as threshold: onsets and offsets ``(thresholds, most runs)`` of
    the runs of frames at or above it (zero-length padding where a threshold has fewer runs)."""
    thresholds = np.unique(scores)
    active = np.zeros((len(thresholds), len(scores) + 2), dtype=np.int8)
    active[:, 1:-1] = scores >= thresholds[:, None]
    edges = np.diff(active, axis=1)  # +1 where a run starts, -1 just after it ends
    rows, frames = np.nonzero(edges)  # row by row, left to right: each start, then its end
    rows, starts, ends = rows[::2], frames[::2], frames[1::2]
    runs = np.bincount(rows, minlength=len(thresholds))
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(runs) - runs, runs)
    onsets, offsets = np.zeros((2, len(thresholds), max(1, runs.max())))
    onsets[rows, slot], offsets[rows, slot] = starts * frame_seconds, ends * frame_seconds
    return thresholds, onsets, offsets


def _overlap(onsets, offsets, event_onsets, event_offsets) -> np.ndarray:
    """``(thresholds, detections, events)`` seconds of overlap."""
    return np.maximum(np.minimum(offsets[..., None], event_offsets) - np.maximum(onsets[..., None], event_onsets),
                      0.0)


def _counts(onsets, offsets, target, others: list, dtc: float, gtc: float, cttc) -> np.ndarray:
    """``(thresholds, 2 + others)``: true positives, false positives and cross-triggers on each other class,
    with ``sed_scores_eval``'s roundings."""
    real = offsets > onsets
    lengths = offsets - onsets
    hits = _overlap(onsets, offsets, *target)
    relevant = (np.round(hits.sum(-1), DECIMALS) >= np.round(dtc * lengths, DECIMALS)) & real
    covered = np.round((relevant[..., None] * hits).sum(-2), DECIMALS)
    found = covered >= np.round(gtc * (target[1] - target[0]), DECIMALS)
    columns = [found.sum(-1), real.sum(-1) - relevant.sum(-1)]
    for other_onsets, other_offsets in others:
        if cttc is None or not len(other_onsets):
            columns.append(np.zeros(len(onsets), dtype=np.int64))
            continue
        crossing = (~relevant)[..., None] * _overlap(onsets, offsets, other_onsets, other_offsets)
        columns.append(((np.round(crossing.sum(-1), DECIMALS) >= np.round(cttc * lengths, DECIMALS)) & real).sum(-1))
    return np.stack(columns, axis=1)


def _statistics(scores, events, classes, dtc, gtc, cttc) -> dict:
    """Per class ``(thresholds ascending then +inf, 2 + others)`` counts summed over files. A file's counts
    change only at its own scores, so each file gives its changes and they are added up at the end."""
    changes = {c: ([], []) for c in classes}
    for name, (values, frame_seconds) in scores.items():
        for k, c in enumerate(classes):
            thresholds, onsets, offsets = _detections(values[:, k], frame_seconds)
            others = [events[name][o] for o in classes if o != c]
            table = _counts(onsets, offsets, events[name][c], others, dtc, gtc, cttc)
            step = table - np.concatenate([table[1:], np.zeros_like(table[:1])])  # what each threshold adds
            keep = np.abs(step).sum(1) > 0
            changes[c][0].append(thresholds[keep])
            changes[c][1].append(step[keep])
    totals = {}
    for c in classes:
        points, index = np.unique(np.concatenate(changes[c][0]), return_inverse=True)
        added = np.concatenate(changes[c][1])
        steps = np.stack([np.bincount(index, column, len(points)) for column in added.T], axis=1)
        totals[c] = np.concatenate([np.cumsum(steps[::-1], axis=0)[::-1], np.zeros_like(steps[:1])])
    return totals


def _class_roc(totals, n_ref, duration, others_seconds, alpha_ct, max_efpr):
    """One class's ROC: the points where the true positive ratio rises, one per effective FP rate."""
    tpr = totals[:, 0] / max(n_ref, 1)
    efpr = totals[:, 1] / duration
    if alpha_ct:
        rates = [totals[:, 2 + i] / max(seconds, 1e-12) for i, seconds in enumerate(others_seconds)]
        efpr = efpr + alpha_ct * np.mean(rates, axis=0)
    efpr = efpr * SECONDS_PER_HOUR
    order = np.lexsort((tpr, efpr))  # by rate, then ratio; stable, as sed_scores_eval's sorted()
    tpr, efpr = tpr[order], efpr[order]
    rising = np.concatenate([[0], np.flatnonzero(np.diff(np.maximum.accumulate(tpr)) > 0) + 1])
    tpr, efpr = tpr[rising], efpr[rising]
    efpr, last = np.unique(efpr[::-1], return_index=True)  # of equal rates, the last (highest) ratio
    tpr = tpr[-1 - last]
    keep = np.searchsorted(efpr, max_efpr, side="right")
    return tpr[:keep], efpr[:keep]


def _area(tpr, efpr, max_efpr) -> float:
    """Area under the staircase up to ``max_efpr``, over ``max_efpr``."""
    order = np.argsort(efpr)
    efpr, tpr = efpr[order], tpr[order]
    cut = np.searchsorted(efpr, max_efpr, side="right")
    widths = np.diff(np.concatenate([efpr[:cut], [max_efpr]]))
    return float(sum(tpr[:cut] * widths)) / max_efpr  # Python's sum, in order, as sed_scores_eval adds


def _merged_roc(rocs, alpha_st, max_efpr):
    """The classes' ROCs on one grid of rates (each a staircase: its last point at or before each rate,
    0 before its first), merged as mean minus ``alpha_st`` standard deviations, closed at ``max_efpr``."""
    grid = np.unique(np.concatenate([efpr for _, efpr in rocs]))
    curves = []
    for tpr, efpr in rocs:
        at = np.searchsorted(efpr, grid, side="right") - 1
        curves.append(np.where(at >= 0, tpr[np.maximum(at, 0)], 0.0))
    merged = np.maximum(np.mean(curves, axis=0) - alpha_st * np.std(curves, axis=0), 0.0)
    return np.concatenate([merged, merged[-1:]]), np.concatenate([grid, [max_efpr]])


def merge_overlaps(reference) -> list[tuple]:
    """The events with overlapping or touching events of one class in one file joined into one (PSDS
    counts a class's activity, and ``sed_scores_eval`` refuses such events).

    Parameters
    ----------
    reference : list of (filename, onset, offset, label)

    Returns
    -------
    list of (filename, onset, offset, label)
        Sorted by file, onset and label.

    Examples
    --------
    >>> merge_overlaps([("a", 1.0, 3.0, "car"), ("a", 2.0, 4.0, "car"), ("a", 2.0, 2.5, "dog")])
    [('a', 1.0, 4.0, 'car'), ('a', 2.0, 2.5, 'dog')]
    """
    merged = []
    for event in sorted(reference, key=lambda e: (e[0], e[3], e[1], e[2])):
        last = merged[-1] if merged else None
        if last and last[0] == event[0] and last[3] == event[3] and event[1] <= last[2]:
            merged[-1] = (last[0], last[1], max(last[2], event[2]), last[3])
        else:
            merged.append(tuple(event))
    return sorted(merged, key=lambda e: (e[0], e[1], e[3]))


def _checked_scores(scores, durations, classes) -> dict:
    """``{filename: (float scores, frame_seconds)}``, or a ``ConfigError`` naming the file that is wrong."""
    if len(set(classes)) != len(classes) or not classes:
        raise ConfigError(f"classes must be distinct names, at least one, got {classes}")
    if not scores:
        raise ConfigError("psds needs the frame scores of at least one file")
    checked = {}
    for name, (values, frame_seconds) in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(classes) or len(values) == 0:
            raise ConfigError(f"{name}: frame scores must have shape (n_frames > 0, {len(classes)}) for "
                              f"{len(classes)} classes, got {values.shape}")
        if not np.isfinite(values).all():
            raise ConfigError(f"{name}: frame scores contain NaN or infinity")
        if not (frame_seconds > 0 and math.isfinite(frame_seconds)):
            raise ConfigError(f"{name}: frame_seconds must be a positive number, got {frame_seconds}")
        if name not in durations or not durations[name] > 0:
            raise ConfigError(f"durations must give {name} (a scored file) a positive length in seconds, "
                              f"got {durations.get(name)}")
        checked[name] = (values, float(frame_seconds))
    return checked


def _events(reference, names, classes) -> dict:
    """``{filename: {class: (onsets, offsets)}}`` of the scored files, overlaps merged."""
    grouped = {name: {c: [] for c in classes} for name in names}
    for event in merge_overlaps(reference):
        name, onset, offset, label = event
        if name not in grouped:
            raise ConfigError(f"reference event {event!r} is in a file without frame scores: score every "
                              "annotated file, or leave its events out")
        if label not in grouped[name]:
            raise ConfigError(f"reference event {event!r}: its label is not one of the classes {classes}")
        if not 0 <= onset < offset < math.inf:
            raise ConfigError(f"reference event {event!r}: onset and offset must be seconds, 0 <= onset < offset")
        grouped[name][label].append((onset, offset))
    return {name: {c: np.array(times, dtype=float).reshape(-1, 2).T for c, times in by_class.items()}
            for name, by_class in grouped.items()}


def _event_totals(events, classes) -> tuple[dict, dict]:
    """Each class's number of reference events and their total seconds (added one event after the other,
    as ``sed_scores_eval`` adds them, so the sums agree to the last bit)."""
    n_ref = {c: sum(by_class[c].shape[1] for by_class in events.values()) for c in classes}
    seconds = {c: sum(float(offset - onset) for by_class in events.values() for onset, offset in by_class[c].T)
               for c in classes}
    return n_ref, seconds


def psds(scores, reference, durations, classes, dtc_threshold: float = 0.5, gtc_threshold: float = 0.5,
         cttc_threshold: float | None = 0.3, alpha_ct: float = 0.0, alpha_st: float = 1.0,
         max_efpr: float = 100.0) -> float:
    """PSDS of frame scores, equal to ``sed_scores_eval.intersection_based.psds`` (its first value).

    Parameters
    ----------
    scores : dict
        ``{filename: (frame_scores, frame_seconds)}``: ``frame_scores`` of shape ``(n_frames, n_classes)``
        in ``classes`` order, frame ``j`` covering ``[j * frame_seconds, (j + 1) * frame_seconds)``. These
        files are the evaluation set.
    reference : list of (filename, onset, offset, label)
        The annotated events, all in scored files. Overlapping or touching events of one class in one file
        are joined first (``merge_overlaps``; ``sed_scores_eval`` refuses them).
    durations : dict
        ``{filename: seconds}`` for every scored file; false positives are counted per hour of their sum.
    classes : list of str
    dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr : float
        The detection, ground-truth and cross-trigger criteria, the weights of the cross-trigger rate and
        of the classes' standard deviation, and the effective false positives per hour where the area
        stops (``SCENARIO_1``, ``SCENARIO_2``). ``cttc_threshold`` is used only when ``alpha_ct`` is not 0:
        cross-triggers weigh nothing otherwise (``sed_scores_eval`` then wants it ``None``).

    Returns
    -------
    float
        PSDS in [0, 1]. A class without reference events counts with a true positive ratio of 0 (where
        ``sed_scores_eval`` refuses to score).

    Raises
    ------
    ConfigError
        If ``alpha_ct`` is not 0 without ``cttc_threshold``, scores are misshapen or not finite, a scored
        file has no duration, or a reference event is outside the scored files or classes.

    Examples
    --------
    >>> scores = {"a.wav": (np.array([[0.1], [0.9], [0.8], [0.2]]), 0.5)}
    >>> psds(scores, [("a.wav", 0.5, 1.5, "dog")], {"a.wav": 2.0}, ["dog"], **SCENARIO_1)
    1.0
    >>> late = {"a.wav": (np.array([[0.1], [0.1], [0.8], [0.9]]), 0.5)}  # mostly after the dog: never right
    >>> psds(late, [("a.wav", 0.5, 1.5, "dog")], {"a.wav": 2.0}, ["dog"], **SCENARIO_1)
    0.0
    """
    if alpha_ct and cttc_threshold is None:
        raise ConfigError(f"psds: alpha_ct is {alpha_ct} but cttc_threshold is None: give a cross-trigger "
                          "criterion (DCASE's scenario 2 uses 0.3), or set alpha_ct to 0")
    classes = list(classes)
    scores = _checked_scores(scores, durations, classes)
    events = _events(reference, scores, classes)
    cttc = cttc_threshold if alpha_ct else None
    totals = _statistics(scores, events, classes, dtc_threshold, gtc_threshold, cttc)
    duration = float(sum(durations[name] for name in scores))
    n_ref, seconds = _event_totals(events, classes)
    rocs = [_class_roc(totals[c], n_ref[c], duration, [seconds[o] for o in classes if o != c], alpha_ct, max_efpr)
            for c in classes]
    return _area(*_merged_roc(rocs, alpha_st, max_efpr), max_efpr)
