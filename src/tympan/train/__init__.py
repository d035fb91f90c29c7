"""Training: the loop in plain sight, its configuration, losses, optimisers, metrics and the report."""

from .run import evaluate, train

__all__ = ["evaluate", "train"]
