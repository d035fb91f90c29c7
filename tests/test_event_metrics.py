"""Tympan's DCASE event scores against the field's own toolbox, sed_eval, on hand-made and random events."""

import math

import numpy as np
import pytest

from tympan.train.event_metrics import event_based, maximum_matching, segment_based

sed_eval = pytest.importorskip("sed_eval", reason="sed_eval (a dev dependency) is the reference")

CLASSES = ["car", "dog", "rain", "siren"]


def _sed_eval(metrics, reference, estimated, files):
    for name in files:
        ref = [{"filename": f, "onset": a, "offset": b, "event_label": c} for f, a, b, c in reference if f == name]
        est = [{"filename": f, "onset": a, "offset": b, "event_label": c} for f, a, b, c in estimated if f == name]
        metrics.evaluate(ref, est)
    overall = metrics.results_overall_metrics()
    return overall, metrics.results_class_wise_metrics(), metrics.results_class_wise_average_metrics()


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9, rel=1e-9)


def _check(ours, overall, class_wise, average, substitutions=True):
    for key in ("f_measure", "precision", "recall"):
        assert _same(ours[key], overall["f_measure"][key]), key
    keys = ("error_rate", "deletion_rate", "insertion_rate") + (("substitution_rate",) if substitutions else ())
    for key in keys:
        assert _same(ours[key], overall["error_rate"][key]), key
    assert _same(ours["macro_f_measure"], average["f_measure"]["f_measure"])
    for label in CLASSES:
        for key in ("f_measure", "precision", "recall"):
            assert _same(ours["class_wise"][label][key], class_wise[label]["f_measure"][key]), (label, key)
        for key in ("error_rate", "deletion_rate", "insertion_rate"):
            assert _same(ours["class_wise"][label][key], class_wise[label]["error_rate"][key]), (label, key)


def _events_sed_eval(reference, estimated, files, onset=True, offset=True):
    metrics = sed_eval.sound_event.EventBasedMetrics(CLASSES, t_collar=0.2, percentage_of_length=0.2,
                                                     evaluate_onset=onset, evaluate_offset=offset)
    return _sed_eval(metrics, reference, estimated, files)


def _random_events(rng, files, n_max=6, jitter=None, reference=None):
    events = []
    if reference is not None:  # detections near the references: hits, shifted ones, wrong labels, misses
        for f, a, b, c in reference:
            if rng.random() < 0.8:
                shift = rng.normal(0, jitter, 2)
                label = c if rng.random() < 0.8 else CLASSES[rng.integers(len(CLASSES))]
                a2 = max(0.0, a + shift[0])
                events.append((f, round(a2, 3), round(max(a2 + 0.05, b + shift[1]), 3), label))
    for f in files:
        for _ in range(rng.integers(0, n_max)):
            a = rng.uniform(0, 9)
            events.append((f, round(a, 3), round(a + rng.uniform(0.1, 2.5), 3), CLASSES[rng.integers(len(CLASSES))]))
    return events


def test_perfect_detection_scores_one_and_zero_errors():
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 1.5, 4.0, "rain"), ("b.wav", 0.0, 0.5, "car")]
    scores = event_based(ref, list(ref), CLASSES)
    assert scores["f_measure"] == 1.0 and scores["error_rate"] == 0.0
    assert segment_based(ref, list(ref), CLASSES)["f_measure"] == 1.0


def test_hand_made_cases_equal_sed_eval():
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 5.0, 6.0, "car"), ("a.wav", 7.0, 9.0, "rain")]
    est = [("a.wav", 1.15, 2.1, "dog"),    # within both collars: a hit
           ("a.wav", 5.0, 6.0, "dog"),     # right time, wrong label: a substitution
           ("a.wav", 7.3, 9.0, "rain"),    # onset 300 ms late: no hit, a deletion and an insertion
           ("b.wav", 1.0, 2.0, "siren")]   # a file without references: an insertion
    files = ["a.wav", "b.wav", "c.wav"]
    ours = event_based(ref, est, CLASSES, files=files)
    assert ours["n_ref"] == 3 and ours["n_sys"] == 4
    assert ours["precision"] == pytest.approx(1 / 4) and ours["recall"] == pytest.approx(1 / 3)
    assert ours["substitution_rate"] == pytest.approx(1 / 3) and ours["deletion_rate"] == pytest.approx(1 / 3)
    assert ours["insertion_rate"] == pytest.approx(2 / 3)
    _check(ours, *_events_sed_eval(ref, est, files))
    assert math.isnan(ours["class_wise"]["siren"]["recall"])  # no siren in the references, as sed_eval says


def test_empty_estimate_and_empty_reference_equal_sed_eval():
    ref = [("a.wav", 1.0, 2.0, "dog")]
    ours = event_based(ref, [], CLASSES, files=["a.wav"])
    assert math.isnan(ours["precision"]) and ours["recall"] == 0.0 and ours["error_rate"] == pytest.approx(1.0)
    _check(ours, *_events_sed_eval(ref, [], ["a.wav"]))
    est = [("a.wav", 1.0, 2.0, "dog")]
    _check(event_based([], est, CLASSES, files=["a.wav"]), *_events_sed_eval([], est, ["a.wav"]))


@pytest.mark.parametrize("seed", range(6))
def test_random_events_equal_sed_eval(seed):
    rng = np.random.default_rng(seed)
    files = [f"f{i}.wav" for i in range(5)]
    reference = _random_events(rng, files[:-1])  # the last file has no references
    estimated = _random_events(rng, files, n_max=3, jitter=0.15, reference=reference)
    for onset, offset in ((True, True), (True, False)):
        ours = event_based(reference, estimated, CLASSES, evaluate_onset=onset, evaluate_offset=offset, files=files)
        _check(ours, *_events_sed_eval(reference, estimated, files, onset, offset))
    metrics = sed_eval.sound_event.SegmentBasedMetrics(CLASSES, time_resolution=1.0)
    overall, class_wise, average = _sed_eval(metrics, reference, estimated, files)
    ours = segment_based(reference, estimated, CLASSES, files=files)
    _check(ours, overall, class_wise, average)


def test_segment_durations_count_silence_after_the_last_event():
    ref = [("a.wav", 0.0, 1.0, "dog")]
    est = [("a.wav", 0.0, 1.0, "dog")]
    metrics = sed_eval.sound_event.SegmentBasedMetrics(CLASSES, time_resolution=1.0)
    metrics.evaluate([{"filename": "a.wav", "onset": 0.0, "offset": 1.0, "event_label": "dog"}],
                     [{"filename": "a.wav", "onset": 0.0, "offset": 1.0, "event_label": "dog"},
                      {"filename": "a.wav", "onset": 4.5, "offset": 4.9, "event_label": "car"}],
                     evaluated_length_seconds=4.0)  # the car lies past the evaluated length: cut off
    ours = segment_based(ref, est + [("a.wav", 4.5, 4.9, "car")], CLASSES, durations={"a.wav": 4.0})
    assert ours["insertion_rate"] == pytest.approx(metrics.results_overall_metrics()["error_rate"]["insertion_rate"])
    assert ours["f_measure"] == 1.0


def test_matching_is_maximum():
    # greedy would pair detection 0 with reference 0 and leave reference 1 alone
    assert len(maximum_matching({0: [0, 1], 1: [0]})) == 2
    graph = {i: [j for j in range(6) if (i + j) % 3] for i in range(6)}
    assert len(maximum_matching(graph)) == 6
