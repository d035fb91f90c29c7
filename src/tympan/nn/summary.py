"""What a network costs: per layer its output shape, weights, biases and multiply-accumulates.

Shapes come from running the model once on silence, and multiply-accumulates from PyTorch's own
``FlopCounterMode`` (matrix products and convolutions, at half a FLOP each), so the numbers are those of
the real layers, not of a second description of them that could drift. Element-wise work (activations,
pooling, normalisation) and the FFT are not multiply-accumulates and are not counted.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..errors import ConfigError

SCHEMA = "tympan.summary/1"


def _count(module: torch.nn.Module) -> tuple[int, int, int]:
    """(weights, biases, trainable): a parameter whose name says bias is a bias, anything else a weight."""
    weights = biases = trainable = 0
    for name, p in module.named_parameters():
        if "bias" in name.rsplit(".", 1)[-1]:
            biases += p.numel()
        else:
            weights += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return weights, biases, trainable


def _recurrent_macs(layer, frames: int) -> int:
    """An RNN/LSTM/GRU's MACs: gates x hidden x (inputs + hidden) per step, layer and direction. Counted by
    hand because PyTorch runs LSTMs on CPU as one fused kernel that the FLOP counter does not see."""
    rnn = layer.rnn
    gates = {"lstm": 4, "gru": 3}.get(layer.cell, 1)
    directions = 2 if rnn.bidirectional else 1
    macs, inputs = 0, rnn.input_size
    for _ in range(rnn.num_layers):
        macs += gates * rnn.hidden_size * (inputs + rnn.hidden_size) * directions
        inputs = rnn.hidden_size * directions
    return macs * frames


def summary(model, input_seconds: float | None = None, name: str | None = None) -> dict:
    """Summarise a ``Classifier`` on one clip of ``input_seconds`` (default: its ``clip_seconds``).

    Returns
    -------
    dict
        ``{"schema", "name", "sr", "input_seconds", "input_samples", "layers": [{"name", "kind",
        "output_shape", "weights", "biases", "macs", "trainable"}], "total_weights", "total_biases",
        "total_parameters", "trainable_parameters", "total_macs"}``. Output shapes leave out the batch axis.
        The first row is the front-end (with normalisation), whose weights are none.

    Examples
    --------
    >>> from tympan.nn.classifier import Classifier
    >>> s = summary(Classifier(network="perceptron", classes=list("abc")))
    >>> s["total_weights"], s["total_biases"], s["layers"][-1]["output_shape"]
    (192, 3, [3])
    """
    seconds = model.clip_seconds if input_seconds is None else float(input_seconds)
    if not seconds > 0:
        raise ConfigError(f"--input-seconds {input_seconds}: must be a positive number of seconds")
    n_samples = max(1, round(seconds * model.sr))
    rows = [("frontend", model.frontend_config["kind"], model.frontend)]
    rows += [(name, getattr(layer, "kind", type(layer).__name__.lower()), layer)
             for name, layer in model.network.layers.named_children()]
    shapes, frames = {}, {}

    def record(key):
        def hook(module, inputs, output):
            shapes[key] = list(output.shape[1:])
            frames[key] = inputs[0].shape[1]  # a sequence's frames, for recurrent layers
        return hook

    hooks = [layer.register_forward_hook(record(key)) for key, _, layer in rows]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, n_samples, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    flops = {key: sum(ops.values()) for key, ops in counter.get_flop_counts().items()}
    root = type(model).__name__
    layers = []
    for key, kind, layer in rows:
        path = f"{root}.frontend" if key == "frontend" else f"{root}.network.layers.{key}"
        weights, biases, trainable = _count(layer)
        macs = _recurrent_macs(layer, frames[key]) if kind == "recurrent" else int(flops.get(path, 0) // 2)
        layers.append({"name": key, "kind": kind, "output_shape": shapes[key], "weights": weights,
                       "biases": biases, "macs": macs, "trainable": trainable})
    weights, biases, trainable = _count(model)
    return {"schema": SCHEMA, "name": name, "sr": model.sr, "input_seconds": seconds, "input_samples": n_samples,
            "layers": layers, "total_weights": weights, "total_biases": biases,
            "total_parameters": weights + biases, "trainable_parameters": trainable,
            "total_macs": sum(row["macs"] for row in layers)}


def _human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def format_summary(s: dict) -> str:
    """The summary as a table, with exact counts (thousands separated) and MACs rounded."""
    header = ("layer", "kind", "output shape", "weights", "biases", "MACs")
    table = [header] + [(r["name"], r["kind"], "x".join(map(str, r["output_shape"])), f"{r['weights']:,}",
                         f"{r['biases']:,}", _human(r["macs"])) for r in s["layers"]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    if s.get("name"):
        lines.append(s["name"])
    lines.append(f"input: {s['input_seconds']:g} s at {s['sr']} Hz ({s['input_samples']:,} samples)")
    for number, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    frozen = s["total_parameters"] - s["trainable_parameters"]
    lines.append(f"total: {s['total_weights']:,} weights, {s['total_biases']:,} "
                 f"{'bias' if s['total_biases'] == 1 else 'biases'} "
                 f"({s['total_parameters']:,} parameters{f', {frozen:,} frozen' if frozen else ''}), "
                 f"{_human(s['total_macs'])} MACs")
    return "\n".join(lines)
