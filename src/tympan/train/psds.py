"""The Polyphonic Sound Detection Score (PSDS; Bilen et al., ICASSP 2020) of frame scores, over every
decision threshold at once, as ``sed_scores_eval`` computes it exactly (Ebbers et al., ICASSP 2022), and
tested equal to it.

For each class and each threshold, the frames at or above it form detections. A detection is *relevant*
when at least ``dtc_threshold`` of it overlaps reference events of its class (else it is a false
positive, or a cross-trigger when ``cttc_threshold`` of it overlaps another class's events); a reference
event is found when relevant detections cover at least ``gtc_threshold`` of it. Each class's ROC (true
positive ratio against false positives per hour, plus ``alpha_ct`` times its cross-trigger rate) is
merged over classes (mean minus ``alpha_st`` times the standard deviation), and PSDS is the area under
it up to ``max_efpr``, divided by ``max_efpr``. DCASE's two scenarios are ``SCENARIO_1`` and
``SCENARIO_2``.
"""

from __future__ import annotations

import numpy as np

SCENARIO_1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0,
              "alpha_st": 1.0, "max_efpr": 100.0}
SCENARIO_2 = {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5,
              "alpha_st": 1.0, "max_efpr": 100.0}
DECIMALS = 6  # times are compared rounded to a microsecond, so float noise decides nothing


def detections(scores: np.ndarray, frame_seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct score (ascending) as threshold: onsets and offsets ``(thresholds, most detections)``
    of the runs of frames at or above it (zero-length padding where a threshold has fewer)."""
    thresholds = np.unique(scores)
    active = scores[None, :] >= thresholds[:, None]
    edges = np.diff(np.pad(active.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    starts = [np.flatnonzero(row == 1) for row in edges]
    ends = [np.flatnonzero(row == -1) for row in edges]
    most = max(1, max(len(s) for s in starts))
    onsets, offsets = np.zeros((len(thresholds), most)), np.zeros((len(thresholds), most))
    for k, (s, e) in enumerate(zip(starts, ends)):
        onsets[k, :len(s)], offsets[k, :len(e)] = s * frame_seconds, e * frame_seconds
    return thresholds, onsets, offsets


def _overlap(on, off, ref_on, ref_off) -> np.ndarray:
    return np.maximum(np.minimum(off[..., None], ref_off) - np.maximum(on[..., None], ref_on), 0.0)


def counts(onsets, offsets, target, others: dict, dtc: float, gtc: float, cttc) -> dict:
    """True positives, false positives and cross-triggers (per other class) at each threshold."""
    real = offsets > onsets
    lengths = offsets - onsets
    hits = _overlap(onsets, offsets, *target)
    relevant = (np.round(hits.sum(-1), DECIMALS) >= np.round(dtc * lengths, DECIMALS)) & real
    covered = np.round((relevant[..., None] * hits).sum(-2), DECIMALS)
    found = covered >= np.round(gtc * (target[1] - target[0]), DECIMALS)
    result = {"tps": found.sum(-1), "fps": real.sum(-1) - relevant.sum(-1)}
    for name, (other_on, other_off) in others.items():
        if cttc is None or not len(other_on):
            result[name] = np.zeros(len(onsets))
            continue
        crossing = np.round(((~relevant)[..., None] * _overlap(onsets, offsets, other_on, other_off)).sum(-1),
                            DECIMALS)
        result[name] = ((crossing >= np.round(cttc * lengths, DECIMALS)) & real).sum(-1)
    return result


def _statistics(scores, reference, classes, dtc, gtc, cttc) -> dict:
    """Per class: the thresholds where any count changes in any file, and the counts at each, summed over
    files (a file's counts change only at its own scores)."""
    changes = {c: ([], []) for c in classes}
    for name, (values, seconds) in scores.items():
        events = {c: np.array([(a, b) for f, a, b, label in reference if f == name and label == c],
                              dtype=float).reshape(-1, 2).T for c in classes}
        for k, c in enumerate(classes):
            thresholds, onsets, offsets = detections(np.asarray(values, dtype=float)[:, k], seconds)
            found = counts(onsets, offsets, events[c], {o: events[o] for o in classes if o != c}, dtc, gtc, cttc)
            table = np.stack([found["tps"], found["fps"], *[found[o] for o in classes if o != c]], axis=1)
            step = table - np.concatenate([table[1:], np.zeros_like(table[:1])])  # what each threshold adds
            keep = np.abs(step).sum(1) > 0
            changes[c][0].append(thresholds[keep])
            changes[c][1].append(step[keep])
    result = {}
    for c in classes:
        points, index = np.unique(np.concatenate(changes[c][0]), return_inverse=True)
        steps = np.zeros((len(points), len(classes) + 1))
        np.add.at(steps, index, np.concatenate(changes[c][1]))
        totals = np.concatenate([np.cumsum(steps[::-1], axis=0)[::-1], np.zeros_like(steps[:1])])
        result[c] = totals  # rows: thresholds ascending, then +inf; columns: tps, fps, cross-triggers
    return result


def _class_roc(totals, n_ref, duration, others_seconds, alpha_ct, max_efpr):
    tpr = totals[:, 0] / max(n_ref, 1)
    efpr = totals[:, 1] / duration
    if alpha_ct:
        efpr = efpr + alpha_ct * np.mean([totals[:, 2 + i] / max(s, 1e-12) for i, s in enumerate(others_seconds)],
                                         axis=0)
    efpr = efpr * 3600.0  # per hour
    order = sorted(range(len(efpr)), key=lambda i: (efpr[i], tpr[i]))
    tpr, efpr = tpr[order], efpr[order]
    rising = np.concatenate([[0], np.flatnonzero(np.diff(np.maximum.accumulate(tpr)) > 0) + 1])
    tpr, efpr = tpr[rising], efpr[rising]
    efpr, last = np.unique(efpr[::-1], return_index=True)
    tpr = tpr[-1 - last]
    keep = np.searchsorted(efpr, max_efpr, side="right")
    return tpr[:keep], efpr[:keep]


def _area(tpr, efpr, max_efpr) -> float:
    order = np.argsort(efpr)
    efpr, tpr = efpr[order], tpr[order]
    cut = np.searchsorted(efpr, max_efpr, side="right")
    widths = np.diff(np.concatenate([efpr[:cut], [max_efpr]]))
    return float(np.sum(tpr[:cut] * widths)) / max_efpr


def merge_overlaps(reference) -> list[tuple]:
    """The events with overlapping or touching events of one class in one file joined into one (PSDS
    counts a class's activity, and ``sed_scores_eval`` refuses such events).

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


def psds(scores, reference, durations, classes, dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None,
         alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0) -> float:
    """PSDS of frame scores, equal to ``sed_scores_eval.intersection_based.psds``.

    Parameters
    ----------
    scores : dict
        ``{filename: (frame scores (frames, classes) in ``classes`` order, frame_seconds)}``; frame ``j``
        covers ``[j * frame_seconds, (j + 1) * frame_seconds)``.
    reference : list of (filename, onset, offset, label)
        The annotated events (overlapping events of one class are joined: ``merge_overlaps``).
    durations : dict
        ``{filename: seconds}``: the false positive rate is per hour of these.
    classes : list of str
    dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr
        The scenario (``SCENARIO_1``, ``SCENARIO_2``).

    Examples
    --------
    >>> scores = {"a.wav": (np.array([[0.1], [0.9], [0.8], [0.2]]), 0.5)}
    >>> psds(scores, [("a.wav", 0.5, 1.5, "dog")], {"a.wav": 2.0}, ["dog"])
    1.0
    """
    if (alpha_ct == 0) != (cttc_threshold is None):
        raise ValueError("psds: give cttc_threshold exactly when alpha_ct is not 0")
    reference = merge_overlaps(reference)
    totals = _statistics(scores, reference, classes, dtc_threshold, gtc_threshold, cttc_threshold)
    duration = float(sum(durations[name] for name in scores))
    n_ref = {c: sum(1 for e in reference if e[3] == c and e[0] in scores) for c in classes}
    seconds = {c: sum(e[2] - e[1] for e in reference if e[3] == c and e[0] in scores) for c in classes}
    rocs = [_class_roc(totals[c], n_ref[c], duration, [seconds[o] for o in classes if o != c], alpha_ct, max_efpr)
            for c in classes]
    grid = np.unique(np.concatenate([efpr for _, efpr in rocs]))
    curves = []
    for tpr, efpr in rocs:
        if len(tpr) == 1:
            tpr, efpr = tpr.repeat(2), efpr.repeat(2)
        at = np.searchsorted(efpr, grid, side="right") - 1  # the last point at or before each grid value
        curves.append(np.where(at >= 0, tpr[np.maximum(at, 0)], 0.0))
    merged = np.maximum(np.mean(curves, axis=0) - alpha_st * np.std(curves, axis=0), 0.0)
    return _area(np.concatenate([merged, merged[-1:]]), np.concatenate([grid, [max_efpr]]), max_efpr)
