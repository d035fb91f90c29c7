"""Convolution blocks on an image (2-D) or along time (1-D), and local max and average pooling."""

from __future__ import annotations

from torch import nn

from ...errors import ConfigError
from .. import activations
from .base import _pair, _pooled, register


class _ConvBlock(nn.Module):
    """convolution -> batch norm -> activation (repeated ``convs`` times) -> pooling -> dropout; with
    ``pool_before_norm``, the pooling right after the first convolution instead."""

    def __init__(self, dims: int, in_channels: int, channels: int, kernel, stride, convs: int, activation,
                 batch_norm: bool, pool, pool_mode: str, dropout: float, ceil_mode: bool = True,
                 pool_before_norm: bool = False):
        super().__init__()
        Conv, Norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        if pool_mode not in ("max", "avg"):
            raise ConfigError(f"pool_mode={pool_mode!r}: choose 'max' or 'avg'")
        Pool = getattr(nn, f"{pool_mode.capitalize()}Pool{dims}d")
        if convs < 1:
            raise ConfigError(f"convs={convs}: a convolution block needs at least one convolution")
        pooling = Pool(pool, ceil_mode=bool(ceil_mode)) if pool != 1 and pool != (1, 1) else None
        layers = []
        for i in range(convs):
            k, s = kernel, (stride if i == 0 else 1)
            # 'same'-style padding for odd kernels, so a block only shrinks by its stride and pooling
            padding = tuple(v // 2 for v in k) if dims == 2 else k // 2
            # a bias before batch norm is cancelled by its mean subtraction: leave it out
            layers.append(Conv(in_channels if i == 0 else channels, channels, k, s, padding, bias=not batch_norm))
            if pool_before_norm and i == 0:  # an identity where it does not pool: the modules keep their places
                layers.append(pooling or nn.Identity())
            if batch_norm:
                layers.append(Norm(channels))
            layers.append(activations.get(activation))
        if pooling is not None and not pool_before_norm:
            layers.append(pooling)
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


def _conv_size(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


@register("conv2d")
class Conv2dBlock(_ConvBlock):
    """2-D convolution block on a time-frequency image: ``image`` -> ``image``.

    ``kernel``, ``stride`` and ``pool`` are an integer or ``[bins, frames]``; each filter's weights are
    shared over every position (a feature map). ``ceil_mode``: bins and frames left over when ``pool`` does
    not divide them make a last, smaller pool (a short clip never pools down to nothing); ``False`` drops
    them, as PyTorch's pooling does by default and the PANNs were trained with. ``pool_before_norm``: the
    pooling comes right after the first convolution, before its batch norm and activation, where a MobileNet
    strides (PANNs' MobileNets pool so; ``tympan.nn.layers.separable``).
    """

    accepts = ("image",)

    def __init__(self, in_shape, channels: int, kernel=3, stride=1, convs: int = 1, activation="relu",
                 batch_norm: bool = True, pool=2, pool_mode: str = "max", dropout: float = 0.0,
                 ceil_mode: bool = True, pool_before_norm: bool = False):
        kernel, stride, pool = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(pool, "pool")
        super().__init__(2, in_shape[0], int(channels), kernel, stride, convs, activation, batch_norm, pool,
                         pool_mode, dropout, ceil_mode, bool(pool_before_norm))
        f, t = (_conv_size(n, k, s) for n, k, s in zip(in_shape[1:], kernel, stride))
        if f < 1 or t < 1:
            raise ConfigError(f"conv2d: kernel {list(kernel)} is larger than its input {list(in_shape[1:])}")
        f, t = _pooled(f, pool[0], ceil_mode), _pooled(t, pool[1], ceil_mode)
        if f < 1 or t < 1:
            raise ConfigError(f"conv2d: pool {list(pool)} without ceil_mode is larger than its input "
                              f"{list(in_shape[1:])}")
        self.out_shape = (int(channels), f, t)
        self.out_layout = "image"


@register("conv1d")
class Conv1dBlock(_ConvBlock):
    """1-D convolution block along time: ``wave`` -> ``wave`` (on a spectrogram, bins become channels)."""

    accepts = ("wave",)

    def __init__(self, in_shape, channels: int, kernel: int = 3, stride: int = 1, convs: int = 1,
                 activation="relu", batch_norm: bool = True, pool: int = 4, pool_mode: str = "max",
                 dropout: float = 0.0):
        if min(int(kernel), int(stride), int(pool)) < 1:
            raise ConfigError(f"conv1d: kernel, stride and pool must be >= 1, got {kernel}, {stride}, {pool}")
        super().__init__(1, in_shape[0], int(channels), int(kernel), int(stride), convs, activation,
                         batch_norm, int(pool), pool_mode, dropout)
        t = _conv_size(in_shape[1], int(kernel), int(stride))
        if t < 1:
            raise ConfigError(f"conv1d: kernel {kernel} is longer than its input ({in_shape[1]} samples)")
        self.out_shape, self.out_layout = (int(channels), _pooled(t, int(pool))), "wave"


@register("max_pool")
class MaxPool(nn.Module):
    """Local max pooling over ``size`` (an integer, or ``[bins, frames]`` on an image)."""

    accepts = ("image", "wave")
    mode = "max"

    def __init__(self, in_shape, layout: str, size=2):
        super().__init__()
        dims = 2 if layout == "image" else 1
        size = _pair(size, "size") if dims == 2 else int(size)
        Pool = getattr(nn, f"{self.mode.capitalize()}Pool{dims}d")
        self.pool = Pool(size, ceil_mode=True)
        sizes = size if dims == 2 else (size,)
        self.out_shape = (in_shape[0], *(_pooled(n, s) for n, s in zip(in_shape[1:], sizes)))
        self.out_layout = layout

    def forward(self, x):
        return self.pool(x)


@register("avg_pool")
class AvgPool(MaxPool):
    """Local average pooling over ``size``."""

    mode = "avg"
