"""Per-channel energy normalisation of mel magnitudes, as ``librosa.pcen``: automatic gain control and root
compression in place of the logarithm, for robustness to a band's slowly varying level."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .normalize import _check_per_recording, _statistics_frames, normalize_per_recording, recorded_frames
from .spectral import MelSpectrogram, _as_waveform, _OnMel


class PCEN(_OnMel):
    """Per-channel energy normalisation (Wang et al. 2017) of mel magnitudes, as ``librosa.pcen``.

    Each band is divided by a smoothed version of itself raised to ``gain`` (automatic gain control, which
    takes out a band's slowly varying level: microphone, room, distance), then compressed by a root::

        M = smoother(S);  P = (S / (eps + M) ** gain + bias) ** pcen_power - bias ** pcen_power

    where ``S = scale * melspectrogram(power=power)`` and the smoother is ``M[t] = b S[t] + (1 - b) M[t - 1]``,
    started at ``M[-1] = 1`` as librosa's default ``zi``. The numbers are ``librosa.pcen(S, sr=sr,
    hop_length=hop_length, ...)`` with ``max_size=1``.

    Parameters
    ----------
    sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels, fmin, fmax, htk, norm
        As ``MelSpectrogram``.
    power : float
        Mel power: 1 for magnitudes, as librosa's PCEN examples.
    scale : float
        Factor on the mel spectrogram: ``2**31`` brings float audio to the range of 32-bit integers, for
        which PCEN's defaults were tuned (librosa's advice).
    gain, bias, pcen_power, eps : float
        PCEN's ``alpha``, ``delta``, ``r`` and ``epsilon`` (librosa's ``gain``, ``bias``, ``power``, ``eps``).
    time_constant : float
        Of the smoother, in seconds.
    b : float or None
        The smoother's coefficient in [0, 1]; ``None`` derives it from ``time_constant``, ``sr`` and
        ``hop_length`` as librosa does.
    per_recording : {None, "mean", "mean_std"}
        As ``LogMel``; silent frames are exactly 0 in PCEN.

    Examples
    --------
    >>> import torch
    >>> PCEN(sr=8000, n_fft=256, hop_length=80, n_mels=40)(torch.randn(2, 8000)).shape
    torch.Size([2, 40, 101])
    """

    # The smoother runs as a matrix product over this many frames at a time, carrying its state between
    # blocks: no Python loop over frames, and memory bounded by this squared for any length.
    BLOCK_FRAMES = 1024

    def __init__(self, sr: int = 22050, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window: str = "hann", center: bool = True,
                 pad_mode: str = "constant", n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                 htk: bool = False, norm: str | None = "slaney", power: float = 1.0, scale: float = 2.0 ** 31,
                 gain: float = 0.98, bias: float = 2.0, pcen_power: float = 0.5, time_constant: float = 0.4,
                 eps: float = 1e-6, b: float | None = None, per_recording: str | None = None):
        super().__init__()
        self.mel = MelSpectrogram(sr, n_fft, hop_length, win_length, window, center, pad_mode, power,
                                  n_mels, fmin, fmax, htk, norm)
        for name, value in (("scale", scale), ("eps", eps), ("time_constant", time_constant)):
            if not value > 0:
                raise ConfigError(f"PCEN {name}={value}: must be positive")
        for name, value in (("gain", gain), ("bias", bias), ("pcen_power", pcen_power)):
            if not value >= 0:
                raise ConfigError(f"PCEN {name}={value}: must be non-negative")
        if b is None:
            t_frames = time_constant * sr / float(self.hop_length)
            b = (math.sqrt(1 + 4 * t_frames ** 2) - 1) / (2 * t_frames ** 2)  # librosa's choice
        elif not 0 <= b <= 1:
            raise ConfigError(f"PCEN b={b}: choose between 0 and 1, or None to derive it from time_constant")
        _check_per_recording(per_recording)
        self.scale, self.gain, self.bias, self.pcen_power = float(scale), float(gain), float(bias), float(pcen_power)
        self.time_constant, self.eps, self.b = float(time_constant), float(eps), float(b)
        self.per_recording = per_recording
        # M[t] = sum_k b (1 - b)^(t - k) S[k] + (1 - b)^(t + 1) M[-1]: a lower-triangular matrix and a decay,
        # built in float64 (0^0 = 1 keeps b = 1 exact).
        decay = (1.0 - b) ** np.arange(self.BLOCK_FRAMES + 1)
        lag = np.arange(self.BLOCK_FRAMES)[:, None] - np.arange(self.BLOCK_FRAMES)[None, :]
        weights = np.where(lag >= 0, b * decay[np.maximum(lag, 0)], 0.0)
        decay = decay[1:]
        self.register_buffer("smoother", torch.as_tensor(weights.T, dtype=torch.float32), persistent=False)
        self.register_buffer("decay", torch.as_tensor(decay, dtype=torch.float32), persistent=False)

    def smooth(self, S: torch.Tensor) -> torch.Tensor:
        """The smoother ``M`` along the last (time) axis, as ``scipy.signal.lfilter([b], [1, b - 1], S,
        zi=lfilter_zi(...))`` (librosa's ``zi`` is not scaled by the first frame: ``M[-1] = 1``)."""
        weights, decay = self.smoother.to(S.dtype), self.decay.to(S.dtype)
        state = torch.ones_like(S[..., 0])
        blocks = []
        for start in range(0, S.shape[-1], self.BLOCK_FRAMES):
            block = S[..., start:start + self.BLOCK_FRAMES]
            n = block.shape[-1]
            M = torch.matmul(block, weights[:n, :n]) + decay[:n] * state[..., None]
            state = M[..., -1]
            blocks.append(M)
        return torch.cat(blocks, dim=-1)

    def pcen(self, S: torch.Tensor) -> torch.Tensor:
        """PCEN of a spectrogram ``S`` (already scaled), time last: ``librosa.pcen(S, sr=sr, hop_length=...)``."""
        # librosa's log-space forms: stable for the large values of a scaled spectrogram.
        smooth = torch.exp(-self.gain * (math.log(self.eps) + torch.log1p(self.smooth(S) / self.eps)))
        if self.pcen_power == 0:
            return torch.log1p(S * smooth)
        if self.bias == 0:
            return torch.exp(self.pcen_power * (torch.log(S) + torch.log(smooth)))
        return self.bias ** self.pcen_power * torch.expm1(self.pcen_power * torch.log1p(S * smooth / self.bias))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mels, frames)``."""
        y = _as_waveform(y)
        P = self.pcen(self.mel(y) * self.scale)
        if self.per_recording is None:
            return P
        recorded = recorded_frames(y, self.mel.spectrogram, P.shape[-1])
        return normalize_per_recording(P, self.per_recording, _statistics_frames(P, recorded))

    def extra_repr(self) -> str:
        return (f"scale={self.scale}, gain={self.gain}, bias={self.bias}, pcen_power={self.pcen_power}, "
                f"time_constant={self.time_constant}, b={self.b:.6g}, eps={self.eps}, "
                f"per_recording={self.per_recording!r}")
