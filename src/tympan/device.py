"""Where the computation runs: the device, and the processes of data-parallel training.

``torchrun`` describes the processes in environment variables. They are read once, by the entry point
(``Parallel.from_environment``), and the result is passed down, so library code never reads the
environment and a test can say what it wants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import ConfigError


@dataclass(frozen=True)
class Parallel:
    """This process among ``world`` data-parallel ones: ``rank`` 0 writes files, ``local_rank`` picks the GPU."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> Parallel:
        """From torchrun's variables; initialises the process group when there are several processes."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def writes(self) -> bool:
        """Whether this process writes files and prints: the first one only."""
        return self.rank == 0


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` (this process's GPU when there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name!r}: no CUDA device is available here; use cpu or auto")
    return device
