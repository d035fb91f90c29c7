"""How well a classifier did: accuracy, F1, per-class scores and confusion, as plain JSON-able numbers.

The numbers come from scikit-learn, so they mean exactly what its documentation says. Two cases:
single-label (one class per clip, scored by softmax probabilities) and multi-label (any number of classes
per clip, scored by independent sigmoid probabilities, as for sound events).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support, recall_score)

from ..errors import ConfigError


def _check(targets, scores, classes, multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """Targets and scores as arrays, or a ``ConfigError`` that says which shape is wrong."""
    targets, scores = np.asarray(targets), np.asarray(scores, dtype=np.float64)
    n_classes = len(classes)
    if len(set(classes)) != n_classes:
        raise ConfigError(f"class names must be distinct, got {list(classes)}")
    if scores.ndim != 2 or scores.shape[1] != n_classes:
        raise ConfigError(f"scores must have shape (n_items, {n_classes}) for {n_classes} classes, "
                          f"got {scores.shape}")
    expected = scores.shape if multi_label else scores.shape[:1]
    if targets.shape != expected:
        what = "0/1 indicators" if multi_label else "class indices"
        raise ConfigError(f"targets ({what}) must have shape {expected} to match scores {scores.shape}, "
                          f"got {targets.shape}")
    if len(scores) == 0:
        raise ConfigError("no items to score: targets and scores are empty")
    if not np.isfinite(scores).all():
        raise ConfigError("scores contain NaN or infinity: the model diverged or the inputs were not finite")
    if multi_label and not np.isin(targets, (0, 1)).all():
        raise ConfigError("multi-label targets must be 0 or 1")
    if not multi_label and (not np.issubdtype(targets.dtype, np.integer)
                            or targets.min() < 0 or targets.max() >= n_classes):
        raise ConfigError(f"single-label targets must be integer class indices in 0..{n_classes - 1}")
    return targets.astype(np.int64), scores


def _per_class(targets, predicted, classes) -> dict:
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=range(len(classes)), average=None, zero_division=0)
    return {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)}


def classification_metrics(targets, scores, classes, multi_label: bool = False, threshold: float = 0.5) -> dict:
    """Score predictions against the truth.

    Parameters
    ----------
    targets : array-like
        Single-label: class indices, shape ``(n,)``. Multi-label: 0/1 indicators, shape ``(n, C)``.
    scores : array-like, shape ``(n, C)``
        Softmax (single-label) or sigmoid (multi-label) probabilities, one column per class.
    classes : list of str
        Class names, in column order.
    multi_label : bool
        Whether each item may belong to several classes (or none).
    threshold : float
        Multi-label only: a class is predicted when its score is at least this.

    Returns
    -------
    dict
        Single-label: ``{"n", "accuracy", "balanced_accuracy", "macro_f1", "per_class": {name: {"precision",
        "recall", "f1", "support"}}, "confusion"}``, the confusion rows being true classes and columns
        predicted ones, in ``classes`` order. Balanced accuracy is the mean recall over classes present in
        ``targets``; macro-F1 averages over classes present in the targets or the predictions (scikit-learn's
        default), so a class absent from both does not pull it down.

        Multi-label: ``{"n", "mAP", "macro_f1", "accuracy", "per_class": {name: {"ap", "precision", "recall",
        "f1", "support"}}}``. AP is ``None`` for a class without positives, and ``mAP`` averages the others.
        ``accuracy`` is exact match (every class right) at ``threshold``.

    Raises
    ------
    ConfigError
        If the shapes of ``targets``, ``scores`` and ``classes`` disagree.

    Examples
    --------
    >>> m = classification_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["dog", "rain"])
    >>> m["n"], round(m["accuracy"], 3), m["confusion"]
    (3, 0.667, [[1, 0], [1, 1]])
    >>> m = classification_metrics([[1, 0], [0, 1]], [[0.8, 0.3], [0.4, 0.6]], ["dog", "rain"], multi_label=True)
    >>> m["mAP"], m["accuracy"], m["per_class"]["rain"]["ap"]
    (1.0, 1.0, 1.0)
    """
    classes = list(classes)
    targets, scores = _check(targets, scores, classes, multi_label)
    if multi_label:
        return _multi_label(targets, scores, classes, threshold)
    return _single_label(targets, scores, classes)


def _single_label(targets, scores, classes) -> dict:
    predicted = scores.argmax(axis=1)
    present = np.unique(targets)
    seen = np.union1d(present, predicted)
    return {
        "n": int(len(targets)),
        "accuracy": float(accuracy_score(targets, predicted)),
        # Mean recall over the classes that occur: what balanced_accuracy_score computes, without its
        # warning when the model predicts a class the evaluation split lacks.
        "balanced_accuracy": float(recall_score(targets, predicted, labels=present, average="macro",
                                                zero_division=0)),
        "macro_f1": float(f1_score(targets, predicted, labels=seen, average="macro", zero_division=0)),
        "per_class": _per_class(targets, predicted, classes),
        "confusion": confusion_matrix(targets, predicted, labels=range(len(classes))).tolist(),
    }


def _multi_label(targets, scores, classes, threshold) -> dict:
    predicted = (scores >= threshold).astype(np.int64)
    per_class = _per_class(targets, predicted, classes)
    aps = []
    for c, name in enumerate(classes):
        # AP is undefined without a positive: report None rather than a misleading 0.
        ap = float(average_precision_score(targets[:, c], scores[:, c])) if targets[:, c].any() else None
        per_class[name] = {"ap": ap, **per_class[name]}
        aps.append(ap)
    defined = [ap for ap in aps if ap is not None]
    seen = np.flatnonzero(targets.any(axis=0) | predicted.any(axis=0))
    return {
        "n": int(len(targets)),
        "mAP": float(np.mean(defined)) if defined else None,
        "macro_f1": (float(f1_score(targets, predicted, labels=seen, average="macro", zero_division=0))
                     if len(seen) else None),
        "accuracy": float(accuracy_score(targets, predicted)),
        "per_class": per_class,
    }


def summarize_folds(results: list[dict]) -> dict:
    """Mean and spread of each scalar metric over cross-validation folds.

    Parameters
    ----------
    results : list of dict
        One ``classification_metrics`` result per fold.

    Returns
    -------
    dict
        ``{metric: {"mean", "std", "values"}}`` for every number (``accuracy``, ``macro_f1``, ``mAP``, ``n``...)
        that every fold has; ``std`` is the population standard deviation (``ddof=0``).

    Examples
    --------
    >>> s = summarize_folds([{"accuracy": 0.8, "n": 10}, {"accuracy": 0.6, "n": 10, "mAP": None}])
    >>> s["accuracy"]["mean"], round(s["accuracy"]["std"], 3), s["n"]["values"]
    (0.7, 0.1, [10, 10])
    """
    def scalar(value):
        return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)

    if not results:
        return {}
    summary = {}
    for key in results[0]:
        if all(scalar(r.get(key)) for r in results):
            values = [r[key].item() if isinstance(r[key], np.number) else r[key] for r in results]
            summary[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}
    return summary
