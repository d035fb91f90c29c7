"""Convolutions factored into a spatial and a channel step, as MobileNets build them (Howard et al. 2017,
Sandler et al. 2018): a depthwise convolution, one small filter per channel (``groups`` = channels), then a
pointwise one, a 1x1 convolution mixing the channels. A 3x3 convolution from C to C' channels costs
9 C C' multiply-accumulates per position; factored, 9 C + C C'.

``depthwise_separable`` is MobileNetV1's layer; ``inverted_residual`` is MobileNetV2's: a pointwise
expansion to ``expansion`` times the channels, the depthwise convolution, a linear pointwise projection
(no activation: a ReLU on few channels would lose information), and the input added back where the shape
is kept. Where a MobileNet strides, these layers average-pool right after the depthwise convolution, before
its batch norm, as the PANNs' MobileNets do (``pool``). Each is ``image`` -> ``image``, its modules in one
``block`` in the order of PANNs' checkpoints (a pooling place where there is none), so their tensors map
one to one.

Examples
--------
>>> import torch
>>> layer = DepthwiseSeparable((32, 64, 101), channels=64)  # 3x3 from 32 to 64 channels: 18,432 weights
>>> sum(p.numel() for p in layer.parameters())  # 32 x 9 + 32 x 64, and two batch norms' scales and shifts
2528
>>> block = InvertedResidual((16, 64, 101), channels=16, expansion=6)
>>> block(torch.zeros(2, 16, 64, 101)).shape, block.residual
(torch.Size([2, 16, 64, 101]), True)
"""

from __future__ import annotations

from torch import nn

from ...errors import ConfigError
from .. import activations
from .base import _pair, _pooled, register


def _conv_norm(in_channels: int, channels: int, kernel: int, activation, depthwise: bool = False, pool=None,
               ceil_mode: bool = True) -> list[nn.Module]:
    """convolution (``depthwise``: one filter per channel) -> [average pooling] -> batch norm -> [activation].

    ``pool`` is ``None`` for no pooling place, ``(1, 1)`` for an identity in its place (so the modules after
    it keep their positions, as in PANNs' checkpoints); ``activation`` ``None`` leaves the step linear."""
    layers = [nn.Conv2d(in_channels, channels, kernel, 1, kernel // 2, groups=in_channels if depthwise else 1,
                        bias=False)]  # batch norm follows: a bias would be cancelled by its mean
    if pool is not None:
        layers.append(nn.AvgPool2d(pool, ceil_mode=bool(ceil_mode)) if pool != (1, 1) else nn.Identity())
    layers.append(nn.BatchNorm2d(channels))
    if activation is not None:
        layers.append(activations.get(activation))
    return layers


class _Factored(nn.Module):
    """What both layers share: the checks, the output shape, and ``block`` run in order."""

    accepts = ("image",)
    residual = False

    def _shape(self, in_shape, channels: int, kernel: int, pool, ceil_mode: bool) -> tuple[int, int, int]:
        if int(channels) < 1 or int(kernel) < 1 or int(kernel) % 2 == 0:
            raise ConfigError(f"{self.kind}: channels={channels} and kernel={kernel} must be positive, the kernel odd")
        f, t = (_pooled(n, p, ceil_mode) for n, p in zip(in_shape[1:], pool))
        if f < 1 or t < 1:
            raise ConfigError(f"{self.kind}: pool {list(pool)} without ceil_mode is larger than its input "
                              f"{list(in_shape[1:])}")
        self.out_layout = "image"
        return int(channels), f, t

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


@register("depthwise_separable")
class DepthwiseSeparable(_Factored):
    """MobileNetV1's layer: depthwise ``kernel`` x ``kernel`` convolution -> average pooling (``pool``, an
    integer or ``[bins, frames]``; 1 for none) -> batch norm -> activation -> pointwise convolution to
    ``channels`` -> batch norm -> activation. ``ceil_mode`` as for ``conv2d`` (PANNs: ``False``)."""

    def __init__(self, in_shape, channels: int, kernel: int = 3, pool=1, activation="relu",
                 ceil_mode: bool = True):
        super().__init__()
        pool = _pair(pool, "pool")
        self.out_shape = self._shape(in_shape, channels, kernel, pool, ceil_mode)
        c = in_shape[0]
        self.block = nn.Sequential(*_conv_norm(c, c, int(kernel), activation, True, pool, ceil_mode),
                                   *_conv_norm(c, int(channels), 1, activation))


@register("inverted_residual")
class InvertedResidual(_Factored):
    """MobileNetV2's layer: pointwise expansion to ``expansion`` x the input's channels -> batch norm ->
    activation (none of these when ``expansion`` is 1) -> depthwise ``kernel`` x ``kernel`` convolution ->
    average pooling (``pool``) -> batch norm -> activation -> pointwise projection to ``channels`` -> batch
    norm, linear; plus the input itself when it neither pools nor changes the channels (the residual)."""

    def __init__(self, in_shape, channels: int, expansion: float = 6, kernel: int = 3, pool=1,
                 activation="relu6", ceil_mode: bool = True):
        super().__init__()
        pool = _pair(pool, "pool")
        self.out_shape = self._shape(in_shape, channels, kernel, pool, ceil_mode)
        c = in_shape[0]
        hidden = round(c * expansion)
        if hidden < 1:
            raise ConfigError(f"inverted_residual: expansion={expansion} leaves no channels")
        expand = _conv_norm(c, hidden, 1, activation) if expansion != 1 else []
        self.block = nn.Sequential(*expand, *_conv_norm(hidden, hidden, int(kernel), activation, True, pool, ceil_mode),
                                   *_conv_norm(hidden, int(channels), 1, None))
        self.residual = pool == (1, 1) and c == int(channels)
