"""The log-mel spectrogram: mel power in decibels, as ``librosa.power_to_db(librosa.feature.melspectrogram(...))``,
optionally normalised per recording."""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from .normalize import _check_per_recording, _statistics_frames, normalize_per_recording, recorded_frames
from .spectral import MelSpectrogram, _as_waveform, _OnMel


def power_to_db(S: torch.Tensor, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0,
                dims: int = 2, frames: torch.Tensor | None = None) -> torch.Tensor:
    """``10 log10(S / ref)`` floored at ``amin`` and at ``top_db`` below each example's peak.

    As ``librosa.power_to_db``; the peak is taken per example over its last ``dims`` axes, so an
    example's dB values do not depend on what else is in the batch. ``frames``, a boolean mask
    broadcastable to ``S``, limits the peak to the frames where it is true.
    """
    if amin <= 0:
        raise ConfigError(f"amin must be positive, got {amin}")
    db = 10.0 * torch.log10(torch.clamp(S, min=amin)) - 10.0 * math.log10(max(amin, ref))
    if top_db is not None:
        if top_db < 0:
            raise ConfigError(f"top_db must be non-negative, got {top_db}")
        candidates = db if frames is None else db.masked_fill(~frames, -math.inf)
        peak = candidates.amax(dim=tuple(range(-dims, 0)), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


class LogMel(_OnMel):
    """Log-mel spectrogram in dB, as ``librosa.power_to_db(librosa.feature.melspectrogram(...))``.

    Parameters
    ----------
    sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels, fmin, fmax, htk, norm
        As ``MelSpectrogram`` (always mel power).
    ref : float
        Reference power for 0 dB.
    amin : float
        Floor on the power before the logarithm.
    top_db : float or None
        Floor each example at ``top_db`` dB below its own peak (librosa's 80); ``None`` for no floor.
    per_recording : {None, "mean", "mean_std"}
        Normalise each recording per mel band over time: subtract its mean (cepstral mean normalisation,
        which removes a fixed microphone or room response), or also divide by its std (floored at
        ``STD_FLOOR``). The statistics use the recording's own frames: not those after its last non-zero
        sample (padding) nor digital silence (every band at the floor), which are set to 0. The peak for
        ``top_db`` is then also taken over the recording's own frames, so padding changes nothing.

    Examples
    --------
    >>> import torch
    >>> LogMel(sr=8000, n_fft=512, n_mels=40)(torch.randn(2, 8000)).shape
    torch.Size([2, 40, 63])
    >>> X = LogMel(sr=8000, n_fft=512, n_mels=40, per_recording="mean_std")(torch.randn(8000))
    >>> round(float(X.mean(-1).abs().max()), 4), round(float(X.square().mean(-1).min()), 4)
    (0.0, 1.0)
    """

    def __init__(self, sr: int = 22050, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window: str = "hann", center: bool = True,
                 pad_mode: str = "constant", n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                 htk: bool = False, norm: str | None = "slaney", ref: float = 1.0, amin: float = 1e-10,
                 top_db: float | None = 80.0, per_recording: str | None = None):
        super().__init__()
        self.mel = MelSpectrogram(sr, n_fft, hop_length, win_length, window, center, pad_mode, 2.0,
                                  n_mels, fmin, fmax, htk, norm)
        self.ref, self.amin, self.top_db = float(ref), float(amin), top_db
        power_to_db(torch.ones(1, 1), ref, amin, top_db)  # validate the options now, not at the first batch
        _check_per_recording(per_recording)
        self.per_recording = per_recording

    def decibels(self, y: torch.Tensor, recorded: torch.Tensor | None = None) -> torch.Tensor:
        """The log-mel spectrogram without per-recording normalisation; ``recorded`` (as ``recorded_frames``)
        limits the ``top_db`` peak to those frames."""
        return power_to_db(self.mel(y), self.ref, self.amin, self.top_db, frames=recorded)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mels, frames)`` in dB (normalised when ``per_recording``)."""
        if self.per_recording is None:
            return self.decibels(y)
        y = _as_waveform(y)
        recorded = recorded_frames(y, self.mel.spectrogram, self.n_frames(y.shape[-1]))
        S_db = self.decibels(y, recorded)
        return normalize_per_recording(S_db, self.per_recording, _statistics_frames(S_db, recorded))

    def extra_repr(self) -> str:
        return f"ref={self.ref}, amin={self.amin}, top_db={self.top_db}, per_recording={self.per_recording!r}"
