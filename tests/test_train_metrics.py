"""Training metrics against values computed by hand on small examples."""

import json

import numpy as np
import pytest

from tympan.errors import ConfigError
from tympan.train.metrics import classification_metrics, summarize_folds

CLASSES = ["dog", "rain", "bell"]


def one_hot_scores(predicted, n_classes):
    """Probabilities whose arg-max is ``predicted``: 0.7 on it, the rest shared."""
    scores = np.full((len(predicted), n_classes), 0.3 / (n_classes - 1))
    scores[np.arange(len(predicted)), predicted] = 0.7
    return scores


@pytest.fixture
def three_classes():
    # "bell" is never predicted: its precision is 0 by convention, not an error.
    targets = [0, 0, 0, 1, 1, 2, 2]
    predicted = [0, 0, 1, 1, 0, 0, 1]
    return targets, one_hot_scores(predicted, 3)


def test_single_label_by_hand(three_classes):
    m = classification_metrics(*three_classes, CLASSES)
    assert m["n"] == 7
    assert m["accuracy"] == pytest.approx(3 / 7)
    # recalls 2/3, 1/2, 0
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # F1: dog 2 * (1/2 * 2/3) / (1/2 + 2/3) = 4/7, rain 2 * (1/3 * 1/2) / (1/3 + 1/2) = 2/5, bell 0
    assert m["macro_f1"] == pytest.approx((4 / 7 + 2 / 5 + 0) / 3)
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [1, 1, 0]]
    assert m["per_class"]["dog"] == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert m["per_class"]["rain"] == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4, "support": 2})
    assert m["per_class"]["bell"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert list(m["per_class"]) == CLASSES


def test_single_label_is_plain_json(three_classes):
    m = classification_metrics(*three_classes, CLASSES)
    assert json.loads(json.dumps(m)) == m
    assert type(m["n"]) is int and type(m["confusion"][0][0]) is int and type(m["accuracy"]) is float


def test_class_absent_everywhere_keeps_its_row(three_classes):
    targets, scores = three_classes
    scores = np.hstack([scores, np.zeros((len(scores), 1))])
    m = classification_metrics(targets, scores, CLASSES + ["owl"])
    assert m["confusion"] == [[2, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    assert m["per_class"]["owl"]["support"] == 0
    # A class neither present nor predicted does not pull the averages down.
    assert m["macro_f1"] == pytest.approx((4 / 7 + 2 / 5 + 0) / 3)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_perfect_predictions():
    m = classification_metrics([0, 1, 2], np.eye(3), CLASSES)
    assert m["accuracy"] == m["balanced_accuracy"] == m["macro_f1"] == 1.0


def test_multi_label_by_hand():
    targets = [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]]
    scores = [[0.9, 0.2, 0.1], [0.8, 0.6, 0.2], [0.3, 0.7, 0.1], [0.1, 0.1, 0.6]]
    m = classification_metrics(targets, scores, CLASSES, multi_label=True)
    # dog ranked pos, neg, pos, neg: AP = (1/1 + 2/3) / 2; rain ranked neg, pos: AP = 1/2; bell has no positive.
    assert m["per_class"]["dog"]["ap"] == pytest.approx(5 / 6)
    assert m["per_class"]["rain"]["ap"] == pytest.approx(0.5)
    assert m["per_class"]["bell"]["ap"] is None
    assert m["mAP"] == pytest.approx((5 / 6 + 0.5) / 2)
    # At 0.5 only the first clip is exactly right.
    assert m["accuracy"] == pytest.approx(0.25)
    assert m["per_class"]["dog"] == pytest.approx({"ap": 5 / 6, "precision": 0.5, "recall": 0.5, "f1": 0.5,
                                                   "support": 2})
    assert m["per_class"]["rain"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["bell"]["precision"] == 0.0 and m["per_class"]["bell"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert m["n"] == 4
    assert json.loads(json.dumps(m)) == m


def test_multi_label_threshold():
    targets, scores = [[1, 0], [0, 1]], [[0.4, 0.1], [0.2, 0.45]]
    assert classification_metrics(targets, scores, ["a", "b"], multi_label=True)["accuracy"] == 0.0
    assert classification_metrics(targets, scores, ["a", "b"], multi_label=True, threshold=0.3)["accuracy"] == 1.0


@pytest.mark.parametrize("targets, scores, classes, multi_label, match", [
    ([0, 1], np.eye(3)[:2], ["a", "b"], False, "scores must have shape"),
    ([0, 1, 1], np.eye(2), ["a", "b"], False, "targets"),
    ([[1, 0]], np.eye(2), ["a", "b"], True, "targets"),
    ([0, 5], np.eye(2), ["a", "b"], False, "class indices"),
    ([0, 1], np.eye(2), ["a", "a"], False, "distinct"),
    ([], np.zeros((0, 2)), ["a", "b"], False, "no items"),
    ([0, 1], [[np.nan, 0], [0, 1]], ["a", "b"], False, "NaN"),
    ([[2, 0], [0, 1]], np.eye(2), ["a", "b"], True, "0 or 1"),
])
def test_bad_shapes_raise_config_error(targets, scores, classes, multi_label, match):
    with pytest.raises(ConfigError, match=match):
        classification_metrics(targets, scores, classes, multi_label=multi_label)


def test_summarize_folds():
    folds = [{"accuracy": 0.5, "macro_f1": 0.4, "n": 10, "per_class": {}},
             {"accuracy": 0.7, "macro_f1": 0.6, "n": 12, "mAP": None},
             {"accuracy": 0.9, "macro_f1": 0.5, "n": 11, "mAP": 0.3}]
    s = summarize_folds(folds)
    assert set(s) == {"accuracy", "macro_f1", "n"}
    assert s["accuracy"]["mean"] == pytest.approx(0.7)
    assert s["accuracy"]["std"] == pytest.approx(np.sqrt((0.2 ** 2 + 0 + 0.2 ** 2) / 3))  # population std
    assert s["macro_f1"]["values"] == [0.4, 0.6, 0.5]
    assert s["n"] == {"mean": 11.0, "std": pytest.approx(np.sqrt(2 / 3)), "values": [10, 12, 11]}
    assert summarize_folds([]) == {}


def test_summarize_real_folds():
    folds = [classification_metrics([0, 1, 2], np.eye(3), CLASSES),
             classification_metrics([0, 1, 2], one_hot_scores([0, 0, 2], 3), CLASSES)]
    s = summarize_folds(folds)
    assert set(s) == {"n", "accuracy", "balanced_accuracy", "macro_f1"}
    assert s["accuracy"]["mean"] == pytest.approx((1 + 2 / 3) / 2)
    json.dumps(s)
