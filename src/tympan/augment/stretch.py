"""Time stretching and pitch shifting by a batched phase vocoder, as ``librosa.effects``: they change the
tempo and the key."""

from __future__ import annotations

import math

import numpy as np
import torch

from .base import Augmentation, _fit, _uniform, frame_targets, register


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


@register("time_stretch")
class TimeStretch(Augmentation):
    """Faster or slower by a factor in ``rate`` (>1: faster), keeping the pitch (phase vocoder).
    The result is cropped or padded back to the batch's length. Changes the tempo."""

    changes = ("tempo", "duration")

    def __init__(self, p: float = 0.5, rate=(0.8, 1.25)):
        super().__init__(p)
        self.rate = tuple(map(float, rate))

    def __call__(self, y, sr, g):
        return self.with_targets(y, None, sr, g)[0]

    def with_targets(self, y, targets, sr, g, frame_samples=1):
        rates = torch.exp(_uniform(g, math.log(self.rate[0]), math.log(self.rate[1]), len(y)))
        out = y.clone()
        moved = targets.clone() if frame_targets(targets) else targets
        chosen = torch.nonzero(self.chosen(g, len(y))).flatten()
        if len(chosen):
            for i, stretched in zip(chosen.tolist(), phase_vocoder(y[chosen], rates[chosen])):
                out[i] = _fit(stretched, y.shape[1])
                if moved is not targets:
                    moved[i] = stretch_frames(targets[i], float(rates[i]))
        return out, moved


def stretch_frames(targets: torch.Tensor, rate: float) -> torch.Tensor:
    """Frame targets ``(frames, classes)`` of a sound played ``rate`` times faster, cropped or padded with
    inactive frames to their number: output frame j spans input frames [j rate, (j + 1) rate), and is
    active for a class wherever one of those is.

    Examples
    --------
    >>> stretch_frames(torch.tensor([[0.], [1.], [1.], [0.]]), 2.0)[:, 0]
    tensor([1., 1., 0., 0.])
    """
    n = len(targets)
    j = torch.arange(n, dtype=torch.float64)
    first = torch.floor(j * rate + 1e-9)
    end = torch.maximum(torch.ceil((j + 1) * rate - 1e-9), first + 1)
    frames = torch.arange(n, dtype=torch.float64)
    spans = (frames[None] >= first[:, None]) & (frames[None] < end[:, None])  # (output, input)
    return (spans[:, :, None] * targets[None]).amax(dim=1).to(targets.dtype)


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
