"""Figures of recordings: waveform, spectrogram, log-mel and MFCC with axes in seconds and Hz.

Everything is computed with Tympan's own front-end layers, so the picture shows what a model sees.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, never windows: runs the same on a server as on a laptop
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .frontend import MFCC, LogMel, Spectrogram, mel_frequencies, power_to_db  # noqa: E402


def save_figure(fig, out) -> Path:
    """Save a figure atomically (temporary file, then rename) and close it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}{out.suffix}")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return out


def plot_recording(y: np.ndarray, sr: int, title: str = "", n_fft: int = 2048, hop_length: int = 512,
                   n_mels: int = 128, n_mfcc: int = 20, top_db: float = 80.0):
    """Waveform, spectrogram (dB), log-mel and MFCC of one mono recording, stacked on a shared time axis.

    Parameters
    ----------
    y : np.ndarray
        Mono audio.
    sr : int
        Its sample rate in Hz.
    title : str
        Figure title (e.g. the file name).
    n_fft, hop_length, n_mels, n_mfcc, top_db
        Front-end parameters, as ``tympan.frontend``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_recording(np.sin(np.linspace(0, 2000, 16000)).astype("float32"), 16000)
    >>> len(fig.axes) >= 4
    True
    """
    wave = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    duration = len(y) / sr
    with torch.no_grad():
        spec = power_to_db(Spectrogram(n_fft, hop_length)(wave), top_db=top_db).numpy()
        logmel = LogMel(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, top_db=top_db)(wave).numpy()
        mfcc = MFCC(sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)(wave).numpy()
    frame_seconds = hop_length / sr
    # Frame t is centred at t * hop: extend each image half a frame on both sides.
    t0, t1 = -frame_seconds / 2, (spec.shape[-1] - 0.5) * frame_seconds

    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True, constrained_layout=True)
    times = np.arange(len(y)) / sr
    step = max(1, len(y) // 20000)  # a plot needs no more points than pixels
    axes[0].plot(times[::step], y[::step], linewidth=0.5, color="#333")
    axes[0].set(ylabel="amplitude", title=title or None, xlim=(0, duration))

    image = axes[1].imshow(spec, origin="lower", aspect="auto", cmap="magma",
                           extent=(t0, t1, 0, sr / 2))
    axes[1].set(ylabel="frequency (Hz)", title=f"spectrogram, n_fft={n_fft}, hop_length={hop_length}")
    fig.colorbar(image, ax=axes[1], label="dB")

    # Mel bands are evenly spaced in mels, not Hz: label the band axis with the bands' centre frequencies.
    image = axes[2].imshow(logmel, origin="lower", aspect="auto", cmap="magma",
                           extent=(t0, t1, -0.5, n_mels - 0.5))
    centres = mel_frequencies(n_mels, 0.0, sr / 2)
    ticks = np.linspace(0, n_mels - 1, 6).round().astype(int)
    axes[2].set_yticks(ticks, [f"{centres[i]:.0f}" for i in ticks])
    axes[2].set(ylabel="mel band centre (Hz)", title=f"log-mel, n_mels={n_mels}")
    fig.colorbar(image, ax=axes[2], label="dB")

    image = axes[3].imshow(mfcc, origin="lower", aspect="auto", cmap="coolwarm",
                           extent=(t0, t1, -0.5, n_mfcc - 0.5))
    axes[3].set(ylabel="MFCC coefficient", xlabel="time (s)", title=f"MFCC, n_mfcc={n_mfcc}")
    fig.colorbar(image, ax=axes[3])
    return fig


def plot_activations(names=None):
    """Each activation (solid) and its derivative (dashed, by autograd), one small panel per function.

    Parameters
    ----------
    names : list of str, optional
        Activations to draw; default every registered one (``tympan.nn.activations.names()``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_activations(["relu", "tanh"])
    >>> [ax.get_title() for ax in fig.axes]
    ['relu', 'tanh']
    """
    # Imported here, not at the top: drawing a recording should not need the network package.
    from .nn.activations import ACTIVATIONS, curves

    data = curves(names)
    columns = min(4, len(data))
    rows = -(-len(data) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), constrained_layout=True,
                             squeeze=False)
    for ax, (name, (x, y, dy)) in zip(axes.flat, data.items()):
        ax.axhline(0, color="#ccc", linewidth=0.6)
        ax.axvline(0, color="#ccc", linewidth=0.6)
        ax.plot(x, y, color="C0", label="f(x)")
        ax.plot(x, dy, "--", color="C1", label="f'(x)")
        ax.set(title=name, xlim=(x[0], x[-1]))
        if name == "step":
            # Autograd reports 0 at x = 0 too; the open circle marks where the derivative does not exist.
            ax.plot([0], [0], "o", markerfacecolor="white", markeredgecolor="C1")
            ax.text(0.03, 0.6, "f'(x) = 0 for x ≠ 0,\nundefined at x = 0", transform=ax.transAxes, fontsize=8)
        if not ACTIVATIONS[name].elementwise:
            ax.text(0.03, 0.85, "first output of\nsoftmax([x, 0])", transform=ax.transAxes, fontsize=8)
    axes.flat[0].legend(loc="lower right", fontsize=8)
    for ax in axes.flat[len(data):]:
        fig.delaxes(ax)
    return fig
