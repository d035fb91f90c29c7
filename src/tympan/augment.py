"""Data augmentation: new training examples from old ones, for when there are few of them.

Waveform augmentations take a batch ``(batch, samples)`` at sample rate ``sr``; spectrogram ones take the
front-end's output ``(batch, bins, frames)``; ``mixup`` mixes examples and their targets. Every random choice
comes from a ``torch.Generator`` the caller seeds, so a training epoch is the same run after run.

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
