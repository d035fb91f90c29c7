"""A whole model: waveform in, class scores out. Front-end -> normalisation -> network.

The front-end is part of the model (kapre's lesson), and so are the normalisation statistics computed on
the training data, so what is saved is what is served: there is no feature pipeline to rebuild by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..defaults import BATCH_SIZE
from ..errors import AudioError, ConfigError, unknown_names
from ..frontend import build_frontend
from .models import build_network, network_spec


class Normalize(nn.Module):
    """``(x - mean) / std`` per frequency bin (one value for a waveform), with statistics set from training
    data; mean 0 and std 1 until then. The statistics are buffers, so they are saved with the weights."""

    def __init__(self, n_features: int, spectral: bool):
        super().__init__()
        shape = (n_features, 1) if spectral else (1,)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def set_statistics(self, mean, std) -> None:
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float32)).reshape(self.mean.shape)
        std = torch.as_tensor(np.asarray(std, dtype=np.float32)).reshape(self.std.shape)
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()) or (std <= 0).any():
            raise ConfigError("normalisation statistics must be finite, with every std > 0")
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, x):
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    """Front-end, normalisation and network in one module.

    Parameters
    ----------
    frontend : dict or None
        Front-end configuration (``frontend.build_frontend``); ``None`` for the default log-mel at 16 kHz.
    network : dict, str or NetworkSpec
        Network spec (``models.network_spec``), e.g. ``"cnn"`` or ``{"kind": "gru", "hidden": 64}``.
    classes : list of str
        Class names, in output order.
    clip_seconds : float
        Length of the clips the model is trained on; shorter audio is zero-padded to it.
    multi_label : bool
        Independent sigmoid scores per class (tagging) instead of a softmax over classes.
    seed : int or None
        Seed of the initial weights.

    Examples
    --------
    >>> model = Classifier({"kind": "logmel", "sr": 8000, "n_fft": 256, "n_mels": 32}, "perceptron",
    ...                    classes=["a", "b"], clip_seconds=0.5, seed=0)
    >>> model(torch.zeros(3, 4000)).shape
    torch.Size([3, 2])
    >>> model.predict(np.zeros(2000, dtype=np.float32), sr=4000).shape
    (2,)
    """

    task = "clips"  # one vector of scores per clip; ``detector.EventDetector`` gives one per frame

    def __init__(self, frontend=None, network="cnn", classes=("0", "1"), clip_seconds: float = 1.0,
                 multi_label: bool = False, seed: int | None = None):
        super().__init__()
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes) or not classes:
            raise ConfigError(f"classes must be distinct and non-empty, got {classes}")
        if not (clip_seconds > 0 and math.isfinite(clip_seconds)):
            raise ConfigError(f"clip_seconds={clip_seconds}: must be a positive number of seconds")
        self.frontend, self.frontend_config = build_frontend(frontend)
        self.network_spec = network_spec(network)
        self.classes, self.clip_seconds, self.multi_label = classes, float(clip_seconds), bool(multi_label)
        self.feature_shape = tuple(self.frontend(torch.zeros(self.clip_samples)).shape)
        spectral = len(self.feature_shape) == 2
        self.normalize = Normalize(self.feature_shape[0] if spectral else 1, spectral)
        self.network = build_network(self.network_spec, self.feature_shape, len(classes), seed=seed, task=self.task)

    @property
    def sr(self) -> int:
        """The sample rate, in Hz, of the waveforms the model takes."""
        return int(self.frontend_config["sr"])

    @property
    def clip_samples(self) -> int:
        return max(1, round(self.clip_seconds * self.sr))

    def config(self) -> dict:
        """Everything needed to build the same (untrained) model: what a model file stores besides weights."""
        return {"frontend": dict(self.frontend_config), "network": self.network_spec.to_dict(),
                "classes": list(self.classes), "clip_seconds": self.clip_seconds, "multi_label": self.multi_label,
                "sr": self.sr}

    @classmethod
    def from_config(cls, config: dict) -> "Classifier":
        if config.get("task", "clips") == "events" and cls is Classifier:
            from .detector import EventDetector

            return EventDetector.from_config(config)
        return cls(config["frontend"], config["network"], config["classes"], config["clip_seconds"],
                   config["multi_label"])

    @classmethod
    def from_spec(cls, spec: dict, n_classes: int = 10, seed: int | None = None) -> "Classifier":
        """A model from a spec document: ``frontend``, ``network``, and ``classes`` (names) or ``n_classes``,
        ``clip_seconds``, ``multi_label``; ``name`` and ``description`` are labels. Missing entries take the
        defaults (log-mel at 16 kHz, the CNN, ``n_classes`` classes, 1-second clips)."""
        known = {"name", "description", "frontend", "network", "classes", "n_classes", "clip_seconds",
                 "multi_label"}
        unknown = unknown_names(spec, known)
        if unknown:
            raise ConfigError(f"spec: unknown key(s) {', '.join(unknown)}; a spec takes {', '.join(sorted(known))}")
        n = int(spec.get("n_classes", n_classes))
        classes = spec.get("classes") or [f"class_{i}" for i in range(n)]
        return cls(spec.get("frontend"), spec.get("network", "cnn"), classes, float(spec.get("clip_seconds", 1.0)),
                   bool(spec.get("multi_label", False)), seed=seed)

    def features(self, y: torch.Tensor) -> torch.Tensor:
        """Normalised front-end output for a ``(batch, samples)`` waveform: what the network sees."""
        return self.normalize(self.frontend(y))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` waveform at ``sr`` -> ``(batch, n_classes)`` logits."""
        return self.network(self.features(y))

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> probabilities: softmax over classes, or a sigmoid per class for multi-label models."""
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)

    def windows(self, y: torch.Tensor) -> torch.Tensor:
        """A mono waveform as ``(windows, clip_samples)``: padded with zeros when shorter than a clip, cut
        into clips overlapping by half when longer (the last one ending at the end)."""
        n = self.clip_samples
        if len(y) <= n:
            return nn.functional.pad(y, (0, n - len(y)))[None]
        return torch.stack([y[s:s + n] for s in self._window_starts(len(y))])

    def _window_starts(self, length: int) -> list[int]:
        n = self.clip_samples
        if length <= n:
            return [0]
        starts = list(range(0, length - n + 1, max(1, n // 2)))
        if starts[-1] != length - n:
            starts.append(length - n)
        return starts

    def _window_batches(self, waveforms, batch_size: int):
        """Batches of ``batch_size`` windows of all ``waveforms`` in order (the last may be smaller). Only
        a batch's windows are held, so a ten-hour recording (a memory map of the decode cache) costs a
        batch of memory, not ten hours of it twice over."""
        n = self.clip_samples
        pending, n_pending = [], 0
        for y in waveforms:
            starts = self._window_starts(len(y))
            for k in range(0, len(starts), batch_size):
                group = starts[k:k + batch_size]
                # a copy of these samples only: cached audio is a read-only memory map, which torch will not wrap
                piece = torch.from_numpy(np.array(y[group[0]:group[-1] + n], dtype=np.float32))
                pending.append(self.windows(piece) if len(y) <= n else
                               torch.stack([piece[s - group[0]:s - group[0] + n] for s in group]))
                n_pending += len(group)
                while n_pending >= batch_size:
                    clips = torch.cat(pending) if len(pending) > 1 else pending[0]
                    yield clips[:batch_size]
                    pending = [clips[batch_size:]]
                    n_pending -= batch_size
        if n_pending:
            yield torch.cat(pending)

    @torch.no_grad()
    def predict(self, audio, sr: int | None = None, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Class probabilities for one recording: a path, or a waveform with its sample rate.

        Parameters
        ----------
        audio : str, Path or array
            A file any ``tympan.load`` reads, or samples: 1-D mono, or ``(channels, samples)`` (mixed to mono).
        sr : int or None
            The waveform's sample rate (required for arrays); it is resampled to ``self.sr``.
        batch_size : int
            Windows per forward pass for long recordings.

        Returns
        -------
        np.ndarray
            ``(n_classes,)`` probabilities, in ``self.classes`` order. A recording longer than
            ``clip_seconds`` is scored in clip-long windows overlapping by half, and their scores averaged.

        Raises
        ------
        AudioError
            If the file cannot be decoded, or the samples are empty, of another shape, or not finite.
        ConfigError
            If ``sr`` is missing (for an array) or not a positive number.
        """
        from ..audio import load, resample

        if isinstance(audio, (str, Path)):
            y, _ = load(audio, sr=self.sr)
        else:
            if sr is None:
                raise ConfigError(f"predict: pass sr=, the sample rate of the waveform (this model takes "
                                  f"{self.sr} Hz and resamples anything else)")
            if isinstance(sr, bool) or not isinstance(sr, (int, float, np.number)) or not sr > 0:
                raise ConfigError(f"predict: sr={sr!r}: the waveform's sample rate must be a positive number of Hz")
            try:
                y = np.asarray(audio, dtype=np.float32)
            except (TypeError, ValueError) as error:
                raise AudioError(None, f"predict: audio is neither a path nor an array of samples ({error})") from None
            if y.ndim not in (1, 2) or y.size == 0:
                raise AudioError(None, f"predict: the waveform has shape {y.shape}; pass a non-empty 1-D "
                                       "(samples,) or 2-D (channels, samples) array")
            if not np.isfinite(y).all():
                raise AudioError(None, f"predict: the waveform has {int(y.size - np.isfinite(y).sum())} NaN or "
                                       f"infinite samples of {y.size}; replace them (e.g. np.nan_to_num) first")
            if y.ndim == 2:
                y = y.mean(axis=0)
            if int(sr) != self.sr:
                y = resample(y, int(sr), self.sr)
        return self.predict_waveforms([y], batch_size)[0].numpy()

    @torch.no_grad()
    def predict_waveforms(self, waveforms, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Probabilities ``(n, n_classes)`` for mono waveforms already at ``self.sr``, each scored as
        ``predict`` does (padded, or windows averaged); the windows of all of them share batches."""
        values, owner = self.per_window(waveforms, lambda clips: self.scores(self(clips)), batch_size)
        return _mean_per_owner(values, owner, len(waveforms))

    def embed(self, y: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` waveform -> ``(batch, embedding_size)``: what the output layer sees."""
        return self.network.embed(self.features(y))

    def embed_waveforms(self, waveforms, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Embeddings ``(n, embedding_size)`` of mono waveforms at ``self.sr``, the mean over each one's
        windows (as ``predict_waveforms`` averages scores)."""
        values, owner = self.per_window(waveforms, self.embed, batch_size)
        return _mean_per_owner(values, owner, len(waveforms))

    @torch.no_grad()
    def per_window(self, waveforms, output, batch_size: int = BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
        """``output`` (a function of a batch of clips) of every window of every waveform, in shared
        batches, in evaluation mode: ``(values (windows, ...), owner (windows,))``, where ``owner`` is the
        index of the waveform each window comes from."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            counts = [len(self._window_starts(len(y))) for y in waveforms]
            owner = torch.repeat_interleave(torch.arange(len(waveforms)), torch.tensor(counts))
            values, done = None, 0
            # one array for all the outputs, filled batch by batch: small allocations that outlive each batch
            # keep glibc from reusing the batch's large ones, and memory grew by gigabytes over ten hours
            for clips in self._window_batches(waveforms, batch_size):
                batch = output(clips.to(device)).float().cpu()
                if values is None:
                    values = torch.empty((len(owner), *batch.shape[1:]))
                values[done:done + len(batch)] = batch
                done += len(batch)
        finally:
            self.train(was_training)
        return values, owner


def _mean_per_owner(values: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
    total = torch.zeros(n, values.shape[1]).index_add_(0, owner, values)
    return total / torch.bincount(owner, minlength=n)[:, None]
