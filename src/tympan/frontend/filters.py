"""The fixed matrices the front-end layers multiply by, in float64 NumPy: mel scale and triangular mel filters
as ``librosa.filters.mel`` (Slaney's auditory toolbox by default, HTK optional), and the DCT-II basis of
``scipy.fft.dct(norm="ortho")`` for cepstra."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError


_F_SP = 200.0 / 3  # Slaney: linear below 1 kHz, 66.67 Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(frequencies, htk: bool = False) -> np.ndarray:
    """Hz to mels (Slaney's scale, or HTK's ``2595 log10(1 + f/700)``), as ``librosa.hz_to_mel``."""
    f = np.asanyarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    log_part = f >= _MIN_LOG_HZ
    return np.where(log_part, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels, htk: bool = False) -> np.ndarray:
    """Mels to Hz, the inverse of ``hz_to_mel``."""
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_frequencies(n_mels: int = 128, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """Centre frequencies in Hz of ``n_mels`` bands evenly spaced in mels between ``fmin`` and ``fmax``."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels), htk)


def mel_filterbank(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, 1 + n_fft // 2)``, as ``librosa.filters.mel``.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT size.
    n_mels : int
        Number of bands.
    fmin, fmax : float
        Lowest and highest frequency in Hz; ``fmax=None`` means ``sr / 2``.
    htk : bool
        HTK's mel formula instead of Slaney's.
    norm : {"slaney", None}
        ``"slaney"`` divides each triangle by its width in Hz (constant energy per band).

    Returns
    -------
    np.ndarray
        float64 weights.

    Examples
    --------
    >>> mel_filterbank(22050, 2048).shape
    (128, 1025)
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not 0 <= fmin < fmax <= sr / 2.0 + 1e-9:
        raise ConfigError(f"mel band edges need 0 <= fmin < fmax <= sr/2; got fmin={fmin}, fmax={fmax}, sr={sr}")
    if norm not in ("slaney", None):
        raise ConfigError(f"norm={norm!r}: choose 'slaney' or None")
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(n_mfcc, n_mels)``: ``scipy.fft.dct(x, type=2, norm='ortho')``."""
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)[:, None]
    basis = np.cos(np.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis
