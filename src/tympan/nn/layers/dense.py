"""Dense-like layers: every unit a weighted sum of its inputs, then activation, batch norm and dropout.

``dense`` on one vector per clip, ``frame_dense`` and ``context_dense`` on each frame (Choi et al. 2018's d1
and d2), ``locally_connected`` on contiguous parts of a vector.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...errors import ConfigError
from .. import activations
from .base import register


class _Units(nn.Module):
    """What dense-like layers share: activation, then optional batch norm and dropout, per unit."""

    def _finish(self, units: int, activation, batch_norm: bool, dropout: float):
        self.activation = activations.get(activation)
        self.norm = nn.BatchNorm1d(units) if batch_norm else None
        self.dropout = nn.Dropout(dropout) if dropout else None

    def _after(self, z):
        if self.norm is not None:  # BatchNorm1d wants features on axis 1
            z = self.norm(z) if z.ndim == 2 else self.norm(z.transpose(1, 2)).transpose(1, 2)
        z = self.activation(z)
        return self.dropout(z) if self.dropout is not None else z


@register("dense")
class Dense(_Units):
    """Fully connected: every unit sees every input. ``vector`` -> ``vector``."""

    accepts = ("vector",)

    def __init__(self, in_shape, units: int, activation="relu", batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(in_shape[0], int(units))
        self._finish(int(units), activation, batch_norm, dropout)
        self.out_shape, self.out_layout = (int(units),), "vector"

    def forward(self, x):
        return self._after(self.linear(x))


@register("frame_dense")
class FrameDense(Dense):
    """Dense applied to each frame on its own, the same weights for every frame ("d1" in Choi et al. 2018).

    ``sequence`` -> ``sequence``.
    """

    accepts = ("sequence",)

    def __init__(self, in_shape, units: int, activation="relu", batch_norm: bool = False, dropout: float = 0.0):
        super().__init__(in_shape[1:], units, activation, batch_norm, dropout)
        self.out_shape, self.out_layout = (in_shape[0], int(units)), "sequence"


@register("context_dense")
class ContextDense(Dense):
    """Dense over a window of ``context`` frames centred on each frame ("d2" in Choi et al. 2018).

    Frame ``t`` sees frames ``t - context // 2 ... t + context // 2`` (zeros beyond the ends), so the unit
    can learn short temporal patterns while the weights stay shared across time. ``sequence`` -> ``sequence``.
    """

    accepts = ("sequence",)

    def __init__(self, in_shape, units: int, context: int = 5, activation="relu", batch_norm: bool = False,
                 dropout: float = 0.0):
        if context < 1 or context % 2 == 0:
            raise ConfigError(f"context_dense: context={context} must be an odd number of frames >= 1")
        super().__init__((in_shape[1] * context,), units, activation, batch_norm, dropout)
        self.context = int(context)
        self.out_shape, self.out_layout = (in_shape[0], int(units)), "sequence"

    def forward(self, x):
        half = self.context // 2
        padded = nn.functional.pad(x, (0, 0, half, half))  # (batch, frames + 2 half, features)
        windows = padded.unfold(1, self.context, 1)  # (batch, frames, features, context)
        return super().forward(windows.transpose(2, 3).flatten(2))


@register("locally_connected")
class LocallyConnected(_Units):
    """Units that each see one of ``regions`` equal, contiguous parts of the input vector.

    With ``shared=False`` every region has its own ``units`` weight vectors (a limited receptive field);
    with ``shared=True`` all regions use the same ones (a convolution whose stride is its width: a feature
    map). After ``flatten`` on a spectrogram, contiguous parts are bands of frequency bins over all frames.
    ``vector`` -> ``vector`` of ``regions * units``.
    """

    accepts = ("vector",)

    def __init__(self, in_shape, regions: int, units: int = 1, shared: bool = False, activation="relu",
                 batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        size = in_shape[0]
        if regions < 1 or size % regions:
            raise ConfigError(f"locally_connected: {size} inputs do not split into regions={regions} equal parts")
        self.regions, self.units, self.shared = int(regions), int(units), bool(shared)
        width = size // regions
        n_sets = 1 if shared else regions
        self.weight = nn.Parameter(torch.empty(n_sets, self.units, width))
        self.bias = nn.Parameter(torch.zeros(n_sets, self.units))
        for w in self.weight:  # same fan-in rule as nn.Linear, region by region
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        self._finish(self.regions * self.units, activation, batch_norm, dropout)
        self.out_shape, self.out_layout = (self.regions * self.units,), "vector"

    def forward(self, x):
        parts = x.reshape(x.shape[0], self.regions, -1)  # (batch, regions, width)
        weight = self.weight.expand(self.regions, -1, -1)
        z = torch.einsum("brw,ruw->bru", parts, weight) + self.bias
        return self._after(z.flatten(1))

    def extra_repr(self):
        return f"regions={self.regions}, units={self.units}, shared={self.shared}"
