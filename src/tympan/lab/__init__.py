"""The lecture notes' claims as experiments: ``tympan lab NAME``.

Each lesson trains real networks with ``tympan.nn`` and ``tympan.train`` (the step of ``tympan train``,
its losses, optimisers and schedules; ``Classifier`` and ``fit`` on the demo data for the audio lessons),
writes its figure to ``out/NAME.png``, and returns its numbers: a JSON-able dict with a one-line
``verdict`` and ``holds``, whether the lesson's claim held in this run.

``LESSONS``, a registry, holds each name's ``Lesson(description, function)``: a lesson is a function
``(out, seed) -> dict`` (``out`` a folder, or None for no figure) and one entry here, in the order of
``tympan lab --list``.

Examples
--------
>>> result = run("step-vs-sigmoid", out=None, seed=0)
>>> result["step"]["loss_first"] == result["step"]["loss_last"], result["holds"]
(True, True)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

from ..registry import Registry
from .activations import activations, depth
from .conventional import conventional_vs_deep
from .convolution import features, weights
from .descent import descent, learning_rate
from .memory import memory
from .perceptron import step_vs_sigmoid, xor

class Lesson(NamedTuple):
    description: str  # one line, for tympan lab --list
    function: Callable  # (out, seed) -> dict


LESSONS = Registry("lesson")
LESSONS.add("xor", Lesson(
    "one unit learns AND, OR and NOT but not XOR; one hidden layer of sigmoid units learns XOR", xor))
LESSONS.add("step-vs-sigmoid", Lesson(
    "a network of binary steps never learns (its gradient is 0); of sigmoids, it does", step_vs_sigmoid))
LESSONS.add("activations", Lesson(
    "every activation and its derivative, and what a one-hidden-layer network fits with each", activations))
LESSONS.add("learning-rate", Lesson(
    "gradient descent with rates from too small to too large: crawls, converges, overshoots", learning_rate))
LESSONS.add("descent", Lesson(
    "batch, stochastic and mini-batch gradient descent and Adam, by examples seen and by time", descent))
LESSONS.add("depth", Lesson("in 10 layers, sigmoid units pass back vanishing gradients, ReLUs do not", depth))
LESSONS.add("weights", Lesson(
    "the lecture's weight counts (491,520 / 61,440 / 7,680) and a CNN against a dense network", weights))
LESSONS.add("memory", Lesson(
    "recall the first symbol after T steps: a plain RNN forgets as T grows, an LSTM does not", memory))
LESSONS.add("features", Lesson("what a CNN trained on the demo data learned: filters, feature maps, saliency", features))
LESSONS.add("conventional-vs-deep", Lesson(
    "MFCC + SVM against a CNN as the training set grows: where deep learning overtakes", conventional_vs_deep))


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
    lesson = LESSONS.get(name)
    started = time.perf_counter()
    result = lesson.function(Path(out) if out is not None else None, int(seed))
    return {"lesson": name, "seed": int(seed), **result, "seconds": round(time.perf_counter() - started, 2)}


__all__ = ["LESSONS", "Lesson", "run"]
