"""Mel-frequency cepstral coefficients: the DCT of the log-mel spectrogram, as ``librosa.feature.mfcc``."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .filters import dct_matrix
from .logmel import LogMel
from .normalize import _check_per_recording, _statistics_frames, normalize_per_recording, recorded_frames
from .spectral import _as_waveform, _OnMel


class MFCC(_OnMel):
    """Mel-frequency cepstral coefficients, as ``librosa.feature.mfcc`` (DCT-II, orthonormal).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Coefficients kept (librosa's default 20).
    lifter : float
        Cepstral liftering ``1 + (lifter / 2) sin(pi (k + 1) / lifter)``; 0 for none.
    per_recording : {None, "mean", "mean_std"}
        As ``LogMel``, per coefficient; the frames the statistics use are found on the log-mel.
    **logmel
        Everything ``LogMel`` takes (``n_fft``, ``hop_length``, ``n_mels``, ``top_db``...), with its defaults.
        Note ``norm`` is the mel filters' normalisation, as in every Tympan front-end; the DCT is always
        librosa's default (type II, orthonormal), whereas ``librosa.feature.mfcc(norm=...)`` sets the DCT's.

    Examples
    --------
    >>> import torch
    >>> MFCC(sr=8000, n_fft=512, n_mels=40, n_mfcc=13)(torch.randn(8000)).shape
    torch.Size([13, 63])
    """

    def __init__(self, sr: int = 22050, n_mfcc: int = 20, lifter: float = 0.0, per_recording: str | None = None,
                 **logmel):
        super().__init__()
        _check_per_recording(per_recording)
        self.per_recording = per_recording  # here, not in the LogMel: CMVN of the coefficients, not of the bands
        self.logmel = LogMel(sr=sr, **logmel)
        n_mels = self.logmel.n_mels
        if not 0 < n_mfcc <= n_mels:
            raise ConfigError(f"n_mfcc must be between 1 and n_mels={n_mels}, got {n_mfcc}")
        if lifter < 0:
            raise ConfigError(f"lifter must be non-negative, got {lifter}")
        basis = dct_matrix(n_mfcc, n_mels)
        if lifter > 0:
            basis *= (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / lifter))[:, None]
        self.n_mfcc, self.lifter = int(n_mfcc), float(lifter)
        self.register_buffer("dct", torch.as_tensor(basis, dtype=torch.float32), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mfcc, frames)``."""
        if self.per_recording is None:
            S_db = self.logmel.decibels(y)
            return torch.matmul(self.dct.to(S_db.dtype), S_db)
        y = _as_waveform(y)
        recorded = recorded_frames(y, self.logmel.mel.spectrogram, self.n_frames(y.shape[-1]))
        S_db = self.logmel.decibels(y, recorded)
        C = torch.matmul(self.dct.to(S_db.dtype), S_db)
        return normalize_per_recording(C, self.per_recording, _statistics_frames(S_db, recorded))

    def extra_repr(self) -> str:
        return f"n_mfcc={self.n_mfcc}, lifter={self.lifter}, per_recording={self.per_recording!r}"
