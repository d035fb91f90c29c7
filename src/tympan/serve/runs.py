"""The training runs under a folder, for the runs page: each run folder (``tympan train --out``) has its
``report/metrics.json`` and ``report/report.html``; a run is named by its path under the folder and served by
that name only, never by a path a request gives."""

from __future__ import annotations

import json
from pathlib import Path

METRICS = "report/metrics.json"
REPORT = "report/report.html"
MAX_DEPTH = 3  # runs/<experiment>/<fold>/... is as deep as people nest them
# the test metrics shown side by side, in this order, where a run has them
SHOWN = ("accuracy", "balanced_accuracy", "macro_f1", "mAP", "event_f1", "segment_f1", "psds1", "psds2", "loss")


def find_runs(folder) -> dict[str, Path]:
    """``{name: run folder}`` of every run at most ``MAX_DEPTH`` folders below ``folder`` (itself included,
    named after itself)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found = {}
    level = [folder]
    for _ in range(MAX_DEPTH + 1):
        deeper = []
        for path in level:
            if (path / METRICS).is_file():
                found[folder.name if path == folder else path.relative_to(folder).as_posix()] = path
            elif not path.is_symlink():
                deeper += sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        level = deeper
    return dict(sorted(found.items()))


def describe_run(name: str, path: Path) -> dict:
    """A run's line on the runs page: its task, data, network, evaluation and test metrics."""
    try:
        metrics = json.loads((path / METRICS).read_text())
    except (OSError, ValueError) as error:
        return {"name": name, "error": f"{METRICS} cannot be read: {error}"}
    config = metrics.get("config") or {}
    test = metrics.get("test") or {}
    dataset = metrics.get("dataset") or {}
    evaluation = metrics.get("evaluation") or {}
    return {"name": name, "task": (config.get("data") or {}).get("task", "clips"),
            "dataset": Path(str(dataset.get("path", ""))).name or None, "layout": dataset.get("layout"),
            "network": _network(config.get("network") or {}), "frontend": (config.get("frontend") or {}).get("kind"),
            "classes": len(metrics.get("classes") or []),
            "test": {key: test[key] for key in SHOWN if isinstance(test.get(key), (int, float))},
            "test_n": test.get("n"), "test_sources": evaluation.get("test"), "group_name": evaluation.get("group_name"),
            "best_epoch": metrics.get("best_epoch"), "epochs": metrics.get("epochs"),
            "train_seconds": metrics.get("train_seconds"),
            "modified": round((path / METRICS).stat().st_mtime), "report": (path / REPORT).is_file()}


def _network(network: dict) -> str | None:
    """``cnn``, or a list of layers as ``conv > pool > dense``."""
    if network.get("kind"):
        return str(network["kind"])
    layers = network.get("layers")
    if isinstance(layers, list):
        return " > ".join(str(layer.get("kind", "?")) for layer in layers if isinstance(layer, dict))
    return None
