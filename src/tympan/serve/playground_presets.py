"""The playground's presets: lessons of ``tympan lab`` set up on the playground.

Each preset is the lesson's data (built by the lesson's own function, ``playground_data``), network, seed
and training configuration, and stops at the lesson's number of epochs, so that the numbers the page shows
then are the ones the lesson prints (``tests/test_playground.py`` checks each against ``tympan.lab.run``).
A preset's ``matches`` says which of the lesson's numbers it reproduces. Where the lesson's network is
larger than the playground allows (``depth``: 10 layers of 32 units), the preset is the lesson's function
run at the playground's limits, ``depth(layers=6, width=8)``.

Examples
--------
>>> PRESETS.get("perceptron-xor").config["hidden"]
[]
"""

from __future__ import annotations

from typing import NamedTuple

from ..lab.descent import RATES, START
from ..registry import Registry
from .playground_engine import MAX_LAYERS, MAX_UNITS


class Preset(NamedTuple):
    title: str
    lesson: str  # the tympan lab lesson it reproduces
    description: str  # what to watch
    matches: str  # which of the lesson's numbers the playground shows at the preset's last epoch
    config: dict  # PlaygroundConfig's fields


PRESETS = Registry("playground preset")
# What every lesson leaves plain: no regularisation, a linear output unit (a logit), seed 0
LESSON = {"regularization": "none", "regularization_rate": 0.0, "output_activation": "linear", "seed": 0,
          "start": None}
# XOR's truth table, one sigmoid output read as a step (class 1 when w.x + b > 0), full batch
TRUTH_TABLE = {**LESSON, "data": "xor_table", "inputs": ["x1", "x2"], "loss": "binary_cross_entropy",
               "batch_size": 0}
LOGISTIC = {**LESSON, "data": "logistic", "inputs": ["x1"], "hidden": [], "activation": "linear",
            "loss": "binary_cross_entropy", "optimizer": "sgd", "batch_size": 0, "stop_at": 50, "start": list(START)}
DEEP = {**LESSON, "data": "moons", "inputs": ["x1", "x2"], "hidden": [MAX_UNITS] * MAX_LAYERS,
        "loss": "cross_entropy", "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 32, "stop_at": 30}

def _on_truth_table(hidden: list, activation: str, optimizer: str, learning_rate: float, epochs: int,
                    output_activation: str = "linear") -> dict:
    """A network on XOR's truth table, full batch, as ``tympan lab xor`` and ``step-vs-sigmoid`` train it."""
    return {**TRUTH_TABLE, "hidden": hidden, "activation": activation, "output_activation": output_activation,
            "optimizer": optimizer, "learning_rate": learning_rate, "stop_at": epochs}


PRESETS.add("perceptron-xor", Preset(
    "A perceptron cannot learn XOR", "xor",
    "One unit, w.x + b, on XOR's four points, trained as a sigmoid unit by gradient descent (SGD, rate 1, full "
    "batch) for 500 epochs. No line separates XOR's classes, so at most 3 of 4 points can be right; the unit "
    "gives up, its weights shrink towards 0 and it answers 0.5 everywhere.",
    "tympan lab xor: the perceptron's accuracy on XOR (25% at seed 0) and its outputs (0.50 at every point)",
    _on_truth_table([], "linear", "sgd", 1.0, 500)))
PRESETS.add("hidden-layer-xor", Preset(
    "One hidden layer learns XOR", "xor",
    "The same four points with one hidden layer of 8 sigmoid units (Adam, rate 0.1, full batch, 300 epochs): "
    "two lines, combined, separate XOR.",
    "tympan lab xor: the hidden-layer network's accuracy on XOR (100%) and its final loss",
    _on_truth_table([8], "sigmoid", "adam", 0.1, 300)))
for unit, output, title, shows, measured in (
        ("step", "step", "Step units get no gradient",
         "4 hidden binary-step units and a step output. The step's derivative is 0 wherever it exists, so no "
         "error reaches any weight: the gradient is 0 and the loss never moves. Choose the preset with sigmoid "
         "units to see the same network learn.",
         "loss, the same at epoch 0 and 300, its gradient norm (0) and its accuracy (75%)"),
        ("sigmoid", "linear", "The same network with sigmoid units learns",
         "the step network's twin, with the same initial weights: 4 hidden sigmoid units and a linear output. "
         "Their derivative is never 0, so the error reaches every weight and the loss falls.",
         "first and last loss, gradient norm and accuracy (100%)")):
    PRESETS.add(f"{unit}-units", Preset(
        title, "step-vs-sigmoid", f"XOR (Adam, rate 0.05, full batch, 300 epochs) with {shows}",
        f"tympan lab step-vs-sigmoid: the {unit} network's {measured}",
        _on_truth_table([4], unit, "adam", 0.05, 300, output_activation=output)))
for regime, title, shows in (
        ("too large", "Too large a learning rate",
         "jumps over the minimum again and again: the loss goes up as well as down, higher than where it started"),
        ("good", "A good learning rate", "reaches the minimum of the loss in 50 steps"),
        ("too small", "Too small a learning rate", "crawls: after 50 steps it is still far from the minimum")):
    PRESETS.add(f"learning-rate-{regime.replace(' ', '-')}", Preset(
        title, "learning-rate",
        f"One sigmoid unit on one input x (two weights, w and b, starting at {START[0]:g} and {START[1]:g}), "
        f"batch gradient descent at rate {RATES[regime]:g} for 50 steps: it {shows}. The lesson's data has one "
        "input: x2 only spreads the points for display, and the boundary is the line w x + b = 0.",
        f"tympan lab learning-rate, rate {RATES[regime]:g} ({regime}): the loss after each of the 50 steps, so "
        "its final and highest loss and the steps on which it rose",
        {**LOGISTIC, "learning_rate": RATES[regime]}))
for unit, shows in (("sigmoid", "the first layers' gradient is a fraction of the last's and the network barely "
                                "learns in 30 epochs"),
                    ("relu", "the gradient reaches the first layers and the network learns the moons")):
    PRESETS.add(f"deep-{unit}", Preset(
        f"Deep network of {'sigmoids' if unit == 'sigmoid' else 'ReLUs'}", "depth",
        f"{MAX_LAYERS} hidden layers of {MAX_UNITS} {unit} units on two half-moons (SGD, rate 0.1, mini-batches "
        f"of 32, 30 epochs): {shows}. Each layer's gradient norm is shown under it.",
        f"tympan lab depth run at the playground's limits, depth(layers={MAX_LAYERS}, width={MAX_UNITS}) (the lesson "
        f"itself uses 10 layers of 32): the {unit} network's first-to-last gradient ratio, final loss and accuracy",
        {**DEEP, "activation": unit}))


def describe() -> list[dict]:
    """Every preset as JSON: name, title, lesson, description, matches and config."""
    return [{"name": name, **preset._asdict()} for name, preset in PRESETS.items()]
