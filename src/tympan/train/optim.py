"""Optimisers and learning-rate schedules by name, built from ``TrainConfig``."""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from ..registry import Registry

OPTIMIZERS = Registry("train.optimizer")
SCHEDULES = ("constant", "step", "cosine", "plateau")


@OPTIMIZERS.register("sgd")
def _sgd(parameters, config) -> torch.optim.Optimizer:
    """Gradient descent: plain, with momentum, or Nesterov's."""
    if config.nesterov and not config.momentum > 0:
        raise ConfigError("train.nesterov needs train.momentum > 0")
    return torch.optim.SGD(parameters, lr=config.learning_rate, momentum=config.momentum,
                           nesterov=config.nesterov, weight_decay=config.weight_decay)


@OPTIMIZERS.register("adam")
def _adam(parameters, config) -> torch.optim.Optimizer:
    return torch.optim.Adam(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(parameters, config) -> torch.optim.Optimizer:
    """Adam with decoupled weight decay (Loshchilov and Hutter)."""
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


def make_optimizer(parameters, config) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` names (``OPTIMIZERS``) over the parameters that train."""
    parameters = [p for p in parameters if p.requires_grad]
    if not config.learning_rate > 0:
        raise ConfigError(f"train.learning_rate={config.learning_rate}: must be positive")
    return OPTIMIZERS.get(config.optimizer)(parameters, config)


def make_schedule(optimizer, config):
    """A per-epoch schedule: call ``step()`` after each epoch (``step(score)`` for ``plateau``)."""
    warmup, epochs = config.warmup_epochs, config.epochs
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=config.gamma,
                                                          patience=config.plateau_patience)
    if config.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule={config.schedule!r}: choose one of {', '.join(SCHEDULES)}")

    def factor(epoch: int) -> float:  # epoch counts from 0: the factor for the epoch about to run
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        if config.schedule == "step":
            return config.gamma ** ((epoch - warmup) // max(1, config.step_epochs))
        if config.schedule == "cosine":
            progress = (epoch - warmup) / max(1, epochs - warmup)
            return 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
