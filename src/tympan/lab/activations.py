"""Activation functions: each one's shape and derivative, what a hidden layer of it can fit, and why ten
layers of sigmoids barely learn while ten of ReLUs do (the derivative multiplies the error on its way back).
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn import activations as registry
from .common import (accuracy_of, config, examples, gradients, half_moons, rounded, save, single_threaded,
                     tensors, train, vector_network)


def _sine(n: int = 256):
    """y = 0.5 + 0.4 sin(2x) on x in [-3, 3]: two periods, which no monotone function follows. The network's
    output goes through a sigmoid (the loss's), so the target stays inside (0, 1)."""
    x = np.linspace(-3, 3, n, dtype=np.float32)
    return examples(x[:, None], (0.5 + 0.4 * np.sin(2 * x))[:, None].astype(np.float32))


@single_threaded
def activations(out=None, seed: int = 0, hidden: int = 32, epochs: int = 1000) -> dict:
    """Every registered activation, and a network of one hidden layer of it fitted to the same curve.

    Each network is ``hidden`` units of the activation and one output, trained alike (Adam, full batch,
    the mean squared error of the output's sigmoid against 0.5 + 0.4 sin(2x)). Without a nonlinearity
    (``linear``) the network is one linear function: its sigmoid rises once and cannot follow the two
    waves. A hidden layer of ``step`` units keeps its random weights (their gradient is 0): only the output
    layer learns. Every other nonlinearity bends to the curve, the ReLU family least well in this budget:
    with biases starting at 0, every unit's kink starts at x = 0, and moving them apart takes many steps.

    Returns
    -------
    dict
        ``{"final_loss": {name: loss}, "first_loss", "best", "verdict", "holds", "plot"}``; ``holds``: every
        nonlinear activation but the step ends at least 5 times below ``linear``, and the step network's
        hidden weights never moved.
    """
    data = _sine()
    t = config(loss="mse", optimizer="adam", learning_rate=0.03, batch_size=0, epochs=epochs, seed=seed)
    curves, fits, final = {}, {}, {}
    step_moved = None
    for name in registry.names():
        net = vector_network([{"kind": "dense", "units": hidden, "activation": name},
                              {"kind": "dense", "units": 1, "activation": "linear"}], 1, seed)
        before = net.layers.dense.linear.weight.detach().clone()
        curves[name] = train(net, data, t, multi_label=True)
        final[name] = curves[name]["loss"][-1]
        with torch.no_grad():
            fits[name] = torch.sigmoid(net(tensors(data)[0]))[:, 0].numpy()
        if name == "step":
            step_moved = float((net.layers.dense.linear.weight.detach() - before).abs().max())
    smooth = [n for n in final if n not in ("linear", "step")]
    holds = bool(all(final[n] < final["linear"] / 5 for n in smooth) and step_moved == 0.0)
    best = min(final, key=final.get)
    worst_smooth = max(smooth, key=final.get)
    verdict = (f"mean squared error after {epochs} steps: linear {final['linear']:.4f} (one straight line "
               f"through a sigmoid), step {final['step']:.4f} (hidden weights never moved), the other "
               f"nonlinearities {final[best]:.5f} ({best}) to {final[worst_smooth]:.5f} ({worst_smooth})")
    plot = save(_draw(data, curves, fits), out, "activations")
    return rounded({"final_loss": final, "first_loss": curves["linear"]["loss"][0], "best": best,
                    "step_hidden_weight_change": step_moved, "verdict": verdict, "holds": holds, "plot": plot})


def _draw(data, curves, fits):
    import matplotlib.pyplot as plt

    shapes = registry.curves()  # each activation and its derivative, as `tympan show activations` draws them
    names = list(shapes)
    fig = plt.figure(figsize=(14, 9), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    axes = top.subplots(2, (len(names) + 1) // 2, sharex=True)
    for ax, name in zip(axes.flat, names):
        x, y, dy = shapes[name]
        ax.axhline(0, color="#ccc", linewidth=0.6)
        ax.plot(x, y, color="C0")
        ax.plot(x, dy, "--", color="C1")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(names):]:
        ax.remove()
    top.suptitle("each activation f (solid) and its derivative f' (dashed), by autograd")
    left, right = bottom.subplots(1, 2)
    x = np.stack(data.audio)[:, 0]
    right.plot(x, data.targets[:, 0], color="k", linewidth=3, alpha=0.3, label="target")
    for i, name in enumerate(names):
        style = {"color": f"C{i % 10}", "linestyle": "-" if i < 10 else "--"}
        left.plot(curves[name]["steps"], curves[name]["loss"], label=name, **style)
        right.plot(x, fits[name], linewidth=1, **style)
    left.set(xlabel="steps (full batch, Adam)", ylabel="mean squared error", yscale="log",
             title="one hidden layer of 32 units of each")
    left.legend(fontsize=7, ncol=2)
    right.set(xlabel="x", ylabel="output", title="what each network fits")
    right.legend(fontsize=8)
    return fig


@single_threaded
def depth(out=None, seed: int = 0, layers: int = 10, width: int = 32, epochs: int = 30) -> dict:
    """Ten hidden layers of sigmoid units against ten of ReLUs: the gradient each layer gets at the start,
    and what each network learns with the same budget (plain SGD, mini-batches of 32).

    Going back through a layer multiplies the error by the activation's derivative: at most 1/4 for the
    sigmoid, so the first layers of a deep sigmoid network get a tiny share of the gradient and barely
    move; the ReLU's derivative is 1 where the unit is on, and He initialisation keeps the scale.

    Returns
    -------
    dict
        ``{"gradient_norms": {"sigmoid": [...], "relu": [...]}, "first_to_last": {...}, "final_loss": {...},
        "accuracy": {...}, "verdict", "holds", "plot"}``. ``first_to_last`` is the first hidden layer's
        gradient norm over the last hidden layer's.
    """
    data = half_moons(seed)
    t = config(loss="cross_entropy", optimizer="sgd", momentum=0.0, learning_rate=0.1, batch_size=32,
               epochs=epochs, seed=seed)
    norms, ratio, curves, final, accuracy = {}, {}, {}, {}, {}
    for unit in ("sigmoid", "relu"):
        net = vector_network([{"kind": "dense", "units": width, "activation": unit}] * layers
                             + [{"kind": "dense", "units": 2, "activation": "linear"}], 2, seed)
        # each dense layer's weights, input side first
        norms[unit] = [float(g.norm()) for name, g in gradients(net, data, t).items()
                       if name.endswith("linear.weight")]
        ratio[unit] = norms[unit][0] / norms[unit][layers - 1]
        curves[unit] = train(net, data, t)
        final[unit], accuracy[unit] = curves[unit]["loss"][-1], accuracy_of(net, data)
    holds = bool(ratio["sigmoid"] < 0.01 and ratio["relu"] > 0.1 and final["relu"] < 0.5 * final["sigmoid"])
    verdict = (f"{layers} hidden layers: the first layer's gradient is {ratio['sigmoid']:.1e} of the last's with "
               f"sigmoids, {ratio['relu']:.2f} with ReLUs; after {epochs} epochs of SGD the loss is "
               f"{final['sigmoid']:.3f} (sigmoid, {accuracy['sigmoid']:.0%} right) against {final['relu']:.3f} "
               f"(ReLU, {accuracy['relu']:.0%})")
    plot = save(_draw_depth(norms, curves, layers), out, "depth")
    return rounded({"gradient_norms": norms, "first_to_last": ratio, "final_loss": final, "accuracy": accuracy,
                    "verdict": verdict, "holds": holds, "plot": plot})


def _draw_depth(norms, curves, layers):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for i, unit in enumerate(norms):
        left.plot(range(1, len(norms[unit]) + 1), norms[unit], "o-", color=f"C{i}", label=unit)
        right.plot(curves[unit]["examples"], curves[unit]["loss"], color=f"C{i}", label=unit)
    left.set(xlabel=f"layer (1-{layers} hidden, {layers + 1} output)", ylabel="gradient norm of its weights",
             yscale="log", title="at initialisation, input side on the left")
    right.set(xlabel="examples seen", ylabel="loss (cross-entropy)", title="the same budget of SGD")
    left.legend()
    right.legend()
    return fig
