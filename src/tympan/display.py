"""Figures of recordings: waveform, spectrogram, log-mel and MFCC with axes in seconds and Hz.

Everything is computed with Tympan's own front-end layers, so the picture shows what a model sees.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, never windows: runs the same on a server as on a laptop
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .defaults import DISPLAY, SR, spectral_params  # noqa: E402
from .files import atomic_path  # noqa: E402
from .frontend import MFCC, LogMel, MelSpectrogram, Spectrogram, mel_frequencies, power_to_db  # noqa: E402


def save_figure(fig, out) -> Path:
    """Save a figure atomically (temporary file, then rename) and close it."""
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return Path(out)


def plot_recording(y: np.ndarray, sr: int, title: str = "", n_fft: int = DISPLAY["n_fft"],
                   hop_length: int = DISPLAY["hop_length"], n_mels: int = DISPLAY["n_mels"],
                   n_mfcc: int = DISPLAY["n_mfcc"], top_db: float = 80.0):
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
    spec, logmel, mfcc = _time_frequency_images(y, sr, n_fft, hop_length, n_mels, n_mfcc, top_db)
    frame_seconds = hop_length / sr
    # Frame t is centred at t * hop: extend each image half a frame on both sides.
    t0, t1 = -frame_seconds / 2, (spec.shape[-1] - 0.5) * frame_seconds

    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True, constrained_layout=True)
    _plot_waveform(axes[0], y, sr, title)
    _plot_image(fig, axes[1], spec, (t0, t1, 0, sr / 2), "magma", "dB", ylabel="frequency (Hz)",
                title=f"spectrogram, n_fft={n_fft}, hop_length={hop_length}")
    _plot_image(fig, axes[2], logmel, (t0, t1, -0.5, n_mels - 0.5), "magma", "dB", ylabel="mel band centre (Hz)",
                title=f"log-mel, n_mels={n_mels}")
    _label_mel_bands(axes[2], n_mels, sr)
    _plot_image(fig, axes[3], mfcc, (t0, t1, -0.5, n_mfcc - 0.5), "coolwarm", "", ylabel="MFCC coefficient",
                xlabel="time (s)", title=f"MFCC, n_mfcc={n_mfcc}")
    return fig


def _time_frequency_images(y, sr, n_fft, hop_length, n_mels, n_mfcc, top_db):
    """The spectrogram (dB), log-mel and MFCC of ``y`` as ``(rows, frames)`` arrays, by Tympan's front-end."""
    wave = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    with torch.no_grad():
        spec = power_to_db(Spectrogram(n_fft, hop_length)(wave), top_db=top_db).numpy()
        logmel = LogMel(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, top_db=top_db)(wave).numpy()
        mfcc = MFCC(sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)(wave).numpy()
    return spec, logmel, mfcc


def _plot_waveform(ax, y, sr, title):
    times = np.arange(len(y)) / sr
    step = max(1, len(y) // 20000)  # a plot needs no more points than pixels
    ax.plot(times[::step], y[::step], linewidth=0.5, color="#333")
    ax.set(ylabel="amplitude", title=title or None, xlim=(0, len(y) / sr))


def _plot_image(fig, ax, image, extent, cmap, colorbar_label, **labels):
    shown = ax.imshow(image, origin="lower", aspect="auto", cmap=cmap, extent=extent)
    ax.set(**labels)
    fig.colorbar(shown, ax=ax, label=colorbar_label)


def _label_mel_bands(ax, n_mels, sr):
    # Mel bands are evenly spaced in mels, not Hz: label the band axis with the bands' centre frequencies.
    centres = mel_frequencies(n_mels, 0.0, sr / 2)
    ticks = np.linspace(0, n_mels - 1, 6).round().astype(int)
    ax.set_yticks(ticks, [f"{centres[i]:.0f}" for i in ticks])


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


def plot_timeline(path, events, sr: int = SR, n_mels: int = 64, max_columns: int = 3000, title: str = "",
                  reference=None):
    """A recording's log-mel spectrogram with its labelled events under it, for files of any length.

    The spectrogram is computed block by block with a hop chosen so the image has at most
    ``max_columns`` columns, so an hours-long file costs little memory. ``events`` are rows
    ``{"start", "end", "label", ...}`` as ``tympan.predict.events`` gives; ``reference``, rows of the same
    kind, are the annotated events, drawn in grey above the detected ones in each class's lane.
    """
    from .audio import info, stream

    duration = info(path).duration
    hop = max(160, int(np.ceil(duration * sr / max_columns)))
    layer = MelSpectrogram(sr=sr, n_fft=1024, hop_length=hop, n_mels=n_mels)
    columns = []
    for block in stream(path, sr=sr, block_seconds=hop * 200 / sr):  # 200 columns per block
        with torch.no_grad():
            S = layer(torch.from_numpy(block))
        columns.append(S[:, :max(1, len(block) // hop)])  # the frame past the block is the next one's first
    S_db = power_to_db(torch.cat(columns, dim=1), ref=1.0, top_db=80.0).numpy()
    labels = sorted({e["label"] for e in [*events, *(reference or [])]})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 3.2 + 0.35 * max(1, len(labels))), sharex=True,
                                      gridspec_kw={"height_ratios": [3, max(1, len(labels)) * 0.5]},
                                      constrained_layout=True)
    top.imshow(S_db, origin="lower", aspect="auto", cmap="magma", extent=[0, duration, 0, n_mels])
    ticks = np.linspace(0, n_mels - 1, 5).astype(int)
    top.set_yticks(ticks + 0.5, [f"{f:.0f}" for f in mel_frequencies(n_mels, 0.0, sr / 2)[ticks]])
    top.set(ylabel="Hz (mel scale)", title=title or Path(path).name)
    for lane, label in enumerate(labels):
        spans = [(e["start"], e["end"] - e["start"]) for e in events if e["label"] == label]
        if reference is None:
            bottom.broken_barh(spans, (lane + 0.1, 0.8), color=f"C{lane % 10}")
            continue
        truth = [(e["start"], e["end"] - e["start"]) for e in reference if e["label"] == label]
        bottom.broken_barh(truth, (lane + 0.55, 0.35), color="0.45")
        bottom.broken_barh(spans, (lane + 0.1, 0.35), color=f"C{lane % 10}")
    if reference is not None:
        bottom.set_title("each lane: annotated events (grey, above), detected events (colour, below)", fontsize=9)
    bottom.set_yticks(np.arange(len(labels)) + 0.5, labels)
    bottom.set(xlabel="time (s)", xlim=(0, duration), ylim=(0, max(1, len(labels))))
    return fig


def plot_augmentations(y: np.ndarray, sr: int, out_dir, seed: int = 0) -> list[Path]:
    """Write ``y`` through each augmentation: ``out_dir/<name>.wav`` and ``out_dir/augmentations.png`` with
    the log-mel spectrogram of the original and of each result (SpecAugment shown on the log-mel itself).

    Every augmentation runs with ``p=1`` and its default ranges; ``background`` needs recordings and is left
    out. Files are written atomically.
    """
    import soundfile as sf

    from .augment import AUGMENTATIONS, build

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(np.asarray(y, dtype=np.float32))[None]
    logmel = LogMel(sr=sr, **spectral_params(sr))
    panels, written = [("original", logmel(x)[0])], []
    for name in [n for n in AUGMENTATIONS if n != "background"]:
        (augmentation,) = build([{"kind": name, "p": 1.0}], sr=sr)
        g = torch.Generator().manual_seed(seed)
        if augmentation.stage == "waveform":
            z = augmentation(x, sr, g)
            path = out_dir / f"{name}.wav"
            with atomic_path(path) as tmp:
                sf.write(tmp, np.clip(z[0].numpy(), -1, 1), sr)
            written.append(path)
            panels.append((name, logmel(z)[0]))
        else:
            panels.append((name, augmentation(logmel(x), sr, g)[0]))
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.9 * len(panels)), sharex=True, constrained_layout=True)
    seconds = len(y) / sr
    for ax, (name, S) in zip(axes, panels):
        ax.imshow(S.numpy(), origin="lower", aspect="auto", cmap="magma", extent=[0, seconds, 0, S.shape[0]])
        ax.set(title=name, ylabel="mel band")
    axes[-1].set(xlabel="time (s)")
    written.append(save_figure(fig, out_dir / "augmentations.png"))
    return written
