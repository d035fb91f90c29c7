"""Waveform augmentations that change the level, add white noise or move the sound in time."""

from __future__ import annotations

import torch

from .base import Augmentation, _uniform, frame_targets, register


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
    """Move the sound by up to ``max_seconds`` earlier or later, filling with silence. With frame targets the
    shift is rounded to whole frames, and the targets move by as many frames."""

    def __init__(self, p: float = 0.5, max_seconds: float = 0.2):
        super().__init__(p)
        self.max_seconds = float(max_seconds)

    def __call__(self, y, sr, g):
        return self.with_targets(y, None, sr, g)[0]

    def with_targets(self, y, targets, sr, g, frame_samples=1):
        shifts = (_uniform(g, -self.max_seconds, self.max_seconds, len(y)) * sr).round().long()
        moving = frame_targets(targets)
        if moving:  # whole frames, so that the targets can follow exactly
            frames = torch.round(shifts.double() / frame_samples).long()
            shifts, moved = frames * frame_samples, targets.clone()
        out = y.clone()
        for i in torch.nonzero(self.chosen(g, len(y))).flatten().tolist():
            out[i] = _shifted(y[i], int(shifts[i]))
            if moving:
                moved[i] = _shifted(targets[i], int(frames[i]))
        return out, moved if moving else targets


def _shifted(x: torch.Tensor, s: int) -> torch.Tensor:
    """``x`` moved ``s`` steps later along its first axis (earlier for ``s`` < 0), zeros filling the gap."""
    out = torch.zeros_like(x)
    if s >= len(x) or -s >= len(x):
        return out
    if s > 0:
        out[s:] = x[:-s]
    elif s < 0:
        out[:s] = x[-s:]
    else:
        out[:] = x
    return out
