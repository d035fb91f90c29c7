"""The conventional baseline: hand-crafted features into a shallow classifier, the pipeline deep learning
has to beat.

Each recording becomes one vector: its MFCCs with their deltas and the deltas of those (HTK's
acceleration coefficients), summarised by the mean
and the standard deviation over time (``6 * n_mfcc`` values). A scikit-learn classifier (an RBF SVM, a
random forest or k nearest neighbours) is fitted on the training split, its hyper-parameters chosen by a
small cross-validated grid search on the training split only (folds grouped by the dataset's groups,
such as speakers, when it has them). The splits, metrics and report are those of ``tympan train``, so the
two can be read side by side.

    result = baseline("fsdd/", "runs/baseline", classifier="svm")
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from ..data.cache import AudioCache
from ..defaults import N_MFCC
from ..errors import ConfigError
from ..frontend import MFCC, transform_clips
from .data import fingerprint, load_splits
from .metrics import classification_metrics
from .report import write_report
from .run import prepare, training_split


def _svm(seed: int):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return (make_pipeline(StandardScaler(), SVC(kernel="rbf", random_state=seed)),
            {"svc__C": [1.0, 10.0, 100.0], "svc__gamma": ["scale", 0.003, 0.03]})


def _forest(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return (RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=-1),
            {"max_features": ["sqrt", 0.3], "min_samples_leaf": [1, 3]})


def _knn(seed: int):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return (make_pipeline(StandardScaler(), KNeighborsClassifier()),
            {"kneighborsclassifier__n_neighbors": [1, 3, 5, 9],
             "kneighborsclassifier__weights": ["uniform", "distance"]})


CLASSIFIERS = {"svm": _svm, "rf": _forest, "knn": _knn}


def delta(x: torch.Tensor, width: int = 9) -> torch.Tensor:
    """The local slope over time of ``(..., frames)`` features: the least-squares line through ``width``
    frames around each one (what ``librosa.feature.delta`` computes inside; the edges here repeat the first
    and last frames, as HTK does, instead of librosa's polynomial fit).

    Examples
    --------
    >>> delta(torch.arange(12.0)[None])[0, 3:9]  # a ramp's slope, away from the edges
    tensor([0.9333, 1.0000, 1.0000, 1.0000, 1.0000, 0.9333])
    """
    n = width // 2
    weights = torch.arange(-n, n + 1, dtype=x.dtype) / (2 * sum(k * k for k in range(1, n + 1)))
    padded = torch.nn.functional.pad(x.reshape(-1, 1, x.shape[-1]), (n, n), mode="replicate")
    return torch.nn.functional.conv1d(padded, weights[None, None]).reshape(x.shape)


def mfcc_statistics(waveforms, sr: int, n_mfcc: int = N_MFCC, **logmel) -> np.ndarray:
    """``(n, 6 * n_mfcc)``: for each waveform, the mean and standard deviation over time of its MFCCs,
    their deltas and their second deltas. ``logmel``: ``n_fft``, ``hop_length``, ``n_mels``...

    Examples
    --------
    >>> mfcc_statistics([np.random.default_rng(0).standard_normal(8000).astype(np.float32)], sr=8000,
    ...                 n_fft=256, hop_length=80, n_mels=40).shape
    (1, 120)
    """
    frontend = MFCC(sr=sr, n_mfcc=n_mfcc, **logmel)
    clips = [torch.from_numpy(np.array(y, dtype=np.float32)) for y in waveforms]
    rows = []
    with torch.no_grad():
        for m in transform_clips(frontend, clips):
            d1 = delta(m)
            stacked = torch.cat([m, d1, delta(d1)]).double()
            rows.append(torch.cat([stacked.mean(dim=1), stacked.std(dim=1, unbiased=False)]).numpy())
    return np.stack(rows) if rows else np.zeros((0, 6 * n_mfcc))


def baseline(data, out, layout: str = "auto", classifier: str = "svm", config_file=None, sets=(),
             options: dict | None = None, n_mfcc: int = N_MFCC, progress: bool = True,
             cache: AudioCache | None = None) -> dict:
    """Fit the conventional baseline on a dataset's training split and score it as ``tympan train`` does.

    Parameters
    ----------
    data, layout, options, config_file, sets
        As for ``tympan.train.run.train``: the same recipe (or file, or ``--set``) decides the splits and
        the sample rate, FFT size, hop and mel bands of the MFCCs.
    out : str or Path
        Folder for ``report/`` (``metrics.json``, ``confusion.png``, ``report.html``).
    classifier : {"svm", "rf", "knn"}
        RBF SVM, random forest or k nearest neighbours.
    n_mfcc : int
        MFCCs per frame.
    cache : AudioCache or None
        Where decoded audio is kept (None: the default folder).

    Returns
    -------
    dict
        The report's content: ``val`` and ``test`` metrics, ``train_seconds`` (features of the training
        split, the grid search and the final fit), and ``baseline``: the grid, the chosen parameters and
        their cross-validated score.
    """
    if classifier not in CLASSIFIERS:
        raise ConfigError(f"baseline classifier {classifier!r}: choose one of {', '.join(CLASSIFIERS)}")
    manifest, config = prepare(data, layout, config_file, None, sets, options)
    split, config, multi_label = training_split(manifest, _mfcc_recipe(config))
    frontend = {k: v for k, v in config.frontend.items() if k != "kind"}
    sr = int(frontend.pop("sr"))
    d = config.data
    clips, bad = load_splits(split, sr, multi_label, cache or AudioCache(), d.workers, d.strict, progress)

    started = time.perf_counter()
    X = mfcc_statistics(clips["train"].audio, sr, n_mfcc, **frontend)
    groups = _groups(split.subset("train"), clips["train"].paths)
    fitted, search = _fit(X, clips["train"].targets, groups, classifier, multi_label, config.train.seed)
    train_seconds = time.perf_counter() - started
    val, test = (_evaluate(fitted, clips[name], manifest.classes, multi_label, sr, n_mfcc, frontend)
                 for name in ("val", "test"))

    result = {"schema": "tympan.train.metrics/1", "classes": list(manifest.classes),
              "val": val, "test": test, "history": [], "best_epoch": 0, "epochs": 0,
              "stopped_early": False, "train_seconds": train_seconds,
              "baseline": {"classifier": classifier, "features": f"MFCC ({n_mfcc}) + deltas + delta-deltas, "
                           "mean and std over time", "n_features": int(X.shape[1]), **search},
              "config": {"data": dataclasses.asdict(config.data), "frontend": config.frontend,
                         "baseline": {"classifier": classifier, "n_mfcc": n_mfcc}, "train": {"seed": config.train.seed}},
              "dataset": {"path": str(data), "layout": manifest.layout, "n_items": len(manifest),
                          "splits": split.split_sizes(), "fingerprint": fingerprint(split)},
              "bad_files": [{"path": b.path, "reason": b.reason} for b in bad]}
    write_report(Path(out) / "report", result)
    return result


def _mfcc_recipe(config):
    """The recipe with MFCCs as its front-end, at the recipe's sample rate, FFT size, hop and mel bands: those
    still ``None`` are then adapted to the data as for a network."""
    return dataclasses.replace(config, frontend={"kind": "mfcc", **{
        k: config.frontend.get(k) for k in ("sr", "n_fft", "hop_length", "n_mels")}})


def _evaluate(fitted, clips, classes, multi_label: bool, sr: int, n_mfcc: int, frontend: dict) -> dict | None:
    """The fitted classifier's metrics on ``clips`` (one split), or None for an empty split."""
    if len(clips) == 0:
        return None
    scores = _probabilities(fitted, mfcc_statistics(clips.audio, sr, n_mfcc, **frontend), len(classes), multi_label)
    return classification_metrics(clips.targets, scores, classes, multi_label=multi_label)


def _groups(items, paths) -> np.ndarray | None:
    """The dataset's group (speaker, source recording...) of each decoded training recording, if it has them."""
    by_path = {item.path: item.group for item in items.items}
    groups = [by_path.get(path) for path in paths]
    return np.array(groups, dtype=object) if all(g is not None for g in groups) else None


def _fit(X, targets, groups, classifier: str, multi_label: bool, seed: int):
    """Grid search on the training examples, then the best parameters fitted on all of them."""
    from sklearn.base import clone
    from sklearn.model_selection import (GridSearchCV, GroupKFold, KFold, StratifiedGroupKFold,
                                         StratifiedKFold)
    from sklearn.multiclass import OneVsRestClassifier

    estimator, grid = CLASSIFIERS[classifier](seed)
    if multi_label:
        estimator, grid = OneVsRestClassifier(estimator), {f"estimator__{k}": v for k, v in grid.items()}
        smallest = int(min(targets.sum(axis=0).min(), (1 - targets).sum(axis=0).min()))
        n_groups = len(set(groups)) if groups is not None else len(X)
        folds = min(5, smallest, n_groups)
        splitter = (GroupKFold if groups is not None else KFold)(folds) if folds >= 2 else None
        scoring = "f1_macro"
    else:
        counts = np.bincount(targets)
        smallest = int(counts[counts > 0].min())
        if groups is not None:
            smallest = min(smallest, min(len(set(groups[targets == c])) for c in np.unique(targets)))
        folds = min(5, smallest)
        splitter = (StratifiedGroupKFold(folds) if groups is not None else
                    StratifiedKFold(folds, shuffle=True, random_state=seed)) if folds >= 2 else None
        scoring = "accuracy"
    if splitter is None:  # too few examples of some class to cross-validate: the first grid point
        chosen, cv_score = {k: v[0] for k, v in grid.items()}, None
    else:
        search = GridSearchCV(estimator, grid, cv=splitter, scoring=scoring, n_jobs=1)
        search.fit(X, targets, groups=groups)
        chosen, cv_score = search.best_params_, float(search.best_score_)
    final = clone(estimator).set_params(**chosen).fit(X, targets)
    info = {"grid": grid, "chosen": chosen, "cv_" + scoring: cv_score, "cv_folds": folds if splitter else 0,
            "cv_grouped": groups is not None}
    return final, info


def _probabilities(fitted, X, n_classes: int, multi_label: bool) -> np.ndarray:
    """``(n, n_classes)`` scores in the classes' order, zero for a class the training split lacked.

    An SVM's scores are the softmax (a sigmoid per class, multi-label) of its one-vs-rest decision values:
    their best class is the SVM's prediction, which Platt-scaled probabilities do not guarantee, but
    they are not calibrated probabilities."""
    if hasattr(fitted, "predict_proba") and not _is_svm(fitted):
        proba = np.asarray(fitted.predict_proba(X))
    else:
        decision = np.asarray(fitted.decision_function(X), dtype=np.float64)
        if multi_label:
            return 1 / (1 + np.exp(-decision))
        if decision.ndim == 1:  # two classes: one value for the second
            decision = np.stack([-decision / 2, decision / 2], axis=1)
        proba = np.exp(decision - decision.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
    if multi_label:
        return proba
    scores = np.zeros((len(X), n_classes))
    scores[:, fitted.classes_.astype(int)] = proba
    return scores


def _is_svm(fitted) -> bool:
    from sklearn.svm import SVC

    inner = getattr(fitted, "estimator", fitted)
    steps = getattr(inner, "steps", [(None, inner)])
    return isinstance(steps[-1][1], SVC)
