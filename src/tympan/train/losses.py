"""Losses by name. Each takes the network's logits and the targets and returns one loss per example;
the training loop reduces them (a mean over the batch, or a sum for ``sse``), which keeps data-parallel
runs equal to single-process ones.

Targets are class indices ``(batch,)`` for single-label models and 0/1 rows ``(batch, classes)`` for
multi-label ones; losses that need one-hot rows make them. A single-label model trained with mixup gets
probability rows instead: ``multi_label=False`` says so (``None`` takes rows to mean multi-label).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import Registry

LOSSES = Registry("loss")
register = LOSSES.register
SUMMED = {"sse"}  # reduced by a sum over the batch, not a mean
# frame targets of WEAK + a clip label row, in every frame: a recording whose classes are known, not when
WEAK = 2.0


def _rows(targets: torch.Tensor, n_classes: int) -> torch.Tensor:
    return targets.float() if targets.ndim >= 2 else F.one_hot(targets, n_classes).float()


def _multi(targets: torch.Tensor, multi_label: bool | None) -> bool:
    return targets.ndim == 2 if multi_label is None else multi_label


def _probabilities(logits: torch.Tensor, multi: bool) -> torch.Tensor:
    return torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)


@register("cross_entropy")
def cross_entropy(logits, targets, label_smoothing: float = 0.0, multi_label: bool | None = None):
    """-log of the softmax probability of the true class (of the smoothed target distribution)."""
    if _multi(targets, multi_label):
        raise ConfigError("loss cross_entropy is for single-label data; use binary_cross_entropy for multi-label")
    return F.cross_entropy(logits, targets, reduction="none", label_smoothing=label_smoothing)


@register("binary_cross_entropy")
def binary_cross_entropy(logits, targets, label_smoothing: float = 0.0, multi_label: bool | None = None):
    """A sigmoid per class and its cross-entropy, summed over classes: multi-label tagging, binary tasks; for
    frame outputs ``(batch, frames, classes)`` (event detection), the mean of that over the frames, and for
    a weakly labelled example (targets ``WEAK`` + its clip labels) the cross-entropy of the clip's score
    pooled from its frames by linear softmax (sum of p² / sum of p: loud frames count most, and a frame's
    gradient grows with its score, Wang et al. 2019)."""
    if targets.ndim == 3 and bool((targets >= WEAK).any()):
        return _weak_or_strong(logits, targets, label_smoothing)
    rows = _rows(targets, logits.shape[-1])
    rows = rows * (1 - label_smoothing) + label_smoothing / 2
    per_frame = F.binary_cross_entropy_with_logits(logits, rows, reduction="none").sum(-1)
    return per_frame.mean(-1) if per_frame.ndim > 1 else per_frame


def _weak_or_strong(logits, targets, label_smoothing: float):
    """Per example of a batch that mixes strong frame targets and weak ones (see ``binary_cross_entropy``)."""
    weak = targets.amax(dim=(1, 2)) >= WEAK
    strong = binary_cross_entropy(logits, torch.where(weak[:, None, None], torch.zeros_like(targets), targets),
                                  label_smoothing)
    p = torch.sigmoid(logits)
    clip = (p.square().sum(dim=1) / p.sum(dim=1).clamp(min=1e-7)).clamp(1e-7, 1 - 1e-7)
    labels = (targets.amax(dim=1) - WEAK).clamp(0, 1) * (1 - label_smoothing) + label_smoothing / 2
    pooled = F.binary_cross_entropy(clip, labels, reduction="none").sum(-1)
    return torch.where(weak, pooled, strong)


@register("sse")
def sum_of_squared_errors(logits, targets, label_smoothing: float = 0.0, multi_label: bool | None = None):
    """Sum over classes (and, in the loop, over examples) of (output probability - target)^2, as the
    lecture defines it; its gradient grows with the batch, so the learning rate must shrink with it."""
    if targets.ndim == 3 and bool((targets >= WEAK).any()):
        raise ConfigError("recordings with weak labels only train with train.loss=binary_cross_entropy (their "
                          "clip score is pooled from the frames); squared errors have no such pooling")
    rows = _rows(targets, logits.shape[-1]) * (1 - label_smoothing) + label_smoothing / logits.shape[-1]
    return (_probabilities(logits, _multi(targets, multi_label)) - rows).square().sum(-1)


@register("mse")
def mean_squared_error(logits, targets, label_smoothing: float = 0.0, multi_label: bool | None = None):
    """Mean over classes of (output probability - target)^2 (and a mean over examples in the loop)."""
    return sum_of_squared_errors(logits, targets, label_smoothing, multi_label) / logits.shape[-1]


def get(kind: str):
    """The loss ``kind`` (``train.loss``)."""
    return LOSSES.get(kind, option="train.loss")
