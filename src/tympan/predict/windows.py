"""A recording's windows and their scores, and the timeline of events they make.

A recording is decoded block by block (``audio.stream``) at the model's sample rate and cut into windows
(by default the model's clip length, every half clip); windows are scored in batches, so memory stays
bounded whatever the recording's length. Its timeline turns the windows' scores into events: smoothed over
a few windows, thresholded per class, short events dropped and close ones merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio import stream
from ..defaults import BATCH_SIZE, MIN_DURATION, SMOOTH, THRESHOLD
from ..errors import AudioError, ConfigError


@dataclass
class WindowScores:
    """Per-window scores of one recording: window ``i`` covers ``starts[i] ... starts[i] + window_seconds``."""

    path: str
    duration: float
    window_seconds: float
    hop_seconds: float
    starts: np.ndarray
    scores: np.ndarray  # (windows, classes)
    notes: list[str] = field(default_factory=list)

    def clip_scores(self) -> np.ndarray:
        return self.scores.mean(axis=0)


@torch.no_grad()
def score_windows(model, path, window_seconds: float | None = None, hop_seconds: float | None = None,
                  batch_size: int = BATCH_SIZE, block_seconds: float = 30.0, output=None,
                  on_block=None) -> WindowScores:
    """Decode ``path`` block by block and score windows of it with ``model`` (a ``Classifier``).

    Memory holds one block, one window and one batch, whatever the recording's length. A recording
    shorter than a window is padded with zeros to one window (and says so in ``notes``); the last window
    ends at the recording's end, so no part of it is left out. ``output`` (a function of a batch of
    windows) replaces the class probabilities, e.g. ``model.embed``.
    """
    if output is None:
        def output(clips):
            return model.scores(model(clips))
    window_seconds = model.clip_seconds if window_seconds is None else float(window_seconds)
    hop_seconds = window_seconds / 2 if hop_seconds is None else float(hop_seconds)
    if not (window_seconds > 0 and hop_seconds > 0):
        raise ConfigError(f"window and hop must be positive seconds, got {window_seconds} and {hop_seconds}")
    sr = model.sr
    device = next(model.parameters()).device
    model.eval()
    window, hop = max(1, round(window_seconds * sr)), max(1, round(hop_seconds * sr))
    windows = _Windows(path, sr, window, hop, block_seconds, on_block)
    starts, scores = _score_in_batches(
        windows, batch_size, lambda clips: output(torch.from_numpy(clips).to(device)).float().cpu().numpy())
    notes = []
    total = windows.total
    if total < window / 2:  # a clip a little short of the clip length is what models are trained on
        notes.append(f"very short ({total / sr:.2f} s for {window_seconds:g} s windows): padded with silence")
    if windows.peak == 0.0:
        notes.append("silent: every sample is zero")
    return WindowScores(str(path), total / sr, window_seconds, hop_seconds,
                        np.asarray(starts, dtype=np.float64) / sr, np.concatenate(scores), notes)


class _Windows:
    """A recording's windows of ``window`` samples every ``hop``, cut as ``audio.stream`` decodes it: iterating
    yields ``(start, samples)`` in order, after which ``total`` (samples) and ``peak`` (largest magnitude)
    describe the whole recording. The last window ends at the recording's end, so no part of it is left out;
    a recording shorter than a window gives one window, padded with zeros."""

    def __init__(self, path, sr: int, window: int, hop: int, block_seconds: float, on_block=None):
        self.path, self.sr, self.window, self.hop, self.block_seconds = path, sr, window, hop, block_seconds
        self.on_block = on_block
        self.total, self.peak = 0, 0.0

    def __iter__(self):
        window = self.window
        buffer = np.zeros(0, dtype=np.float32)
        offset = 0  # samples of the recording before buffer[0]
        next_start, last_start = 0, None
        for block in reporting(stream(self.path, sr=self.sr, block_seconds=self.block_seconds), self.on_block):
            self.total += len(block)
            self.peak = max(self.peak, float(np.abs(block).max(initial=0.0)))
            buffer = np.concatenate([buffer, block])
            while next_start + window <= offset + len(buffer):
                yield next_start, buffer[next_start - offset:next_start - offset + window]
                last_start, next_start = next_start, next_start + self.hop
            keep = max(0, min(next_start - offset, len(buffer) - window))  # the last window's samples stay
            buffer, offset = buffer[keep:], offset + keep
        if self.total == 0:
            raise AudioError(self.path, "empty")
        if self.total < window:
            yield 0, np.pad(buffer, (0, window - len(buffer)))
        elif last_start + window < self.total:
            last = self.total - window  # a last window ending at the end; the buffer still holds its samples
            yield last, buffer[last - offset:last - offset + window]


def reporting(blocks, on_block=None):
    """``blocks`` as they come, each handed to ``on_block`` first."""
    for block in blocks:
        if on_block is not None:
            on_block(block)
        yield block


def _score_in_batches(windows, batch_size: int, score) -> tuple[list[int], list[np.ndarray]]:
    """The windows' starts, and ``score`` of each batch of ``batch_size`` windows stacked as ``(windows, window)``
    (the last batch may hold fewer). A batch is let go as soon as it is scored: memory holds one at a time."""
    starts, scores, batch = [], [], []
    for start, samples in windows:
        starts.append(start)
        batch.append(samples)
        if len(batch) == batch_size:
            scores.append(score(np.stack(batch)))
            batch.clear()
    if batch:
        scores.append(score(np.stack(batch)))
    return starts, scores


def events(result: WindowScores, classes, multi_label: bool, threshold=THRESHOLD, smooth: int = SMOOTH,
           min_duration: float = MIN_DURATION, merge_gap: float | None = None) -> list[dict]:
    """Labelled segments from per-window scores: ``{"file", "start", "end", "label", "score"}``.

    Scores are smoothed by a moving average over ``smooth`` windows. A window is active for a class when
    its smoothed score reaches ``threshold`` (a number, or ``{class: threshold}``) and, for a single-label
    model, the class is the window's best. Each window speaks for the ``hop`` around its centre, so a
    run of active windows spans from the first one's centre minus half a hop to the last one's centre
    plus half a hop (the first window reaching back to 0 s, the last to the end). Runs closer than
    ``merge_gap`` (default one hop) merge, for a single-label model only where no other class is active
    between them; runs shorter than ``min_duration`` seconds are dropped. ``score`` is the run's highest
    smoothed score.
    """
    scores = result.scores
    if smooth > 1 and len(scores) > 1:
        kernel = np.ones(smooth) / smooth
        padded = np.pad(scores, ((smooth // 2, smooth - 1 - smooth // 2), (0, 0)), mode="edge")
        scores = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(scores.shape[1])], 1)
    thresholds = np.array([threshold.get(c, 0.5) if isinstance(threshold, dict) else threshold for c in classes])
    active = scores >= thresholds
    if not multi_label:  # one class at a time: the best, the first of equals (a tie is no second event)
        active &= np.arange(scores.shape[1]) == scores.argmax(axis=1)[:, None]
    hop, gap = result.hop_seconds, result.hop_seconds if merge_gap is None else merge_gap
    centres = result.starts + result.window_seconds / 2
    # the first window also speaks for the recording's start, the last for its end
    lower = np.maximum(0.0, centres - hop / 2)
    upper = np.minimum(result.duration, centres + hop / 2)
    lower[0], upper[-1] = 0.0, result.duration
    found = []
    for c, label in enumerate(classes):
        runs, last = [], -1
        for i in np.flatnonzero(active[:, c]):
            start, end = lower[i], upper[i]
            # a single-label model's gap is not bridged over another class's windows: one sound at a time
            bridge = multi_label or not active[last + 1:i].any()
            if runs and start - runs[-1][1] <= gap + 1e-9 and bridge:
                runs[-1][1], runs[-1][2] = end, max(runs[-1][2], scores[i, c])
            else:
                runs.append([start, end, scores[i, c]])
            last = i
        found += [{"file": result.path, "start": round(s, 3), "end": round(e, 3), "label": label,
                   "score": round(float(p), 4)} for s, e, p in runs if e - s >= min_duration]
    return sorted(found, key=lambda row: (row["start"], row["label"]))


def timeline(model, path, window_seconds: float | None = None, hop_seconds: float | None = None,
             threshold=THRESHOLD, smooth: int = SMOOTH, min_duration: float = MIN_DURATION) -> list[dict]:
    """Events in a recording of any length: ``[{"file", "start", "end", "label", "score"}]``.

    The recording is decoded block by block and scored in windows (``window_seconds``, default the
    clip length; ``hop_seconds``, default half of it); see ``events`` for how window scores become events.

    Examples
    --------
    >>> found = timeline(model, "field-recording.flac", min_duration=1.0)  # doctest: +SKIP
    """
    scored = score_windows(model, path, window_seconds, hop_seconds)
    return events(scored, model.classes, model.multi_label, threshold, smooth, min_duration)
