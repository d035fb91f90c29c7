"""The playground's engine: a small network on 2-D points, trained an epoch at a time by Tympan's own
step, and what the page draws of it.

``PlaygroundConfig`` holds the page's choices (data, inputs, hidden layers, activation, loss, optimiser,
learning rate, batch size, regularisation). ``Trainer`` builds the network as the lessons do
(``tympan.lab.common.vector_network``: the chosen input features, the hidden ``dense`` layers, and an
output layer), trains it with ``tympan.train.loop.train_step`` over ``ClipSet.batches`` (batch size 0 is
batch gradient descent, 1 stochastic, between mini-batch, as in ``tympan train``), and measures losses and
accuracies with the lessons' ``loss_of`` and ``accuracy_of``: with the same configuration and seed a
lesson's network takes the same steps, so the playground's numbers are the lab's.

The output layer is one unit whose sigmoid is the probability of class 1 (``binary_cross_entropy`` or
``sse``, as the lecture's logistic output), or two units and a softmax (``cross_entropy``).
Regularisation adds ``rate * sign(w)`` (L1) or ``rate * w`` (L2) to the gradient of every weight (not
the biases), so it reaches the optimiser as a penalty term of the loss would; the losses shown are the
data's alone.

Examples
--------
>>> trainer = Trainer(PlaygroundConfig(data="gaussians", hidden=[], learning_rate=0.1))
>>> trainer.train_epochs(20)
>>> snapshot = trainer.snapshot()
>>> snapshot["epoch"], snapshot["train_accuracy"] > 0.9, len(snapshot["boundary"]) == BOUNDARY ** 2
(20, True, True)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..lab.common import accuracy_of, config, examples, gradients, loss_of, single_threaded, vector_network
from ..train.config import TrainConfig
from ..train.loop import train_step
from ..train.optim import make_optimizer
from .playground_data import DATASETS, FEATURES, features, grid, make

MAX_LAYERS, MAX_UNITS = 6, 8
ACTIVATIONS = ("linear", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu", "softplus")  # the lecture's
LOSSES = ("binary_cross_entropy", "sse", "cross_entropy")
OPTIMIZERS = {"sgd": ("sgd", 0.0), "momentum": ("sgd", 0.9), "adam": ("adam", 0.0)}  # name: (engine's, momentum)
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LEARNING_RATE, MAX_BATCH, MAX_REGULARIZATION = 1000.0, 1000, 10.0
BOUNDARY, THUMBNAIL = 40, 20  # cells per side of the output's heat map and of each neuron's
HISTORY_POINTS = 300  # the loss curves sent to the page, thinned to this many epochs


@dataclass
class PlaygroundConfig:
    """The playground's choices; ``LIVE`` fields change a running network, the others rebuild it.

    ``batch_size`` 0 is every training point at once; ``stop_at`` pauses playing at that epoch (a
    lesson's length); ``start`` sets the output unit's weights then its bias before training, for a
    network without hidden layers (the learning-rate lesson starts at w = -2, b = -2).
    ``output_activation`` comes before the loss's own sigmoid (or softmax): ``linear`` leaves the output
    unit a logit, ``step`` makes every unit of the network a step (``tympan lab step-vs-sigmoid``).
    """

    data: str = "circles"
    noise: float = 0.0
    train_fraction: float = 0.5
    seed: int = 0
    inputs: list = field(default_factory=lambda: ["x1", "x2"])
    hidden: list = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    output_activation: str = "linear"
    loss: str = "binary_cross_entropy"
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    batch_size: int = 10
    regularization: str = "none"
    regularization_rate: float = 0.0
    stop_at: int | None = None
    start: list | None = None

    LIVE = ("learning_rate", "batch_size", "regularization", "regularization_rate", "stop_at")
    LESSON = ("start", "stop_at")  # a preset's: they go when the data or the network changes

    def replace(self, values: dict) -> PlaygroundConfig:
        """A checked copy with ``values`` (field: value) set; a ``ConfigError`` names the field that is wrong.

        Changing the data or the network (any field but the ``LIVE`` ones and the seed) leaves the lesson a
        preset set up: ``start`` and ``stop_at`` are cleared unless ``values`` sets them too.
        """
        if not isinstance(values, dict):
            raise ConfigError("the playground's configuration must be a JSON object of fields and values")
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}; the playground takes {', '.join(names)}")
        if any(values[name] != getattr(self, name) for name in values
               if name not in (*self.LIVE, *self.LESSON, "seed")):
            values = {"start": None, "stop_at": None, **values}
        chosen = dataclasses.replace(self, **values)
        check(chosen)
        return chosen

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def outputs(self) -> int:
        return 2 if self.loss == "cross_entropy" else 1


def _number(name: str, value, low: float, high: float, integer: bool = False, open_low: bool = False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) \
            or not (low < value if open_low else low <= value) or value > high:
        what = "a whole number" if integer else "a number"
        span = f"more than {low:g} and at most {high:g}" if open_low else f"from {low:g} to {high:g}"
        raise ConfigError(f"{name}={value!r}: must be {what} {span}")


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is unknown: choose one of {', '.join(choices)}")


def check(c: PlaygroundConfig) -> None:
    """Refuse what the playground does not offer, naming the field: ``ConfigError``."""
    _choice("data", c.data, DATASETS.names())
    _number("noise", c.noise, 0, 0.5)
    _number("train_fraction", c.train_fraction, 0.1, 0.9)
    _number("seed", c.seed, 0, 2**31 - 1, integer=True)
    if not isinstance(c.inputs, list) or not c.inputs or len(set(map(str, c.inputs))) != len(c.inputs):
        raise ConfigError(f"inputs={c.inputs!r}: choose one or more different inputs of {', '.join(FEATURES)}")
    for name in c.inputs:
        _choice("inputs", name, list(FEATURES))
    if not isinstance(c.hidden, list) or len(c.hidden) > MAX_LAYERS:
        raise ConfigError(f"hidden={c.hidden!r}: a list of 0 to {MAX_LAYERS} hidden layers' sizes, e.g. [4, 2]")
    for number, units in enumerate(c.hidden, 1):
        _number(f"hidden layer {number}'s units", units, 1, MAX_UNITS, integer=True)
    _choice("activation", c.activation, ACTIVATIONS)
    _choice("output_activation", c.output_activation, ACTIVATIONS)
    _choice("loss", c.loss, LOSSES)
    _choice("optimizer", c.optimizer, list(OPTIMIZERS))
    _number("learning_rate", c.learning_rate, 0, MAX_LEARNING_RATE, open_low=True)
    _number("batch_size", c.batch_size, 0, MAX_BATCH, integer=True)
    _choice("regularization", c.regularization, REGULARIZATIONS)
    _number("regularization_rate", c.regularization_rate, 0, MAX_REGULARIZATION)
    if c.stop_at is not None:
        _number("stop_at", c.stop_at, 1, 10**9, integer=True)
    if c.start is not None:
        if c.hidden or c.outputs != 1 or not isinstance(c.start, list) or len(c.start) != len(c.inputs) + 1:
            raise ConfigError(f"start={c.start!r}: only for one output unit without hidden layers, as its "
                              f"{len(c.inputs)} weights then its bias")
        for value in c.start:
            _number("start", value, -1e3, 1e3)


class Trainer:
    """One network on one data set, trained an epoch at a time; ``snapshot`` is what the page draws.

    Parameters
    ----------
    chosen : PlaygroundConfig
        Checked here: a ``ConfigError`` names the field that is wrong.
    """

    def __init__(self, chosen: PlaygroundConfig | None = None):
        self.config = chosen or PlaygroundConfig()
        check(self.config)
        self.rebuild()

    def training(self) -> TrainConfig:
        """The engine's ``TrainConfig`` for the current choices, as a lesson would write it."""
        c = self.config
        optimizer, momentum = OPTIMIZERS[c.optimizer]
        return config(loss=c.loss, optimizer=optimizer, momentum=momentum, learning_rate=c.learning_rate,
                      batch_size=c.batch_size, seed=c.seed)

    def rebuild(self) -> None:
        """New data and new initial weights from the seed; epoch 0."""
        c = self.config
        self.points = make(c.data, c.seed, c.noise, c.train_fraction)
        self.train_set, self.test_set = (self._examples(x, y) for x, y in (
            (self.points.x_train, self.points.y_train), (self.points.x_test, self.points.y_test)))
        layers = [{"kind": "dense", "units": units, "activation": c.activation} for units in c.hidden]
        output = {"kind": "dense", "units": c.outputs, "activation": c.output_activation}
        self.network = vector_network(layers + [output], len(c.inputs), c.seed)
        self.dense = list(self.network.layers)[1:]  # after flatten: the hidden layers, then the output
        if c.start is not None:
            with torch.no_grad():
                self.dense[0].linear.weight.copy_(torch.tensor([c.start[:-1]]))
                self.dense[0].linear.bias.fill_(c.start[-1])
        for layer in self.dense:
            layer.linear.weight.register_hook(lambda grad, w=layer.linear.weight: grad + self._penalty(w))
        self.t = self.training()
        self.optimizer = make_optimizer(self.network.parameters(), self.t)
        self.network.eval()
        self.epoch = 0
        self.history = [self._losses()]

    def _examples(self, x, y):
        """Points as the engine's ``ClipSet``: their input features, and 0/1 rows for one output unit or
        class indices for two."""
        targets = y if self.config.outputs == 2 else y[:, None].astype(np.float32)
        return examples(features(x, self.config.inputs), targets)

    def _penalty(self, w: torch.Tensor) -> torch.Tensor:
        rate = self.config.regularization_rate
        if self.config.regularization == "l1":
            return rate * torch.sign(w.detach())
        if self.config.regularization == "l2":
            return rate * w.detach()
        return torch.zeros_like(w)

    def change(self, values: dict) -> bool:
        """Apply ``values`` (field: value); True when the network was rebuilt (any field not ``LIVE``)."""
        chosen = self.config.replace(values)
        live = all(getattr(chosen, f.name) == getattr(self.config, f.name) for f in dataclasses.fields(chosen)
                   if f.name not in PlaygroundConfig.LIVE)
        self.config = chosen
        if not live:
            self.rebuild()
            return True
        self.t = self.training()
        for group in self.optimizer.param_groups:
            group["lr"] = chosen.learning_rate
        return False

    @single_threaded  # the networks are tiny: a second thread only waits
    def train_epochs(self, n: int = 1) -> None:
        """``n`` epochs: a ``train_step`` per batch, the batches as ``tympan train`` cuts them."""
        for _ in range(n):
            self.epoch += 1
            self.network.train()
            for x, y, _ in self.train_set.batches(self.epoch, self.t.batch_size, len(self.config.inputs),
                                                  self.t.seed):
                train_step(self.network, x, y, self.optimizer, self.t, multi_label=None)
            self.network.eval()
            self.history.append(self._losses())

    def _losses(self) -> tuple[float, float]:
        return loss_of(self.network, self.train_set, self.t), loss_of(self.network, self.test_set, self.t)

    @torch.no_grad()
    def probability(self, points: np.ndarray) -> np.ndarray:
        """The network's probability of class 1 at ``points`` (n, 2)."""
        logits = self.network(torch.from_numpy(features(points, self.config.inputs)))
        return (torch.sigmoid(logits[:, 0]) if logits.shape[1] == 1 else torch.softmax(logits, 1)[:, 1]).numpy()

    @torch.no_grad()
    def neuron_outputs(self, points: np.ndarray) -> list[np.ndarray]:
        """Each hidden layer's outputs (after its activation) at ``points``: ``(n, units)`` per layer."""
        outputs = []
        hooks = [layer.register_forward_hook(lambda module, given, out: outputs.append(out.numpy()))
                 for layer in self.dense[:-1]]
        try:
            self.network(torch.from_numpy(features(points, self.config.inputs)))
        finally:
            for hook in hooks:
                hook.remove()
        return outputs

    def layout(self) -> dict:
        """What changes only on a rebuild: the points, the domain, the inputs drawn over it, layer sizes."""
        p = self.points
        thumbnail = grid(p.domain, THUMBNAIL)
        return {"config": self.config.to_dict(), "domain": list(p.domain), "outputs": self.config.outputs,
                "train": _labelled(p.x_train, p.y_train), "test": _labelled(p.x_test, p.y_test),
                "inputs": [{"name": name, "label": FEATURES[name][0],
                            "thumbnail": _heat_map(features(thumbnail, [name])[:, 0])} for name in self.config.inputs],
                "hidden": list(self.config.hidden), "thumbnail_size": THUMBNAIL, "boundary_size": BOUNDARY}

    @single_threaded
    def snapshot(self) -> dict:
        """The network now: losses, accuracies, the gradient of the training loss at these weights (each
        layer's weights, and all parameters together), the output over the domain, each neuron's output
        over it, the weights and biases, and the loss curves so far."""
        domain = self.points.domain
        norms = {name: float(g.norm()) for name, g in gradients(self.network, self.train_set, self.t).items()}
        train_loss, test_loss = self.history[-1]
        keep = np.unique(np.linspace(0, len(self.history) - 1, HISTORY_POINTS).round().astype(int))
        return {"epoch": self.epoch, "train_loss": train_loss, "test_loss": test_loss,
                "train_accuracy": accuracy_of(self.network, self.train_set),
                "test_accuracy": accuracy_of(self.network, self.test_set),
                "gradient_norm": math.sqrt(sum(n * n for n in norms.values())),
                "gradient_norms": [n for name, n in norms.items() if name.endswith("linear.weight")],
                "boundary": _per_mille(self.probability(grid(domain, BOUNDARY))),
                "neurons": [[_heat_map(unit) for unit in layer.T]
                            for layer in self.neuron_outputs(grid(domain, THUMBNAIL))],
                "weights": [_rounded(layer.linear.weight.detach().numpy(), 4) for layer in self.dense],
                "biases": [_rounded(layer.linear.bias.detach().numpy(), 4) for layer in self.dense],
                "history": {"epochs": keep.tolist(), "train": [_significant(self.history[i][0]) for i in keep],
                            "test": [_significant(self.history[i][1]) for i in keep]}}


# The snapshot goes to the page several times a second: heat maps travel as small integers.


def _per_mille(probability: np.ndarray) -> list[int]:
    return np.round(1000 * probability).astype(int).tolist()


def _heat_map(values: np.ndarray) -> dict:
    """``{"scale", "values"}``: values as whole percents of ``scale`` = max(1, largest |value|), so an
    output within [-1, 1] keeps its own size and a larger one (a ReLU's) is drawn to its largest."""
    scale = max(1.0, float(np.abs(values).max(initial=0.0)))
    return {"scale": round(scale, 3), "values": np.round(100 * values / scale).astype(int).tolist()}


def _significant(value: float) -> float:
    return float(f"{value:.4g}")


def _rounded(values: np.ndarray, decimals: int = 3) -> list:
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


def _labelled(x: np.ndarray, y: np.ndarray) -> list:
    return [[round(float(a), 3), round(float(b), 3), int(label)] for (a, b), label in zip(x, y)]
