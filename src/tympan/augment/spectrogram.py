"""Augmentations of the front-end's output: SpecAugment's masks, vocal tract length perturbation, and mixup,
which blends examples and their targets (in training, after the front-end)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from ..frontend.filters import mel_frequencies
from .base import Augmentation, _uniform, register


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


@register("vtlp")
class VTLP(Augmentation):
    """Vocal tract length perturbation (Jaitly and Hinton 2013): each chosen example's frequency axis
    warped by a factor ``alpha`` drawn from ``alpha`` (low, high), as if a longer or shorter vocal tract had
    spoken: frequency ``f`` moves to ``alpha * f`` up to a boundary (``0.8 * sr/2 * min(alpha, 1) / alpha``),
    and a straight line above it keeps ``sr/2`` in place, so no band is left empty. ``scale``: what the
    feature bins are, ``mel`` (the log-mel and PCEN front-ends' bands between 0 and ``sr/2``, Slaney's
    scale, their default) or ``linear`` (STFT bins). Each output bin is interpolated between the two input
    bins around the frequency it shows."""

    stage = "spectrogram"
    changes = ("pitch", "timbre")

    def __init__(self, p: float = 0.5, alpha=(0.9, 1.1), scale: str = "mel"):
        super().__init__(p)
        low, high = (float(a) for a in alpha)
        if not 0 < low <= high:
            raise ConfigError(f"augmentation vtlp: alpha={list(alpha)} must be [low, high] with 0 < low <= high")
        if scale not in ("mel", "linear"):
            raise ConfigError(f"augmentation vtlp: scale={scale!r}: choose mel or linear")
        self.alpha, self.scale = (low, high), scale

    def __call__(self, S, sr, g):
        b, bins, _ = S.shape
        chosen = self.chosen(g, b)
        alphas = _uniform(g, *self.alpha, b)
        nyquist = sr / 2
        centres = (mel_frequencies(bins + 2, 0.0, nyquist)[1:-1] if self.scale == "mel"
                   else np.linspace(0.0, nyquist, bins))
        out = S.clone()
        for i in torch.nonzero(chosen).flatten().tolist():
            source = np.interp(_unwarp(centres, float(alphas[i]), nyquist), centres, np.arange(bins))
            below = torch.from_numpy(np.floor(source).astype(np.int64)).clamp(max=bins - 1).to(S.device)
            above = (below + 1).clamp(max=bins - 1)
            frac = torch.from_numpy(source - np.floor(source)).to(S.device, S.dtype)[:, None]
            out[i] = (1 - frac) * S[i, below] + frac * S[i, above]
        return out


def _unwarp(f: np.ndarray, alpha: float, nyquist: float) -> np.ndarray:
    """The frequencies that VTLP's warp by ``alpha`` moves to ``f``: ``f / alpha`` up to the warped boundary,
    and above it the line back from there to ``nyquist``."""
    boundary = 0.8 * nyquist * min(alpha, 1.0) / alpha
    return np.where(f <= alpha * boundary, f / alpha,
                    boundary + (f - alpha * boundary) * (nyquist - boundary) / (nyquist - alpha * boundary))


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
