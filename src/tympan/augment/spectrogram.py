"""Augmentations of the front-end's output: SpecAugment's masks, and mixup, which blends examples and their
targets (in training, after the front-end)."""

from __future__ import annotations

import numpy as np
import torch

from .base import Augmentation, register


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
