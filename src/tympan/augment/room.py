"""Recorded somewhere else: another place's background noise, another microphone (``equalize``) and another
room (``reverb``, with Polack's synthetic room impulse responses)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .base import Augmentation, _fit, _uniform, register


@register("background")
class Background(Augmentation):
    """Mix in a random stretch of a background recording (``recordings``: arrays at the batch's rate, e.g.
    Speech Commands' ``_background_noise_``) at a random SNR in ``snr_db``."""

    def __init__(self, p: float = 0.5, snr_db=(5.0, 20.0), recordings=()):
        super().__init__(p)
        self.snr_db = tuple(map(float, snr_db))
        self.recordings = [torch.as_tensor(np.asarray(r, dtype=np.float32)) for r in recordings]
        if not self.recordings:
            raise ConfigError("augmentation background: no background recordings given")

    def __call__(self, y, sr, g):
        out = y.clone()
        n = y.shape[1]
        snr = _uniform(g, *self.snr_db, len(y))
        for i in torch.nonzero(self.chosen(g, len(y))).flatten().tolist():
            r = self.recordings[int(torch.randint(len(self.recordings), (1,), generator=g))]
            start = int(torch.randint(max(1, len(r) - n + 1), (1,), generator=g))
            piece = _fit(r[start:start + n], n).to(y.dtype)
            scale = torch.sqrt(y[i].square().mean().clamp(min=1e-10) /
                               (piece.square().mean().clamp(min=1e-10) * 10 ** (float(snr[i]) / 10)))
            out[i] = y[i] + scale * piece
        return out


def _range(name: str, option: str, value, least: float = -math.inf) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of floats with ``least <= low <= high``: YAML gives a list, and a
    reversed or out-of-bounds range is a typo better reported now than as NaNs mid-epoch."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"augmentation {name}: {option}={value!r} must be a range [low, high] of two "
                          f"numbers") from None
    if not least <= low <= high:
        bounds = "low <= high" if least == -math.inf else f"{least:g} <= low <= high"
        raise ConfigError(f"augmentation {name}: {option}={value!r} must have {bounds}")
    return low, high


def _keep_rms(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``z`` scaled, row by row, to the RMS of ``y``: loudness stays ``gain``'s business."""
    before, after = y.square().mean(1, keepdim=True), z.square().mean(1, keepdim=True)
    scale = torch.where(after > 0, torch.sqrt(before / after), torch.zeros_like(after))
    return z * scale


@register("equalize")
class Equalize(Augmentation):
    """Another microphone: a smooth random colouring over frequency, and sometimes a band limit.

    Each chosen example gets gains drawn uniformly in ``db`` at ``n_points`` frequencies log-spaced from
    ``fmin`` to ``sr / 2``, joined by straight lines over log-frequency (flat below ``fmin``). With probability
    ``band_limit_p`` it is also band-limited, as by a cheap microphone or a telephone line (300-3,400 Hz), with
    second-order Butterworth magnitudes: -3 dB at a low cut drawn in ``low_hz`` and a high cut drawn in
    ``high_hz``, 12 dB per octave beyond them, so the edges roll off as real ones do. The filter is zero-phase
    (each spectrum times the gains), and every example keeps its RMS. Changes the timbre.

    Parameters
    ----------
    p : float
        Probability that an example is equalised.
    db : (float, float)
        Range of the gains at the control points, in dB.
    n_points : int >= 2
        Control points of the gain curve: more make it bumpier.
    band_limit_p : float
        Probability that an equalised example is also band-limited.
    low_hz, high_hz : (float, float)
        Ranges of the low and the high cut, in Hz like every frequency here. A high cut near or above
        ``sr / 2`` changes little; at 44.1 kHz, the default keeps a band-limited example under 8 kHz.
    fmin : float
        The lowest control point, in Hz.

    Examples
    --------
    >>> y = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    >>> z = Equalize(p=1.0)(y, 16000, torch.Generator().manual_seed(0))
    >>> z.shape, torch.allclose(z.square().mean(1), y.square().mean(1))
    (torch.Size([2, 16000]), True)
    """

    changes = ("timbre",)

    def __init__(self, p: float = 0.5, db=(-10.0, 10.0), n_points: int = 6, band_limit_p: float = 0.3,
                 low_hz=(50.0, 400.0), high_hz=(3400.0, 8000.0), fmin: float = 50.0):
        super().__init__(p)
        self.db = _range(self.kind, "db", db)
        if int(n_points) != n_points or n_points < 2:
            raise ConfigError(f"augmentation equalize: n_points={n_points!r} must be a whole number, at least 2")
        self.n_points = int(n_points)
        if not 0 <= band_limit_p <= 1:
            raise ConfigError(f"augmentation equalize: band_limit_p={band_limit_p} must be a probability in [0, 1]")
        self.band_limit_p = float(band_limit_p)
        self.low_hz = _range(self.kind, "low_hz", low_hz, least=0.0)
        self.high_hz = _range(self.kind, "high_hz", high_hz, least=1.0)
        if not fmin > 0:
            raise ConfigError(f"augmentation equalize: fmin={fmin} must be a frequency above 0 Hz")
        self.fmin = float(fmin)

    def __call__(self, y, sr, g):
        n, samples = y.shape
        # every draw for every example, chosen or not, so one example's colour does not depend on the others'
        db = _uniform(g, *self.db, n * self.n_points).reshape(n, self.n_points)
        limited = torch.rand(n, generator=g) < self.band_limit_p
        low, high = _uniform(g, *self.low_hz, n), _uniform(g, *self.high_hz, n)
        rows = torch.nonzero(self.chosen(g, n)).flatten()
        out = y.clone()
        if not len(rows):
            return out
        f = torch.fft.rfftfreq(samples, 1 / sr, dtype=torch.float64)
        # each bin's place among the control points, which are evenly spaced in log-frequency
        place = (torch.log(f.clamp(min=self.fmin) / self.fmin) / math.log(sr / 2 / self.fmin) * (self.n_points - 1))
        place = place.clamp(0, self.n_points - 1)
        left = place.floor().long().clamp(max=self.n_points - 2)
        right = place - left
        curve_db = db[rows][:, left] * (1 - right) + db[rows][:, left + 1] * right
        # Butterworth magnitudes squared, 1 / (1 + (f / cut)^4) and its mirror for the low cut, in dB
        ratio_low = low[rows, None] / f.clamp(min=1e-3)  # the low cut takes DC to (nearly) nothing
        ratio_high = f / high[rows, None]
        band_db = -10 * (torch.log10(1 + ratio_low ** 4) + torch.log10(1 + ratio_high ** 4))
        curve_db = curve_db + band_db * limited[rows, None]
        spectrum = torch.fft.rfft(y[rows], dim=1) * (10 ** (curve_db / 20)).to(y.dtype)
        out[rows] = _keep_rms(torch.fft.irfft(spectrum, n=samples, dim=1), y[rows])
        return out


def room_impulse_response(rt60, drr_db, pre_delay_seconds, sr: int, length: int, g: torch.Generator,
                          high_rt60_ratio: float = 1.0, crossover_hz: float = 4000.0) -> torch.Tensor:
    """Random room impulse responses ``(rooms, length)`` in float64 from Polack's statistical model.

    The direct sound is a unit impulse at sample 0. After ``pre_delay_seconds`` the reverberant tail begins:
    Gaussian noise under the envelope ``exp(-6.9 t / rt60)``, whose energy falls 60 dB in ``rt60`` seconds.
    Above ``crossover_hz`` (a raised-cosine crossover an octave wide) the tail decays with ``rt60 *
    high_rt60_ratio`` instead, as air and soft walls absorb high frequencies faster. The tail's energy is
    ``drr_db`` below the direct sound's (the direct-to-reverberant ratio). One room per value of ``rt60``,
    ``drr_db`` and ``pre_delay_seconds``.

    Parameters
    ----------
    rt60, drr_db, pre_delay_seconds : sequences of float, one per room
        Reverberation time (s), direct-to-reverberant ratio (dB), delay of the tail after the direct sound (s).
    sr : int
        Sample rate in Hz.
    length : int
        Samples per response: about ``rt60 * sr`` holds the tail down to -60 dB.
    g : torch.Generator
        Source of the noise.
    high_rt60_ratio : float
        Reverberation time above the crossover, as a fraction of ``rt60``.
    crossover_hz : float
        Where the faster high-frequency decay takes over.

    Returns
    -------
    torch.Tensor ``(rooms, length)``

    Examples
    --------
    >>> h = room_impulse_response([0.5], [10.0], [0.005], 16000, 8000, torch.Generator().manual_seed(0))
    >>> h.shape, float(h[0, 0]), round(float(10 * torch.log10(1 / h[0, 1:].square().sum())), 6)
    (torch.Size([1, 8000]), 1.0, 10.0)
    """
    rt60, drr_db, delay = (torch.as_tensor(v, dtype=torch.float64).reshape(-1, 1)
                           for v in (rt60, drr_db, pre_delay_seconds))
    # noise of a power-of-two length, which the FFT splits fast (a length such as 16,161 = 3 x 5,387 is slow),
    # cut after the split: the bands stay stationary noise
    size = 1 << (length - 1).bit_length()
    noise = torch.randn((len(rt60), size), generator=g, dtype=torch.float64)
    f = torch.fft.rfftfreq(size, 1 / sr, dtype=torch.float64)
    # 1 up to half an octave below the crossover, 0 from half an octave above; the high band is the rest, so
    # with equal decays the two add up to the plain noise again
    octaves = (torch.log2(f.clamp(min=1e-3) / crossover_hz) + 0.5).clamp(0, 1)
    low = torch.fft.irfft(torch.fft.rfft(noise) * torch.cos(math.pi / 2 * octaves) ** 2, n=size)
    noise, low = noise[:, :length], low[:, :length]
    high = noise - low
    since = torch.arange(length, dtype=torch.float64) / sr - delay  # time since the tail began
    decay = -3 * math.log(10) * since.clamp(min=0) / rt60  # the amplitude's exponent: 60 dB of energy per rt60
    tail = (low * torch.exp(decay) + high * torch.exp(decay / high_rt60_ratio)) * (since > 0)
    tail = tail * torch.sqrt(10 ** (-drr_db / 10) / tail.square().sum(1, keepdim=True).clamp(min=1e-300))
    tail[:, 0] = 1.0  # the direct sound: the tail starts strictly after it
    return tail


@register("reverb")
class Reverb(Augmentation):
    """Another room: each chosen example convolved with a random synthetic room impulse response.

    The responses follow Polack's statistical model (``room_impulse_response``): the direct sound, then after
    a pre-delay an exponentially decaying Gaussian tail with reverberation time ``rt60``, ``drr_db`` below the
    direct sound, decaying faster above ``crossover_hz``. pyroomacoustics simulates real shoebox rooms (image
    sources and ray tracing), too slowly for every batch; this cheaper model runs per batch. Each response
    lasts the upper end of ``rt60`` plus that of ``pre_delay_seconds`` (by then the tail is 60 dB down), cut
    at the clip's length. The convolution is linear (no wrap-around from the clip's end to its start), the
    result the clip's length, and every example keeps its RMS. Changes the room.

    Parameters
    ----------
    p : float
        Probability that an example is reverberated.
    rt60 : (float, float)
        Range of the reverberation time, in seconds (a living room about 0.4, a hall 2).
    drr_db : (float, float)
        Range of the direct-to-reverberant ratio in dB: higher is drier, the microphone nearer the source.
    pre_delay_seconds : (float, float)
        Range of the gap between the direct sound and the tail.
    high_rt60_ratio : float
        Reverberation time above ``crossover_hz`` as a fraction of ``rt60`` (1: the same at all frequencies).
    crossover_hz : float
        Where the high-frequency decay takes over, in Hz.

    Examples
    --------
    >>> y = torch.zeros(1, 16000)
    >>> y[0, 0] = 1.0  # an impulse: the output is the room's response
    >>> z = Reverb(p=1.0, rt60=(0.5, 0.5))(y, 16000, torch.Generator().manual_seed(0))
    >>> z.shape, int(z[0].abs().argmax())
    (torch.Size([1, 16000]), 0)
    """

    changes = ("room",)

    def __init__(self, p: float = 0.5, rt60=(0.2, 1.0), drr_db=(0.0, 15.0), pre_delay_seconds=(0.001, 0.01),
                 high_rt60_ratio: float = 0.6, crossover_hz: float = 4000.0):
        super().__init__(p)
        self.rt60 = _range(self.kind, "rt60", rt60, least=0.01)
        self.drr_db = _range(self.kind, "drr_db", drr_db)
        self.pre_delay_seconds = _range(self.kind, "pre_delay_seconds", pre_delay_seconds, least=0.0)
        if not 0 < high_rt60_ratio <= 1:
            raise ConfigError(f"augmentation reverb: high_rt60_ratio={high_rt60_ratio} must be in (0, 1]: "
                              f"high frequencies decay as fast as low ones or faster")
        self.high_rt60_ratio = float(high_rt60_ratio)
        if not crossover_hz > 0:
            raise ConfigError(f"augmentation reverb: crossover_hz={crossover_hz} must be a frequency above 0 Hz")
        self.crossover_hz = float(crossover_hz)

    def __call__(self, y, sr, g):
        n, samples = y.shape
        rt60, drr = _uniform(g, *self.rt60, n), _uniform(g, *self.drr_db, n)
        delay = _uniform(g, *self.pre_delay_seconds, n)
        rows = torch.nonzero(self.chosen(g, n)).flatten()
        out = y.clone()
        if not len(rows):
            return out
        # the whole response is drawn (its energy sets the ratio), then cut: samples past the clip's length
        # only reach outputs past it
        length = math.ceil((self.rt60[1] + self.pre_delay_seconds[1]) * sr) + 1
        h = room_impulse_response(rt60[rows], drr[rows], delay[rows], sr, length, g, self.high_rt60_ratio,
                                  self.crossover_hz)[:, :samples].to(y.dtype)
        # zero-padded to a power of two at least as long as the full convolution, so nothing wraps around
        size = 1 << (samples + h.shape[1] - 2).bit_length()
        wet = torch.fft.irfft(torch.fft.rfft(y[rows], size) * torch.fft.rfft(h, size), size)[:, :samples]
        out[rows] = _keep_rms(wet, y[rows])
        return out
