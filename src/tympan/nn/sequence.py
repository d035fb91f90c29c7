"""Layers over sequences of frames: recurrent (RNN, LSTM, GRU) and self-attention (a small AST-like encoder).

They register in ``layers.LAYERS`` like the others and follow the same convention: ``in_shape`` first,
``out_shape`` and ``out_layout`` set.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from . import activations
from .layers import register
from .layers.base import _pair


# ------------------------------------------------------------------------------------------ recurrent


@register("recurrent")
class Recurrent(nn.Module):
    """RNN, LSTM or GRU over frames. ``sequence`` -> ``sequence``, or ``vector`` with ``output="last"``
    (the final state; both directions' when bidirectional)."""

    accepts = ("sequence",)
    cells = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, in_shape, cell: str = "gru", hidden: int = 128, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, output: str = "sequence",
                 nonlinearity: str = "tanh"):
        super().__init__()
        if cell not in self.cells:
            raise ConfigError(f"recurrent: cell={cell!r}; choose one of {', '.join(self.cells)}")
        if output not in ("sequence", "last"):
            raise ConfigError(f"recurrent: output={output!r}; choose 'sequence' or 'last'")
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = self.cells[cell](in_shape[1], int(hidden), int(layers), batch_first=True,
                                    dropout=dropout if layers > 1 else 0.0, bidirectional=bidirectional,
                                    **extra)
        self.cell, self.output = cell, output
        width = int(hidden) * (2 if bidirectional else 1)
        self.out_shape = (in_shape[0], width) if output == "sequence" else (width,)
        self.out_layout = "sequence" if output == "sequence" else "vector"

    def forward(self, x):
        y, state = self.rnn(x)
        if self.output == "sequence":
            return y
        h = state[0] if self.cell == "lstm" else state  # (layers * directions, batch, hidden)
        directions = 2 if self.rnn.bidirectional else 1
        return torch.cat(list(h[-directions:]), dim=1)


# ---------------------------------------------------------------------------------------- transformer


@register("patch_embedding")
class PatchEmbedding(nn.Module):
    """Cut a spectrogram into patches and project each to ``dim`` values (as AST does).

    A learned embedding marks each patch's frequency band; a sinusoidal one marks its time, so clips of
    any length work. ``image`` -> ``sequence`` of patches (time-major within frequency bands).
    """

    accepts = ("image",)

    def __init__(self, in_shape, dim: int = 128, patch=16, stride=None):
        super().__init__()
        patch = _pair(patch, "patch")
        stride = patch if stride is None else _pair(stride, "stride")
        self.project = nn.Conv2d(in_shape[0], int(dim), patch, stride)
        f = (in_shape[1] - patch[0]) // stride[0] + 1
        t = (in_shape[2] - patch[1]) // stride[1] + 1
        if f < 1 or t < 1:
            raise ConfigError(f"patch_embedding: patch {list(patch)} is larger than the input "
                              f"{list(in_shape[1:])}: use a smaller patch or longer clips")
        self.dim = int(dim)
        self.frequency_position = nn.Parameter(torch.zeros(f, int(dim)))
        nn.init.normal_(self.frequency_position, std=0.02)
        self.out_shape, self.out_layout = (f * t, int(dim)), "sequence"

    def forward(self, x):
        z = self.project(x)  # (batch, dim, f, t)
        b, d, f, t = z.shape
        position = torch.arange(t, device=z.device, dtype=z.dtype)[:, None]
        rate = torch.exp(torch.arange(0, d, 2, device=z.device, dtype=z.dtype) * (-math.log(10000.0) / d))
        time = torch.zeros(t, d, device=z.device, dtype=z.dtype)
        time[:, 0::2] = torch.sin(position * rate)
        time[:, 1::2] = torch.cos(position * rate[: d // 2])
        z = z.permute(0, 2, 3, 1) + self.frequency_position[:, None, :] + time[None, :, :]
        return z.reshape(b, f * t, d)


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.heads, self.dropout = heads, dropout

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class _EncoderBlock(nn.Module):
    """Pre-norm transformer block (as nanoGPT's ``Block``, without the causal mask)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, activation):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = _SelfAttention(dim, heads, dropout)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), activations.get(activation), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


@register("transformer")
class Transformer(nn.Module):
    """A stack of self-attention encoder blocks over a sequence. ``sequence`` -> ``sequence``."""

    accepts = ("sequence",)

    def __init__(self, in_shape, layers: int = 4, heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.1,
                 activation="gelu"):
        super().__init__()
        dim = in_shape[1]
        if dim % heads:
            raise ConfigError(f"transformer: width {dim} is not divisible by heads={heads}")
        self.blocks = nn.Sequential(*(_EncoderBlock(dim, int(heads), mlp_ratio, dropout, activation)
                                      for _ in range(int(layers))))
        self.norm = nn.LayerNorm(dim)
        self.out_shape, self.out_layout = tuple(in_shape), "sequence"

    def forward(self, x):
        return self.norm(self.blocks(x))
