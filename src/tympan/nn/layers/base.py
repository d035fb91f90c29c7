"""What every layer shares: the ``LAYERS`` registry, the size arithmetic of kernels and pooling, and
``Rearrange``, which moves a batch between layouts where a layer needs another one."""

from __future__ import annotations

import math

from torch import nn

from ...errors import ConfigError
from ...registry import Registry

LAYERS = Registry("layer")
register = LAYERS.register


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(int(v) < 1 for v in pair):
        raise ConfigError(f"{name}={value!r}: expected a positive integer or a pair [bins, frames]")
    return int(pair[0]), int(pair[1])


def _pooled(size: int, pool: int, ceil_mode: bool = True) -> int:
    # ceil_mode: a short clip never pools down to nothing; without it, what is left over is dropped
    return math.ceil(size / pool) if ceil_mode else size // pool


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
