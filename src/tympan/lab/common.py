"""What the lessons share: small data sets as the engine's ``ClipSet``, networks from layer specs, and
training by the engine's own step (``tympan.train.loop.train_step``) with its optimisers and schedules.

A lesson's inputs are vectors of a few numbers (two logic inputs, one x, a sequence of symbols). The
engine takes them as it takes recordings: each example is a short "waveform" of its numbers, a network
starts with ``flatten`` (or a recurrent layer), and ``ClipSet.batches`` cuts the batches, so batch size 0
is full-batch gradient descent, 1 stochastic and 32 mini-batch, exactly as in ``tympan train``.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch

from ..nn import Network
from ..train import losses
from ..train.config import TrainConfig
from ..train.data import ClipSet
from ..train.loop import train_step
from ..train.optim import make_optimizer, make_schedule


def single_threaded(lesson):
    """Run ``lesson`` with one torch thread, then restore the count it found.

    The lessons' networks are small: a second thread saves little and costs its waiting, which on a busy
    machine is most of the time. Measured on 2 cores beside another job: a mini-batch step of the
    ``descent`` MLP took 32 ms with two threads and 0.7 ms with one, the ``weights`` lesson 84 s and 7 s.
    """
    @functools.wraps(lesson)
    def run(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return lesson(*args, **kwargs)
        finally:
            torch.set_num_threads(before)
    return run


def examples(x, y) -> ClipSet:
    """Inputs ``x`` (n, features) and targets ``y`` as a ``ClipSet``: one "recording" of ``features``
    samples per example. Targets: class indices (int), or 0/1 or real rows (n, outputs) for a sigmoid
    output.

    Examples
    --------
    >>> data = examples([[0, 0], [0, 1]], [[0.0], [1.0]])
    >>> len(data), data.audio[1].tolist(), data.targets.dtype
    (2, [0.0, 1.0], dtype('float32'))
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    y = y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) else y.astype(np.float32)
    return ClipSet(list(x), y, [f"example_{i}" for i in range(len(x))])


def half_moons(seed: int, n: int = 512) -> ClipSet:
    """Two interleaved half-moons in 2-D, with noise: two classes no line separates, which a small MLP
    learns in a few epochs.

    Examples
    --------
    >>> data = half_moons(0)
    >>> len(data), data.audio[0].shape, sorted(set(data.targets.tolist()))
    (512, (2,), [0, 1])
    """
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    angle = rng.uniform(0, np.pi, n)
    x = np.stack([np.cos(angle) + label * 1.0 - 0.5, np.sin(angle) * (1 - 2 * label) + label * 0.5 - 0.25], 1)
    x += rng.normal(0, 0.15, x.shape)
    return examples(x.astype(np.float32), label.astype(np.int64))


def tensors(data: ClipSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Every example at once: ``(inputs (n, features), targets)``."""
    return torch.from_numpy(np.stack(data.audio)), torch.from_numpy(data.targets)


def vector_network(layers: list[dict], n_inputs: int, seed: int) -> Network:
    """A ``Network`` on ``n_inputs`` numbers: ``flatten`` makes them one vector, then ``layers``."""
    return Network([{"kind": "flatten"}, *layers], (n_inputs,), seed=seed)


def config(**fields) -> TrainConfig:
    """A ``TrainConfig`` for a lesson: a constant rate, no early stopping, on the CPU."""
    return TrainConfig(**{"schedule": "constant", "early_stopping": 0, "device": "cpu", **fields})


@torch.no_grad()
def loss_of(network, data: ClipSet, t: TrainConfig, multi_label: bool | None = None) -> float:
    """The mean loss over every example, with the loss ``t.loss`` the training uses."""
    x, y = tensors(data)
    return float(losses.get(t.loss)(network(x).float(), y, t.label_smoothing, multi_label).mean())


def gradients(network, data: ClipSet, t: TrainConfig) -> dict[str, torch.Tensor]:
    """The gradient of the mean loss ``t.loss`` over every example, for each parameter by name, at the
    network's current weights; the network's own gradients are left at zero."""
    x, y = tensors(data)
    network.zero_grad()
    losses.get(t.loss)(network(x), y).mean().backward()
    found = {name: p.grad.detach().clone() for name, p in network.named_parameters()}
    network.zero_grad()
    return found


@torch.no_grad()
def accuracy_of(network, data: ClipSet) -> float:
    """The share of examples classified right: the largest logit, or a logit > 0 for one sigmoid unit
    (the binary step: class 1 when w.x + b > 0)."""
    x, y = tensors(data)
    logits = network(x)
    if logits.shape[1] == 1:
        return float(((logits[:, 0] > 0).float() == (y.reshape(-1) > 0.5).float()).float().mean())
    return float((logits.argmax(1) == y).float().mean())


def train(network, data: ClipSet, t: TrainConfig, multi_label: bool | None = None, every: int | None = None,
          record=None) -> dict:
    """Train ``network`` on ``data`` for ``t.epochs`` epochs, one ``train_step`` per batch, the schedule
    stepped after each epoch, as ``tympan.train.loop.fit`` does.

    Parameters
    ----------
    every : int or None
        Measure the loss on all of ``data`` each time another ``every`` examples have been seen (at the
        end of the step that passes the mark); default once an epoch.
    record : callable or None
        Called at each measurement; what it returns is kept in ``recorded`` (e.g. a weight's value).

    Returns
    -------
    dict
        ``examples`` seen, ``steps``, ``seconds`` of training (measurements not counted) and ``loss`` at
        each measurement, the first before any step; ``recorded``.

    Examples
    --------
    >>> data = examples([[0, 0], [0, 1], [1, 0], [1, 1]], [[0.0], [0.0], [0.0], [1.0]])
    >>> net = vector_network([{"kind": "dense", "units": 1, "activation": "linear"}], 2, seed=0)
    >>> h = train(net, data, config(loss="binary_cross_entropy", optimizer="sgd", learning_rate=1.0,
    ...                              batch_size=0, epochs=200))
    >>> h["loss"][-1] < 0.5 * h["loss"][0], accuracy_of(net, data)
    (True, 1.0)
    """
    optimizer = make_optimizer(network.parameters(), t)
    schedule = make_schedule(optimizer, t)
    n_inputs = len(data.audio[0])
    every = every or len(data)
    history = {"examples": [0], "steps": [0], "seconds": [0.0], "loss": [loss_of(network, data, t, multi_label)],
               "recorded": [record()] if record else []}
    seen = steps = 0
    seconds = 0.0
    for epoch in range(1, t.epochs + 1):
        network.train()
        started = time.perf_counter()
        for x, y, size in data.batches(epoch, t.batch_size, n_inputs, t.seed):
            train_step(network, x, y, optimizer, t, multi_label)
            seen, steps = seen + size, steps + 1
            if seen // every > history["examples"][-1] // every:
                seconds += time.perf_counter() - started
                network.eval()
                history["examples"].append(seen)
                history["steps"].append(steps)
                history["seconds"].append(seconds)
                history["loss"].append(loss_of(network, data, t, multi_label))
                if record:
                    history["recorded"].append(record())
                network.train()
                started = time.perf_counter()
        seconds += time.perf_counter() - started
        schedule.step()
    network.eval()
    return history


def save(fig, out, name: str) -> str | None:
    """Write ``fig`` to ``out/name.png`` atomically (``display.save_figure``), or only close it when
    ``out`` is None; the path written, or None."""
    import matplotlib.pyplot as plt

    from ..display import save_figure

    if out is None:
        plt.close(fig)
        return None
    return str(save_figure(fig, Path(out) / f"{name}.png"))


def rounded(value, digits: int = 4):
    """Floats rounded for JSON (and a human reading it), through lists and dicts."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.{digits}g}")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
