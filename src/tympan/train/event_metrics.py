"""The DCASE scores of detected sound events: event-based and segment-based F-score and error rate, as the
field's ``sed_eval`` toolbox defines them (Mesaros, Heittola and Virtanen, 2016), and PSDS (from ``psds``),
computed here with numpy and tested equal to ``sed_eval``'s and ``sed_scores_eval``'s numbers.

Events are ``(filename, onset, offset, label)`` tuples, seconds as floats. Every file is scored on its own
and the counts are summed over files, as ``sed_eval`` does when ``evaluate`` is called file by file.

- **Event-based**: a detected event is right when its label is the reference's, its onset within
  ``t_collar`` (200 ms) of the reference's, and its offset within the larger of ``t_collar`` and
  ``percentage_of_length`` (20%) of the reference event's length. References and detections are paired by a
  maximum bipartite matching (``sed_eval``'s default, "optimal" matching); of what is left, a detection at
  the right time with the wrong label is a substitution. Error rate = (substitutions + deletions +
  insertions) / reference events.
- **Segment-based**: both event lists become activity rolls of ``time_resolution`` (1 s) segments; per
  segment, S = min(N_ref, N_sys) - N_tp, D = max(0, N_ref - N_sys), I = max(0, N_sys - N_ref).

Where ``sed_eval`` returns NaN, so does this: precision with no detections, recall with no references, and
an F-score built on either (a class never annotated has a NaN recall and F-score; the class-wise average
leaves NaN classes out, and is NaN when every class is). Rates divide by the reference count plus machine
epsilon, as ``sed_eval``'s do: without references a rate is 0 when nothing was inserted, and insertions /
epsilon (about 4.5e15 per insertion) when something was, never NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import ConfigError
from .psds import SCENARIO_1, SCENARIO_2, psds  # re-exported: every DCASE score from one import

EPS = np.spacing(1)  # sed_eval's rates divide by (reference count + eps)

__all__ = ["SCENARIO_1", "SCENARIO_2", "event_based", "maximum_matching", "psds", "segment_based"]


def _ratio(tp, n) -> float:
    return math.nan if n == 0 else float(tp / n)


def _f_measure(precision: float, recall: float) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def _scores(tp, n_ref, n_sys, deletions, insertions, substitutions=None) -> dict:
    """One row of scores; without ``substitutions`` (class-wise) there is no substitution rate."""
    precision, recall = _ratio(tp, n_sys), _ratio(tp, n_ref)
    rates = [0.0 if substitutions is None else substitutions / (n_ref + EPS),
             deletions / (n_ref + EPS), insertions / (n_ref + EPS)]
    row = {"f_measure": _f_measure(precision, recall), "precision": precision, "recall": recall,
           "error_rate": float(rates[0] + rates[1] + rates[2]), "deletion_rate": float(rates[1]),
           "insertion_rate": float(rates[2]), "n_ref": int(n_ref), "n_sys": int(n_sys)}
    if substitutions is not None:
        row["substitution_rate"] = float(rates[0])
    return row


def _summary(overall: dict, class_wise: dict) -> dict:
    """The overall scores, the class-wise ones and their average F-score, NaN classes left out."""
    with warnings.catch_warnings():  # every class NaN: numpy warns, sed_eval returns NaN, so do we
        warnings.simplefilter("ignore", RuntimeWarning)
        macro = float(np.nanmean([row["f_measure"] for row in class_wise.values()])) if class_wise else math.nan
    return {**overall, "macro_f_measure": macro, "class_wise": class_wise}


def _by_file(reference, estimated, files) -> dict[str, tuple[list, list]]:
    """``{filename: (reference events, estimated events)}`` as ``(onset, offset, label)``, in the order
    given; a ``ConfigError`` names the first event that is not ``(filename, onset, offset, label)``."""
    grouped: dict[str, tuple[list, list]] = {name: ([], []) for name in (files or [])}
    for which, events in ((0, reference), (1, estimated)):
        for event in events:
            try:
                filename, onset, offset, label = event
                onset, offset = float(onset), float(offset)
            except (TypeError, ValueError):
                raise ConfigError(f"an event must be (filename, onset, offset, label), got {event!r}") from None
            if not (0.0 <= onset <= offset < math.inf):
                raise ConfigError(f"event {tuple(event)!r}: onset and offset must be finite seconds with "
                                  "0 <= onset <= offset")
            grouped.setdefault(filename, ([], []))[which].append((onset, offset, label))
    return grouped


def _check_classes(classes) -> list:
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ConfigError(f"class names must be distinct, got {classes}")
    return classes


# ------------------------------------------------------------------------------------------ event-based


def maximum_matching(graph: dict) -> dict:
    """A maximum matching of a bipartite graph ``{left: [right, ...]}``, as ``{right: left}``.

    A greedy first pass, then augmenting paths found layer by layer (Hopcroft and Karp), searched in the
    order ``sed_eval`` (after ``mir_eval``) searches them: the same pairs come out, so the same events are
    left over for the substitutions after them.

    Parameters
    ----------
    graph : dict
        Each left vertex with the right vertices it may be paired with, in search order.

    Returns
    -------
    dict
        ``{right: left}`` for every pair of the matching.

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
    for left in reached.pop(right):
        if left in parent:
            previous = parent.pop(left)
            if previous is _UNMATCHED or _augment(previous, reached, parent, matched):
                matched[right] = left
                return True
    return False


def _timing(reference, estimated, t_collar, percentage_of_length, evaluate_onset, evaluate_offset) -> np.ndarray:
    """``timing[j, i]``: detection ``i`` lies within the collars of reference ``j``, labels aside."""
    ref = np.array([event[:2] for event in reference], dtype=float).reshape(-1, 2)
    est = np.array([event[:2] for event in estimated], dtype=float).reshape(-1, 2)
    timing = np.ones((len(ref), len(est)), dtype=bool)
    if evaluate_onset:
        timing &= np.abs(ref[:, :1] - est[:, 0]) <= t_collar
    if evaluate_offset:
        collar = np.maximum(t_collar, percentage_of_length * (ref[:, 1:] - ref[:, :1]))
        timing &= np.abs(ref[:, 1:] - est[:, 1]) <= collar
    return timing


def _substitutions(timing: np.ndarray, pairs: dict) -> int:
    """Unmatched references and detections within each other's collars (any label), paired first come
    first served, as ``sed_eval`` pairs them."""
    used = set(pairs.values())
    left_sys = [i for i in range(timing.shape[1]) if i not in used]
    counted: set = set()
    for j in range(timing.shape[0]):
        if j not in pairs:
            i = next((i for i in left_sys if i not in counted and timing[j, i]), None)
            if i is not None:
                counted.add(i)
    return len(counted)


def _event_file(reference, estimated, collars, classes) -> tuple[int, int, list[int]]:
    """One file: true positives, substitutions, and the true positives of each class."""
    timing = _timing(reference, estimated, *collars)
    codes: dict = {}
    ref_labels = np.array([codes.setdefault(label, len(codes)) for *_, label in reference], dtype=int)
    est_labels = np.array([codes.setdefault(label, len(codes)) for *_, label in estimated], dtype=int)
    graph: dict = {}
    for j, i in zip(*np.nonzero(timing & (ref_labels[:, None] == est_labels))):
        graph.setdefault(int(i), []).append(int(j))  # sed_eval's graph: detections to references
    pairs = maximum_matching(graph)
    # The graph falls apart by label, so the matching restricted to one class is a maximum matching of that
    # class alone: sed_eval's class-wise count, without matching again.
    matched_labels = [reference[j][2] for j in pairs]
    return len(pairs), _substitutions(timing, pairs), [matched_labels.count(label) for label in classes]


def event_based(reference, estimated, classes, t_collar: float = 0.2, percentage_of_length: float = 0.2,
                evaluate_onset: bool = True, evaluate_offset: bool = True, files=None) -> dict:
    """Event-based scores, equal to ``sed_eval.sound_event.EventBasedMetrics`` fed file by file.

    Parameters
    ----------
    reference, estimated : list of (filename, onset, offset, label)
        Annotated and detected events, files in any order (within a file, the order given is the order
        ``sed_eval`` would search them in). A label outside ``classes`` counts in the overall scores only,
        as in ``sed_eval``.
    classes : list of str
        Every class; a class without events still has its class-wise row.
    t_collar, percentage_of_length : float
        The onset collar in seconds; the offset collar is the larger of ``t_collar`` and this share of
        the reference event's length.
    evaluate_onset, evaluate_offset : bool
        Whether onsets (offsets) must match.
    files : list of str or None
        Files to score besides those named in the events: a file without any event still counts.

    Returns
    -------
    dict
        ``f_measure``, ``precision``, ``recall``, ``error_rate``, ``substitution_rate``, ``deletion_rate``,
        ``insertion_rate``, ``n_ref``, ``n_sys`` (micro, over every event, as ``sed_eval``'s
        ``results_overall_metrics()``), ``macro_f_measure`` (the class-wise average F-score) and
        ``class_wise``: ``{label: {"f_measure", "precision", "recall", "error_rate", "deletion_rate",
        "insertion_rate", "n_ref", "n_sys"}}``. NaN where ``sed_eval`` gives NaN (see the module).

    Raises
    ------
    ConfigError
        For an event not ``(filename, onset, offset, label)`` with ``0 <= onset <= offset``.

    Examples
    --------
    >>> ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 5.0, 6.0, "car")]
    >>> est = [("a.wav", 1.1, 2.1, "dog"), ("a.wav", 5.0, 6.0, "dog")]
    >>> scores = event_based(ref, est, ["car", "dog"])
    >>> scores["f_measure"], scores["error_rate"], scores["substitution_rate"]
    (0.5, 0.5, 0.5)
    >>> scores["class_wise"]["car"]["recall"], scores["class_wise"]["car"]["precision"]
    (0.0, nan)
    """
    classes = _check_classes(classes)
    collars = (t_collar, percentage_of_length, evaluate_onset, evaluate_offset)
    tp = substitutions = n_ref = n_sys = 0
    class_tp, class_ref, class_sys = (np.zeros(len(classes), dtype=np.int64) for _ in range(3))
    for ref, est in _by_file(reference, estimated, files).values():
        file_tp, file_substitutions, file_class_tp = _event_file(ref, est, collars, classes)
        tp, substitutions = tp + file_tp, substitutions + file_substitutions
        n_ref, n_sys = n_ref + len(ref), n_sys + len(est)
        class_tp += file_class_tp
        class_ref += [sum(label == c for *_, label in ref) for c in classes]
        class_sys += [sum(label == c for *_, label in est) for c in classes]
    overall = _scores(tp, n_ref, n_sys, n_ref - tp - substitutions, n_sys - tp - substitutions, substitutions)
    class_wise = {c: _scores(int(t), int(r), int(s), int(r - t), int(s - t))
                  for c, t, r, s in zip(classes, class_tp, class_ref, class_sys)}
    return _summary(overall, class_wise)


# ---------------------------------------------------------------------------------------- segment-based


def _roll(events, index: dict, time_resolution: float, length: int) -> np.ndarray:
    """Activity ``(segments, classes)``: a segment is active for a class when an event of it overlaps it."""
    roll = np.zeros((length, len(index)), dtype=bool)
    for onset, offset, label in events:
        if label not in index:
            raise ConfigError(f"event label {label!r} is not one of the classes {list(index)}")
        roll[int(math.floor(onset / time_resolution)):int(math.ceil(offset / time_resolution)), index[label]] = True
    return roll


def _segment_rolls(name, reference, estimated, index, time_resolution, durations):
    """A file's reference and estimated rolls, as many segments long as its latest event (both lists) needs,
    or its duration when ``durations`` gives one (longer: silence; shorter: later activity cut off)."""
    latest = max((offset for _, offset, _ in reference + estimated), default=0.0)
    seconds = latest
    if durations is not None:
        if name not in durations:
            raise ConfigError(f"durations has no entry for {name!r}: give every scored file its length, "
                              "or leave durations out to end each file at its latest event")
        seconds = float(durations[name])
        if not 0 <= seconds < math.inf:
            raise ConfigError(f"durations[{name!r}] must be a length in seconds, got {durations[name]}")
    n_segments = int(math.ceil(seconds / time_resolution))
    size = max(n_segments, int(math.ceil(latest / time_resolution)))
    return (_roll(reference, index, time_resolution, size)[:n_segments],
            _roll(estimated, index, time_resolution, size)[:n_segments])


def segment_based(reference, estimated, classes, time_resolution: float = 1.0, files=None,
                  durations: dict | None = None) -> dict:
    """Segment-based scores, equal to ``sed_eval.sound_event.SegmentBasedMetrics`` fed file by file.

    Parameters
    ----------
    reference, estimated, classes, files
        As for ``event_based``, but every label must be one of ``classes``.
    time_resolution : float
        The segment length in seconds.
    durations : dict or None
        ``{filename: seconds}`` for every scored file. Without it a file ends where its latest event (of
        either list) ends, as ``sed_eval`` does by default, so a file without events adds nothing and silent
        stretches after the last event are not scored; with it, a file is scored over its whole length, as
        ``sed_eval``'s ``evaluate(..., evaluated_length_seconds=...)``, and activity past it is cut off.

    Returns
    -------
    dict
        The keys of ``event_based``; ``n_ref`` and ``n_sys`` count active (segment, class) pairs.

    Raises
    ------
    ConfigError
        For a label outside ``classes``, a file missing from ``durations`` or a malformed event.

    Examples
    --------
    >>> ref = [("a.wav", 0.0, 2.0, "dog")]
    >>> est = [("a.wav", 0.5, 1.5, "dog"), ("a.wav", 2.2, 2.6, "car")]
    >>> scores = segment_based(ref, est, ["car", "dog"])
    >>> scores["f_measure"], scores["insertion_rate"]
    (0.8, 0.5)
    >>> segment_based(ref, est, ["car", "dog"], durations={"a.wav": 2.0})["insertion_rate"]
    0.0
    """
    classes = _check_classes(classes)
    if not time_resolution > 0:
        raise ConfigError(f"time_resolution must be a positive number of seconds, got {time_resolution}")
    index = {label: k for k, label in enumerate(classes)}
    tp = n_ref = n_sys = substitutions = deletions = insertions = 0
    class_tp, class_ref, class_sys, class_fn, class_fp = (np.zeros(len(classes), dtype=np.int64) for _ in range(5))
    for name, (ref, est) in _by_file(reference, estimated, files).items():
        a, b = _segment_rolls(name, ref, est, index, time_resolution, durations)
        a_count, b_count, hits = a.sum(axis=1), b.sum(axis=1), (a & b).sum(axis=1)
        tp, n_ref, n_sys = tp + int(hits.sum()), n_ref + int(a_count.sum()), n_sys + int(b_count.sum())
        substitutions += int((np.minimum(a_count, b_count) - hits).sum())
        deletions += int(np.maximum(0, a_count - b_count).sum())
        insertions += int(np.maximum(0, b_count - a_count).sum())
        class_tp += (a & b).sum(axis=0)
        class_ref += a.sum(axis=0)
        class_sys += b.sum(axis=0)
        class_fn += (a & ~b).sum(axis=0)
        class_fp += (b & ~a).sum(axis=0)
    overall = _scores(tp, n_ref, n_sys, deletions, insertions, substitutions)
    class_wise = {c: _scores(int(t), int(r), int(s), int(fn), int(fp))
                  for c, t, r, s, fn, fp in zip(classes, class_tp, class_ref, class_sys, class_fn, class_fp)}
    return _summary(overall, class_wise)
