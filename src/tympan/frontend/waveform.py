"""The raw waveform as a front-end, for networks that learn their own (``cnn1d``)."""

from __future__ import annotations

import torch
from torch import nn

from ..defaults import SR
from .spectral import _batched


class Waveform(nn.Module):
    """The waveform itself, for networks that learn their own front-end (``cnn1d``): ``(batch, samples)``."""

    def __init__(self, sr: int = SR):
        super().__init__()
        self.sr, self.hop_length = int(sr), 1

    def n_frames(self, n_samples: int) -> int:
        return n_samples

    @_batched
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y
