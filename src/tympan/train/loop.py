"""The training loop, in plain sight: forward -> loss -> backward -> optimiser step, epoch after epoch.

``fit`` is the outline: each epoch is ``one_epoch`` (a ``train_step`` per batch), validation,
``choose_best`` (the schedule, the best epoch's weights, early stopping) and ``Run.end_epoch`` (checkpoint
and log, in ``checkpoint.py``). Data-parallel training under ``torchrun`` averages gradients across
processes by DDP; only the first process writes files.

Reproducibility: shuffling and crops come from ``(seed, epoch)`` (``data.ClipSet.batches``), augmentation
from ``(seed, epoch, batch)`` and dropout from a generator seeded by ``(seed, epoch)`` at the start of each
epoch (forked, so the caller's global generator is left as it was): an epoch does not depend on what ran
before it. On CUDA, cuDNN's convolution and recurrent kernels are not bit-for-bit deterministic, so GPU
runs agree only to within rounding.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from tqdm import tqdm

from ..augment import build as build_augmentations
from ..augment import mixup
from ..device import Parallel, pick_device
from ..errors import ConfigError, TrainingError
from . import losses
from .checkpoint import Run, _cpu_state
from .metrics import classification_metrics

def evaluate_clips(model, clips, classes, multi_label: bool, loss_name: str = "cross_entropy",
                   label_smoothing: float = 0.0, batch_size: int = 64, every_epoch: bool = False) -> dict | None:
    """Metrics of ``model`` on a ``ClipSet``, each recording scored as ``predict`` scores it, and the loss
    of those scores (the logits that give them back), so validation and test measure what users get.
    An event detector is scored on its events instead (``events.evaluate_events``), without PSDS when it
    is ``every_epoch``'s choice of the best epoch (PSDS is the costly part, and no monitor)."""
    if len(clips) == 0:
        return None
    if getattr(model, "task", "clips") == "events":
        from .events import evaluate_events

        return evaluate_events(model, clips, with_psds=not every_epoch)
    scores = model.predict_waveforms(clips.audio, batch_size).double().clamp(1e-7, 1 - 1e-7)
    logits = torch.log(scores / (1 - scores)) if multi_label else torch.log(scores)
    targets = torch.from_numpy(clips.targets)
    result = classification_metrics(clips.targets, scores.numpy(), classes, multi_label=multi_label)
    if clips.groups is not None and any(group is not None for group in clips.groups):
        result["per_group"] = per_group_accuracy(clips.targets, scores.numpy(), clips.groups, multi_label)
    result["loss"] = float(losses.get(loss_name)(logits.float(), targets, label_smoothing, multi_label).mean())
    return result


def per_group_accuracy(targets, scores, groups, multi_label: bool = False) -> dict:
    """``{group: {"accuracy", "n"}}``, sorted by group: how each speaker or source fares (multi-label:
    the share of labels decided right at 0.5). Recordings without a group are left out.

    Examples
    --------
    >>> import numpy as np
    >>> per_group_accuracy(np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]), ["ann", "bob", "bob"])
    {'ann': {'accuracy': 1.0, 'n': 1}, 'bob': {'accuracy': 0.5, 'n': 2}}
    """
    import numpy as np

    targets, scores = np.asarray(targets), np.asarray(scores)
    right = ((scores >= 0.5) == (targets > 0.5)).mean(axis=1) if multi_label else scores.argmax(axis=1) == targets
    table = {}
    for group in sorted({g for g in groups if g is not None}, key=str):
        mask = np.array([g == group for g in groups])
        table[group] = {"accuracy": float(right[mask].mean()), "n": int(mask.sum())}
    return table


def _monitored(metrics: dict | None, monitor: str) -> float | None:
    if metrics is None:
        return None
    if monitor == "loss":
        return -metrics["loss"]  # higher is better, for every monitor
    if monitor not in metrics:
        raise ConfigError(f"train.monitor={monitor!r}: choose one of loss, "
                          f"{', '.join(k for k, v in metrics.items() if isinstance(v, float))}")
    return metrics[monitor]


def train_step(network, features, targets, optimizer, training, multi_label: bool | None = False,
               global_size: int | None = None, world: int = 1, amp: bool = False):
    """One step of gradient descent on one batch: forward -> loss -> backward -> optimiser step.

    ``fit`` takes every step with it, and so do the lessons of ``tympan lab``: one engine for both.

    Parameters
    ----------
    network : nn.Module
        Features in, logits out (``Classifier.network``, or any ``tympan.nn.Network``).
    features, targets : torch.Tensor
        The batch, on the network's device; targets as ``tympan.train.losses`` takes them.
    optimizer : torch.optim.Optimizer
        From ``make_optimizer``.
    t : TrainConfig
        Reads ``loss``, ``label_smoothing`` and ``clip_grad_norm``.
    multi_label : bool or None
        Passed to the loss (None: 0/1 rows mean multi-label).
    global_size, world : int
        Examples in the global batch (default: this batch) and data-parallel processes.
    amp : bool
        Run the network in bfloat16 (the loss stays in float32).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The logits and the loss of each example, before the step.

    Examples
    --------
    >>> from tympan.nn import Network
    >>> from tympan.train.config import TrainConfig
    >>> from tympan.train.optim import make_optimizer
    >>> net = Network([{"kind": "flatten"}, {"kind": "dense", "units": 2, "activation": "linear"}], (3,), seed=0)
    >>> t = TrainConfig(optimizer="sgd", learning_rate=0.1)
    >>> x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    >>> first = train_step(net, x, y, make_optimizer(net.parameters(), t), t)[1].mean()
    >>> bool(torch.nn.functional.cross_entropy(net(x), y) < first)
    True
    """
    with torch.autocast(features.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = network(features)                                                      # forward
    per_example = losses.get(training.loss)(logits.float(), targets, training.label_smoothing, multi_label)  # loss
    # a mean over the global batch (a sum for SSE); DDP then averages over processes
    size = len(targets) if global_size is None else global_size
    loss = per_example.sum() * (world if training.loss in losses.SUMMED else world / size)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()                                                                     # backward
    if training.clip_grad_norm:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]],
                                       training.clip_grad_norm)
    optimizer.step()                                                                    # step
    return logits, per_example


def fit(model, train, val, config, out: Path | None = None, resume: bool = False, progress: bool = True,
        parallel: Parallel = Parallel()) -> dict:
    """Train ``model`` (a ``Classifier``) on ``train``, choosing the best epoch on ``val``.

    Parameters
    ----------
    model : Classifier
        With its normalisation statistics set.
    train, val : ClipSet
        ``val`` may be empty: then the last epoch is kept and early stopping is off.
    config : Config
        The resolved configuration (``config.train`` drives the loop).
    out : Path or None
        The run folder: ``checkpoints/last.pt`` and ``log.jsonl`` are written there by the first process.
    resume : bool
        Continue from ``out/checkpoints/last.pt`` when it exists.
    progress : bool
        A progress bar per epoch on a terminal.
    parallel : Parallel
        This process among the data-parallel ones (``torch.distributed`` initialised when there are several).

    Returns
    -------
    dict
        ``history`` (one dict per epoch), ``best_epoch``, ``epochs``, ``stopped_early``, ``train_seconds``.
        The model holds the best epoch's weights.
    """
    training = config.train
    _check(training)
    model.to(pick_device(training.device, parallel.local_rank))
    run = Run(model, config, out, parallel, resume)
    augmentations = build_augmentations(config.augment, config.data.depends_on, sr=model.sr)
    for epoch in range(run.state["epoch"] + 1, training.epochs + 1):
        if run.state["stopped_early"]:
            break
        started = time.perf_counter()
        line = one_epoch(run, train, epoch, augmentations, progress)
        if training.precise_bn:
            recompute_batch_norm(model, train, epoch, training, run.device)
        val_metrics = evaluate_clips(model, val, model.classes, model.multi_label, training.loss,
                                     training.label_smoothing, every_epoch=True)
        line["learning_rate"] = run.optimizer.param_groups[0]["lr"]
        choose_best(run, val_metrics, -line["train_loss"], epoch)
        line["seconds"] = time.perf_counter() - started
        if val_metrics is not None:
            line.update({f"val_{k}": v for k, v in val_metrics.items() if isinstance(v, (int, float))})
        run.end_epoch(line)
        if progress and parallel.writes:
            _print_epoch(line, val_metrics, training)
    return run.finish()


def _check(training) -> None:
    losses.get(training.loss)  # an unknown loss fails here, before anything is written
    if training.batch_size < 0 or training.epochs < 1:
        raise ConfigError(f"train.batch_size must be >= 0 (0: full batch) and train.epochs >= 1; got "
                          f"{training.batch_size} and {training.epochs}")


def one_epoch(run: Run, train, epoch: int, augmentations, progress: bool) -> dict:
    """One pass over the training set, a ``train_step`` per batch: ``{"epoch", "train_loss",
    "train_accuracy"}`` over every process's examples."""
    training = run.config.train
    # this epoch's dropout from (seed, epoch), whatever ran before it; the caller's generator is left as it was
    with torch.random.fork_rng([run.device] if run.device.type == "cuda" else []):
        torch.manual_seed(training.seed * 1_000_003 + epoch)
        return _one_epoch(run, train, epoch, augmentations, progress)


def _one_epoch(run: Run, train, epoch: int, augmentations, progress: bool) -> dict:
    training, model, parallel = run.config.train, run.model, run.parallel
    model.train()
    on_waves = [a for a in augmentations if a.stage == "waveform"]
    on_features = [a for a in augmentations if a.stage == "spectrogram"]
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, examples
    batches = augmented(train.batches(epoch, training.batch_size, model.clip_samples, training.seed, parallel.rank,
                                      parallel.world),
                        on_waves, model.sr, (training.seed * 1_000_003 + epoch) * 100_003 + parallel.rank,
                        getattr(train, "frame_samples", 1))
    bar = tqdm(batches, total=math.ceil(len(train) / (training.batch_size or len(train))),
               desc=f"epoch {epoch}/{training.epochs}",
               unit="batch", leave=False, disable=not (progress and parallel.writes and sys.stderr.isatty()))
    for batch, (waves, targets, global_size, g) in enumerate(bar, start=1):
        waves, targets = waves.to(run.device), targets.to(run.device)
        features = model.features(waves)  # the front-end stays in float32, also under mixed precision
        for augmentation in on_features:
            features = augmentation(features, model.sr, g)
        if training.mixup > 0:
            features, targets = mixup(features, targets, len(model.classes), training.mixup, g)
        logits, per_example = train_step(run.network, features, targets, run.optimizer, training, model.multi_label,
                                         global_size, parallel.world, run.amp)
        loss_sum = per_example.sum().item()
        if not math.isfinite(loss_sum):
            _diverged(run, loss_sum, epoch, batch)
        totals += torch.tensor([loss_sum, _correct(logits, targets, model.multi_label), len(targets)],
                               dtype=torch.float64)
        bar.set_postfix(loss=f"{totals[0] / totals[2]:.4f}")
    if parallel.world > 1:
        torch.distributed.all_reduce(totals)
    return {"epoch": epoch, "train_loss": totals[0].item() / totals[2].item(),
            "train_accuracy": totals[1].item() / totals[2].item()}


def _diverged(run: Run, value: float, epoch: int, batch: int):
    """Stop at once: the step just taken has put NaN into the weights, and every later step would too.
    Nothing of this epoch is saved, so the checkpoint on disk is the last good epoch's."""
    rate = run.optimizer.param_groups[0]["lr"]
    raise TrainingError(
        f"training diverged: the loss became {value} at epoch {epoch}, batch {batch} (learning rate {rate:g}); "
        + (f"the last good checkpoint, of epoch {epoch - 1}, is kept (--resume starts from it); " if epoch > 1 else
           "no epoch finished, so no checkpoint was written; ")
        + f"try a lower learning rate (--set train.learning_rate={rate / 10:g}) or clip the gradients "
          "(--set train.clip_grad_norm=1.0)")


def choose_best(run: Run, val_metrics: dict | None, train_score: float, epoch: int) -> None:
    """Step the schedule, keep the weights of the best epoch so far on validation (the last epoch when
    there is no validation) and count the epochs without progress for early stopping."""
    training, state = run.config.train, run.state
    score = _monitored(val_metrics, training.monitor)
    if training.schedule == "plateau":
        run.schedule.step(score if score is not None else train_score)
    else:
        run.schedule.step()
    if score is None or score > state["best_score"]:
        state.update(best_epoch=epoch, best_score=score if score is not None else -math.inf, waiting=0,
                     best_state=_cpu_state(run.model))
    else:
        state["waiting"] += 1
        state["stopped_early"] = bool(training.early_stopping and state["waiting"] >= training.early_stopping)


def _print_epoch(line: dict, val_metrics: dict | None, training) -> None:
    monitor = training.monitor
    shown = f"val {monitor} {val_metrics[monitor]:.4f}" if val_metrics and monitor in val_metrics else ""
    print(f"epoch {line['epoch']}/{training.epochs}: train loss {line['train_loss']:.4f}, accuracy "
          f"{line['train_accuracy']:.4f}; {shown} ({line['seconds']:.1f} s)", file=sys.stderr)


def augmented(batches, on_waves, sr: int, seed: int, frame_samples: int = 1, workers: int | None = None):
    """``(waves, targets, global_size, g)`` of each batch, its waveforms augmented ahead in threads while
    the network learns from the batches before: on a GPU the CPU's augmentation then overlaps the network's
    work instead of adding to it (on 2 CPU cores, where both compete, FSDD's recipe gains 4%).
    Each batch has its own generator ``g``, seeded by ``seed`` and the batch's number, and goes on to the
    spectrogram augmentations and mixup: the numbers do not depend on timing. Frame targets (events, frames
    of ``frame_samples``) move with augmentations that move the sound in time. ``workers``: batches
    augmented at once (default: one per two of torch's threads)."""
    def prepare(number, batch):
        waves, targets, global_size = batch
        g = torch.Generator().manual_seed(seed + number * 101)
        for augmentation in on_waves:
            waves, targets = augmentation.with_targets(waves, targets, sr, g, frame_samples)
        return waves, targets, global_size, g

    if not on_waves:
        yield from (prepare(number, batch) for number, batch in enumerate(batches))
        return
    # one thread per two of torch's: the augmentations' small tensor operations keep one core busy at
    # best, so a GPU's data needs several batches prepared at once (on 2 cores, one thread ahead)
    workers = workers or max(1, torch.get_num_threads() // 2)
    with ThreadPoolExecutor(workers) as pool:
        pending = deque()
        for number, batch in enumerate(batches):
            pending.append(pool.submit(prepare, number, batch))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@torch.no_grad()
def recompute_batch_norm(model, train, epoch: int, training, device, max_batches: int = 8) -> None:
    """Re-estimate batch norm's running statistics with the epoch's final weights ("precise BN").

    During an epoch the running averages trail weights that keep changing, and evaluation uses them:
    on FSDD they cost 10 points of validation accuracy. A pass over up to ``max_batches`` training
    batches with the weights fixed gives the statistics the evaluated network really has. Every process
    uses the same batches, so data-parallel copies stay identical.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    model.eval()  # dropout off: the statistics of the network as it will be evaluated
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
        norm.train()
    # batches of their own (epoch numbers training never uses), the same in every process
    batches = train.batches(10**9 + epoch, training.batch_size or 256, model.clip_samples, training.seed)
    for number, (waves, _, _) in enumerate(batches):
        if number == max_batches:
            break
        if len(waves) > 1:
            model(waves.to(device))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.train(was_training)


def _correct(logits, targets, multi_label: bool) -> float:
    with torch.no_grad():
        if logits.ndim == 3:  # frames of event detection: each example's share of frames decided right
            frames = ((logits > 0) == (targets > 0.5)).all(dim=-1).float().mean(dim=-1)
            weak = targets.amax(dim=(1, 2)) >= losses.WEAK  # known classes, not when: is each heard somewhere
            clips = ((logits.amax(dim=1) > 0) == (targets.amax(dim=1) - losses.WEAK > 0.5)).all(dim=-1).float()
            return float(torch.where(weak, clips, frames).sum())
        if multi_label:
            return int(((logits > 0) == (targets > 0.5)).all(dim=1).sum())
        truth = targets.argmax(dim=1) if targets.ndim == 2 else targets  # mixup's rows: the larger share
        return int((logits.argmax(dim=1) == truth).sum())
