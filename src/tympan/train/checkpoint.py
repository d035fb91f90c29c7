"""One training run's moving parts and what it leaves on disk: the optimiser and schedule, the state that
early stopping and the best epoch need, a checkpoint after every epoch (``--resume`` continues from it and
ends exactly where an uninterrupted run ends, on CPU), a line per epoch in ``log.jsonl``, TensorBoard.
Only the first process writes."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
from pathlib import Path

import torch

from ..device import Parallel
from ..errors import ConfigError, OutputError
from ..files import atomic_path, write_text
from .optim import make_optimizer, make_schedule

CHECKPOINT = "last.pt"
_KEPT = ("epoch", "best_epoch", "best_score", "waiting", "stopped_early", "best_state")


class Run:
    """``fit``'s state between epochs. ``state`` holds the epoch reached, the best epoch, its score and
    weights, the epochs waited without progress and the history: what a checkpoint must restore."""

    def __init__(self, model, config, out: Path | None, parallel: Parallel, resume: bool = False):
        training = config.train
        self.model, self.config, self.out, self.parallel = model, config, out, parallel
        self.device = next(model.parameters()).device
        self.optimizer = make_optimizer(model.parameters(), training)
        self.schedule = make_schedule(self.optimizer, training)
        self.network = model.network
        if parallel.world > 1:
            self.network = torch.nn.parallel.DistributedDataParallel(model.network)
        # bfloat16 for the network: on CUDA by default (amp), on CPU when asked (cpu_bf16: 1.6x faster steps
        # on CPUs with native bfloat16, such as AVX512-BF16 or AMX, at slightly different numbers)
        self.amp = (training.amp and self.device.type == "cuda") or (training.cpu_bf16 and self.device.type == "cpu")
        self.writes = out is not None and parallel.writes
        self.checkpoint_path = out / "checkpoints" / CHECKPOINT if out is not None else None
        self.config_json = json.dumps(config.to_dict(), sort_keys=True)
        self.state = {"epoch": 0, "best_epoch": 0, "best_score": -math.inf, "waiting": 0, "stopped_early": False,
                      "history": [], "best_state": None}
        if resume:
            self._resume()
        if self.writes:
            self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
            _trim_log(out / "log.jsonl", self.state["epoch"])  # a fresh run starts a fresh log
        self.writer = _tensorboard(out) if training.tensorboard and self.writes else None

    def _resume(self) -> None:
        """Continue from the last checkpoint, if there is one; it must come from the same configuration."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return
        saved = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        if saved["config"] != self.config_json:
            raise ConfigError(f"{self.checkpoint_path}: made with another configuration; resume with the same "
                              "options, or start afresh in another --out folder")
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        self.state.update({k: saved[k] for k in _KEPT})
        self.state["history"] = json.loads(saved["history"])

    def end_epoch(self, line: dict) -> None:
        """Record the epoch: history, checkpoint, log line, TensorBoard scalars."""
        self.state["history"].append(line)
        self.state["epoch"] = line["epoch"]
        if not self.writes:
            return
        with atomic_path(self.checkpoint_path) as tmp:  # an interruption leaves the previous checkpoint whole
            try:
                torch.save({"model": _cpu_state(self.model), "optimizer": self.optimizer.state_dict(),
                            "schedule": self.schedule.state_dict(), "config": self.config_json,
                            "history": json.dumps(self.state["history"]),
                            **{k: self.state[k] for k in _KEPT}}, tmp)
            except RuntimeError as error:  # torch's zip writer reports a failed write (a full disk) this way
                free = shutil.disk_usage(tmp.parent).free
                raise OSError(errno.ENOSPC if free < 1 << 20 else errno.EIO,
                              f"{os.strerror(errno.ENOSPC) if free < 1 << 20 else error}") from None
        try:
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")
        except OSError as error:
            raise OutputError(f"{self.out / 'log.jsonl'}: cannot write it ({error.strerror or error}); the "
                              f"checkpoint of epoch {line['epoch']} is whole, --resume goes on from it") from None
        if self.writer is not None:
            for key, value in line.items():
                if key != "epoch":
                    self.writer.add_scalar(key, value, line["epoch"])

    def finish(self) -> dict:
        """Load the best epoch's weights into the model; ``fit``'s result."""
        if self.writer is not None:
            self.writer.close()
        if self.state["best_state"] is not None:
            self.model.load_state_dict(self.state["best_state"])
        history = self.state["history"]
        return {"history": history, "best_epoch": self.state["best_epoch"], "epochs": self.state["epoch"],
                "stopped_early": self.state["stopped_early"],
                "train_seconds": sum(line["seconds"] for line in history)}


def _cpu_state(module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _trim_log(path: Path, last_epoch: int) -> None:
    """Keep the log lines of the epochs the checkpoint holds: a run killed after logging an epoch but
    before its checkpoint would otherwise log that epoch twice."""
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["epoch"] <= last_epoch]
    write_text(path, "".join(line + "\n" for line in lines))


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(out / "tensorboard"))
