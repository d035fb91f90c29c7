"""Transfer learning and random-weights networks: a representation learned on one task, or never learned,
as the start of another, for when the new task has few examples.

A ``Classifier``'s network ends with a linear output layer; what that layer sees is the clip's
*embedding* (``Classifier.embed``). Transfer keeps everything before it:

- ``init_from: model.tympan`` reuses a model trained on another task: its front-end and network, with a
  new output layer for this task's classes, trained with the rest (``freeze: none``, fine-tuning) or alone
  (``freeze: backbone``).
- ``init_from: random:<spec>`` builds an untrained network and keeps its random weights: a fixed random
  feature extractor, of which only the output layer learns.
- ``head: logistic`` or ``svm`` fits scikit-learn's logistic regression or linear SVM on the embeddings
  instead of training the output layer by gradient descent. A linear classifier *is* a linear layer, so
  its coefficients become the output layer's weights: the model file holds tensors only, and ``predict``
  works as for any model.

The normalisation statistics are always computed on the new task's training data, and so are batch
norm's running statistics while ``train.precise_bn`` is on (re-estimating them on the new data adapts a
frozen network to it, as AdaBN does; a random network needs them, its initial ones mean nothing).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from ..device import pick_device
from ..errors import ConfigError, ModelFileError
from ..model_file import load_model
from ..nn.classifier import Classifier
from ..nn.detector import EventDetector
from ..nn.models import network_spec
from .loop import recompute_batch_norm

HEADS = ("network", "logistic", "svm")
FREEZE = ("backbone", "none")
RANDOM = "random:"
C_GRID = (0.01, 0.1, 1.0, 10.0)


def parse_init_from(text: str):
    """``("model", path)`` or ``("random", network spec)`` from ``transfer.init_from``."""
    import yaml

    text = str(text).strip()
    if not text.startswith(RANDOM):
        return "model", text
    try:
        spec = yaml.safe_load(text[len(RANDOM):]) or "cnn"
    except yaml.YAMLError as error:
        raise ConfigError(f"transfer.init_from={text!r}: cannot read the network spec ({error})") from None
    if not isinstance(spec, (str, dict)):
        raise ConfigError(f"transfer.init_from={text!r}: after 'random:' give a network kind (random:cnn) or a "
                          "spec mapping (random:{kind: cnn, channels: [32, 64]})")
    return "random", network_spec(spec).to_dict()


def start_from(config, classes, multi_label: bool, seed: int | None):
    """The model a transfer run starts from, and the configuration it really uses (the source's front-end
    and network are recorded in place of the recipe's).

    Parameters
    ----------
    config : tympan.train.config.Config
        With ``transfer.init_from`` set and the data adaptation done.
    classes : list of str
        The new task's classes: the output layer gets one unit each.
    multi_label : bool
    seed : int or None
        Seed of the new output layer (and of the random network).

    Returns
    -------
    (Classifier, Config)
    """
    transfer = config.transfer
    if transfer.head not in HEADS:
        raise ConfigError(f"transfer.head={transfer.head!r}: choose one of {', '.join(HEADS)}")
    if transfer.freeze is not None and transfer.freeze not in FREEZE:
        raise ConfigError(f"transfer.freeze={transfer.freeze!r}: choose one of {', '.join(FREEZE)}")
    kind, source = parse_init_from(transfer.init_from)
    freeze = transfer.freeze or ("backbone" if kind == "random" else "none")
    if transfer.head != "network" and freeze != "backbone":
        raise ConfigError(f"transfer.head={transfer.head} fits a classifier on fixed embeddings: it needs "
                          "transfer.freeze=backbone")
    clip_seconds = config.data.clip_seconds
    # a clip model's backbone starts an events model too: the same layers, its output made per frame
    Model = EventDetector if config.data.task == "events" else Classifier
    if kind == "random":
        spec = dict(source, init="random-frozen") if freeze == "backbone" else source
        model = Model(config.frontend, spec, classes, clip_seconds, multi_label, seed=seed)
    else:
        try:
            trained = load_model(source)
        except ModelFileError as error:
            raise ConfigError(f"transfer.init_from: {error}") from None
        model = Model(trained.frontend_config, trained.network_spec, classes, clip_seconds, multi_label, seed=seed)
        copy_backbone(trained, model, source)
        if freeze == "backbone":
            model.network.freeze_backbone()
    used = dataclasses.replace(config, frontend=dict(model.frontend_config), network=model.network_spec.to_dict(),
                               transfer=dataclasses.replace(transfer, freeze=freeze))
    return model, used


def copy_backbone(source: Classifier, target: Classifier, where="the source model") -> None:
    """Copy every weight and buffer of ``source``'s network but its output layer into ``target``'s.

    The normalisation statistics are not copied: they are set from the new training data.
    """
    output = next(reversed(target.network.layers._modules))
    prefix = f"network.layers.{output}."
    theirs, ours = source.state_dict(), target.state_dict()
    # names outside ``target`` are left: a clip network's pooling layer gone from an events one moves its head
    shared = {name: t for name, t in theirs.items()
              if name.startswith("network.") and not name.startswith(prefix) and name in ours}
    missing = sorted(n for n in ours if n.startswith("network.") and not n.startswith(prefix) and n not in shared)
    wrong = [f"{n} {list(t.shape)} for {list(ours[n].shape)}" for n, t in shared.items()
             if n in ours and ours[n].shape != t.shape]
    if missing or wrong:
        raise ConfigError(f"{where}: its network does not fit this task's input ({'; '.join(wrong or missing)}); "
                          "a network that flattens a fixed-size input needs the same clip length "
                          "(--set data.clip_seconds=...)")
    target.load_state_dict({**ours, **shared})


def fit_head(model: Classifier, clips, config, progress: bool = False) -> dict:
    """Fit ``transfer.head`` (``logistic`` or ``svm``) on the embeddings of the training clips and write
    its coefficients into the model's output layer.

    Each window of a training recording is an example (a recording is scored as the mean over its
    windows, so the head is trained on what it will see). ``C`` is chosen from ``C_GRID`` by
    cross-validation on the training clips, folds grouped by recording; the embeddings are standardised,
    and the standardisation folded into the weights. A linear SVM's margins are not probabilities: they
    are divided by a temperature fitted on the training examples, so the softmax of them is calibrated.

    Returns
    -------
    dict
        Shaped as ``tympan.train.loop.fit``'s result (no epochs), with ``head``: the classifier, its ``C``,
        the cross-validated accuracy and the number of examples.
    """

    started = time.perf_counter()
    training = config.train
    device = pick_device(training.device)
    model.to(device)
    if training.precise_bn:
        recompute_batch_norm(model, clips, 1, training, device)
    X, owner = model.per_window(clips.audio, model.embed, batch_size=64)
    X, owner = X.double().numpy(), owner.numpy()
    targets = clips.targets[owner]
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    Z = (X - mean) / std
    weight, bias, info = _linear_classifier(Z, targets, owner, len(model.classes), model.multi_label,
                                            config.transfer.head, training.seed)
    weight = weight / std[None]
    bias = bias - weight @ mean
    layer = model.network.layers[-1]
    linear = getattr(layer, "linear", None)
    if not isinstance(linear, torch.nn.Linear) or linear.weight.shape != weight.shape:
        raise ConfigError(f"transfer.head={config.transfer.head}: the network's last layer is not a linear "
                          "output layer of one unit per class")
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
    model.cpu()
    seconds = time.perf_counter() - started
    return {"history": [], "best_epoch": 0, "epochs": 0, "stopped_early": False, "train_seconds": seconds,
            "head": {"classifier": config.transfer.head, "examples": int(len(X)),
                     "embedding_size": int(X.shape[1]), **info}}


def _estimator(head: str, C: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if head == "logistic":
        return LogisticRegression(C=C, max_iter=3000, random_state=seed)
    if head == "svm":
        return LinearSVC(C=C, max_iter=20000, random_state=seed)
    raise ConfigError(f"transfer.head={head!r}: choose one of {', '.join(HEADS)}")


def _linear_classifier(Z, targets, groups, n_classes: int, multi_label: bool, head: str, seed: int):
    """``(weight (n_classes, d), bias (n_classes,), info)``: logits ``Z @ weight.T + bias`` whose softmax
    (or sigmoid per class, for multi-label) are the classifier's probabilities."""
    from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
    from sklearn.multiclass import OneVsRestClassifier

    labels = targets if multi_label else targets.astype(int)
    wrap = OneVsRestClassifier if multi_label else (lambda e: e)
    key = "estimator__C" if multi_label else "C"
    if multi_label:  # each class needs recordings with and without it in every fold
        smallest = int(min(labels.sum(axis=0).min(), (1 - labels).sum(axis=0).min()))
        splitter = GroupKFold
    else:  # recordings per class: the windows of one recording stay in one fold
        smallest = min(len(np.unique(groups[labels == c])) for c in np.unique(labels))
        splitter = StratifiedGroupKFold
    folds = min(3, smallest)
    if folds >= 2:
        search = GridSearchCV(wrap(_estimator(head, 1.0, seed)), {key: list(C_GRID)}, cv=splitter(folds))
        search.fit(Z, labels, groups=groups)
        C, cv_accuracy = float(search.best_params_[key]), float(search.best_score_)
    else:  # too few examples of some class to cross-validate: the default strength
        C, cv_accuracy = 1.0, None
    fitted = wrap(_estimator(head, C, seed)).fit(Z, labels)
    weight = np.zeros((n_classes, Z.shape[1]))
    bias = np.full(n_classes, -30.0)  # a class without training examples is never predicted
    if multi_label:
        for k, estimator in enumerate(fitted.estimators_):
            if hasattr(estimator, "coef_"):
                weight[k], bias[k] = estimator.coef_[0], estimator.intercept_[0]
            else:  # a class always or never present in training: a constant
                bias[k] = 30.0 if estimator.predict(Z[:1])[0] else -30.0
    else:
        present = fitted.classes_.astype(int)
        coef, intercept = np.atleast_2d(fitted.coef_), np.atleast_1d(fitted.intercept_)
        if len(present) == 2:  # one decision value z for the second class: logits (-z/2, z/2) give sigmoid(z)
            coef, intercept = np.stack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        weight[present], bias[present] = coef, intercept
    info = {"C": C, "cv_accuracy": cv_accuracy}
    if head == "svm":
        temperature = _temperature(Z @ weight.T + bias, labels, multi_label)
        weight, bias = weight / temperature, bias / temperature
        info["temperature"] = temperature
    return weight, bias, info


def _temperature(logits: np.ndarray, labels: np.ndarray, multi_label: bool) -> float:
    """The ``T`` minimising the cross-entropy of ``logits / T`` on the training examples."""
    from scipy.optimize import minimize_scalar

    logits_t = torch.from_numpy(logits)
    labels_t = torch.from_numpy(np.asarray(labels))

    def loss(log_t: float) -> float:
        scaled = logits_t / np.exp(log_t)
        if multi_label:
            return float(torch.nn.functional.binary_cross_entropy_with_logits(scaled, labels_t.double()))
        return float(torch.nn.functional.cross_entropy(scaled, labels_t.long()))

    return float(np.exp(minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded").x))
