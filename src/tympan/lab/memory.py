"""Memory over time: a plain recurrent network forgets what it saw T steps ago as T grows; an LSTM, whose
cell can keep a value without decay, does not.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn import Network
from .common import accuracy_of, config, examples, rounded, save, single_threaded, train

SYMBOLS = 4
STEPS = (5, 10, 20, 50, 100)
# Networks trained per cell and T, from different initial weights. Now and then a plain RNN's first weights
# happen to latch a symbol for good (seed 1 of 0-4 did, at T = 50 and 100): the lesson is about what
# training finds as a rule, so it reports the mean of a few, and each one in the JSON.
INITS = 3


def recall_task(steps: int, n: int, seed) -> tuple:
    """Sequences of ``steps`` one-hot symbols (of ``SYMBOLS``) plus a marker input that is 1 on the first
    step only; the class is the first symbol, and every later step shows a random symbol to ignore.

    Returns ``(ClipSet, shape)``: each example flattened, as the engine's batches hold recordings, and the
    ``(features, steps)`` shape a recurrent network reads it in.

    Examples
    --------
    >>> data, shape = recall_task(5, 3, seed=0)
    >>> shape, data.audio[0].reshape(shape)[:, 0].sum(), data.targets.tolist() == [
    ...     int(np.argmax(a.reshape(shape)[:SYMBOLS, 0])) for a in data.audio]
    ((5, 5), np.float32(2.0), True)
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, SYMBOLS, n)
    later = rng.integers(0, SYMBOLS, (n, steps - 1))
    x = np.zeros((n, SYMBOLS + 1, steps), dtype=np.float32)
    x[np.arange(n), first, 0] = 1
    x[:, SYMBOLS, 0] = 1  # the marker: "this is the one to remember"
    x[np.arange(n)[:, None], later, np.arange(1, steps)[None, :]] = 1
    return examples(x.reshape(n, -1), first), (SYMBOLS + 1, steps)


def _recurrent(cell: str, shape, hidden: int, seed: int, longest: int):
    """A recurrent layer of ``cell`` units reading the sequence, its last state into a linear output; it takes
    the flattened examples (``Unflatten`` restores ``shape``)."""
    net = Network([{"kind": "recurrent", "cell": cell, "hidden": hidden, "output": "last"},
                   {"kind": "dense", "units": SYMBOLS, "activation": "linear"}], shape, seed=seed)
    if cell == "lstm":
        _chrono(net.layers.recurrent.rnn, longest, seed)
    return torch.nn.Sequential(torch.nn.Unflatten(1, shape), net)


def _chrono(lstm, longest: int, seed: int) -> None:
    """Start the LSTM's gates remembering: "chrono" biases (Tallec and Ollivier 2018), forget gate
    log(u), input gate -log(u), u uniform in [1, longest - 1], so each unit keeps its cell for up to about
    ``longest`` steps and lets little in until it learns what to let in.

    Tympan starts every bias at 0, which leaves an LSTM's forget gate at sigmoid(0) = 1/2: its cell halves
    at every step, and in this lesson's budget it learns nothing beyond T = 10 (seed 0: 72% at T = 10, 23% at
    T = 20, 26% at T = 100; chance is 25%). The cell keeps a value without decay only when the forget gate
    is near 1, so that is where it must start.
    """
    hidden = lstm.hidden_size
    g = torch.Generator().manual_seed(seed)
    forget = torch.log(1 + torch.rand(hidden, generator=g) * (longest - 2))
    with torch.no_grad():  # gate order in torch: input, forget, cell, output
        lstm.bias_ih_l0[:hidden] = -forget
        lstm.bias_ih_l0[hidden:2 * hidden] = forget
        lstm.bias_hh_l0[:2 * hidden] = 0.0


@single_threaded
def memory(out=None, seed: int = 0, hidden: int = 32, n_train: int = 10000, epochs: int = 2) -> dict:
    """Recall the first of T symbols after T steps, T from 5 to 100, with a plain RNN (tanh) and an LSTM.

    Both are one recurrent layer of ``hidden`` units whose last state feeds a linear output, trained alike
    (Adam, mini-batches of 32, gradients clipped to norm 1) on ``n_train`` fresh sequences per T and scored
    on 500 others; ``INITS`` networks of each, from initial weights seeded ``INITS * seed + i``, and their
    mean accuracy. Every step after the first shows a random symbol, so the memory must survive T - 1
    inputs that push it elsewhere. The RNN's influence from step 1 decays with every step; the LSTM's cell
    keeps it.

    Returns
    -------
    dict
        ``{"steps": [...], "accuracy": {"rnn": [...], "lstm": [...]}, "runs": {"rnn": [[each network's
        accuracy] per T], "lstm": ...}, "chance", "verdict", "holds", "plot"}``, an accuracy the mean of its
        runs; ``holds``: the RNN's accuracy at the longest T is at least 30 points below its accuracy at the
        shortest, the LSTM's is above 90%, and the RNN is below the LSTM there.
    """
    runs = {"rnn": [], "lstm": []}
    for steps in STEPS:
        train_set, shape = recall_task(steps, n_train, [seed, steps, 0])
        test_set, _ = recall_task(steps, 500, [seed, steps, 1])
        for cell in runs:
            runs[cell].append([])
            for init in range(INITS * seed, INITS * seed + INITS):
                net = _recurrent(cell, shape, hidden, init, max(STEPS))
                t = config(loss="cross_entropy", optimizer="adam", learning_rate=0.01, batch_size=32,
                           epochs=epochs, clip_grad_norm=1.0, seed=init)
                train(net, train_set, t, every=n_train * epochs)  # measured once, at the end
                runs[cell][-1].append(accuracy_of(net, test_set))
    accuracy = {cell: [float(np.mean(r)) for r in per_steps] for cell, per_steps in runs.items()}
    rnn, lstm = accuracy["rnn"][-1], accuracy["lstm"][-1]
    chance = 1 / SYMBOLS
    holds = bool(rnn <= accuracy["rnn"][0] - 0.3 and lstm > 0.9 and rnn < lstm)
    verdict = (f"recalling the first of {SYMBOLS} symbols (chance {chance:.0%}; the mean of {INITS} networks "
               "each): after "
               + ", ".join(f"T={s}: RNN {r:.0%}, LSTM {m:.0%}" for s, r, m in
                           zip(STEPS, accuracy["rnn"], accuracy["lstm"])))
    plot = save(_draw(accuracy, runs, chance), out, "memory")
    return rounded({"steps": list(STEPS), "accuracy": accuracy, "runs": runs, "chance": chance, "verdict": verdict,
                    "holds": holds, "plot": plot})


def _draw(accuracy, runs, chance):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    for cell, label in (("rnn", "plain RNN (tanh)"), ("lstm", "LSTM (gates start remembering: chrono biases)")):
        line, = ax.plot(STEPS, accuracy[cell], "o-", linewidth=2, label=f"{label}: mean of {INITS}")
        for steps, each in zip(STEPS, runs[cell]):  # every network, faint
            ax.plot([steps] * len(each), each, "o", color=line.get_color(), alpha=0.3, markersize=4)
    ax.axhline(chance, color="#999", linestyle=":", label="chance")
    ax.set(xscale="log", xticks=STEPS, xticklabels=[str(s) for s in STEPS], ylim=(0, 1.05),
           xlabel="T: steps between the symbol and the answer", ylabel="test accuracy",
           title="recall the first symbol after T steps of other symbols")
    ax.legend()
    return fig
