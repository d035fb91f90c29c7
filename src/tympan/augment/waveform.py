"""Waveform augmentations that change the level, add white noise or move the sound in time."""

from __future__ import annotations

import torch

from .base import Augmentation, _uniform, register


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
