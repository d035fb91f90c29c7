"""Gradient descent: the learning rate's three regimes on a problem of two weights, and batch, stochastic
and mini-batch descent and Adam on the same data.
"""

from __future__ import annotations

import numpy as np
import torch

from ..train import losses
from .common import (accuracy_of, config, examples, half_moons, rounded, save, single_threaded, train,
                     vector_network)

RATES = {"too small": 0.05, "good": 3.0, "too large": 100.0}
START = (-2.0, -2.0)  # (w, b): far from the minimum, so the paths are long enough to see


def logistic_data(seed: int, n: int = 200):
    """One input x ~ N(0, 1); the label is 1 with probability sigmoid(3 x + 1), so the classes overlap
    and the loss has one minimum, near w = 3, b = 1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(3 * x + 1)))).astype(np.float32)
    return examples(x[:, None], y[:, None])


def _unit(seed: int, start=START):
    """One sigmoid unit, ``sigmoid(w x + b)``: two weights, set to ``start``."""
    net = vector_network([{"kind": "dense", "units": 1, "activation": "linear"}], 1, seed)
    linear = net.layers.dense.linear
    with torch.no_grad():
        linear.weight.fill_(start[0])
        linear.bias.fill_(start[1])
    return net, linear


@single_threaded
def learning_rate(out=None, seed: int = 0, steps: int = 50) -> dict:
    """Full-batch gradient descent on a sigmoid unit's two weights (w, b), with three learning rates.

    Too small a rate crawls: after ``steps`` steps the loss is still far from its minimum. A good rate
    gets there. Too large a rate jumps over the minimum, again and again: the loss goes up as well as
    down, higher than where it started. The figure shows the loss curves and the path of (w, b) over the
    loss's contours.

    Returns
    -------
    dict
        ``{"minimum": {"w", "b", "loss"}, "start_loss", "rates": {regime: {"learning_rate", "final_loss",
        "gap", "highest_loss", "rises", "final_w", "final_b"}}, "steps", "verdict", "holds", "plot"}``;
        ``gap`` is (final loss - minimum) / (start loss - minimum), ``rises`` the steps on which the loss
        went up.

    Examples
    --------
    >>> r = learning_rate(seed=0)
    >>> r["rates"]["too small"]["gap"] > 0.25 > 0.01 > r["rates"]["good"]["gap"], r["holds"]
    (True, True)
    """
    data = logistic_data(seed)
    t = dict(loss="binary_cross_entropy", optimizer="sgd", momentum=0.0, batch_size=0, seed=seed)
    # The minimum, for reference: many steps at the good rate.
    best, linear = _unit(seed)
    train(best, data, config(**t, learning_rate=RATES["good"], epochs=2000))
    minimum = {"w": linear.weight.item(), "b": linear.bias.item()}
    runs = {}
    for regime, rate in RATES.items():
        net, linear = _unit(seed)
        runs[regime] = train(net, data, config(**t, learning_rate=rate, epochs=steps),
                             record=lambda linear=linear: (linear.weight.item(), linear.bias.item()))
    start = runs["good"]["loss"][0]
    floor = min(min(h["loss"]) for h in runs.values())
    minimum["loss"] = min(floor, _loss_at(data, minimum["w"], minimum["b"]))
    rates = {}
    for regime, history in runs.items():
        curve = np.array(history["loss"])
        rates[regime] = {"learning_rate": RATES[regime], "final_loss": curve[-1],
                         "gap": (curve[-1] - minimum["loss"]) / (start - minimum["loss"]),
                         "highest_loss": curve.max(), "rises": int((np.diff(curve) > 0).sum()),
                         "final_w": history["recorded"][-1][0],
                         "final_b": history["recorded"][-1][1]}
    small, good, large = rates["too small"], rates["good"], rates["too large"]
    holds = bool(small["gap"] > 0.25 and good["gap"] < 0.01 and large["highest_loss"] > start
                 and large["rises"] >= 5)
    verdict = (f"after {steps} steps from loss {start:.3f} (minimum {minimum['loss']:.3f}): rate "
               f"{small['learning_rate']:g} crawls, {small['gap']:.0%} of the way still to go; rate "
               f"{good['learning_rate']:g} converges, {good['gap']:.2%} to go; rate {large['learning_rate']:g} jumps "
               f"over the minimum, the loss rising on {large['rises']} of {steps} steps, as high as "
               f"{large['highest_loss']:.2f}")
    plot = save(_draw(data, runs, minimum), out, "learning-rate")
    return rounded({"minimum": minimum, "start_loss": start, "rates": rates, "steps": steps, "verdict": verdict,
                    "holds": holds, "plot": plot})


def _loss_at(data, w, b) -> float:
    """The loss at weights (w, b), arrays of any shape, through the training loss itself."""
    x = torch.from_numpy(np.stack(data.audio))[:, 0]
    y = torch.from_numpy(data.targets)[:, 0]
    w, b = torch.as_tensor(np.asarray(w, dtype=np.float32)), torch.as_tensor(np.asarray(b, dtype=np.float32))
    logits = w[..., None] * x + b[..., None]  # (..., examples)
    targets = y.expand_as(logits)
    per = losses.get("binary_cross_entropy")(logits.reshape(-1, 1), targets.reshape(-1, 1))
    result = per.reshape(logits.shape).mean(-1).numpy()
    return float(result) if result.ndim == 0 else result


def _draw(data, runs, minimum):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    for i, (regime, history) in enumerate(runs.items()):
        left.plot(history["steps"], history["loss"], color=f"C{i}", label=f"{regime}: {RATES[regime]:g}")
    left.axhline(minimum["loss"], color="#999", linestyle=":", label="minimum")
    left.set(xlabel="steps (full batch)", ylabel="loss (binary cross-entropy)", yscale="log",
             title="loss curves, three learning rates")
    left.legend()
    paths = [np.array(h["recorded"]) for h in runs.values()]
    # Framed on the start and the minimum: the too-large path leaves the frame, as it leaves the valley.
    corners = np.array([START, [minimum["w"], minimum["b"]]])
    low, high = corners.min(0) - 3, corners.max(0) + 3
    gw, gb = np.meshgrid(np.linspace(low[0], high[0], 160), np.linspace(low[1], high[1], 160))
    surface = _loss_at(data, gw, gb)
    right.contour(gw, gb, surface, levels=np.quantile(surface, np.linspace(0.01, 0.9, 14)), colors="#bbb",
                  linewidths=0.7)
    for i, (regime, path) in enumerate(zip(runs, paths)):
        right.plot(path[:, 0], path[:, 1], "o-", color=f"C{i}", markersize=2.5, linewidth=1, label=regime)
    right.plot(*START, "ks", label="start")
    right.plot(minimum["w"], minimum["b"], "k*", markersize=12, label="minimum")
    right.set(xlabel="w", ylabel="b", xlim=(low[0], high[0]), ylim=(low[1], high[1]),
              title="the path of the two weights over the loss's contours")
    right.legend(fontsize=8)
    return fig


DESCENTS = {  # name: (optimizer, batch_size, learning_rate)
    "batch": ("sgd", 0, 0.1),
    "stochastic": ("sgd", 1, 0.1),
    "mini-batch": ("sgd", 32, 0.1),
    "Adam (mini-batch)": ("adam", 32, 0.01),
}


@single_threaded
def descent(out=None, seed: int = 0, epochs: int = 20) -> dict:
    """Batch, stochastic and mini-batch gradient descent and Adam, each for ``epochs`` passes over the same
    512 examples, from the same initial weights (an MLP on two half-moons).

    ``TrainConfig.batch_size`` picks the kind, as in ``tympan train``: 0 is batch gradient descent (one step
    per epoch, on every example), 1 stochastic (one step per example), 32 mini-batch. For the same examples
    seen, batch descent takes the fewest steps and ends with the highest loss; per example, stochastic
    descent costs the most time, since every step has a fixed cost.

    Returns
    -------
    dict
        ``{"methods": {name: {"optimizer", "batch_size", "learning_rate", "steps", "final_loss",
        "accuracy", "seconds", "microseconds_per_example"}}, "examples_seen", "verdict", "holds", "plot"}``.
    """
    data = half_moons(seed)
    layers = [{"kind": "dense", "units": 32, "activation": "relu"}] * 2 + [
        {"kind": "dense", "units": 2, "activation": "linear"}]
    runs, methods = {}, {}
    for name, (optimizer, batch_size, rate) in DESCENTS.items():
        net = vector_network(layers, 2, seed)
        t = config(loss="cross_entropy", optimizer=optimizer, momentum=0.0, learning_rate=rate,
                   batch_size=batch_size, epochs=epochs, seed=seed)
        runs[name] = history = train(net, data, t, every=len(data) // 8)
        methods[name] = {"optimizer": optimizer, "batch_size": batch_size, "learning_rate": rate,
                         "steps": history["steps"][-1], "final_loss": history["loss"][-1],
                         "accuracy": accuracy_of(net, data), "seconds": history["seconds"][-1],
                         "microseconds_per_example": 1e6 * history["seconds"][-1] / history["examples"][-1]}
    final = {name: m["final_loss"] for name, m in methods.items()}
    cost = {name: m["microseconds_per_example"] for name, m in methods.items()}
    holds = max(final, key=final.get) == "batch" and max(cost, key=cost.get) == "stochastic" and \
        all(h["loss"][-1] < h["loss"][0] for h in runs.values())
    verdict = (f"after {epochs} epochs ({epochs * len(data)} examples seen), loss: "
               + ", ".join(f"{name} {m['final_loss']:.3f} ({m['steps']} steps, {m['seconds']:.2f} s)"
                           for name, m in methods.items())
               + "; batch descent takes the fewest steps and ends highest, stochastic costs the most time "
               f"per example ({cost['stochastic']:.0f} us against {cost['mini-batch']:.0f} us in batches of 32)")
    plot = save(_draw_descent(runs), out, "descent")
    return rounded({"methods": methods, "examples_seen": epochs * len(data), "verdict": verdict, "holds": holds,
                    "plot": plot})


def _draw_descent(runs):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True, sharey=True)
    for i, (name, history) in enumerate(runs.items()):
        left.plot(history["examples"], history["loss"], color=f"C{i}", label=name)
        right.plot(history["seconds"][1:], history["loss"][1:], color=f"C{i}", label=name)
    left.set(xlabel="examples seen", ylabel="loss on all 512 examples (cross-entropy)", yscale="log",
             title="by examples seen")
    right.set(xlabel="seconds of training (log scale)", xscale="log", title="by wall time")
    left.legend()
    return fig
