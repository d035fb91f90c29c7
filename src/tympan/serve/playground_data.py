"""The playground's data: labelled points in the plane, and the input features computed from them.

Four problems of TensorFlow Playground (XOR, circles, two spirals, Gaussian blobs), drawn as it draws them
(500 points, the label of a point chosen after noise moves it, so noise also mislabels points near the
boundary); an audio problem, two hand-crafted features of two classes of Tympan's demo sounds; and the
data of three ``tympan lab`` lessons, built by the lessons' own functions, so a preset trains on exactly
what the lesson trains on.

A data set is a function ``(seed, noise, train_fraction) -> Points``; ``DATASETS`` holds them by name.
Classes are 0 and 1 (the page draws 0 orange, 1 blue, as the playground does).

Examples
--------
>>> points = make("circles", seed=0, noise=0.0, train_fraction=0.5)
>>> points.x_train.shape, points.x_test.shape, points.domain
((250, 2), (250, 2), (-6.0, 6.0))
>>> features(points.x_train[:2], ["x1", "x1_squared"]).shape
(2, 2)
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np

from ..data.synthetic import CLASSES, demo_clip
from ..lab.common import half_moons
from ..lab.convolution import SR
from ..lab.descent import logistic_data  # the learning-rate lesson's own data: one input x
from ..lab.perceptron import TRUTH_TABLES
from ..registry import Registry

N_POINTS = 500  # as TensorFlow Playground
RADIUS = 5.0  # its problems lie within this of the origin, drawn on [-6, 6]
AUDIO_CLASSES = ("birdsong", "rain")
CLIPS_PER_CLASS = 100

# The inputs a network may take, as the playground offers them: name -> (label, function of x1, x2)
FEATURES = {
    "x1": ("x₁", lambda x1, x2: x1),
    "x2": ("x₂", lambda x1, x2: x2),
    "x1_squared": ("x₁²", lambda x1, x2: x1 * x1),
    "x2_squared": ("x₂²", lambda x1, x2: x2 * x2),
    "x1_x2": ("x₁x₂", lambda x1, x2: x1 * x2),
    "sin_x1": ("sin x₁", lambda x1, x2: np.sin(x1)),
    "sin_x2": ("sin x₂", lambda x1, x2: np.sin(x2)),
}


class Points(NamedTuple):
    """A training and a test set of points ``(n, 2)`` with labels ``(n,)`` (0 or 1), and the square
    ``domain`` (low, high) of both axes they are drawn on."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    domain: tuple[float, float]


class Dataset(NamedTuple):
    title: str
    description: str
    make: Callable  # (seed, noise, train_fraction) -> Points
    lesson: bool = False  # the data of a lab lesson: noise and the train fraction do not apply


DATASETS = Registry("playground data set")


def make(name: str, seed: int, noise: float, train_fraction: float) -> Points:
    """The points of the data set ``name`` (a key of ``DATASETS``)."""
    return DATASETS.get(name, option="data").make(seed, noise, train_fraction)


def features(points: np.ndarray, inputs: list[str]) -> np.ndarray:
    """The input features ``inputs`` (keys of ``FEATURES``, in that order) of points ``(n, 2)``: ``(n, k)``
    float32, what the network takes."""
    x1, x2 = points[:, 0], points[:, 1]
    return np.stack([FEATURES[name][1](x1, x2) for name in inputs], 1).astype(np.float32)


def grid(domain: tuple[float, float], size: int) -> np.ndarray:
    """The centres of a ``size`` x ``size`` grid of cells over the square ``domain``, row by row from the
    top (x2 high) down, as an image is drawn: ``(size * size, 2)`` float32."""
    low, high = domain
    centres = low + (np.arange(size) + 0.5) * (high - low) / size
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], 1).astype(np.float32)


def _split(x, y, rng, train_fraction: float, domain) -> Points:
    """Shuffle, then the first ``train_fraction`` for training, the rest for testing."""
    order = rng.permutation(len(x))
    n_train = int(round(train_fraction * len(x)))
    x, y = x[order].astype(np.float32), y[order].astype(np.int64)
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:], domain)


def _playground(generate):
    """A TensorFlow Playground problem: ``generate(rng, n, noise) -> (points, labels)``, split at random."""
    def build(seed: int, noise: float, train_fraction: float) -> Points:
        rng = np.random.default_rng(seed)
        x, y = generate(rng, N_POINTS, noise)
        return _split(x, y, rng, train_fraction, (-6.0, 6.0))
    return build


def _xor(rng, n, noise):
    x = rng.uniform(-RADIUS, RADIUS, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # a gap along the axes, as the playground leaves
    moved = x + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    return x, (moved[:, 0] * moved[:, 1] >= 0).astype(int)


def _circles(rng, n, noise):
    inner = rng.uniform(0, 0.5 * RADIUS, n // 2)
    outer = rng.uniform(0.7 * RADIUS, RADIUS, n - n // 2)
    r = np.concatenate([inner, outer])
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], 1)
    moved = x + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    return x, (np.hypot(moved[:, 0], moved[:, 1]) < 0.5 * RADIUS).astype(int)  # 1 inside


def _spirals(rng, n, noise):
    half = n // 2
    t = np.arange(half) / half
    arms = []
    for label, turn in ((1, 0.0), (0, np.pi)):
        angle = 1.75 * t * 2 * np.pi + turn
        arm = np.stack([RADIUS * t * np.sin(angle), RADIUS * t * np.cos(angle)], 1)
        arms.append(arm + rng.uniform(-1, 1, arm.shape) * noise * RADIUS / 5)
    return np.concatenate(arms), np.repeat([1, 0], half)


def _gaussians(rng, n, noise):
    spread = np.sqrt(0.5 + 3.5 * noise)  # the playground's variance goes from 0.5 to 4
    label = np.repeat([1, 0], [n // 2, n - n // 2])
    centre = np.where(label[:, None] == 1, 2.0, -2.0)
    return centre + rng.normal(0, spread, (n, 2)), label


DATASETS.add("xor", Dataset("XOR", "the four quadrants: class 1 where x1 and x2 have the same sign",
                            _playground(_xor)))
DATASETS.add("circles", Dataset("circles", "class 1 inside a circle, class 0 in a ring around it",
                                _playground(_circles)))
DATASETS.add("spirals", Dataset("two spirals", "two interleaved spiral arms", _playground(_spirals)))
DATASETS.add("gaussians", Dataset("Gaussian blobs", "two Gaussian clouds, wider with noise",
                                  _playground(_gaussians)))


# ------------------------------------------------------------------------------------- the audio problem


def spectral_centroid(y: np.ndarray, sr: int) -> float:
    """The power-weighted mean frequency of a recording's whole spectrum, in Hz: where its energy sits.

    Examples
    --------
    >>> t = np.arange(8000) / 8000
    >>> round(spectral_centroid(np.sin(2 * np.pi * 1000 * t), 8000))
    1000
    """
    power = np.abs(np.fft.rfft(y)) ** 2
    return float((power * np.fft.rfftfreq(len(y), 1 / sr)).sum() / max(power.sum(), 1e-20))


def zero_crossing_rate(y: np.ndarray) -> float:
    """The share of consecutive samples of opposite sign: about 2 f / sr for a tone of f Hz, high for noise.

    Examples
    --------
    >>> zero_crossing_rate(np.array([1.0, -1.0, -1.0, 1.0, 1.0]))
    0.5
    """
    return float(np.mean(np.signbit(y[1:]) != np.signbit(y[:-1])))


@functools.lru_cache(maxsize=4)  # synthesising 200 clips takes about a second; a page regenerates often
def _audio_features(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for label, name in enumerate(AUDIO_CLASSES):
        for index in range(CLIPS_PER_CLASS):
            y = demo_clip(CLASSES.index(name), index, SR, seed)
            rows.append((np.log2(spectral_centroid(y, SR)), zero_crossing_rate(y)))
            labels.append(label)
    x = np.array(rows)
    return (x - x.mean(0)) / x.std(0), np.array(labels)  # standardised: each feature in z-scores


def _audio(seed: int, noise: float, train_fraction: float) -> Points:
    rng = np.random.default_rng(seed)
    x, y = _audio_features(seed)
    return _split(x + rng.normal(0, 2 * noise, x.shape), y, rng, train_fraction, (-4.0, 4.0))


DATASETS.add("audio", Dataset(
    "birdsong vs rain",
    f"{CLIPS_PER_CLASS} clips each of the demo sounds birdsong (class 0) and rain (class 1) at {SR} Hz: x1 their "
    "spectral centroid (log2 Hz), x2 their zero-crossing rate, both standardised. Both are bright, but rain is "
    "noise, whose zero crossings rise with its centroid, while a chirp crosses zero at twice its pitch: the "
    "boundary bends", _audio))


# ---------------------------------------------------------------------------- the lab lessons' own data


def _lesson(data_of, test_seed_offset: int = 1, jitter: bool = False, domain=(-6.0, 6.0)):
    """A lesson's data set, built by the lesson's own function: ``data_of(seed)`` gives ``(x, y)``. The
    test set is a fresh draw of the same kind (seed + 1), since a lesson scores on what it trained on.
    One-input data (``jitter``) gets a second coordinate for display only: a random spread, not an input."""
    def build(seed: int, noise: float, train_fraction: float) -> Points:
        sets = []
        for s in (seed, seed + test_seed_offset):
            x, y = data_of(s)
            if jitter:
                spread = np.random.default_rng([s, 1]).uniform(-0.6, 0.6, len(x)) * domain[1]
                x = np.stack([x[:, 0], spread], 1)
            sets += [x.astype(np.float32), y.astype(np.int64)]
        return Points(*sets, domain)
    return build


def _truth_table(name: str):
    x, y = TRUTH_TABLES[name]
    return lambda seed: (np.array(x, dtype=np.float32), np.array(y))


def _clips_as_arrays(make_clips):
    def data_of(seed):
        clips = make_clips(seed)
        return np.stack(clips.audio), clips.targets.reshape(len(clips), -1)[:, 0]
    return data_of


DATASETS.add("xor_table", Dataset(
    "XOR truth table", "the four points of XOR's truth table, tympan lab xor's data (the test set is the same "
    "four points: there are no others)", _lesson(_truth_table("XOR"), test_seed_offset=0, domain=(-0.5, 1.5)),
    lesson=True))
DATASETS.add("logistic", Dataset(
    "one-input logistic", "tympan lab learning-rate's data: x ~ N(0, 1), class 1 with probability "
    "sigmoid(3x + 1); one input (x1), x2 only spreads the points for display",
    _lesson(_clips_as_arrays(logistic_data), jitter=True, domain=(-4.0, 4.0)), lesson=True))
DATASETS.add("moons", Dataset(
    "two half-moons", "tympan lab depth's data: 512 points on two interleaved half-moons",
    _lesson(_clips_as_arrays(half_moons), domain=(-2.0, 2.0)), lesson=True))
