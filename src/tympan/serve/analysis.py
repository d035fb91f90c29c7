"""What the analysis page shows of one recording: ``tympan predict``'s report, and a view to draw.

The view is sized for a screen, not for the recording: at most ``columns`` time columns whatever the length,
each holding the loudest of what it covers (a short event stays visible in an hour). It has the waveform's
envelope (min and max per column), a log-mel spectrogram (``n_mels`` bands in dB, 80 dB below the peak,
quantised to bytes and sent in base64), and the class scores over time: a clip model's windows, or an event
detector's frames, pooled the same way.
"""

from __future__ import annotations

import base64
import math

import numpy as np
import torch

from ..audio import info, stream
from ..errors import AudioError
from ..frontend.spectral import MelSpectrogram
from ..predict import predict_files
from ..predict.windows import reporting
from .jobs import JobError

COLUMNS = 1200
N_MELS = 64
TOP_DB = 80.0
BLOCK_SECONDS = 30.0


def analyse(model, path, name: str, options: dict, report_progress, max_seconds: float | None = None,
            columns: int = COLUMNS) -> dict:
    """``{"report", "view"}`` of the recording at ``path`` (called ``name`` in the report).

    ``options`` are ``predict_files``' keyword options; ``report_progress(fraction)`` is told how far the
    work is (prediction first, then the view), and may raise to stop it. A recording longer than
    ``max_seconds`` is refused (``JobError``, 413) before any decoding, a bad one with ``JobError`` (400).
    """
    try:
        duration = info(path).duration
    except AudioError as error:
        raise JobError(f"{name}: {error.reason}") from None
    if max_seconds is not None and duration > max_seconds:
        raise JobError(f"{name}: {duration:.0f} s long, more than this server's limit of {max_seconds:g} s "
                       "(tympan serve --max-seconds)", 413)
    total = max(duration, 1e-9)
    report = predict_files(model, [path], per_window=True, workers=1,
                           on_seconds=lambda s: report_progress(0.7 * min(1.0, s / total)), **options)
    if report["bad"]:
        raise JobError(f"{name}: {report['bad'][0]['reason']}")
    windows = report["files"][0].pop("window_scores", None)
    renamed(report, name)
    try:
        view = overview(path, model.sr, columns, on_seconds=lambda s: report_progress(0.7 + 0.3 * min(1.0, s / total)))
    except AudioError as error:
        raise JobError(f"{name}: {error.reason}") from None
    view["scores"] = pooled_scores(windows, view["seconds_per_column"]) if windows else None
    return {"report": report, "view": view}


@torch.no_grad()
def overview(path, sr: int, columns: int = COLUMNS, n_mels: int = N_MELS, on_seconds=None) -> dict:
    """The waveform's envelope and the log-mel spectrogram of ``path`` at ``sr``, in at most ``columns``
    columns of equal duration (``seconds_per_column``), decoded block by block."""
    duration = info(path).duration
    n_fft = 1 << max(8, round(math.log2(sr * 0.025)))  # about 25 ms, as speech and sound-event work use
    hop_length = n_fft // 4
    n_columns = max(1, min(columns, math.ceil(duration * sr / hop_length)))
    per_column = duration / n_columns
    mel = MelSpectrogram(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    power = np.zeros((n_mels, n_columns), dtype=np.float32)
    low, high = np.zeros(n_columns, np.float32), np.zeros(n_columns, np.float32)
    start = 0  # samples before this block
    for block in reporting(stream(path, sr=sr, block_seconds=BLOCK_SECONDS), sr, on_seconds):
        cols = _column((start + np.arange(len(block))) / sr, per_column, n_columns)
        _pool(high, cols, block, np.maximum)
        _pool(low, cols, block, np.minimum)
        S = mel(torch.from_numpy(block)).numpy()
        frame_times = (start + np.arange(S.shape[1]) * hop_length) / sr
        keep = frame_times < start / sr + len(block) / sr  # the frames of this block, not its padding
        _pool(power, _column(frame_times[keep], per_column, n_columns), S[:, keep], np.maximum)
        start += len(block)
    db = 10 * np.log10(np.maximum(power, 1e-10))
    peak = float(db.max())
    quantised = np.round(255 * np.clip((db - (peak - TOP_DB)) / TOP_DB, 0, 1)).astype(np.uint8)
    return {"duration": round(duration, 3), "sr": sr, "columns": n_columns, "seconds_per_column": per_column,
            "waveform": {"min": np.round(low, 4).tolist(), "max": np.round(high, 4).tolist()},
            "logmel": {"n_mels": n_mels, "fmax": sr / 2, "top_db": TOP_DB, "peak_db": round(peak, 2),
                       "n_fft": n_fft, "hop_length": hop_length,
                       "data": base64.b64encode(quantised.tobytes()).decode()}}  # rows: bands, low to high


def pooled_scores(windows: list[dict], per_column: float) -> dict:
    """Windows' (or frames') scores as ``{"starts", "ends", "scores": [class][window]}``, neighbours merged
    (highest score) so that no more remain than the view has columns."""
    if not windows:
        return {"starts": [], "ends": [], "scores": []}
    width = max(float(w["end"]) - float(w["start"]) for w in windows)
    group = max(1, math.ceil(len(windows) / max(1, round(windows[-1]["end"] / max(per_column, width / 2)))))
    starts, ends, rows = [], [], []
    for first in range(0, len(windows), group):
        part = windows[first:first + group]
        starts.append(part[0]["start"])
        ends.append(part[-1]["end"])
        rows.append(np.max([w["scores"] for w in part], axis=0))
    matrix = np.round(np.array(rows).T, 3)
    return {"starts": starts, "ends": ends, "scores": matrix.tolist()}


def renamed(report: dict, name: str) -> dict:
    """``report`` with the upload's own name in place of the server's temporary path, which no client
    should see."""
    for item in report["files"]:
        item["file"] = name
        for event in item["events"]:
            event["file"] = name
    return report


def _column(times: np.ndarray, per_column: float, n_columns: int) -> np.ndarray:
    return np.minimum((times / per_column).astype(np.int64), n_columns - 1)


def _pool(out: np.ndarray, columns: np.ndarray, values: np.ndarray, how) -> None:
    """``out[..., c] = how(out[..., c], how of values[..., i] over the i in column c)``; ``columns`` ascends."""
    if len(columns) == 0:
        return
    firsts = np.r_[0, np.flatnonzero(np.diff(columns)) + 1]
    chosen = columns[firsts]
    out[..., chosen] = how(out[..., chosen], how.reduceat(values, firsts, axis=-1))
