"""What every augmentation shares: the registry by kind, the ``Augmentation`` base with its probability, a
seeded uniform draw, and cropping or padding to a batch's length."""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..registry import Registry

AUGMENTATIONS = Registry("augmentation")
register = AUGMENTATIONS.register


def _uniform(g: torch.Generator, low: float, high: float, n: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


class Augmentation:
    """Applied to each example with probability ``p``. ``stage`` is ``"waveform"`` or ``"spectrogram"``."""

    kind: str  # set by ``register``
    stage = "waveform"
    changes: tuple[str, ...] = ()

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ConfigError(f"augmentation {self.kind}: p={p} must be a probability in [0, 1]")
        self.p = float(p)

    def chosen(self, g: torch.Generator, n: int) -> torch.Tensor:
        return torch.rand(n, generator=g) < self.p

    def with_targets(self, y: torch.Tensor, targets: torch.Tensor, sr: int, g: torch.Generator,
                     frame_samples: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch augmented and its targets: frame targets ``(batch, frames, classes)`` of
        ``frame_samples`` each follow the sound where an augmentation moves it in time; clip targets hold."""
        return self(y, sr, g), targets


def frame_targets(targets) -> bool:
    """Whether ``targets`` are per frame ``(batch, frames, classes)`` (events), not per clip."""
    return targets is not None and targets.ndim == 3


def _fit(y: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or zero-pad to ``n`` samples: a batch keeps its shape."""
    return y[:n] if len(y) >= n else torch.nn.functional.pad(y, (0, n - len(y)))
