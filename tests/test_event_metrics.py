"""Tympan's DCASE event scores against the field's own toolboxes: sed_eval (event- and segment-based) and
sed_scores_eval (PSDS), on hand-made and on random events."""

import math
import warnings

import numpy as np
import pytest

from tympan.errors import ConfigError
from tympan.train.event_metrics import (SCENARIO_1, SCENARIO_2, event_based, maximum_matching, psds,
                                        segment_based)

sed_eval = pytest.importorskip("sed_eval", reason="sed_eval (a dev dependency) is the event-based reference")
sed_scores_eval = pytest.importorskip("sed_scores_eval", reason="sed_scores_eval (a dev dependency) is PSDS's")
from sed_scores_eval import intersection_based  # noqa: E402
from sed_scores_eval.base_modules import statistics  # noqa: E402
from sed_scores_eval.base_modules.scores import create_score_dataframe  # noqa: E402

CLASSES = ["car", "dog", "rain", "siren", "speech"]


# ------------------------------------------------------------------------------------- the references


def _as_dicts(events, name):
    return [{"filename": f, "onset": a, "offset": b, "event_label": c} for f, a, b, c in events if f == name]


def _sed_eval(metrics, reference, estimated, files, durations=None):
    """sed_eval's numbers, each file evaluated on its own (its documented use): overall, class-wise, average,
    and the overall counts."""
    for name in files:
        extra = {} if durations is None else {"evaluated_length_seconds": durations[name]}
        metrics.evaluate(_as_dicts(reference, name), _as_dicts(estimated, name), **extra)
    with warnings.catch_warnings():  # sed_eval's average warns when every class is NaN (and returns NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        average = metrics.results_class_wise_average_metrics()
    return metrics.results_overall_metrics(), metrics.results_class_wise_metrics(), average, metrics.overall


def _events_sed_eval(reference, estimated, files, classes=CLASSES, onset=True, offset=True):
    metrics = sed_eval.sound_event.EventBasedMetrics(classes, t_collar=0.2, percentage_of_length=0.2,
                                                     evaluate_onset=onset, evaluate_offset=offset)
    return _sed_eval(metrics, reference, estimated, files)


def _segments_sed_eval(reference, estimated, files, classes=CLASSES, durations=None):
    metrics = sed_eval.sound_event.SegmentBasedMetrics(classes, time_resolution=1.0)
    return _sed_eval(metrics, reference, estimated, files, durations)


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9, rel=1e-9)


def _check(ours, reference_numbers, classes=CLASSES):
    """Every overall, class-wise and averaged number of ours equal to sed_eval's, NaN to NaN."""
    overall, class_wise, average, counts = reference_numbers
    for key in ("f_measure", "precision", "recall"):
        assert _same(ours[key], overall["f_measure"][key]), key
    for key in ("error_rate", "deletion_rate", "insertion_rate", "substitution_rate"):
        assert _same(ours[key], overall["error_rate"][key]), key
    assert (ours["n_ref"], ours["n_sys"]) == (counts["Nref"], counts["Nsys"])
    assert _same(ours["macro_f_measure"], average["f_measure"]["f_measure"])
    assert list(ours["class_wise"]) == list(classes)
    for label in classes:
        row, theirs = ours["class_wise"][label], class_wise[label]
        for key in ("f_measure", "precision", "recall"):
            assert _same(row[key], theirs["f_measure"][key]), (label, key)
        for key in ("error_rate", "deletion_rate", "insertion_rate"):
            assert _same(row[key], theirs["error_rate"][key]), (label, key)
        assert (row["n_ref"], row["n_sys"]) == (theirs["count"]["Nref"], theirs["count"]["Nsys"]), label


# ------------------------------------------------------------------------------------ hand-made cases


def test_perfect_detection_scores_one_and_no_errors():
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 1.5, 4.0, "rain"), ("b.wav", 0.0, 0.5, "car")]
    for score, theirs in ((event_based, _events_sed_eval), (segment_based, _segments_sed_eval)):
        ours = score(ref, list(ref), CLASSES)
        assert ours["f_measure"] == 1.0 and ours["error_rate"] == 0.0 and ours["macro_f_measure"] == 1.0
        _check(ours, theirs(ref, list(ref), ["a.wav", "b.wav"]))


def test_hit_substitution_late_onset_and_a_file_without_references():
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 5.0, 6.0, "car"), ("a.wav", 7.0, 9.0, "rain")]
    est = [("a.wav", 1.15, 2.1, "dog"),    # within both collars: a hit
           ("a.wav", 5.0, 6.0, "dog"),     # right time, wrong label: a substitution
           ("a.wav", 7.3, 9.0, "rain"),    # onset 300 ms late, beyond the collar: a deletion and an insertion
           ("b.wav", 1.0, 2.0, "siren")]   # a file without references: an insertion
    files = ["a.wav", "b.wav", "c.wav"]    # c.wav has no events at all
    ours = event_based(ref, est, CLASSES, files=files)
    assert (ours["n_ref"], ours["n_sys"]) == (3, 4)
    assert ours["precision"] == pytest.approx(1 / 4) and ours["recall"] == pytest.approx(1 / 3)
    assert ours["f_measure"] == pytest.approx(2 / 7)
    assert ours["substitution_rate"] == pytest.approx(1 / 3) and ours["deletion_rate"] == pytest.approx(1 / 3)
    assert ours["insertion_rate"] == pytest.approx(2 / 3) and ours["error_rate"] == pytest.approx(4 / 3)
    dog, car, rain, siren = (ours["class_wise"][c] for c in ("dog", "car", "rain", "siren"))
    assert (dog["precision"], dog["recall"], dog["error_rate"]) == (0.5, 1.0, pytest.approx(1.0))
    assert math.isnan(car["precision"]) and car["recall"] == 0.0 and math.isnan(car["f_measure"])
    assert rain["f_measure"] == 0.0 and rain["error_rate"] == pytest.approx(2.0)
    # never annotated: recall and F are NaN, and sed_eval's insertion rate is insertions / eps
    assert math.isnan(siren["recall"]) and siren["insertion_rate"] == pytest.approx(1 / np.spacing(1))
    assert ours["macro_f_measure"] == pytest.approx((2 / 3 + 0.0) / 2)  # NaN classes left out
    _check(ours, _events_sed_eval(ref, est, files))


def test_offset_collar_is_the_larger_of_t_collar_and_a_share_of_the_event():
    ref = [("a.wav", 0.0, 10.0, "dog"), ("a.wav", 20.0, 30.0, "dog"), ("a.wav", 40.0, 40.5, "car")]
    est = [("a.wav", 0.1, 11.5, "dog"),    # offset 1.5 s late, within 20% of 10 s: a hit
           ("a.wav", 20.0, 32.5, "dog"),   # 2.5 s late: beyond
           ("a.wav", 40.0, 40.75, "car")]  # 250 ms late: beyond max(200 ms, 20% of 0.5 s)
    both = event_based(ref, est, CLASSES)
    onset_only = event_based(ref, est, CLASSES, evaluate_offset=False)
    assert both["recall"] == pytest.approx(1 / 3) and onset_only["recall"] == 1.0
    _check(both, _events_sed_eval(ref, est, ["a.wav"]))
    _check(onset_only, _events_sed_eval(ref, est, ["a.wav"], offset=False))


def test_matching_is_maximum_not_greedy():
    # the first detection fits both references; taken greedily by the first, the second would go unmatched
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 1.15, 2.15, "dog")]
    est = [("a.wav", 1.1, 2.1, "dog"), ("a.wav", 0.9, 1.9, "dog")]
    ours = event_based(ref, est, CLASSES)
    assert ours["recall"] == 1.0 and ours["error_rate"] == 0.0
    _check(ours, _events_sed_eval(ref, est, ["a.wav"]))
    assert maximum_matching({0: [0, 1], 1: [0]}) == {0: 1, 1: 0}
    graph = {i: [j for j in range(6) if (i + j) % 3] for i in range(6)}
    assert len(maximum_matching(graph)) == 6


def test_collars_include_their_bounds():
    ref = [("a.wav", 0.0, 1.0, "dog")]
    est = [("a.wav", 0.2, 1.2, "dog")]  # onset exactly 200 ms late (0.2 - 0.0 == 0.2 in floating point)
    ours = event_based(ref, est, CLASSES)
    assert ours["f_measure"] == 1.0
    _check(ours, _events_sed_eval(ref, est, ["a.wav"]))


def test_leftovers_follow_sed_eval_search_order():
    # Two car detections fit the car at 0.15 s; which one the matching leaves over decides whether the dog
    # finds a substitution: sed_eval leaves the one at 0.0 s, too early for the dog, so none.
    ref = [("a.wav", 0.3, 1.3, "car"), ("a.wav", 0.3, 1.3, "dog"), ("a.wav", 0.15, 1.15, "car")]
    est = [("a.wav", 0.3, 1.3, "car"), ("a.wav", 0.0, 1.0, "car"), ("a.wav", 0.15, 1.15, "car")]
    ours = event_based(ref, est, CLASSES, evaluate_offset=False)
    assert ours["substitution_rate"] == 0.0 and ours["deletion_rate"] == pytest.approx(1 / 3)
    _check(ours, _events_sed_eval(ref, est, ["a.wav"], offset=False))
    # Substitutions are then paired first come, first served (not a maximum matching): the first dog takes
    # the first car detection, which the second dog also needed, so one substitution, not two.
    ref = [("a.wav", 1.0, 2.0, "dog"), ("a.wav", 1.15, 2.15, "dog")]
    est = [("a.wav", 1.1, 2.1, "car"), ("a.wav", 0.9, 1.9, "car")]
    ours = event_based(ref, est, CLASSES)
    assert ours["substitution_rate"] == pytest.approx(0.5) and ours["deletion_rate"] == pytest.approx(0.5)
    _check(ours, _events_sed_eval(ref, est, ["a.wav"]))


def test_empty_estimate_and_empty_reference_give_sed_eval_nans():
    ref = [("a.wav", 1.0, 2.0, "dog")]
    ours = event_based(ref, [], CLASSES, files=["a.wav"])
    assert math.isnan(ours["precision"]) and math.isnan(ours["f_measure"]) and ours["recall"] == 0.0
    assert ours["error_rate"] == pytest.approx(1.0) and ours["deletion_rate"] == pytest.approx(1.0)
    _check(ours, _events_sed_eval(ref, [], ["a.wav"]))
    ours = event_based([], ref, CLASSES, files=["a.wav"])
    assert math.isnan(ours["recall"]) and ours["precision"] == 0.0 and math.isnan(ours["macro_f_measure"])
    _check(ours, _events_sed_eval([], ref, ["a.wav"]))
    nothing = event_based([], [], CLASSES, files=["a.wav"])
    assert math.isnan(nothing["f_measure"]) and nothing["error_rate"] == 0.0
    _check(nothing, _events_sed_eval([], [], ["a.wav"]))


def test_segments_substitution_and_durations():
    ref = [("a.wav", 0.0, 1.0, "dog"), ("a.wav", 1.2, 1.8, "rain")]
    est = [("a.wav", 0.0, 1.0, "car"), ("a.wav", 1.5, 2.5, "rain")]
    ours = segment_based(ref, est, CLASSES)  # 3 segments: dog -> car, rain hit, rain inserted
    assert ours["substitution_rate"] == pytest.approx(0.5) and ours["insertion_rate"] == pytest.approx(0.5)
    assert ours["deletion_rate"] == 0.0 and ours["recall"] == 0.5
    _check(ours, _segments_sed_eval(ref, est, ["a.wav"]))
    # a 2-s file: the third segment is cut off; a 6-s file: three silent segments more, scored but empty
    for seconds, insertion_rate in ((2.0, 0.0), (6.0, 0.5)):
        ours = segment_based(ref, est, CLASSES, durations={"a.wav": seconds})
        assert ours["insertion_rate"] == pytest.approx(insertion_rate)
        _check(ours, _segments_sed_eval(ref, est, ["a.wav"], durations={"a.wav": seconds}))


# --------------------------------------------------------------------------------------- random events


def _random_events(rng, files, classes, n_max, reference=()):
    """Events at random, overlapping one another, of any class; with ``reference``, also detections near
    each reference event: hits, ones shifted by exactly a collar or beyond, wrong labels, doubles, misses."""
    events = []
    for f, a, b, c in reference:
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            shift = rng.choice([0.0, 0.2, -0.2, 0.1]) if rng.random() < 0.3 else rng.normal(0, 0.15)
            label = c if rng.random() < 0.8 else classes[rng.integers(len(classes))]
            onset = round(max(0.0, a + shift), 3)
            events.append((f, onset, round(max(onset, b + rng.normal(0, 0.2 * (b - a))), 3), label))
    for f in files:
        for _ in range(rng.integers(0, n_max)):
            onset = rng.uniform(0, 9)
            events.append((f, round(onset, 3), round(onset + rng.uniform(0.05, 3.0), 3),
                           classes[rng.integers(len(classes))]))
    return [events[i] for i in rng.permutation(len(events))]  # files interleaved, any order within


@pytest.mark.parametrize("seed", range(8))
def test_random_events_equal_sed_eval(seed):
    rng = np.random.default_rng(seed)
    classes = CLASSES[:3 + seed % 3]
    files = [f"f{i}.wav" for i in range(6)]  # f4: detections only; f5: no events at all
    reference = _random_events(rng, files[:4], classes, n_max=7)
    estimated = _random_events(rng, files[:5], classes, n_max=3, reference=reference)
    for onset, offset in ((True, True), (True, False)):
        ours = event_based(reference, estimated, classes, evaluate_onset=onset, evaluate_offset=offset, files=files)
        _check(ours, _events_sed_eval(reference, estimated, files, classes, onset, offset), classes)
    ours = segment_based(reference, estimated, classes, files=files)
    _check(ours, _segments_sed_eval(reference, estimated, files, classes), classes)
    durations = {name: float(rng.choice([6.0, 10.0, 14.0])) for name in files}  # some cut events short
    ours = segment_based(reference, estimated, classes, files=files, durations=durations)
    _check(ours, _segments_sed_eval(reference, estimated, files, classes, durations), classes)


# ------------------------------------------------------------------------------------------------ PSDS


@pytest.fixture
def writable_scores(monkeypatch):
    """sed_scores_eval's compiled detection wants writable arrays, and pandas now hands out read-only ones:
    give it copies (its numbers are unchanged)."""
    curves = statistics.onset_offset_curves
    monkeypatch.setattr(statistics, "onset_offset_curves", lambda scores, timestamps, candidates=None: curves(
        np.array(scores), np.array(timestamps), None if candidates is None else np.array(candidates)))


def _random_scores(seed, classes, sharpness=8.0, noise=2.5, n_files=16, n_frames=200, frame_seconds=0.05):
    """Frame scores of a detector of some skill: a sigmoid of the reference activity (shifted by up to a
    frame) plus smooth noise, rounded so that frames tie. Ours, and as sed_scores_eval's DataFrames; the
    first file has an event of every class, the last none."""
    rng = np.random.default_rng(seed)
    ours, theirs, reference, durations = {}, {}, [], {}
    length = n_frames * frame_seconds
    for i in range(n_files):
        name, truth = f"f{i}.wav", np.zeros((n_frames, len(classes)))
        n_events = 0 if i == n_files - 1 else rng.integers(0, 4) + (len(classes) if i == 0 else 0)
        for k in range(n_events):
            c = k if i == 0 and k < len(classes) else int(rng.integers(len(classes)))
            onset = round(rng.uniform(0, length - 0.5), 3)
            offset = round(min(onset + rng.uniform(0.3, 3.0), length), 3)
            reference.append((name, onset, offset, classes[c]))  # same-class overlaps happen: merged
            truth[int(onset / frame_seconds):int(np.ceil(offset / frame_seconds)), c] = 1
        white = rng.normal(0, 1, (n_frames + 6, len(classes)))
        smooth = np.stack([np.convolve(column, np.ones(7) / np.sqrt(7), mode="valid") for column in white.T], 1)
        logits = sharpness * (np.roll(truth, rng.integers(-1, 2), axis=0) - 0.5) + noise * smooth
        scores = (1 / (1 + np.exp(-logits))).round(3)
        ours[name] = (scores, frame_seconds)
        theirs[name] = create_score_dataframe(scores, np.arange(n_frames + 1) * frame_seconds, classes)
        durations[name] = length
    return ours, theirs, reference, durations


def _merged_truth(reference, names):
    from tympan.train.psds import merge_overlaps
    return {name: [(a, b, label) for f, a, b, label in merge_overlaps(reference) if f == name] for name in names}


@pytest.mark.parametrize("seed, sharpness, noise", [(0, 8.0, 2.5), (1, 6.0, 1.5), (2, 8.0, 2.5)])
@pytest.mark.parametrize("scenario", [SCENARIO_1, SCENARIO_2, {**SCENARIO_1, "max_efpr": 1000.0},
                                      {**SCENARIO_2, "max_efpr": 1000.0, "alpha_st": 0.5}])
def test_psds_equals_sed_scores_eval(seed, sharpness, noise, scenario, writable_scores):
    classes = CLASSES[:3 + seed]
    ours, theirs, reference, durations = _random_scores(seed, classes, sharpness, noise)
    expected = intersection_based.psds(theirs, _merged_truth(reference, theirs), durations, **scenario)[0]
    assert psds(ours, reference, durations, classes, **scenario) == pytest.approx(expected, abs=1e-9, rel=0)


def test_psds_defaults_ignore_the_cross_trigger_criterion_without_its_weight(writable_scores):
    ours, theirs, reference, durations = _random_scores(7, CLASSES[:3], frame_seconds=0.064)
    expected = intersection_based.psds(theirs, _merged_truth(reference, theirs), durations, dtc_threshold=0.5,
                                       gtc_threshold=0.5, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0,
                                       max_efpr=100.0)[0]
    assert psds(ours, reference, durations, CLASSES[:3]) == pytest.approx(expected, abs=1e-9, rel=0)


def test_psds_compares_times_rounded_to_the_microsecond(writable_scores):
    # At the top score the detection is [0.8, 1.2) s and covers the dog [0.65, 1.15] s by 0.35 s, 70% of it:
    # in floating point 1.15 - 8 * 0.1 = 0.34999999999999987 < 0.7 * 0.5, so only times rounded first, as
    # sed_scores_eval rounds them, find the dog. Lower thresholds give one detection over the whole file.
    scores = np.array([0.2] * 8 + [1.0] * 4 + [0.2] * 8)[:, None]
    reference = [("a.wav", 0.65, 1.15, "dog")]
    theirs = {"a.wav": create_score_dataframe(scores, np.arange(21) * 0.1, ["dog"])}
    expected = intersection_based.psds(theirs, {"a.wav": [(0.65, 1.15, "dog")]}, {"a.wav": 2.0}, **SCENARIO_1)[0]
    ours = psds({"a.wav": (scores, 0.1)}, reference, {"a.wav": 2.0}, ["dog"], **SCENARIO_1)
    assert ours == expected == 1.0


def test_psds_of_perfect_scores_is_one():
    ours, _, reference, durations = _random_scores(0, CLASSES[:3])
    perfect = {}
    for name, (scores, frame_seconds) in ours.items():
        truth = np.zeros_like(scores)
        for f, a, b, label in reference:
            if f == name:
                truth[int(round(a / frame_seconds)):int(round(b / frame_seconds)), CLASSES.index(label)] = 1
        perfect[name] = (truth, frame_seconds)
    assert psds(perfect, reference, durations, CLASSES[:3], **SCENARIO_2) > 0.99


# ------------------------------------------------------------------------------------------ bad input


def test_bad_input_is_a_config_error_that_names_it():
    with pytest.raises(ConfigError, match="onset"):
        event_based([("a.wav", 2.0, 1.0, "dog")], [], CLASSES)
    with pytest.raises(ConfigError, match="filename, onset, offset, label"):
        event_based([("a.wav", 1.0, "dog")], [], CLASSES)
    with pytest.raises(ConfigError, match="'bird' is not one of the classes"):
        segment_based([("a.wav", 1.0, 2.0, "bird")], [], CLASSES)
    with pytest.raises(ConfigError, match="durations has no entry for 'b.wav'"):
        segment_based([("a.wav", 1.0, 2.0, "dog")], [], CLASSES, files=["b.wav"], durations={"a.wav": 3.0})
    scores = {"a.wav": (np.full((4, 1), 0.5), 0.5)}
    with pytest.raises(ConfigError, match="cttc_threshold"):
        psds(scores, [], {"a.wav": 2.0}, ["dog"], alpha_ct=0.5, cttc_threshold=None)
    with pytest.raises(ConfigError, match=r"shape \(n_frames > 0, 2\)"):
        psds(scores, [], {"a.wav": 2.0}, ["dog", "car"])
    with pytest.raises(ConfigError, match="without frame scores"):
        psds(scores, [("b.wav", 0.0, 1.0, "dog")], {"a.wav": 2.0}, ["dog"])
    with pytest.raises(ConfigError, match="durations must give a.wav"):
        psds(scores, [], {}, ["dog"])
