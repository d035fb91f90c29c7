"""The lecture notes' claims as experiments: ``tympan lab NAME``.

Each lesson trains real networks with ``tympan.nn`` and ``tympan.train`` (the step of ``tympan train``,
its losses, optimisers and schedules; ``Classifier`` and ``fit`` on the demo data for the audio lessons),
writes its figure to ``out/NAME.png``, and returns its numbers: a JSON-able dict with a one-line
``verdict`` and ``holds``, whether the lesson's claim held in this run.

``LESSONS`` maps each name to ``(one-line description, function)``; a lesson is a function
``(out, seed) -> dict`` (``out`` a folder, or None for no figure) and one line here.

Examples
--------
>>> result = run("step-vs-sigmoid", out=None, seed=0)
>>> result["step"]["loss_first"] == result["step"]["loss_last"], result["holds"]
(True, True)
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ConfigError
from .activations import activations, depth
from .conventional import conventional_vs_deep
from .convolution import features, weights
from .descent import descent, learning_rate
from .memory import memory
from .perceptron import step_vs_sigmoid, xor

LESSONS: dict[str, tuple[str, callable]] = {
    "xor": ("one unit learns AND, OR and NOT but not XOR; one hidden layer of sigmoid units learns XOR", xor),
    "step-vs-sigmoid": ("a network of binary steps never learns (its gradient is 0); of sigmoids, it does",
                        step_vs_sigmoid),
    "activations": ("every activation and its derivative, and what a one-hidden-layer network fits with each",
                    activations),
    "learning-rate": ("gradient descent with rates from too small to too large: crawls, converges, overshoots",
                      learning_rate),
    "descent": ("batch, stochastic and mini-batch gradient descent and Adam, by examples seen and by time",
                descent),
    "depth": ("in 10 layers, sigmoid units pass back vanishing gradients, ReLUs do not", depth),
    "weights": ("the lecture's weight counts (491,520 / 61,440 / 7,680) and a CNN against a dense network",
                weights),
    "memory": ("recall the first symbol after T steps: a plain RNN forgets as T grows, an LSTM does not",
               memory),
    "features": ("what a CNN trained on the demo data learned: filters, feature maps, saliency", features),
    "conventional-vs-deep": ("MFCC + SVM against a CNN as the training set grows: where deep learning overtakes",
                             conventional_vs_deep),
}


def run(name: str, out=None, seed: int = 0) -> dict:
    """Run the lesson ``name``: its numbers with ``lesson``, ``seed`` and ``seconds`` added.

    Parameters
    ----------
    name : str
        A key of ``LESSONS``.
    out : str, Path or None
        The folder for its figure; None draws nothing.
    seed : int
        Seed of every random choice: data, initial weights, batch order.
    """
    if name not in LESSONS:
        raise ConfigError(f"no lesson called {name!r}: choose one of {', '.join(LESSONS)} "
                          "(tympan lab --list describes them)")
    started = time.perf_counter()
    result = LESSONS[name][1](Path(out) if out is not None else None, int(seed))
    return {"lesson": name, "seed": int(seed), **result, "seconds": round(time.perf_counter() - started, 2)}


__all__ = ["LESSONS", "run"]
