"""Layers that keep their input's shape: dropout, batch norm, and an activation on its own."""

from __future__ import annotations

from torch import nn

from ...errors import ConfigError
from .. import activations
from .base import register


@register("dropout")
class Dropout(nn.Dropout):
    """Zero a random fraction ``rate`` of values while training (scaled to keep the mean)."""

    accepts = ("sequence", "vector", "image", "wave")

    def __init__(self, in_shape, layout: str, rate: float = 0.5):
        if not 0 <= rate < 1:
            raise ConfigError(f"dropout: rate={rate} must be in [0, 1)")
        super().__init__(rate)
        self.out_shape, self.out_layout = tuple(in_shape), layout


@register("batch_norm")
class BatchNorm(nn.Module):
    """Normalise each feature (channel) by batch statistics while training, running ones after."""

    accepts = ("sequence", "vector", "image", "wave")

    def __init__(self, in_shape, layout: str):
        super().__init__()
        features = in_shape[1] if layout == "sequence" else in_shape[0]
        self.norm = nn.BatchNorm2d(features) if layout == "image" else nn.BatchNorm1d(features)
        self.layout = layout
        self.out_shape, self.out_layout = tuple(in_shape), layout

    def forward(self, x):
        if self.layout == "sequence":  # BatchNorm1d wants features on axis 1
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.norm(x)


@register("activation")
class Activation(nn.Module):
    """An activation on its own: ``{kind: activation, activation: tanh}``, or with its parameters,
    ``{kind: activation, activation: leaky_relu, slope: 0.1}``. (Not ``name``: in a layer spec, ``name`` is
    the layer's own name.)"""

    accepts = ("sequence", "vector", "image", "wave")

    def __init__(self, in_shape, layout: str, activation="relu", **params):
        super().__init__()
        self.function = activations.get(activation, **params)
        self.out_shape, self.out_layout = tuple(in_shape), layout

    def forward(self, x):
        return self.function(x)
