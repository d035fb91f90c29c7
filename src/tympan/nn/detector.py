"""Sound event detection: a model that scores every class in every frame, and the events it reads from them.

``EventDetector`` is a ``Classifier`` whose network keeps time (``models.per_frame``): waveform in,
``(frames, classes)`` sigmoid scores out at ``frame_seconds`` per frame. A recording of any length is scored
in clip-long blocks that overlap, each block's edges dropped, so block edges leave no seams. ``decode``
turns frame scores into events with the model's post-processing (``PostProcess``): a threshold (or two, with
hysteresis), a median filter, the shortest gap bridged and the shortest event kept, each per class if wanted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..data.events import Event
from ..errors import ConfigError
from .classifier import Classifier

EVENT_BATCH_SIZE = 8  # blocks of several seconds each: a smaller batch than for clips keeps memory modest


@dataclass
class PostProcess:
    """From frame scores to events. Each value is one number for every class, or a list with one per class.

    ``threshold``: the score a frame must reach; ``low_threshold``: with hysteresis (double thresholding,
    common in sound event detection), an event must reach ``threshold`` somewhere and lasts while
    its score stays at or above ``low_threshold`` (``None``: one threshold) -- on a voice or a microphone
    the model has not heard, an event's edges can score lower than its middle, and one threshold then
    cuts the event short; ``median_seconds``: the median filter's length over the 0/1 activity (smooths
    flicker); ``min_gap``: shorter silences between two events of a class are bridged; ``min_duration``:
    shorter events are dropped."""

    threshold: float | list = 0.5
    median_seconds: float | list = 0.25
    min_gap: float | list = 0.1
    min_duration: float | list = 0.05
    low_threshold: float | list | None = None

    def per_class(self, name: str, n: int) -> np.ndarray:
        value = getattr(self, name)
        values = np.asarray(value if isinstance(value, (list, tuple)) else [value] * n, dtype=np.float64)
        if values.shape != (n,) or not np.isfinite(values).all() or (values < 0).any():
            raise ConfigError(f"postprocess {name}={value!r}: one non-negative number, or a list of {n}, one per class")
        return values

    def low_thresholds(self, n: int) -> np.ndarray:
        """Each class's low threshold: its threshold without hysteresis; never above its threshold."""
        high = self.per_class("threshold", n)
        if self.low_threshold is None:
            return high
        low = self.per_class("low_threshold", n)
        if (low > high).any():
            raise ConfigError(f"postprocess low_threshold={self.low_threshold!r}: above threshold="
                              f"{self.threshold!r}; the low threshold is where an event ends, at or below the one "
                              "it must reach")
        return low


def _active(score: np.ndarray, high: float, low: float) -> np.ndarray:
    """Frames at or above ``low`` in runs that reach ``high`` somewhere (hysteresis; ``low == high``: one
    threshold)."""
    active = score >= low
    if low < high:
        for first, end in _runs(active):
            if score[first:end].max() < high:
                active[first:end] = False
    return active


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` frame of every run of ones."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def decode(scores: np.ndarray, frame_seconds: float, classes, post: PostProcess = PostProcess()) -> list[Event]:
    """Events from frame scores ``(frames, classes)``, sorted by onset.

    Examples
    --------
    >>> scores = np.zeros((100, 2)); scores[10:30, 0] = 0.9; scores[50:52, 1] = 0.8
    >>> decode(scores, 0.04, ["dog", "car"], PostProcess(median_seconds=0, min_duration=0.1))
    [Event(onset=0.4, offset=1.2, label='dog')]
    >>> scores[5:10, 0] = 0.3  # the dog's onset, scored lower: hysteresis keeps it
    >>> decode(scores, 0.04, ["dog", "car"], PostProcess(median_seconds=0, min_duration=0.1, low_threshold=0.2))
    [Event(onset=0.2, offset=1.2, label='dog')]
    """
    from scipy.ndimage import median_filter

    n = len(classes)
    thresholds, lows = post.per_class("threshold", n), post.low_thresholds(n)
    medians, gaps, shortest = (post.per_class(name, n) for name in ("median_seconds", "min_gap", "min_duration"))
    found = []
    for c, label in enumerate(classes):
        active = _active(scores[:, c], thresholds[c], lows[c])
        size = int(round(medians[c] / frame_seconds)) | 1  # odd, so the filter is centred
        if size > 1 and len(active):
            active = median_filter(active.astype(np.uint8), size=size, mode="nearest").astype(bool)
        runs = []
        for first, end in _runs(active):
            if runs and (first - runs[-1][1]) * frame_seconds < gaps[c]:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((first, end))
        found += [Event(round(float(first * frame_seconds), 3), round(float(end * frame_seconds), 3), label)
                  for first, end in runs if (end - first) * frame_seconds >= shortest[c]]
    return sorted(found)


class EventDetector(Classifier):
    """Front-end, normalisation and a network that keeps time: ``(batch, samples)`` waveform in,
    ``(batch, frames, n_classes)`` logits out, one frame every ``frame_seconds``.

    Parameters
    ----------
    frontend, network, classes, clip_seconds, seed
        As for ``Classifier``; the network is made per-frame (``models.per_frame``).
    postprocess : dict or PostProcess or None
        How frame scores become events (``PostProcess``), kept in the model file.

    Examples
    --------
    >>> model = EventDetector({"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32},
    ...                       {"kind": "crnn", "channels": [8], "pool": [2, 2], "hidden": 8},
    ...                       classes=["dog", "car"], clip_seconds=2.0, seed=0)
    >>> model(torch.zeros(3, 16000)).shape, model.frame_seconds
    (torch.Size([3, 101, 2]), 0.02)
    >>> model.frame_scores(np.zeros(40000, dtype=np.float32)).shape
    (250, 2)
    """

    task = "events"

    def __init__(self, frontend=None, network="crnn", classes=("0", "1"), clip_seconds: float = 10.0,
                 multi_label: bool = True, seed: int | None = None, postprocess=None):
        super().__init__(frontend, network, classes, clip_seconds, True, seed)
        self.postprocess = postprocess if isinstance(postprocess, PostProcess) else PostProcess(**(postprocess or {}))
        frames_in, frames_out = self.feature_shape[-1], self.network.out_shape[0]
        factor = max(1, round(frames_in / frames_out))  # the network's pooling in time
        self.frame_samples = factor * int(self.frontend_config.get("hop_length", 1))
        if self.frame_samples * 4 > self.clip_samples:
            raise ConfigError(f"clip_seconds={clip_seconds}: a clip must hold several of the network's "
                              f"{self.frame_samples / self.sr:g}-s frames")

    @property
    def frame_seconds(self) -> float:
        """The time between two output frames, in seconds."""
        return self.frame_samples / self.sr

    def config(self) -> dict:
        return {**super().config(), "task": self.task, "postprocess": asdict(self.postprocess),
                "frame_seconds": self.frame_seconds}

    @classmethod
    def from_config(cls, config: dict) -> "EventDetector":
        return cls(config["frontend"], config["network"], config["classes"], config["clip_seconds"],
                   seed=None, postprocess=config.get("postprocess"))

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def embed(self, y: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` waveform -> ``(batch, embedding_size)``: what the per-frame output layer sees,
        averaged over the clip's frames (``tympan embed`` gives one vector per recording or window)."""
        return super().embed(y).mean(dim=1)

    def blocks(self, n_samples: int) -> tuple[int, int, list[int]]:
        """How a recording of ``n_samples`` is scored: ``(block, margin, starts)`` in samples. Blocks are a
        clip long and start on the frame grid; each keeps its frames but ``margin`` at either inner edge,
        where the convolutions and the recurrent layer see less context."""
        block = max(self.frame_samples, self.clip_samples // self.frame_samples * self.frame_samples)
        margin = (block // 8) // self.frame_samples * self.frame_samples
        step = block - 2 * margin
        starts = [0]
        while starts[-1] + block < n_samples:
            starts.append(starts[-1] + step)
        return block, margin, starts

    def frame_scores(self, y: np.ndarray, batch_size: int = EVENT_BATCH_SIZE) -> np.ndarray:
        """Scores ``(frames, n_classes)`` of a mono waveform at ``self.sr``, one frame per ``frame_seconds``."""
        return self.stream_scores([np.asarray(y, dtype=np.float32)], batch_size)

    @torch.no_grad()
    def stream_scores(self, chunks, batch_size: int = EVENT_BATCH_SIZE) -> np.ndarray:
        """``frame_scores`` of a recording given as consecutive mono chunks at ``self.sr`` (e.g.
        ``tympan.audio.stream``'s blocks): only a block and a batch of windows are held at once, so hours
        cost the memory of their frame scores alone, and the frames equal those of the whole waveform."""
        block, margin, _ = self.blocks(0)
        step, keep, per_block = block - 2 * margin, margin // self.frame_samples, block // self.frame_samples
        buffer, start, number, pending, parts = np.zeros(0, dtype=np.float32), 0, 0, [], []
        was_training = self.training
        self.eval()
        try:
            for chunk in chunks:
                buffer = np.concatenate([buffer, np.asarray(chunk, dtype=np.float32)])
                while len(buffer) > block:  # more follows this window: it is not the last one
                    pending.append((number, buffer[:block].copy(), keep if number else 0, per_block - keep))
                    buffer, start, number = buffer[step:], start + step, number + 1
                    if len(pending) == batch_size:
                        parts += self._score_windows(pending)
                        pending = []
            n_frames = max(1, math.ceil((start + len(buffer)) / self.frame_samples))
            last = np.zeros(block, dtype=np.float32)
            last[:len(buffer)] = buffer
            pending.append((number, last, keep if number else 0, per_block))
            parts += self._score_windows(pending)
        finally:
            self.train(was_training)
        return np.concatenate(parts)[:n_frames]

    def _score_windows(self, pending) -> list[np.ndarray]:
        """The kept frames of each ``(number, window, first, last)``, in one forward pass."""
        device = next(self.parameters()).device
        windows = torch.from_numpy(np.stack([w for _, w, _, _ in pending])).to(device)
        scores = self.scores(self(windows)).float().cpu().numpy()
        return [scores[i, first:last] for i, (_, _, first, last) in enumerate(pending)]

    def events(self, y: np.ndarray, post: PostProcess | None = None) -> list[Event]:
        """The events of a mono waveform at ``self.sr``, with the model's post-processing (or ``post``)."""
        return decode(self.frame_scores(y), self.frame_seconds, self.classes, post or self.postprocess)

    @torch.no_grad()
    def predict_waveforms(self, waveforms, batch_size: int = EVENT_BATCH_SIZE) -> torch.Tensor:
        """Clip-level scores ``(n, n_classes)``: each class's highest frame score in each recording."""
        return torch.stack([torch.from_numpy(self.frame_scores(y, batch_size).max(axis=0)) for y in waveforms])
