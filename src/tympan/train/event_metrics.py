"""The DCASE scores of detected sound events: event-based and segment-based F-score and error rate, as the
field's ``sed_eval`` toolbox defines them (Mesaros, Heittola and Virtanen, 2016), computed here and tested
equal to ``sed_eval``'s numbers on the same inputs.

Events are ``(filename, onset, offset, label)`` tuples, seconds as floats. Every file is scored on its own
and the counts are summed over files, as ``sed_eval`` does when ``evaluate`` is called file by file.

- **Event-based**: a detected event is right when its label is the reference's, its onset within
  ``t_collar`` (200 ms) of the reference's, and its offset within the larger of ``t_collar`` and
  ``percentage_of_length`` (20%) of the reference event's length. References and detections are paired by a
  maximum bipartite matching (``sed_eval``'s "optimal" matching); of what is left, a detection at the right
  time with the wrong label is a substitution. Error rate = (substitutions + deletions + insertions) /
  reference events.
- **Segment-based**: both event lists become activity rolls of ``time_resolution`` (1 s) segments; per
  segment, S = min(N_ref, N_sys) - N_tp, D = max(0, N_ref - N_sys), I = max(0, N_sys - N_ref).

Where ``sed_eval`` returns NaN, so does this: precision with no detections, recall with no references, and
an F-score built on either. Rates divide by the reference count plus machine epsilon, as ``sed_eval``'s.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

EPS = np.spacing(1)


def _precision(tp: float, n_sys: float) -> float:
    return math.nan if n_sys == 0 else float(tp / n_sys)


def _f_measure(precision: float, recall: float) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def _scores(tp, n_ref, n_sys, deletions, insertions, substitutions=0.0) -> dict:
    precision, recall = _precision(tp, n_sys), _precision(tp, n_ref)
    rates = [substitutions / (n_ref + EPS), deletions / (n_ref + EPS), insertions / (n_ref + EPS)]
    return {"f_measure": _f_measure(precision, recall), "precision": precision, "recall": recall,
            "error_rate": float(sum(rates)), "substitution_rate": float(rates[0]),
            "deletion_rate": float(rates[1]), "insertion_rate": float(rates[2]),
            "n_ref": int(n_ref), "n_sys": int(n_sys)}


def _by_file(reference, estimated, files) -> dict[str, tuple[list, list]]:
    grouped: dict[str, tuple[list, list]] = {}
    for name in list(files or []):
        grouped.setdefault(name, ([], []))
    for which, events in ((0, reference), (1, estimated)):
        for filename, onset, offset, label in events:
            grouped.setdefault(filename, ([], []))[which].append((float(onset), float(offset), label))
    return grouped


def _summary(overall: dict, class_wise: dict) -> dict:
    """The overall scores, the class-wise ones and their average (NaN classes left out, as numpy.nanmean)."""
    result = dict(overall)
    values = [row["f_measure"] for row in class_wise.values()]
    finite = [v for v in values if not math.isnan(v)]
    result["macro_f_measure"] = float(np.mean(finite)) if finite else math.nan
    result["class_wise"] = class_wise
    return result


# ------------------------------------------------------------------------------------------ event-based


def maximum_matching(graph: dict) -> dict:
    """A maximum matching of a bipartite graph ``{left: [right, ...]}``, as ``{right: left}``: a greedy first
    pass, then augmenting paths found layer by layer (Hopcroft and Karp), in the order ``sed_eval`` and
    ``mir_eval`` search them, so the same pairs come out, and so the same substitutions after them.

    Examples
    --------
    >>> maximum_matching({0: [0, 1], 1: [0]})
    {0: 1, 1: 0}
    """
    matched: dict = {}
    for left in graph:  # greedy start
        free = next((right for right in graph[left] if right not in matched), None)
        if free is not None:
            matched[free] = left
    while True:
        reached, ends, parent = _layers(graph, matched)
        if not ends:
            return matched
        for right in ends:
            _augment(right, reached, parent, matched)


_UNMATCHED = object()  # the root of every search: a free left vertex's parent


def _layers(graph: dict, matched: dict):
    """Breadth-first layers from the free left vertices until a free right vertex is reached: for each right
    vertex the left vertices that reach it, the free right vertices found, and each left vertex's parent."""
    parent = {left: _UNMATCHED for left in graph}
    for right in matched:
        del parent[matched[right]]
    reached: dict = {}
    ends: list = []
    layer = list(parent)
    while layer and not ends:
        found: dict = {}
        for left in layer:
            for right in graph[left]:
                if right not in reached:
                    found.setdefault(right, []).append(left)
        layer = []
        for right, lefts in found.items():
            reached[right] = lefts
            if right in matched:
                layer.append(matched[right])
                parent[matched[right]] = right
            else:
                ends.append(right)
    return reached, ends, parent


def _augment(right, reached: dict, parent: dict, matched: dict) -> bool:
    """Follow an alternating path back from ``right`` to a free left vertex and flip it."""
    if right not in reached:
        return False
    lefts = reached.pop(right)
    for left in lefts:
        if left in parent:
            previous = parent.pop(left)
            if previous is _UNMATCHED or _augment(previous, reached, parent, matched):
                matched[right] = left
                return True
    return False


def _hits(reference, estimated, t_collar, percentage_of_length, onset, offset, same_label) -> np.ndarray:
    """``hits[j, i]``: detection ``i`` is at the time (and, with ``same_label``, of the label) of reference
    ``j``."""
    hits = np.ones((len(reference), len(estimated)), dtype=bool)
    for j, (r_on, r_off, r_label) in enumerate(reference):
        for i, (e_on, e_off, e_label) in enumerate(estimated):
            ok = not same_label or r_label == e_label
            ok = ok and (not onset or abs(r_on - e_on) <= t_collar)
            ok = ok and (not offset or abs(r_off - e_off) <= max(t_collar, percentage_of_length * (r_off - r_on)))
            hits[j, i] = ok
    return hits


def _matched(hits: np.ndarray) -> list[tuple[int, int]]:
    """``(reference, detection)`` pairs of a maximum matching of ``hits``."""
    graph: dict = {}
    for j, i in zip(*np.nonzero(hits)):
        graph.setdefault(int(i), []).append(int(j))
    return sorted(maximum_matching(graph).items())


def _substitutions(reference, estimated, pairs, timing: np.ndarray) -> int:
    """Unmatched references and detections at the same time but of other labels, paired first come first."""
    left_ref = [j for j in range(len(reference)) if j not in {p[0] for p in pairs}]
    left_sys = [i for i in range(len(estimated)) if i not in {p[1] for p in pairs}]
    counted, n = set(), 0
    for j in left_ref:
        for i in left_sys:
            if i not in counted and timing[j, i]:
                counted.add(i)
                n += 1
                break
    return n


def event_based(reference, estimated, classes, t_collar: float = 0.2, percentage_of_length: float = 0.2,
                evaluate_onset: bool = True, evaluate_offset: bool = True, files=None) -> dict:
    """Event-based scores, equal to ``sed_eval.sound_event.EventBasedMetrics`` fed file by file.

    Parameters
    ----------
    reference, estimated : list of (filename, onset, offset, label)
        Annotated and detected events, in any order of files (within a file, in the order given).
    classes : list of str
        Every class; a class without events still has its class-wise row.
    t_collar, percentage_of_length : float
        The onset collar in seconds; the offset collar is the larger of ``t_collar`` and this share of
        the reference event's length.
    evaluate_onset, evaluate_offset : bool
        Whether onsets (offsets) must match.
    files : list of str or None
        Files to score besides those named in the events (a file without any event still counts).

    Returns
    -------
    dict
        ``f_measure``, ``precision``, ``recall``, ``error_rate``, ``substitution_rate``, ``deletion_rate``,
        ``insertion_rate``, ``n_ref``, ``n_sys`` (micro, over every event), ``macro_f_measure`` (the
        class-wise average) and ``class_wise`` (``{label: the same keys but the substitution rate}``).

    Examples
    --------
    >>> ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 5.0, 6.0, "car")]
    >>> est = [("a.wav", 1.1, 2.1, "dog"), ("a.wav", 5.0, 6.0, "dog")]
    >>> scores = event_based(ref, est, ["car", "dog"])
    >>> scores["f_measure"], scores["error_rate"], scores["substitution_rate"]
    (0.5, 0.5, 0.5)
    """
    totals = defaultdict(float)
    per_class = {label: defaultdict(float) for label in classes}
    args = (t_collar, percentage_of_length, evaluate_onset, evaluate_offset)
    for ref, est in _by_file(reference, estimated, files).values():
        pairs = _matched(_hits(ref, est, *args, same_label=True))
        n_subs = _substitutions(ref, est, pairs, _hits(ref, est, *args, same_label=False))
        totals["tp"] += len(pairs)
        totals["subs"] += n_subs
        totals["ref"] += len(ref)
        totals["sys"] += len(est)
        for label in classes:
            class_ref = [e for e in ref if e[2] == label]
            class_est = [e for e in est if e[2] == label]
            counts = per_class[label]
            counts["tp"] += len(_matched(_hits(class_ref, class_est, *args, same_label=True)))
            counts["ref"] += len(class_ref)
            counts["sys"] += len(class_est)
    t = totals
    overall = _scores(t["tp"], t["ref"], t["sys"], t["ref"] - t["tp"] - t["subs"], t["sys"] - t["tp"] - t["subs"],
                      t["subs"])
    class_wise = {}
    for label, c in per_class.items():
        row = _scores(c["tp"], c["ref"], c["sys"], c["ref"] - c["tp"], c["sys"] - c["tp"])
        del row["substitution_rate"]
        class_wise[label] = row
    return _summary(overall, class_wise)


# ---------------------------------------------------------------------------------------- segment-based


def _roll(events, classes, resolution: float, length: int) -> np.ndarray:
    """Activity ``(segments, classes)``: a segment is active for a class when an event of it overlaps it."""
    index = {label: k for k, label in enumerate(classes)}
    roll = np.zeros((length, len(classes)), dtype=np.int64)
    for onset, offset, label in events:
        roll[int(math.floor(onset / resolution)):int(math.ceil(offset / resolution)), index[label]] = 1
    return roll


def segment_based(reference, estimated, classes, time_resolution: float = 1.0, files=None,
                  durations: dict | None = None) -> dict:
    """Segment-based scores, equal to ``sed_eval.sound_event.SegmentBasedMetrics`` fed file by file.

    A file is as many segments as its latest event's offset (over both lists) needs, as in ``sed_eval``
    without ``evaluated_length_seconds``; ``durations`` (``{filename: seconds}``) gives files their length
    instead, so silent stretches after the last event count too (``sed_eval`` with that argument).

    Returns the keys of ``event_based``; overall ``n_ref``/``n_sys`` count active (segment, class) pairs.

    Examples
    --------
    >>> ref = [("a.wav", 0.0, 2.0, "dog")]
    >>> est = [("a.wav", 0.5, 1.5, "dog"), ("a.wav", 2.2, 2.6, "car")]
    >>> scores = segment_based(ref, est, ["car", "dog"])
    >>> scores["f_measure"], scores["insertion_rate"]
    (0.8, 0.5)
    """
    totals = defaultdict(float)
    per_class = {label: defaultdict(float) for label in classes}
    for name, (ref, est) in _by_file(reference, estimated, files).items():
        if durations and name in durations:
            seconds = durations[name]
        else:
            seconds = max([e[1] for e in ref + est], default=0.0)
        length = int(math.ceil(seconds / time_resolution))
        longest = int(math.ceil(max([e[1] for e in ref + est], default=0.0) / time_resolution))
        a = _roll(ref, classes, time_resolution, max(length, longest))[:length]
        b = _roll(est, classes, time_resolution, max(length, longest))[:length]
        n_ref, n_sys, tp = a.sum(axis=1), b.sum(axis=1), (a & b).sum(axis=1)
        totals["tp"] += tp.sum()
        totals["ref"] += n_ref.sum()
        totals["sys"] += n_sys.sum()
        totals["S"] += (np.minimum(n_ref, n_sys) - tp).sum()
        totals["D"] += np.maximum(0, n_ref - n_sys).sum()
        totals["I"] += np.maximum(0, n_sys - n_ref).sum()
        for k, label in enumerate(classes):
            counts = per_class[label]
            counts["tp"] += (a[:, k] & b[:, k]).sum()
            counts["ref"] += a[:, k].sum()
            counts["sys"] += b[:, k].sum()
            counts["fn"] += (a[:, k] > b[:, k]).sum()
            counts["fp"] += (b[:, k] > a[:, k]).sum()
    t = totals
    overall = _scores(t["tp"], t["ref"], t["sys"], t["D"], t["I"], t["S"])
    class_wise = {}
    for label, c in per_class.items():
        row = _scores(c["tp"], c["ref"], c["sys"], c["fn"], c["fp"])
        del row["substitution_rate"]
        class_wise[label] = row
    return _summary(overall, class_wise)
