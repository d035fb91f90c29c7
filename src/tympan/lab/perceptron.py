"""The perceptron and the assignment of error: what one unit can learn (AND, OR, NOT, not XOR), and why a
network of binary steps cannot be trained by gradient descent while a network of sigmoids can.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn import activations
from .common import (accuracy_of, config, examples, gradients, rounded, save, single_threaded, tensors, train,
                     vector_network)

TRUTH_TABLES = {  # inputs -> output; NOT has one input
    "AND": ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1]),
    "OR": ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 1]),
    "NOT": ([[0], [1]], [1, 0]),
    "XOR": ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]),
}


def _table(name: str):
    x, y = TRUTH_TABLES[name]
    return examples(x, np.array(y, dtype=np.float32)[:, None])  # 0/1 rows: one sigmoid output unit


@single_threaded
def xor(out=None, seed: int = 0) -> dict:
    """One unit learns AND, OR and NOT but not XOR; one hidden layer of sigmoid units learns XOR.

    The perceptron is one unit, ``w . x + b``. It is trained as a sigmoid unit (gradient descent on the
    binary cross-entropy) and read as a step unit: class 1 when ``w . x + b > 0``, the same hyperplane.
    No line separates XOR's two classes, so any one unit gets at most 3 of its 4 points right (75%).

    Returns
    -------
    dict
        ``{"perceptron": {"AND", "OR", "NOT", "XOR"}, "mlp": {"XOR"}, "verdict", "holds", "plot"}``,
        accuracies on each truth table.

    Examples
    --------
    >>> r = xor(seed=0)
    >>> r["perceptron"]["XOR"] <= 0.75, r["mlp"]["XOR"]
    (True, 1.0)
    """
    t_unit = config(loss="binary_cross_entropy", optimizer="sgd", momentum=0.0, learning_rate=1.0, batch_size=0,
                    epochs=500, seed=seed)
    units, accuracy = {}, {}
    for name in TRUTH_TABLES:
        data = _table(name)
        units[name] = vector_network([{"kind": "dense", "units": 1, "activation": "linear"}],
                                     len(data.audio[0]), seed)
        train(units[name], data, t_unit)
        accuracy[name] = accuracy_of(units[name], data)
    # 8 hidden units, not the 2 that suffice by hand: with 2, 12 of seeds 0-19 are still stuck at 50-75%
    # after 300 steps; with 8, all 20 reach 100%.
    t_mlp = config(loss="binary_cross_entropy", optimizer="adam", learning_rate=0.1, batch_size=0, epochs=300,
                   seed=seed)
    mlp = vector_network([{"kind": "dense", "units": 8, "activation": "sigmoid"},
                          {"kind": "dense", "units": 1, "activation": "linear"}], 2, seed)
    history = train(mlp, _table("XOR"), t_mlp)
    mlp_accuracy = accuracy_of(mlp, _table("XOR"))
    with torch.no_grad():  # the unit trained on XOR: its sigmoid's answer on each of the four points
        given_up = torch.sigmoid(units["XOR"](tensors(_table("XOR"))[0]))[:, 0].tolist()
    holds = (all(accuracy[n] == 1.0 for n in ("AND", "OR", "NOT")) and accuracy["XOR"] <= 0.75
             and mlp_accuracy == 1.0)
    low, high = f"{min(given_up):.2f}", f"{max(given_up):.2f}"
    answers = f"{low} at every point" if low == high else f"between {low} and {high} at the four points"
    verdict = (f"one unit (a perceptron): AND {accuracy['AND']:.0%}, OR {accuracy['OR']:.0%}, NOT "
               f"{accuracy['NOT']:.0%}, XOR {accuracy['XOR']:.0%} (no line separates XOR, so at most 75%; "
               f"trained on it, the unit answers {answers}); "
               f"one hidden layer of 8 sigmoid units: XOR {mlp_accuracy:.0%}")
    plot = save(_draw_xor(units, mlp), out, "xor")
    return rounded({"perceptron": accuracy, "perceptron_xor_outputs": given_up,
                    "mlp": {"XOR": mlp_accuracy, "final_loss": history["loss"][-1]},
                    "verdict": verdict, "holds": holds, "plot": plot})


def _draw_xor(units, mlp):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(15, 3.3), constrained_layout=True)
    grid = np.linspace(-0.5, 1.5, 201, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    step = activations.get("step")
    panels = [(name, units[name], f"perceptron: {name}") for name in TRUTH_TABLES] + [("XOR", mlp, "MLP: XOR")]
    for ax, (name, net, title) in zip(axes, panels):
        x, y = TRUTH_TABLES[name]
        x, y = np.array(x, dtype=float), np.array(y)
        with torch.no_grad():
            predicted = step(net(torch.tensor(x, dtype=torch.float32)))[:, 0].numpy()
        accuracy = float((predicted == y).mean())
        if x.shape[1] == 1:  # NOT: one input, drawn on a line
            w, b = net.layers.dense.linear.weight.item(), net.layers.dense.linear.bias.item()
            ax.axvspan(-0.5, -b / w, color="C1" if w < 0 else "C0", alpha=0.15)
            ax.axvspan(-b / w, 1.5, color="C0" if w < 0 else "C1", alpha=0.15)
            ax.axvline(-b / w, color="k", linewidth=1)
            ax.scatter(x[:, 0], np.zeros(len(x)), c=[f"C{v}" for v in y], s=120, edgecolors="k", zorder=3)
            ax.set(xlim=(-0.5, 1.5), ylim=(-1, 1), yticks=[], xlabel="x")
        else:
            with torch.no_grad():
                side = step(net(points))[:, 0].numpy().reshape(gx.shape)
            ax.contourf(gx, gy, side, levels=[-0.5, 0.5, 1.5], colors=["C0", "C1"], alpha=0.15)
            ax.contour(gx, gy, side, levels=[0.5], colors="k", linewidths=1)
            ax.scatter(x[:, 0], x[:, 1], c=[f"C{v}" for v in y], s=120, edgecolors="k", zorder=3)
            ax.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1", ylabel="x2", aspect="equal")
        ax.set_title(f"{title}: {accuracy:.0%}")
    fig.suptitle("blue: output 0, orange: output 1; shaded: what the network answers")
    return fig


@single_threaded
def step_vs_sigmoid(out=None, seed: int = 0) -> dict:
    """The same two-layer network on XOR, once with binary-step units, once with sigmoid units.

    Both have 4 hidden units and one output unit, the same initial weights, loss (binary cross-entropy on
    the output, whose sigmoid is the loss's) and optimiser. The step's derivative is 0 wherever it exists,
    so every weight's gradient is 0: the step network's loss never moves. The sigmoid's derivative is never
    0, so the error reaches every weight and the loss falls.

    Returns
    -------
    dict
        ``{"step": {"loss_first", "loss_last", "gradient_norm", "accuracy"}, "sigmoid": {...}, "epochs",
        "verdict", "holds", "plot"}``.

    Examples
    --------
    >>> r = step_vs_sigmoid(seed=0)
    >>> r["step"]["loss_first"] == r["step"]["loss_last"], r["step"]["gradient_norm"]
    (True, 0.0)
    """
    data = _table("XOR")
    t = config(loss="binary_cross_entropy", optimizer="adam", learning_rate=0.05, batch_size=0, epochs=300,
               seed=seed)
    results, curves = {}, {}
    for unit, output in (("step", "step"), ("sigmoid", "linear")):
        net = vector_network([{"kind": "dense", "units": 4, "activation": unit},
                              {"kind": "dense", "units": 1, "activation": output}], 2, seed)
        gradient = float(torch.sqrt(sum(g.square().sum() for g in gradients(net, data, t).values())))
        history = train(net, data, t)
        curves[unit] = history
        results[unit] = {"loss_first": history["loss"][0], "loss_last": history["loss"][-1],
                         "loss_range": max(history["loss"]) - min(history["loss"]), "gradient_norm": gradient,
                         "accuracy": accuracy_of(net, data)}
    step, sigmoid = results["step"], results["sigmoid"]
    holds = step["loss_range"] == 0.0 and step["gradient_norm"] == 0.0 and \
        sigmoid["loss_last"] < 0.5 * sigmoid["loss_first"]
    verdict = (f"steps: loss {step['loss_first']:.4f} -> {step['loss_last']:.4f} over {t.epochs} full-batch steps "
               f"(gradient norm {step['gradient_norm']:g}: no error reaches any weight); sigmoids: loss "
               f"{sigmoid['loss_first']:.4f} -> {sigmoid['loss_last']:.4f}, XOR {sigmoid['accuracy']:.0%}")
    plot = save(_draw_curves(curves), out, "step-vs-sigmoid")
    return rounded({**results, "epochs": t.epochs, "verdict": verdict, "holds": holds, "plot": plot}, 6)


def _draw_curves(curves):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for unit, history in curves.items():
        ax.plot(history["steps"], history["loss"], label=f"{unit} units", linewidth=2)
    ax.set(xlabel="steps (full batch, Adam)", ylabel="loss (binary cross-entropy)",
           title="XOR with 2-4-1 units: the step network's gradient is 0, its loss never moves")
    ax.legend()
    return fig

