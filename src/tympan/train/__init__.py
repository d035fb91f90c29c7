"""Training, and the ways to train: the loop in plain sight, its configuration, losses, optimisers,
metrics and the report.

- ``run``: ``train`` (data -> model file and report, with folds, refit and resume) and ``evaluate``;
- ``config``: the typed configuration, its recipes and ``--set``; ``loop``: ``fit`` and ``train_step``;
- ``transfer``: starting from another model or a random network, shallow heads on embeddings;
- ``baseline``: MFCC statistics and scikit-learn classifiers, the conventional pipeline;
- ``compare``: several approaches on one split, with learning curves;
- ``summary``: a run's, an evaluation's or a comparison's result as the few lines the command prints.
"""

from .baseline import baseline
from .compare import compare
from .run import evaluate, train
from .summary import format_comparison, format_evaluation, format_run

__all__ = ["baseline", "compare", "evaluate", "format_comparison", "format_evaluation", "format_run", "train"]
