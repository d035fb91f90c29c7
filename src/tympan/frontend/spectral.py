"""The STFT and mel spectrogram layers, as ``librosa.stft`` and ``librosa.feature.melspectrogram``, and what the
layers built on a mel spectrogram share (``_OnMel``).

A layer written for ``(batch, samples)`` takes any ``(..., samples)`` through ``_batched``."""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
from torch import nn

from ..errors import ConfigError
from .filters import mel_filterbank


def _as_waveform(y) -> torch.Tensor:
    return y if torch.is_tensor(y) else torch.as_tensor(np.asarray(y, dtype=np.float32))


def _batched(forward):
    """Let a layer written for ``(batch, samples)`` take ``(samples,)`` or ``(..., samples)``."""

    def wrapper(self, y: torch.Tensor) -> torch.Tensor:
        y = _as_waveform(y)
        if y.ndim == 1:
            return forward(self, y[None])[0]
        lead = y.shape[:-1]
        out = forward(self, y.reshape(-1, y.shape[-1]))
        return out.reshape(*lead, *out.shape[1:])

    wrapper.__doc__ = forward.__doc__
    return wrapper


class Spectrogram(nn.Module):
    """Magnitude (``power=1``) or power (``power=2``) STFT, as ``np.abs(librosa.stft(y, ...)) ** power``.

    Parameters
    ----------
    n_fft : int
        FFT size in samples (librosa's default 2048).
    hop_length : int or None
        Samples between frames; ``None`` means ``win_length // 4``.
    win_length : int or None
        Window length; ``None`` means ``n_fft``. A shorter window is zero-padded to ``n_fft`` at the centre.
    window : str
        Any ``scipy.signal.get_window`` name, periodic as librosa's (``"hann"``, ``"hamming"``, ``"blackman"``...).
    center : bool
        Pad ``n_fft // 2`` samples at both ends so frame ``t`` is centred at ``t * hop_length``.
    pad_mode : str
        Padding when ``center``: ``"constant"`` (zeros, librosa's default) or ``"reflect"``.
    power : float
        1 for magnitude, 2 for power.
    n_bins : int or None
        Keep only the lowest ``n_bins`` frequency bins; ``None`` keeps all ``1 + n_fft // 2``. ``n_fft // 2``
        drops the Nyquist bin ("frequencies below Nyquist"), a round number for networks.

    Examples
    --------
    >>> import torch
    >>> Spectrogram()(torch.zeros(3, 22050)).shape
    torch.Size([3, 1025, 44])
    """

    def __init__(self, n_fft: int = 2048, hop_length: int | None = None, win_length: int | None = None,
                 window: str = "hann", center: bool = True, pad_mode: str = "constant", power: float = 2.0,
                 n_bins: int | None = None):
        super().__init__()
        if n_bins is not None and not 0 < n_bins <= n_fft // 2 + 1:
            raise ConfigError(f"n_bins={n_bins}: choose between 1 and 1 + n_fft // 2 = {n_fft // 2 + 1}")
        self._n_bins = None if n_bins is None else int(n_bins)
        win_length = n_fft if win_length is None else int(win_length)
        hop_length = win_length // 4 if hop_length is None else int(hop_length)
        if n_fft < 2 or not 0 < win_length <= n_fft or hop_length <= 0:
            raise ConfigError(f"need n_fft >= 2, 0 < win_length <= n_fft and hop_length > 0; got "
                              f"n_fft={n_fft}, win_length={win_length}, hop_length={hop_length}")
        if pad_mode not in ("constant", "reflect"):
            raise ConfigError(f"pad_mode={pad_mode!r}: choose 'constant' or 'reflect'")
        if power <= 0:
            raise ConfigError(f"power must be positive, got {power}")
        try:
            w = scipy.signal.get_window(window, win_length, fftbins=True)
        except ValueError as error:
            raise ConfigError(f"window={window!r}: {error}") from None
        left = (n_fft - win_length) // 2
        w = np.pad(w, (left, n_fft - win_length - left))
        self.n_fft, self.hop_length, self.win_length = int(n_fft), hop_length, win_length
        self.window_name, self.center, self.pad_mode, self.power = window, center, pad_mode, float(power)
        self.register_buffer("window", torch.as_tensor(w, dtype=torch.float32), persistent=False)

    @property
    def n_bins(self) -> int:
        """Frequency bins per frame: ``1 + n_fft // 2``, or ``n_bins`` when given."""
        return self.n_fft // 2 + 1 if self._n_bins is None else self._n_bins

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for a clip of ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + max(0, n_samples - self.n_fft) // self.hop_length

    @_batched
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` float waveform -> ``(batch, 1 + n_fft // 2, frames)``."""
        if self.center and self.pad_mode == "reflect" and y.shape[-1] <= self.n_fft // 2:
            raise ConfigError(f"pad_mode='reflect' needs more than n_fft // 2 = {self.n_fft // 2} samples, "
                              f"got {y.shape[-1]}")
        if not self.center and y.shape[-1] < self.n_fft:
            raise ConfigError(f"center=False needs at least n_fft = {self.n_fft} samples, got {y.shape[-1]}")
        X = torch.stft(y, self.n_fft, self.hop_length, window=self.window.to(y.dtype), center=self.center,
                       pad_mode=self.pad_mode, return_complex=True)
        if self._n_bins is not None:
            X = X[:, :self._n_bins]
        magnitude_squared = X.real.square() + X.imag.square()
        if self.power == 2.0:
            return magnitude_squared
        return magnitude_squared.pow(self.power / 2.0)

    def extra_repr(self) -> str:
        return (f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
                f"window={self.window_name!r}, center={self.center}, power={self.power}, n_bins={self.n_bins}")


class MelSpectrogram(nn.Module):
    """Mel-band energies, as ``librosa.feature.melspectrogram``: STFT power through a mel filter bank.

    Parameters
    ----------
    sr : int
        Sample rate in Hz of the waveform the layer takes (librosa's default 22050).
    n_fft, hop_length, win_length, window, center, pad_mode, power
        As ``Spectrogram`` (``power=2``: mel power).
    n_mels : int
        Number of mel bands (librosa's default 128).
    fmin, fmax : float
        Band edges in Hz; ``fmax=None`` is ``sr / 2``.
    htk : bool
        HTK mel formula instead of Slaney's.
    norm : {"slaney", None}
        Filter normalisation.

    Examples
    --------
    >>> import torch
    >>> MelSpectrogram(sr=16000, n_mels=64)(torch.zeros(16000)).shape
    torch.Size([64, 32])
    """

    def __init__(self, sr: int = 22050, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window: str = "hann", center: bool = True,
                 pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None, htk: bool = False, norm: str | None = "slaney"):
        super().__init__()
        self.spectrogram = Spectrogram(n_fft, hop_length, win_length, window, center, pad_mode, power)
        self.sr, self.n_mels, self.fmin, self.htk, self.norm = int(sr), int(n_mels), float(fmin), htk, norm
        self.fmax = sr / 2.0 if fmax is None else float(fmax)
        fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)
        self.register_buffer("mel_basis", torch.as_tensor(fb, dtype=torch.float32), persistent=False)

    @property
    def hop_length(self) -> int:
        return self.spectrogram.hop_length

    def n_frames(self, n_samples: int) -> int:
        return self.spectrogram.n_frames(n_samples)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mels, frames)``."""
        S = self.spectrogram(y)
        return torch.matmul(self.mel_basis.to(S.dtype), S)

    def extra_repr(self) -> str:
        return f"sr={self.sr}, n_mels={self.n_mels}, fmin={self.fmin}, fmax={self.fmax}, htk={self.htk}, norm={self.norm!r}"


class _OnMel(nn.Module):
    """A front-end computed from a mel spectrogram (``self.mel``, or the log-mel's): it takes the waveform
    at the mel's sample rate and gives its frames."""

    @property
    def _mel(self) -> "MelSpectrogram":
        return self.mel if "mel" in self._modules else self.logmel.mel

    @property
    def sr(self) -> int:
        return self._mel.sr

    @property
    def n_mels(self) -> int:
        return self._mel.n_mels

    @property
    def hop_length(self) -> int:
        return self._mel.hop_length

    def n_frames(self, n_samples: int) -> int:
        return self._mel.n_frames(n_samples)
