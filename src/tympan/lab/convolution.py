"""Convolution on spectrograms: why it needs so few weights (the lecture's counts, and a CNN against a
dense network on the demo data), and what a CNN trained on the demo data has learned to look at.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.synthetic import CLASSES, demo_clip
from ..nn.classifier import Classifier
from ..nn.summary import summary
from ..train.config import Config
from ..train.data import ClipSet, normalisation_statistics
from ..train.loop import evaluate_clips, fit
from .common import config, rounded, save, single_threaded

# The demo data at 8 kHz, 1.5 s crops, 32 mel bands: what the lessons need, at a fraction of the cost.
SR = 8000
FRONTEND = {"kind": "logmel", "sr": SR, "n_fft": 256, "hop_length": 80, "n_mels": 32}
CLIP_SECONDS = 1.5
CNN = [{"kind": "conv2d", "channels": 8, "kernel": 5, "batch_norm": True},
       *({"kind": "conv2d", "channels": c, "batch_norm": True} for c in (16, 32, 64)),
       {"kind": "global_pool", "mode": "meanmax"}]
DENSE = [{"kind": "flatten"}, {"kind": "dense", "units": 64, "activation": "relu"}]


def demo_clips(n_per_class: int, seed: int, test_fraction: float = 0.25) -> tuple[ClipSet, ClipSet]:
    """The demo dataset's first ``n_per_class`` clips of each class, synthesised in memory at ``SR``: the
    clips ``make_demo(..., n_per_class, sr=SR, seed=seed)`` writes, before its 16-bit rounding. The last
    ``test_fraction`` of each class is the test set.

    Examples
    --------
    >>> train_set, test_set = demo_clips(4, seed=0)
    >>> len(train_set), len(test_set), sorted(set(test_set.targets.tolist())) == list(range(len(CLASSES)))
    (30, 10, True)
    """
    n_test = max(1, round(n_per_class * test_fraction))
    sets = {"train": ([], [], []), "test": ([], [], [])}
    for label, name in enumerate(CLASSES):
        for index in range(n_per_class):
            y = demo_clip(label, index, SR, seed)
            audio, targets, paths = sets["test" if index >= n_per_class - n_test else "train"]
            audio.append(y)
            targets.append(label)
            paths.append(f"{name}/{name}_{index:03d}")
    return tuple(ClipSet(a, np.array(t, dtype=np.int64), p) for a, t, p in sets.values())


def train_classifier(layers: list[dict], train_set: ClipSet, seed: int, epochs: int = 15):
    """A ``Classifier`` (front-end, normalisation, ``layers``, output) trained by ``tympan.train``'s ``fit``
    as ``tympan train`` trains: Adam, mini-batches of 32, cosine schedule, random 1.5 s crops. The last
    epoch is kept (no validation split: the lessons score on their test set)."""
    network = {"kind": "layers", "layers": layers}
    model = Classifier(FRONTEND, network, CLASSES, CLIP_SECONDS, seed=seed)
    model.normalize.set_statistics(*normalisation_statistics(model, train_set))
    run = Config(frontend=FRONTEND, network=network,
                 train=config(optimizer="adam", learning_rate=0.003, batch_size=32, epochs=epochs,
                              schedule="cosine", seed=seed))
    fit(model, train_set, ClipSet([], np.zeros(0, dtype=np.int64), []), run, progress=False)
    return model.eval()


def lecture_specs() -> dict[str, dict]:
    """The lecture's three ways for 8 units to see a 3-second spectrogram window (``examples/
    lecture_weights.yaml``): 60 frames at 20 per second (hop 1,103 samples at 22,050 Hz) of the 1,024 bins
    below Nyquist (FFT of 2,048), 61,440 inputs; 8 outputs, no output layer added."""
    window = {"frontend": {"kind": "stft", "sr": 22050, "n_fft": 2048, "hop_length": 1103, "n_bins": 1024,
                           "power": 1}, "clip_seconds": 3, "n_classes": 8}
    units = {"dense": {"kind": "dense", "units": 8, "activation": "linear"},
             "locally_connected": {"kind": "locally_connected", "regions": 8, "units": 1, "activation": "linear"},
             "convolutional": {"kind": "locally_connected", "regions": 8, "units": 1, "shared": True,
                               "activation": "linear"}}
    return {name: {**window, "network": {"kind": "layers", "output_layer": False,
                                         "layers": [{"kind": "flatten"}, layer]}}
            for name, layer in units.items()}


def lecture_counts() -> dict[str, int]:
    """The weights of each of ``lecture_specs()``, counted by ``tympan.nn.summary`` on the built layers.

    Examples
    --------
    >>> lecture_counts()
    {'dense': 491520, 'locally_connected': 61440, 'convolutional': 7680}
    """
    return {name: summary(Classifier.from_spec(spec))["total_weights"] for name, spec in lecture_specs().items()}


@single_threaded
def weights(out=None, seed: int = 0, n_per_class: int = 60) -> dict:
    """The lecture's weight counts from real layers, and a CNN against a dense network on the demo data.

    Counts: 8 units on a 3-second window of 61,440 spectrogram values need 491,520 weights fully connected,
    61,440 when each sees one eighth of the input, 7,680 when the eighths also share weights (a feature
    map). Experiment: on the demo data (10 classes, ``n_per_class`` clips each, a quarter held out), a
    small CNN and a network with one dense hidden layer on the flattened log-mel, trained alike.

    Returns
    -------
    dict
        ``{"weights": {"dense", "locally_connected", "convolutional"}, "experiment": {"cnn": {"weights",
        "accuracy"}, "dense": {...}, "weight_ratio"}, "verdict", "holds", "plot"}``; ``holds``: the counts are
        the lecture's and the CNN is at least as accurate with under a tenth of the dense network's weights.
    """
    counts = lecture_counts()
    train_set, test_set = demo_clips(n_per_class, seed)
    experiment = {}
    for name, layers in (("cnn", CNN), ("dense", DENSE)):
        model = train_classifier(layers, train_set, seed)
        scores = evaluate_clips(model, test_set, CLASSES, False)
        experiment[name] = {"weights": summary(model)["total_weights"], "accuracy": scores["accuracy"]}
    cnn, dense = experiment["cnn"], experiment["dense"]
    experiment["weight_ratio"] = cnn["weights"] / dense["weights"]
    lecture = counts == {"dense": 491520, "locally_connected": 61440, "convolutional": 7680}
    holds = bool(lecture and cnn["accuracy"] >= dense["accuracy"] and experiment["weight_ratio"] < 0.1)
    verdict = (f"8 units on 61,440 inputs: {counts['dense']:,} weights fully connected, "
               f"{counts['locally_connected']:,} with limited fields, {counts['convolutional']:,} with shared "
               f"weights; on the demo data a CNN of {cnn['weights']:,} weights scores {cnn['accuracy']:.0%}, a dense "
               f"network of {dense['weights']:,} ({1 / experiment['weight_ratio']:.0f} times more) "
               f"{dense['accuracy']:.0%} (chance {1 / len(CLASSES):.0%})")
    plot = save(_draw_weights(counts, experiment), out, "weights")
    return rounded({"weights": counts, "experiment": experiment, "verdict": verdict, "holds": holds,
                    "plot": plot})


def _draw_weights(counts, experiment):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    names = ["fully connected", "limited fields", "limited fields,\nshared weights"]
    bars = left.bar(names, list(counts.values()), color=["C3", "C1", "C2"])
    left.bar_label(bars, labels=[f"{v:,}" for v in counts.values()])
    left.set(yscale="log", ylim=(1e3, 2e6), ylabel="weights",
             title="8 units on a 3 s spectrogram window (61,440 inputs)")
    models = ["dense", "cnn"]
    x = np.arange(len(models))
    accuracy = [experiment[m]["accuracy"] for m in models]
    bars = right.bar(x, accuracy, color=["C3", "C2"])
    right.bar_label(bars, labels=[f"{a:.0%}\n{experiment[m]['weights']:,} weights" for m, a in zip(models, accuracy)])
    right.axhline(1 / len(CLASSES), color="#999", linestyle=":", label="chance")
    right.set(xticks=x, xticklabels=["dense hidden layer\non the flat log-mel", "CNN (4 conv blocks)"],
              ylim=(0, 1.15), ylabel="test accuracy", title="demo data, 10 classes: trained alike")
    right.legend(loc="upper left")
    return fig


def _saliency(model, waves) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features, predicted class, gradient): the gradient of each clip's top class score with respect to
    the normalised log-mel the network sees."""
    features = model.features(waves).detach().requires_grad_(True)
    logits = model.network(features)
    predicted = logits.argmax(1)
    logits.gather(1, predicted[:, None]).sum().backward()
    return features.detach(), predicted, features.grad


@torch.no_grad()
def _deletion(model, features, predicted, ranking, share: float, seed: int) -> tuple[float, float]:
    """The mean drop of the predicted class's probability when the ``share`` of cells ranked highest by
    ``ranking``, or as many random cells, are set to 0 (the training mean, after normalisation)."""
    def probability(x):
        return torch.softmax(model.network(x), 1).gather(1, predicted[:, None])[:, 0]

    base = probability(features)
    flat = ranking.flatten(1)
    k = int(share * flat.shape[1])
    top = flat.topk(k, dim=1).indices
    g = torch.Generator().manual_seed(seed)
    chosen = torch.stack([torch.randperm(flat.shape[1], generator=g)[:k] for _ in range(len(flat))])
    drops = []
    for cells in (top, chosen):
        masked = features.flatten(1).scatter(1, cells, 0.0).reshape(features.shape)
        drops.append(float((base - probability(masked)).mean()))
    return drops[0], drops[1]


@single_threaded
def features(out=None, seed: int = 0, n_per_class: int = 60) -> dict:
    """What a CNN trained on the demo data learned: first-layer filters, feature maps of one test clip at
    the first and last convolution blocks, and its saliency map: the gradient of the clip's class score
    with respect to the input log-mel, and that gradient times the input (the first-order estimate of how
    much each cell, set to its mean, would change the score).

    The claim checked: the maps show what the network uses. Setting the 5% of each test clip's cells with
    the largest |gradient x input| to the mean lowers the predicted class's probability more than twice as
    much as setting 5% random cells; ranked by |gradient| alone, more than random cells too; and the
    network is well above chance.

    Returns
    -------
    dict
        ``{"accuracy", "chance", "deletion": {"gradient_x_input": {"salient", "random"}, "gradient": {...}},
        "example", "verdict", "holds", "plot"}``.
    """
    train_set, test_set = demo_clips(n_per_class, seed)
    model = train_classifier(CNN, train_set, seed)
    accuracy = evaluate_clips(model, test_set, CLASSES, False)["accuracy"]
    waves = next(test_set.batches(0, 0, model.clip_samples, seed))[0]  # every test clip, cropped as in training
    x, predicted, gradient = _saliency(model, waves)
    deletion = {}
    for name, ranking in (("gradient_x_input", (gradient * x).abs()), ("gradient", gradient.abs())):
        salient, chosen = _deletion(model, x, predicted, ranking, 0.05, seed)
        deletion[name] = {"salient": salient, "random": chosen}
    chance = 1 / len(CLASSES)
    product, plain = deletion["gradient_x_input"], deletion["gradient"]
    holds = bool(product["salient"] > 2 * product["random"] and plain["salient"] > plain["random"]
                 and accuracy > 3 * chance)
    verdict = (f"the CNN scores {accuracy:.0%} on held-out demo clips (chance {chance:.0%}); setting each clip's 5% "
               f"of cells with the largest |gradient x input| to the mean lowers its class probability by "
               f"{product['salient']:.2f}, 5% random cells by {product['random']:.2f} (ranked by |gradient| "
               f"alone: {plain['salient']:.2f})")
    with torch.no_grad():
        confidence = torch.softmax(model.network(x), 1).amax(1)
    right = predicted == torch.from_numpy(test_set.targets)
    example = int(torch.where(right, confidence, -1.0).argmax())  # the clip it is surest of, and right about
    with torch.no_grad():
        loudness = model.frontend(waves[example:example + 1])[0]
    plot = save(_draw_features(model, waves[example:example + 1], loudness, gradient[example], x[example],
                               CLASSES[int(predicted[example])], test_set.paths[example]), out, "features")
    return rounded({"accuracy": accuracy, "chance": chance, "deletion": deletion, "example": test_set.paths[example],
                    "verdict": verdict, "holds": holds, "plot": plot})


def _draw_features(model, wave, loudness, gradient, x, predicted: str, path: str):
    import matplotlib.pyplot as plt

    blocks = [layer for layer in model.network.layers if getattr(layer, "kind", "") == "conv2d"]
    maps = {}
    hooks = [block.register_forward_hook(lambda m, i, o, n=n: maps.__setitem__(n, o[0].detach()))
             for n, block in enumerate(blocks)]
    with torch.no_grad():
        model(wave)
    for hook in hooks:
        hook.remove()
    first = blocks[0].block[0].weight.detach()[:, 0]  # (channels, bins, frames)
    fig = plt.figure(figsize=(14, 9), constrained_layout=True)
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1, 1.2, 1.2])
    axes = top.subplots(1, len(first))
    limit = float(first.abs().max())
    for i, (ax, kernel) in enumerate(zip(axes, first)):
        ax.imshow(kernel.numpy(), origin="lower", cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set(xticks=[], yticks=[], title=f"filter {i + 1}")
    top.suptitle("first-layer filters (5 mel bands x 5 frames; red positive, blue negative)")
    left, centre, right = middle.subplots(1, 3)
    seconds = wave.shape[1] / model.sr
    extent = (0, seconds, 0, loudness.shape[0])
    left.imshow(loudness.numpy(), origin="lower", aspect="auto", cmap="magma", extent=extent)
    left.set(title=f"{path}: log-mel\n(the network says {predicted})", xlabel="time (s)", ylabel="mel band")
    for ax, values, title in ((centre, gradient.abs(), "saliency: |d score / d log-mel|"),
                              (right, (gradient * x).abs(), "|gradient x input|")):
        ax.imshow(loudness.numpy(), origin="lower", aspect="auto", cmap="gray", extent=extent)
        ax.imshow(values.numpy(), origin="lower", aspect="auto", cmap="hot", alpha=0.7, extent=extent)
        ax.set(title=title, xlabel="time (s)")
    panels = bottom.subplots(2, 8)
    for row, (n, label) in enumerate(((0, "first"), (len(blocks) - 1, "last"))):
        for column, ax in enumerate(panels[row]):
            ax.imshow(maps[n][column].numpy(), origin="lower", aspect="auto", cmap="viridis")
            ax.set(xticks=[], yticks=[])
            if column == 0:
                ax.set_ylabel(f"{label} block", fontsize=9)
    bottom.suptitle("feature maps of this clip, 8 channels each: the first block (fine detail) and the last "
                    "(coarse, pooled)")
    return fig
