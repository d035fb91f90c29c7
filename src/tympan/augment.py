"""Data augmentation: new training examples from old ones, for when there are few of them.

Waveform augmentations take a batch ``(batch, samples)`` at sample rate ``sr``; spectrogram ones take the
front-end's output ``(batch, bins, frames)``; ``mixup`` mixes examples and their targets. Every random choice
comes from a ``torch.Generator`` the caller seeds, so a training epoch is the same run after run.
``equalize`` and ``reverb`` play a clip through another microphone and another room, for models that must
work on recordings made elsewhere.

Some augmentations change what a label may depend on: pitch shifting changes the key, time stretching the
tempo (the lecture notes warn about both). Each declares what it ``changes``, and ``build`` refuses one that
changes what a task declares it depends on.

    pipeline = build([{"name": "noise", "p": 0.5, "snr_db": [10, 30]}, {"name": "spec_augment"}],
                     depends_on=["key"])
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .errors import ConfigError

AUGMENTATIONS: dict[str, type] = {}


def register(name: str):
    def add(cls):
        cls.name = name
        AUGMENTATIONS[name] = cls
        return cls
    return add


def _uniform(g: torch.Generator, low: float, high: float, n: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


class Augmentation:
    """Applied to each example with probability ``p``. ``stage`` is ``"waveform"`` or ``"spectrogram"``."""

    stage = "waveform"
    changes: tuple[str, ...] = ()

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ConfigError(f"augmentation {self.name}: p={p} must be a probability in [0, 1]")
        self.p = float(p)

    def chosen(self, g: torch.Generator, n: int) -> torch.Tensor:
        return torch.rand(n, generator=g) < self.p


@register("gain")
class Gain(Augmentation):
    """Louder or quieter by a random number of dB in ``db``."""

    def __init__(self, p: float = 0.5, db=(-6.0, 6.0)):
        super().__init__(p)
        self.db = tuple(map(float, db))

    def __call__(self, y, sr, g):
        gain = 10 ** (_uniform(g, *self.db, len(y)) / 20)
        gain = torch.where(self.chosen(g, len(y)), gain, torch.ones_like(gain))
        return y * gain.to(y.dtype)[:, None]


@register("noise")
class Noise(Augmentation):
    """White noise at a random signal-to-noise ratio in ``snr_db`` (relative to each example's power)."""

    def __init__(self, p: float = 0.5, snr_db=(10.0, 30.0)):
        super().__init__(p)
        self.snr_db = tuple(map(float, snr_db))

    def __call__(self, y, sr, g):
        power = y.square().mean(dim=1, keepdim=True).clamp(min=1e-10)
        snr = _uniform(g, *self.snr_db, len(y)).to(y.dtype)[:, None]
        noise = torch.randn(y.shape, generator=g, dtype=y.dtype) * torch.sqrt(power / 10 ** (snr / 10))
        return y + noise * self.chosen(g, len(y)).to(y.dtype)[:, None]


@register("time_shift")
class TimeShift(Augmentation):
    """Move the sound by up to ``max_seconds`` earlier or later, filling with silence."""

    def __init__(self, p: float = 0.5, max_seconds: float = 0.2):
        super().__init__(p)
        self.max_seconds = float(max_seconds)

    def __call__(self, y, sr, g):
        shifts = (_uniform(g, -self.max_seconds, self.max_seconds, len(y)) * sr).round().long()
        out = y.clone()
        for i in torch.nonzero(self.chosen(g, len(y))).flatten().tolist():
            s = int(shifts[i])
            out[i] = 0
            if s > 0:
                out[i, s:] = y[i, :-s]
            elif s < 0:
                out[i, :s] = y[i, -s:]
            else:
                out[i] = y[i]
        return out


def phase_vocoder(y: torch.Tensor, rates, n_fft: int = 1024) -> list[torch.Tensor]:
    """Time-stretch each waveform of a batch ``(batch, samples)`` by its own rate (>1 faster, shorter),
    keeping its pitch, as ``librosa.effects.time_stretch``: STFT, magnitudes interpolated between frames,
    phases advanced by each bin's measured frequency, inverse STFT. Returns one waveform per row, of
    ``round(samples / rate)`` samples.

    The phase of output frame ``k`` is the first frame's plus the sum of the measured advances before
    ``k``; an advance depends on the input frames only, so the sum is a cumulative sum and the whole batch
    is a few tensor operations instead of a loop over frames and examples.
    """
    y = torch.as_tensor(y)
    rates = torch.as_tensor(rates, dtype=torch.float64).reshape(-1)
    hop = n_fft // 4
    window = torch.hann_window(n_fft, dtype=y.dtype)
    # zero padding at the ends, as librosa: the first frame's phases start the accumulation
    D = torch.stft(y, n_fft, hop, window=window, pad_mode="constant", return_complex=True)  # (batch, bins, frames)
    batch, bins, frames = D.shape
    counts = torch.ceil(frames / rates).long()  # len(arange(0, frames, rate))
    steps = torch.arange(int(counts.max()), dtype=torch.float64)[None] * rates[:, None]  # (batch, steps)
    valid = steps < frames
    D = torch.nn.functional.pad(D, (0, 2))
    left = steps.floor().long().clamp(max=frames - 1)
    frac = (steps - left).to(y.dtype)[:, None]
    index = left[:, None].expand(batch, bins, -1)
    magnitude, angle = D.abs(), torch.angle(D)
    this_angle, next_angle = angle.gather(2, index), angle.gather(2, index + 1)
    mag = (1 - frac) * magnitude.gather(2, index) + frac * magnitude.gather(2, index + 1)
    # each bin's phase advance per hop at its centre frequency (librosa's linspace(0, pi * hop, bins)),
    # less whole turns, so the single-precision sums below stay precise
    expected = (torch.linspace(0, math.pi * hop, bins, dtype=torch.float64) % (2 * math.pi)).to(y.dtype)
    delta = next_angle - this_angle - expected[None, :, None]
    advance = expected[None, :, None] + delta - 2 * math.pi * torch.round(delta / (2 * math.pi))
    before = (torch.cumsum(advance, dim=2, dtype=torch.float64) - advance) % (2 * math.pi)  # advances before each step
    phase = angle[:, :, :1] + before.to(y.dtype)
    stretched = torch.polar(mag * valid[:, None], phase)
    # the inverse STFT by hand (istft's overlap-add), because each row has its own number of frames and
    # so its own window envelope to divide by: torch.istft would count the padding frames in every row's
    frames_time = torch.fft.irfft(stretched, n=n_fft, dim=1) * window[None, :, None]
    size = (1, (stretched.shape[2] - 1) * hop + n_fft)
    added = torch.nn.functional.fold(frames_time, size, (1, n_fft), stride=(1, hop)).reshape(batch, -1)
    squares = (window.square()[None, :, None] * valid[:, None].to(window.dtype)).expand(batch, -1, -1)
    envelope = torch.nn.functional.fold(squares, size, (1, n_fft), stride=(1, hop)).reshape(batch, -1)
    out = (added / torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope)))[:, n_fft // 2:]
    lengths = torch.round(y.shape[-1] / rates).long()
    return [_fit(out[i], int(n)) for i, n in enumerate(lengths)]


def _phase_vocoder(y: torch.Tensor, rate: float, n_fft: int = 1024) -> torch.Tensor:
    """One waveform time-stretched by ``rate`` (``phase_vocoder`` on a batch of one)."""
    return phase_vocoder(y[None], [rate], n_fft)[0]


def _fit(y: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or zero-pad to ``n`` samples: a batch keeps its shape."""
    return y[:n] if len(y) >= n else torch.nn.functional.pad(y, (0, n - len(y)))


@register("time_stretch")
class TimeStretch(Augmentation):
    """Faster or slower by a factor in ``rate`` (>1: faster), keeping the pitch (phase vocoder).
    The result is cropped or padded back to the batch's length. Changes the tempo."""

    changes = ("tempo", "duration")

    def __init__(self, p: float = 0.5, rate=(0.8, 1.25)):
        super().__init__(p)
        self.rate = tuple(map(float, rate))

    def __call__(self, y, sr, g):
        rates = torch.exp(_uniform(g, math.log(self.rate[0]), math.log(self.rate[1]), len(y)))
        out = y.clone()
        chosen = torch.nonzero(self.chosen(g, len(y))).flatten()
        if len(chosen):
            for i, stretched in zip(chosen.tolist(), phase_vocoder(y[chosen], rates[chosen])):
                out[i] = _fit(stretched, y.shape[1])
        return out


@register("pitch_shift")
class PitchShift(Augmentation):
    """Higher or lower by a number of semitones in ``semitones``, keeping the duration (as librosa: a time
    stretch, then resampling back to the original length). Changes the pitch and key."""

    changes = ("pitch", "key")

    def __init__(self, p: float = 0.5, semitones=(-2.0, 2.0)):
        super().__init__(p)
        self.semitones = tuple(map(float, semitones))

    def __call__(self, y, sr, g):
        steps = _uniform(g, *self.semitones, len(y))
        out = y.clone()
        chosen = torch.nonzero(self.chosen(g, len(y))).flatten()
        if len(chosen):
            out[chosen] = pitch_shift(y[chosen], steps[chosen])
        return out


def pitch_shift(y: torch.Tensor, semitones) -> torch.Tensor:
    """Waveforms ``semitones`` higher (negative: lower), the same length: one ``(samples,)`` and a number,
    or a batch ``(batch, samples)`` and a number per row."""
    import soxr

    single = y.ndim == 1
    batch = y[None] if single else y
    factors = 2 ** (torch.as_tensor(semitones, dtype=torch.float64).reshape(-1) / 12)
    stretched = phase_vocoder(batch, 1 / factors)  # longer by each factor, same pitch
    # played back faster by the factor: every frequency times the factor, the length back to the original
    shifted = torch.stack([
        _fit(torch.from_numpy(soxr.resample(s.numpy().astype(np.float64), float(f), 1.0, quality="HQ")),
             batch.shape[1]) for s, f in zip(stretched, factors)]).to(y.dtype)
    return shifted[0] if single else shifted


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
        self.db = _range(self.name, "db", db)
        if int(n_points) != n_points or n_points < 2:
            raise ConfigError(f"augmentation equalize: n_points={n_points!r} must be a whole number, at least 2")
        self.n_points = int(n_points)
        if not 0 <= band_limit_p <= 1:
            raise ConfigError(f"augmentation equalize: band_limit_p={band_limit_p} must be a probability in [0, 1]")
        self.band_limit_p = float(band_limit_p)
        self.low_hz = _range(self.name, "low_hz", low_hz, least=0.0)
        self.high_hz = _range(self.name, "high_hz", high_hz, least=1.0)
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
        self.rt60 = _range(self.name, "rt60", rt60, least=0.01)
        self.drr_db = _range(self.name, "drr_db", drr_db)
        self.pre_delay_seconds = _range(self.name, "pre_delay_seconds", pre_delay_seconds, least=0.0)
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


@register("spec_augment")
class SpecAugment(Augmentation):
    """SpecAugment's masks (Park et al. 2019): ``freq_masks`` bands of up to ``freq_width`` bins and
    ``time_masks`` stretches of up to ``time_width`` frames, set to each example's mean."""

    stage = "spectrogram"

    def __init__(self, p: float = 0.8, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2,
                 time_width: int = 20):
        super().__init__(p)
        self.freq = (int(freq_masks), int(freq_width))
        self.time = (int(time_masks), int(time_width))

    def __call__(self, S, sr, g):
        out = S.clone()
        b, bins, frames = S.shape
        mean = S.mean(dim=(1, 2))
        for i in torch.nonzero(self.chosen(g, b)).flatten().tolist():
            for (count, width), size, axis in ((self.freq, bins, 0), (self.time, frames, 1)):
                for _ in range(count):
                    w = int(torch.randint(0, min(width, size) + 1, (1,), generator=g))
                    a = int(torch.randint(0, size - w + 1, (1,), generator=g))
                    if axis == 0:
                        out[i, a:a + w, :] = mean[i]
                    else:
                        out[i, :, a:a + w] = mean[i]
        return out


def mixup(x: torch.Tensor, targets: torch.Tensor, n_classes: int, alpha: float, g: torch.Generator):
    """Mixup (Zhang et al. 2018): each example blended with another of the batch, ``lambda ~ Beta(alpha,
    alpha)``, and so are their targets (returned as probability rows)."""
    rows = targets.float() if targets.ndim == 2 else torch.nn.functional.one_hot(targets, n_classes).float()
    if alpha <= 0:
        return x, rows
    # torch's Beta sampler takes no generator: numpy's, seeded from ours, keeps the batch deterministic
    seed = int(torch.randint(2**31 - 1, (1,), generator=g))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, len(x))).float()
    partner = torch.randperm(len(x), generator=g)
    lam, rows = lam.to(x.device), rows.to(x.device)
    shape = (-1,) + (1,) * (x.ndim - 1)
    mixed = lam.view(shape).to(x.dtype) * x + (1 - lam.view(shape).to(x.dtype)) * x[partner]
    return mixed, lam[:, None] * rows + (1 - lam[:, None]) * rows[partner]


def _recordings(folder, sr: int) -> list[np.ndarray]:
    from pathlib import Path

    from .audio import is_audio_path, load

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_audio_path(p))
    if not files:
        raise ConfigError(f"augmentation background: no audio files in {folder}")
    return [load(path, sr=sr)[0] for path in files]


def build(specs, depends_on=(), sr: int | None = None) -> list[Augmentation]:
    """Augmentations from specs ``[{"name": ..., "p": ..., params}]``, refusing any that changes what the
    task's labels depend on (``depends_on``, e.g. ``["key", "tempo"]``). ``background`` takes ``folder``
    (recordings decoded at ``sr``) or ``recordings`` (arrays)."""
    pipeline = []
    for spec in specs or []:
        spec = dict(spec)
        name = spec.pop("name", None)
        if name == "background" and "folder" in spec:
            spec["recordings"] = _recordings(spec.pop("folder"), sr or 16000)
        if name not in AUGMENTATIONS:
            raise ConfigError(f"augmentation {name!r}: choose one of {', '.join(AUGMENTATIONS)}")
        cls = AUGMENTATIONS[name]
        broken = sorted(set(cls.changes) & set(depends_on))
        if broken:
            raise ConfigError(f"augmentation {name} changes the {', '.join(broken)}, which this task's labels "
                              f"depend on (data.depends_on): it would teach the model wrong labels; remove it")
        try:
            pipeline.append(cls(**spec))
        except TypeError as error:
            raise ConfigError(f"augmentation {name}: {error}") from None
    return pipeline
