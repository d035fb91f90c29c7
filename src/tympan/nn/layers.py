"""The layers a network spec names, each built from the shape it receives.

A layer sees one of four layouts (shapes without the batch axis):

- ``wave``: ``(channels, samples)``, a waveform or the output of 1-D convolutions;
- ``image``: ``(channels, bins, frames)``, a spectrogram or the output of 2-D convolutions;
- ``sequence``: ``(frames, features)``, one vector per frame (dense per frame, recurrent, transformer);
- ``vector``: ``(features,)``, one vector per clip (dense, output).

Every class takes ``in_shape`` first and sets ``out_shape`` and ``out_layout``, so the network can
chain them and the summary can print them. ``Rearrange`` moves between layouts; the network inserts
it where a layer needs another layout. Going to ``vector`` always takes an explicit step (a pooling
layer, ``flatten``, or a recurrent layer's last state), since it decides what a clip-level model sees.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from . import activations

LAYERS: dict[str, type] = {}


def register(kind: str):
    def add(cls):
        cls.kind = kind
        LAYERS[kind] = cls
        return cls
    return add


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(int(v) < 1 for v in pair):
        raise ConfigError(f"{name}={value!r}: expected a positive integer or a pair [bins, frames]")
    return int(pair[0]), int(pair[1])


def _pooled(size: int, pool: int) -> int:
    return math.ceil(size / pool)  # ceil_mode: a short clip never pools down to nothing


class Rearrange(nn.Module):
    """Move a batch from one layout to another without touching its values."""

    def __init__(self, in_shape: tuple, in_layout: str, out_layout: str):
        super().__init__()
        self.in_layout, self.out_layout = in_layout, out_layout
        if (in_layout, out_layout) == ("image", "sequence"):
            c, f, t = in_shape
            self.out_shape = (t, c * f)
        elif (in_layout, out_layout) == ("image", "wave"):
            c, f, t = in_shape
            self.out_shape = (c * f, t)
        elif (in_layout, out_layout) in (("wave", "sequence"), ("sequence", "wave")):
            self.out_shape = in_shape[::-1]
        elif (in_layout, out_layout) == ("sequence", "image"):
            t, f = in_shape
            self.out_shape = (1, f, t)
        elif (in_layout, out_layout) == ("wave", "image"):
            c, t = in_shape
            self.out_shape = (1, c, t)
        else:
            raise ConfigError(f"cannot turn a {in_layout} into a {out_layout}: to reach one vector per clip, "
                              "add a global_pool, attention_pool or flatten layer")

    def forward(self, x):
        pair = (self.in_layout, self.out_layout)
        if pair == ("image", "sequence"):
            b, c, f, t = x.shape
            return x.permute(0, 3, 1, 2).reshape(b, t, c * f)
        if pair == ("image", "wave"):
            return x.flatten(1, 2)
        if pair == ("sequence", "image"):
            return x.transpose(1, 2).unsqueeze(1)
        if pair == ("wave", "image"):
            return x.unsqueeze(1)
        return x.transpose(1, 2)

    def extra_repr(self):
        return f"{self.in_layout} -> {self.out_layout}"


# ------------------------------------------------------------------------------------------- dense


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


# ------------------------------------------------------------------------------------ convolution


class _ConvBlock(nn.Module):
    """convolution -> batch norm -> activation (repeated ``convs`` times) -> pooling -> dropout."""

    def __init__(self, dims: int, in_channels: int, channels: int, kernel, stride, convs: int, activation,
                 batch_norm: bool, pool, pool_mode: str, dropout: float):
        super().__init__()
        Conv, Norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        if pool_mode not in ("max", "avg"):
            raise ConfigError(f"pool_mode={pool_mode!r}: choose 'max' or 'avg'")
        Pool = getattr(nn, f"{pool_mode.capitalize()}Pool{dims}d")
        if convs < 1:
            raise ConfigError(f"convs={convs}: a convolution block needs at least one convolution")
        layers = []
        for i in range(convs):
            k, s = kernel, (stride if i == 0 else 1)
            # 'same'-style padding for odd kernels, so a block only shrinks by its stride and pooling
            padding = tuple(v // 2 for v in k) if dims == 2 else k // 2
            # a bias before batch norm is cancelled by its mean subtraction: leave it out
            layers.append(Conv(in_channels if i == 0 else channels, channels, k, s, padding, bias=not batch_norm))
            if batch_norm:
                layers.append(Norm(channels))
            layers.append(activations.get(activation))
        if pool != 1 and pool != (1, 1):
            layers.append(Pool(pool, ceil_mode=True))
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
    shared over every position (a feature map).
    """

    accepts = ("image",)

    def __init__(self, in_shape, channels: int, kernel=3, stride=1, convs: int = 1, activation="relu",
                 batch_norm: bool = True, pool=2, pool_mode: str = "max", dropout: float = 0.0):
        kernel, stride, pool = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(pool, "pool")
        super().__init__(2, in_shape[0], int(channels), kernel, stride, convs, activation, batch_norm, pool,
                         pool_mode, dropout)
        f, t = (_conv_size(n, k, s) for n, k, s in zip(in_shape[1:], kernel, stride))
        if f < 1 or t < 1:
            raise ConfigError(f"conv2d: kernel {list(kernel)} is larger than its input {list(in_shape[1:])}")
        self.out_shape = (int(channels), _pooled(f, pool[0]), _pooled(t, pool[1]))
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


# ----------------------------------------------------------------------------- to one vector per clip


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


# ------------------------------------------------------------------------------------ per-value layers


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
    """An activation on its own: ``{kind: activation, name: tanh}``."""

    accepts = ("sequence", "vector", "image", "wave")

    def __init__(self, in_shape, layout: str, name="relu", **params):
        super().__init__()
        self.function = activations.get(name, **params)
        self.out_shape, self.out_layout = tuple(in_shape), layout

    def forward(self, x):
        return self.function(x)
