"""Front-ends as torch layers: waveform in, time-frequency representation out.

``Spectrogram`` -> ``MelSpectrogram`` -> ``LogMel`` -> ``MFCC``, each the one before plus one step, so a
model can start with any of them and a saved model takes a waveform (kapre's lesson: no train/serve skew).
Parameter names, defaults and output layout follow librosa, and so do the numbers: tests compare each
layer with ``librosa.stft`` / ``feature.melspectrogram`` / ``power_to_db`` / ``feature.mfcc``.

For robustness to new microphones, rooms and speakers: ``PCEN`` (per-channel energy normalisation, as
``librosa.pcen``) is a front-end of its own, and ``LogMel``, ``MFCC`` and ``PCEN`` take
``per_recording="mean"`` (cepstral mean normalisation) or ``"mean_std"`` (and variance), statistics per bin
over each recording's own frames, so zero padding does not change them.

A ``(batch, samples)`` input gives ``(batch, bins, frames)``; a 1-D input gives ``(bins, frames)``.
Zero-padding a clip at its end does not change its first ``n_frames(len(clip))`` frames
(``center=True`` pads with zeros anyway), which is how clips of different lengths share one batch.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal
import torch
from torch import nn

from .errors import ConfigError

# ---------------------------------------------------------------------------------------------
# Mel scale and filter bank, as librosa.filters.mel (Slaney's auditory toolbox by default, HTK optional)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Per-recording normalisation: cepstral mean (and variance) normalisation over a recording's own frames
# ---------------------------------------------------------------------------------------------

PER_RECORDING = ("mean", "mean_std")
# The smallest standard deviation divided by, in the feature's units (dB for log-mel). A bin that sits at
# the floor in every frame has a std of float rounding (~1e-5 dB); dividing by that would turn rounding
# into unit-size noise, while 0.01 dB is far below anything audible, so such a bin stays near 0.
STD_FLOOR = 1e-2


def _check_per_recording(per_recording) -> None:
    if per_recording is not None and per_recording not in PER_RECORDING:
        raise ConfigError(f"per_recording={per_recording!r}: choose None, 'mean' or 'mean_std'")


def recorded_frames(y: torch.Tensor, spectrogram: "Spectrogram", n_frames: int) -> torch.Tensor:
    """Which of ``n_frames`` frames a waveform gives before its trailing zeros, ``(..., 1, n_frames)`` bool.

    True for frame ``t < spectrogram.n_frames(k)``, ``k`` one past the last non-zero sample: exactly the
    frames the recording gives alone, however many zeros pad it (frames after them see its tail too).
    """
    nonzero = y != 0
    from_end = torch.argmax(nonzero.flip(-1).to(torch.uint8), dim=-1)  # first non-zero from the end
    length = (y.shape[-1] - from_end) * nonzero.any(-1).to(from_end.dtype)  # 0 for all zeros
    if spectrogram.center:
        own = 1 + length // spectrogram.hop_length
    else:
        own = 1 + torch.clamp(length - spectrogram.n_fft, min=0) // spectrogram.hop_length
    t = torch.arange(n_frames, device=y.device)
    return (t < own[..., None])[..., None, :]


def silent_frames(S: torch.Tensor) -> torch.Tensor:
    """Frames where every bin equals the example's minimum, ``(..., 1, frames)`` bool.

    Digital silence (zero padding included) gives exactly the floor in every bin: ``amin`` or ``top_db``
    below the peak in dB, 0 in a (mel) spectrogram or in PCEN.

    Examples
    --------
    >>> silent_frames(torch.tensor([[-80.0, -3.0, -80.0], [-80.0, -80.0, -80.0]])).tolist()  # (bins, frames)
    [[True, False, True]]
    """
    return (S == S.amin(dim=(-2, -1), keepdim=True)).all(dim=-2, keepdim=True)


def _statistics_frames(S: torch.Tensor, recorded: torch.Tensor) -> torch.Tensor:
    """The recorded frames that are not silent; all recorded frames of an example that is silent throughout."""
    frames = recorded & ~silent_frames(S)
    return frames | (recorded & ~frames.any(dim=-1, keepdim=True))


def normalize_per_recording(X: torch.Tensor, per_recording: str, frames: torch.Tensor) -> torch.Tensor:
    """Subtract each bin's mean over an example's ``frames`` (``"mean"``), and divide by its standard
    deviation (``"mean_std"``, floored at ``STD_FLOOR``); frames outside ``frames`` become 0.

    Parameters
    ----------
    X : torch.Tensor
        ``(..., bins, frames)`` features.
    per_recording : {"mean", "mean_std"}
        Cepstral mean normalisation, or mean and variance normalisation (population std).
    frames : torch.Tensor
        ``(..., 1, frames)`` bool, the frames the statistics come from.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 3.0, -80.0]])
    >>> normalize_per_recording(X, "mean_std", torch.tensor([[True, True, False]])).tolist()
    [[-1.0, 1.0, 0.0]]
    """
    count = frames.sum(dim=-1, keepdim=True).to(X.dtype)
    mean = X.masked_fill(~frames, 0.0).sum(dim=-1, keepdim=True) / count
    # Masked frames (padding, digital silence) carry no information, and 0 is the normalised mean: they
    # read as "nothing here" to the network and as no change to a later dataset normalisation.
    centred = (X - mean).masked_fill(~frames, 0.0)
    if per_recording == "mean":
        return centred
    variance = centred.square().sum(dim=-1, keepdim=True) / count
    return centred / torch.sqrt(torch.clamp(variance, min=STD_FLOOR ** 2))  # clamp first: finite gradients


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------


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


def transform_clips(layer: nn.Module, clips, batch_size: int = 128) -> list[torch.Tensor]:
    """Apply a front-end to clips of different lengths in padded batches; one exact result per clip.

    Clips are sorted by length so each batch pads little, run through ``layer`` together, and each
    result is cut back to the clip's own ``layer.n_frames(len(clip))`` frames, which zero-padding
    leaves unchanged (with ``center=True``, ``pad_mode="constant"``; a ``top_db`` floor is per example and
    padding only adds frames at the floor).

    Parameters
    ----------
    layer : nn.Module
        A Tympan front-end (``Spectrogram``, ``MelSpectrogram``, ``LogMel``, ``MFCC``, ``PCEN``).
    clips : sequence of np.ndarray or torch.Tensor
        Mono waveforms.
    batch_size : int
        Clips per batch.

    Returns
    -------
    list of torch.Tensor
        ``(bins, frames)`` per clip, in the input order.

    Examples
    --------
    >>> import numpy as np
    >>> out = transform_clips(LogMel(sr=8000, n_fft=256, n_mels=32), [np.zeros(800), np.ones(1600)])
    >>> [tuple(x.shape) for x in out]
    [(32, 13), (32, 26)]
    """
    clips = [torch.as_tensor(np.asarray(c, dtype=np.float32)) if not torch.is_tensor(c) else c for c in clips]
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]))
    results: list[torch.Tensor | None] = [None] * len(clips)
    for first in range(0, len(order), batch_size):
        chunk = order[first:first + batch_size]
        longest = len(clips[chunk[-1]])
        batch = torch.zeros(len(chunk), longest, dtype=clips[chunk[0]].dtype, device=clips[chunk[0]].device)
        for row, i in enumerate(chunk):
            batch[row, :len(clips[i])] = clips[i]
        out = layer(batch)
        for row, i in enumerate(chunk):
            results[i] = out[row, :, :layer.n_frames(len(clips[i]))]
    return results


class Waveform(nn.Module):
    """The waveform itself, for networks that learn their own front-end (``cnn1d``): ``(batch, samples)``."""

    def __init__(self, sr: int = 16000):
        super().__init__()
        self.sr, self.hop_length = int(sr), 1

    def n_frames(self, n_samples: int) -> int:
        return n_samples

    @_batched
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y


# The representations a model can start from, by the name a spec gives them. ``stft`` is the magnitude
# (``power=1``), as in the lecture notes; ``mel`` is mel power, ``logmel`` its dB, ``mfcc`` its cepstrum,
# ``pcen`` mel magnitudes with per-channel energy normalisation in place of the logarithm.
FRONTENDS = {"waveform": Waveform, "stft": Spectrogram, "mel": MelSpectrogram, "logmel": LogMel, "mfcc": MFCC,
             "pcen": PCEN}
DEFAULT_FRONTEND = {"kind": "logmel", "sr": 16000, "n_fft": 512, "hop_length": 160, "n_mels": 64}


def _defaults(cls) -> dict:
    import inspect

    params = inspect.signature(cls).parameters
    found = {name: p.default for name, p in params.items()
             if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty}
    if cls is MFCC:  # its **logmel are LogMel's
        found.update({k: v for k, v in _defaults(LogMel).items() if k != "sr"})
    return found


def build_frontend(config: dict | None = None) -> tuple[nn.Module, dict]:
    """A front-end layer from its configuration, and the configuration with every default filled in.

    Parameters
    ----------
    config : dict or None
        ``{"kind": "waveform" | "stft" | "mel" | "logmel" | "mfcc" | "pcen", "sr": ..., **layer parameters}``;
        ``None`` is ``DEFAULT_FRONTEND`` (log-mel at 16 kHz, 32 ms windows, 10 ms hops, 64 bands).
        ``sr`` is the sample rate the model takes, recorded with every front-end.

    Returns
    -------
    layer : nn.Module
        With ``.sr`` and ``.n_frames(n_samples)``.
    resolved : dict
        Enough to rebuild the same layer, as stored in a model file.

    Examples
    --------
    >>> layer, resolved = build_frontend({"kind": "mfcc", "sr": 8000, "n_fft": 256, "n_mfcc": 13})
    >>> resolved["n_mels"], layer(torch.zeros(8000)).shape
    (128, torch.Size([13, 126]))
    """
    config = dict(DEFAULT_FRONTEND if config is None else config)
    kind = config.pop("kind", DEFAULT_FRONTEND["kind"])
    if kind not in FRONTENDS:
        raise ConfigError(f"frontend kind={kind!r}: choose one of {', '.join(FRONTENDS)}")
    cls = FRONTENDS[kind]
    accepted = _defaults(cls)
    if cls is Spectrogram:
        accepted = {**accepted, "sr": DEFAULT_FRONTEND["sr"], "power": 1.0}
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ConfigError(f"frontend {kind}: unknown option(s) {', '.join(unknown)}; "
                          f"it takes {', '.join(sorted(accepted))}")
    resolved = {**accepted, **config}
    if int(resolved["sr"]) <= 0:
        raise ConfigError(f"frontend sr={resolved['sr']}: the sample rate must be a positive number of Hz")
    params = dict(resolved)
    if cls is Spectrogram:
        sr = params.pop("sr")
        layer = Spectrogram(**params)
        layer.sr = int(sr)
    else:
        layer = cls(**params)
    return layer, {"kind": kind, **resolved}
