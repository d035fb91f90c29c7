"""PSDS from frame scores against the field's own implementation, sed_scores_eval, in DCASE's two scenarios."""

import numpy as np
import pytest

from tympan.train.psds import SCENARIO_1, SCENARIO_2, merge_overlaps, psds

sed_scores_eval = pytest.importorskip("sed_scores_eval", reason="sed_scores_eval (a dev dependency) is the reference")
from sed_scores_eval import intersection_based  # noqa: E402
from sed_scores_eval.base_modules import statistics  # noqa: E402
from sed_scores_eval.base_modules.scores import create_score_dataframe  # noqa: E402

CLASSES = ["car", "dog", "rain"]


@pytest.fixture(autouse=True)
def writable_scores(monkeypatch):
    """sed_scores_eval's compiled detection wants writable arrays, and pandas now hands out read-only ones:
    give it copies (its numbers are unchanged)."""
    curves = statistics.onset_offset_curves
    monkeypatch.setattr(statistics, "onset_offset_curves", lambda scores, timestamps, candidates=None: curves(
        np.array(scores), np.array(timestamps), None if candidates is None else np.array(candidates)))


def _random_case(seed, n_files=6, n_frames=100, frame_seconds=0.04):
    rng = np.random.default_rng(seed)
    ours, theirs, reference, durations = {}, {}, [], {}
    for i in range(n_files):
        name, truth = f"f{i}", np.zeros((n_frames, len(CLASSES)))
        for k in range(rng.integers(0, 4) + (len(CLASSES) if i == 0 else 0)):  # every class has an event
            c = k if i == 0 and k < len(CLASSES) else rng.integers(len(CLASSES))
            onset = rng.uniform(0, 3.5)
            offset = min(onset + rng.uniform(0.2, 1.5), n_frames * frame_seconds)
            reference.append((name, round(onset, 3), round(offset, 3), CLASSES[c]))
            truth[int(onset / frame_seconds):int(offset / frame_seconds), c] = 1
        scores = np.clip(truth * 0.3 + rng.random(truth.shape) * 0.7, 0, 1).round(3)
        ours[name] = (scores, frame_seconds)
        theirs[name] = create_score_dataframe(scores, np.arange(n_frames + 1) * frame_seconds, CLASSES)
        durations[name] = n_frames * frame_seconds
    return ours, theirs, reference, durations


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scenario", [SCENARIO_1, SCENARIO_2, {**SCENARIO_1, "max_efpr": 20000.0},
                                      {**SCENARIO_2, "max_efpr": 20000.0, "alpha_st": 0.5}])
def test_psds_equals_sed_scores_eval(seed, scenario):
    ours, theirs, reference, durations = _random_case(seed)
    truth = {name: [(a, b, label) for f, a, b, label in merge_overlaps(reference) if f == name] for name in theirs}
    expected = intersection_based.psds(theirs, truth, durations, **scenario)[0]
    assert psds(ours, reference, durations, CLASSES, **scenario) == pytest.approx(expected, abs=1e-9)


def test_perfect_scores_reach_one_and_random_ones_do_not():
    ours, _, reference, durations = _random_case(0)
    perfect = {}
    for name, (scores, seconds) in ours.items():
        truth = np.zeros_like(scores)
        for f, a, b, label in reference:
            if f == name:
                truth[int(round(a / seconds)):int(round(b / seconds)), CLASSES.index(label)] = 1
        perfect[name] = (truth, seconds)
    assert psds(perfect, reference, durations, CLASSES, **SCENARIO_2) > 0.99
    assert psds(ours, reference, durations, CLASSES, **{**SCENARIO_1, "max_efpr": 20000.0}) < 0.6
