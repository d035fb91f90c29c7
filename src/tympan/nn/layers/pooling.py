"""From frames to one vector per clip: global pooling, attention pooling, or every value (``flatten``); and on
the way, from an image to one vector per frame (``frequency_pool``) and pooling over neighbouring frames
(``frame_pool``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...errors import ConfigError
from .base import register


@register("global_pool")
class GlobalPool(nn.Module):
    """Pool over time (and frequency, for an image) to one vector per clip, whatever the clip's length.

    ``mode``: ``mean``, ``max``, ``meanmax`` (their sum: the mean hears sustained sounds, the max short
    events, as in PANNs) or ``stats`` (mean and standard deviation side by side).
    """

    accepts = ("sequence", "image", "wave")  # first: a spectrogram is pooled per bin, not over its bins
    modes = ("mean", "max", "meanmax", "stats")

    def __init__(self, in_shape, layout: str, mode: str = "mean"):
        super().__init__()
        if mode not in self.modes:
            raise ConfigError(f"global_pool: mode={mode!r}; choose one of {', '.join(self.modes)}")
        self.mode, self.layout = mode, layout
        features = in_shape[1] if layout == "sequence" else in_shape[0]
        self.out_shape = (features * (2 if mode == "stats" else 1),)
        self.out_layout = "vector"

    def forward(self, x):
        if self.layout == "image":  # frequency first, by its mean, as PANNs does
            x = x.mean(dim=2)
        elif self.layout == "sequence":
            x = x.transpose(1, 2)
        # now (batch, features, time)
        if self.mode == "mean":
            return x.mean(-1)
        if self.mode == "max":
            return x.amax(-1)
        if self.mode == "meanmax":
            return x.mean(-1) + x.amax(-1)
        return torch.cat([x.mean(-1), x.std(-1, unbiased=False)], dim=1)

    def extra_repr(self):
        return f"mode={self.mode!r}"


@register("attention_pool")
class AttentionPool(nn.Module):
    """Weighted mean over time with learned weights: ``softmax_t(w . h_t)``, so the network decides
    which frames count (an event in a long clip) instead of averaging them all. ``sequence`` -> ``vector``.
    (No bias: the softmax over time ignores a constant, so a bias could never learn.)
    """

    accepts = ("sequence",)

    def __init__(self, in_shape):
        super().__init__()
        self.score = nn.Linear(in_shape[1], 1, bias=False)
        self.out_shape, self.out_layout = (in_shape[1],), "vector"

    def forward(self, x):
        weights = torch.softmax(self.score(x), dim=1)  # (batch, frames, 1)
        return (weights * x).sum(dim=1)


@register("flatten")
class Flatten(nn.Module):
    """Every value of a fixed-size input as one vector: the fully connected view of a spectrogram.

    The size is fixed when the network is built (from the clip length), so clips must have that length.
    """

    accepts = ("image", "wave", "sequence")

    def __init__(self, in_shape, layout: str):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.out_shape, self.out_layout = (math.prod(in_shape),), "vector"

    def forward(self, x):
        if tuple(x.shape[1:]) != self.in_shape:
            raise ConfigError(f"flatten was built for inputs of shape {list(self.in_shape)} and got "
                              f"{list(x.shape[1:])}: a network that flattens needs clips of the length it "
                              "was built for (clip_seconds)")
        return x.flatten(1)


@register("frequency_pool")
class FrequencyPool(nn.Module):
    """The mean over an image's frequency bins: one vector of channels per frame. ``image`` (channels, bins,
    frames) -> ``sequence`` (frames, channels). PANNs pool so before pooling over time, and their per-frame
    (decision-level) variants classify each of these vectors."""

    accepts = ("image",)

    def __init__(self, in_shape):
        super().__init__()
        self.out_shape, self.out_layout = (in_shape[2], in_shape[0]), "sequence"

    def forward(self, x):
        return x.mean(dim=2).transpose(1, 2)


@register("frame_pool")
class FramePool(nn.Module):
    """Each frame pooled with its neighbours, ``size`` frames centred on it (stride 1, so the frame rate
    stays): ``mean``, ``max`` or ``meanmax`` (their sum, as PANNs smooth their frames before a per-frame
    classifier). Beyond the ends the mean counts zeros and the max ignores them. ``sequence`` -> ``sequence``.
    """

    accepts = ("sequence",)
    modes = ("mean", "max", "meanmax")

    def __init__(self, in_shape, size: int = 3, mode: str = "meanmax"):
        super().__init__()
        if mode not in self.modes:
            raise ConfigError(f"frame_pool: mode={mode!r}; choose one of {', '.join(self.modes)}")
        if size < 1 or size % 2 == 0:
            raise ConfigError(f"frame_pool: size={size} must be an odd number of frames >= 1")
        self.size, self.mode = int(size), mode
        self.out_shape, self.out_layout = tuple(in_shape), "sequence"

    def forward(self, x):
        x = x.transpose(1, 2)  # (batch, features, frames): pooling runs along the last axis
        pool = {"kernel_size": self.size, "stride": 1, "padding": self.size // 2}
        pooled = 0
        if self.mode in ("max", "meanmax"):
            pooled = pooled + nn.functional.max_pool1d(x, **pool)
        if self.mode in ("mean", "meanmax"):
            pooled = pooled + nn.functional.avg_pool1d(x, **pool)
        return pooled.transpose(1, 2)

    def extra_repr(self):
        return f"size={self.size}, mode={self.mode!r}"
