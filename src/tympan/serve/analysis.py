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
from .jobs import JobError

COLUMNS = 1200
N_MELS = 64
TOP_DB = 80.0
BLOCK_SECONDS = 30.0


def checked_duration(path, name: str, max_seconds: float | None) -> float:
    """The recording's length from its header, refused (``JobError``) if unreadable (400) or longer than
    ``max_seconds`` (413): before anything is decoded."""
    try:
        duration = info(path).duration
    except AudioError as error:
        raise JobError(f"{name}: {error.reason}") from None
    if max_seconds is not None and duration > max_seconds:
        raise JobError(f"{name}: {duration:.0f} s long, more than this server's limit of {max_seconds:g} s "
                       "(tympan serve --max-seconds)", 413)
    return duration


def analyse(model, path, name: str, options: dict, report_progress, max_seconds: float | None = None,
            columns: int = COLUMNS) -> dict:
    """``{"report", "view"}`` of the recording at ``path`` (called ``name`` in the report).

    ``options`` are ``predict_files``' keyword options; ``report_progress(fraction)`` is told how far the
    work is, and may raise to stop it. The view is drawn from the blocks the prediction decodes, so a long
    recording is decoded once. A recording longer than ``max_seconds`` is refused (``JobError``, 413) before
    any decoding, a bad one with ``JobError`` (400).
    """
    duration = checked_duration(path, name, max_seconds)
    view = Overview(duration, model.sr, columns)

    def on_block(block):
        view.add(block)
        report_progress(view.seconds / max(duration, 1e-9))

    report = predict_files(model, [path], per_window=True, workers=1, on_block=on_block, **options)
    if report["bad"]:
        raise JobError(f"{name}: {report['bad'][0]['reason']}")
    if not view.seconds:  # a clip, scored whole rather than streamed: short, so decoding it again is cheap
        try:
            for block in stream(path, sr=model.sr, block_seconds=BLOCK_SECONDS):
                view.add(block)
        except AudioError as error:
            raise JobError(f"{name}: {error.reason}") from None
    windows = report["files"][0].pop("window_scores", None)
    renamed(report, name)
    drawn = view.result()
    drawn["scores"] = pooled_scores(windows, drawn["seconds_per_column"]) if windows else None
    return {"report": report, "view": drawn}


class Overview:
    """The waveform's envelope and the log-mel spectrogram of a recording of ``duration`` s at ``sr``, in at
    most ``columns`` columns of equal duration (``seconds_per_column``), built from its consecutive blocks
    (``add``) so that memory holds the columns, not the recording."""

    def __init__(self, duration: float, sr: int, columns: int = COLUMNS, n_mels: int = N_MELS):
        self.duration, self.sr, self.n_mels = duration, sr, n_mels
        self.n_fft = 1 << max(8, round(math.log2(sr * 0.025)))  # about 25 ms, as speech and sound-event work use
        self.hop_length = self.n_fft // 4
        self.n_columns = max(1, min(columns, math.ceil(duration * sr / self.hop_length)))
        self.per_column = duration / self.n_columns
        self.mel = MelSpectrogram(sr=sr, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=n_mels)
        self.power = np.zeros((n_mels, self.n_columns), dtype=np.float32)
        self.low, self.high = np.zeros(self.n_columns, np.float32), np.zeros(self.n_columns, np.float32)
        self.samples = 0  # before the next block

    @property
    def seconds(self) -> float:
        return self.samples / self.sr

    @torch.no_grad()
    def add(self, block: np.ndarray) -> None:
        start, sr = self.samples, self.sr
        cols = _column((start + np.arange(len(block))) / sr, self.per_column, self.n_columns)
        _pool(self.high, cols, block, np.maximum)
        _pool(self.low, cols, block, np.minimum)
        S = self.mel(torch.from_numpy(np.ascontiguousarray(block))).numpy()
        frame_times = (start + np.arange(S.shape[1]) * self.hop_length) / sr
        keep = frame_times < (start + len(block)) / sr  # the frames of this block, not its padding
        _pool(self.power, _column(frame_times[keep], self.per_column, self.n_columns), S[:, keep], np.maximum)
        self.samples += len(block)

    def result(self) -> dict:
        db = 10 * np.log10(np.maximum(self.power, 1e-10))
        peak = float(db.max())
        quantised = np.round(255 * np.clip((db - (peak - TOP_DB)) / TOP_DB, 0, 1)).astype(np.uint8)
        return {"duration": round(self.duration, 3), "sr": self.sr, "columns": self.n_columns,
                "seconds_per_column": self.per_column,
                "waveform": {"min": np.round(self.low, 4).tolist(), "max": np.round(self.high, 4).tolist()},
                "logmel": {"n_mels": self.n_mels, "fmax": self.sr / 2, "top_db": TOP_DB, "peak_db": round(peak, 2),
                           "n_fft": self.n_fft, "hop_length": self.hop_length,
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
