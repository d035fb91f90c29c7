"""Several approaches to one dataset on exactly the same split: one table, one bar chart, learning curves.

An approach is the conventional baseline (``baseline``, ``baseline:rf``, ``baseline:knn``), the dataset's
own recipe (``auto``), a recipe by name (``fsdd``, ``esc50``...) or a configuration file. A file can hold
any choice of ``tympan train``: augmentation (``augment:``), fine-tuning from another model or
random-weights features (``transfer:``). ``LABEL=SPEC`` names an approach in the table.

The dataset is split once, with the seed and fractions of its layout's recipe, and the split written to
``OUT/split.csv``; every approach then trains on that file, so all of them see the same recordings. In
learning-curve mode the training split is cut to each fraction (stratified by class and nested: the 10%
are inside the 25%...), validation and test staying whole.

    result = compare("fsdd/", "runs/compare", ["baseline", "scratch=cnn.yaml", "augmented=cnn_aug.yaml"])
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, TympanError
from ..data.splits import assign_splits
from ..display import save_figure
from ..files import write_text
from .baseline import CLASSIFIERS, baseline
from .config import RECIPES, recipe_path
from .run import prepare, train

FRACTIONS = (0.1, 0.25, 0.5, 1.0)


@dataclass
class Approach:
    """One line of the comparison: ``label`` in the table, ``spec`` what runs."""

    label: str
    spec: str

    @property
    def folder(self) -> str:
        """The run's folder name: the label with anything but letters, digits, ``.`` and ``-`` as ``_``."""
        return re.sub(r"[^\w.-]+", "_", self.label).strip("_") or "approach"

    @property
    def classifier(self) -> str | None:
        """The baseline's classifier, or None for an approach that trains a network."""
        if self.spec == "baseline":
            return "svm"
        return self.spec.partition(":")[2] if self.spec.startswith("baseline:") else None

    def config_file(self, layout: str) -> Path:
        if self.spec == "auto":
            return recipe_path(layout)
        if (RECIPES / f"{self.spec}.yaml").is_file():
            return RECIPES / f"{self.spec}.yaml"
        return Path(self.spec)

    def run(self, data: Path, out: Path, layout: str, sets, progress: bool) -> dict:
        if self.classifier is not None:  # the MFCCs at the sample rate and frames of the dataset's recipe
            return baseline(data, out, layout="csv", classifier=self.classifier, config_file=recipe_path(layout),
                            sets=sets, progress=progress)
        return train(data, out, layout="csv", config_file=self.config_file(layout), sets=sets, progress=progress)


def parse_approaches(texts) -> list[Approach]:
    """``["baseline", "aug=recipes/aug.yaml", ...]`` as approaches, each checked: an unknown recipe or a
    missing file is a ``ConfigError`` naming it."""
    approaches = []
    for text in texts:
        label, sep, spec = str(text).partition("=")
        label, spec = (label.strip(), spec.strip()) if sep else (Path(text).stem or text, str(text).strip())
        approach = Approach(label, spec)
        if spec.startswith("baseline"):
            if approach.classifier not in CLASSIFIERS:
                raise ConfigError(f"approach {text!r}: the baseline's classifier is one of "
                                  f"{', '.join(CLASSIFIERS)} (baseline:svm)")
        elif spec != "auto" and not (RECIPES / f"{spec}.yaml").is_file() and not Path(spec).is_file():
            recipes = sorted(p.stem for p in RECIPES.glob("*.yaml"))
            raise ConfigError(f"approach {text!r}: no recipe or configuration file {spec!r} (recipes: "
                              f"{', '.join(recipes)}; or baseline, baseline:rf, baseline:knn, auto)")
        approaches.append(approach)
    labels = [a.label for a in approaches]
    if not approaches or len(set(labels)) != len(labels):
        raise ConfigError(f"approaches need distinct labels, got {labels}; name them LABEL=SPEC")
    return approaches


def subsample(manifest, fraction: float, seed: int):
    """The manifest with its training split cut to ``fraction`` of each class (at least one item), nested
    across fractions: the same seed gives the smaller subsets inside the larger ones."""
    rng = np.random.default_rng(seed)
    train = [i for i, item in enumerate(manifest.items) if item.split == "train"]
    order = [train[k] for k in rng.permutation(len(train))]
    by_class: dict[str, list[int]] = {}
    for i in order:
        by_class.setdefault(manifest.items[i].labels[0], []).append(i)
    keep = {i for members in by_class.values() for i in members[:max(1, math.ceil(fraction * len(members)))]}
    return replace(manifest, items=[item for i, item in enumerate(manifest.items)
                                    if item.split != "train" or i in keep])


def compare(data, out, approaches, layout: str = "auto", options: dict | None = None, sets=(),
            fractions=None, progress: bool = True) -> dict:
    """Run every approach on one split of ``data``; write ``OUT/compare.json``, ``compare.png`` and, with
    ``fractions``, ``learning_curve.png``. Each approach's run is in ``OUT/<label>/`` (``OUT/<pct>/<label>/``
    in learning-curve mode; the label made safe for a file name).

    Parameters
    ----------
    approaches : list of str or Approach
        See the module docstring.
    sets : list of str
        ``--set`` overrides for every approach (e.g. ``train.epochs=10``).
    fractions : list of float or None
        Learning-curve mode: the shares of the training split to train on.

    Returns
    -------
    dict
        ``{"schema": "tympan.compare/1", "rows": [{"approach", "fraction", "n_train", "accuracy", "macro_f1",
        "val_accuracy", "train_seconds", "seconds", "error"}], "failed": [...]}``; an approach that fails
        is reported with its error and the others still run.
    """
    out = Path(out)
    approaches = parse_approaches(a if isinstance(a, str) else f"{a.label}={a.spec}" for a in approaches)
    manifest, config = prepare(data, layout, options=options)
    d = config.data
    split = assign_splits(manifest, d.val_fraction, d.test_fraction, d.test_fold, seed=config.train.seed)
    fractions = [float(f) for f in fractions] if fractions else None
    if fractions and not all(0 < f <= 1 for f in fractions):
        raise ConfigError(f"fractions {fractions}: each must be in (0, 1]")
    rows = []
    for fraction in fractions or [1.0]:
        where = out / f"{round(fraction * 100):03d}pct" if fractions else out
        used = subsample(split, fraction, config.train.seed) if fraction < 1 else split
        csv = used.to_csv(where / "split.csv")
        n_train = used.split_sizes().get("train", 0)
        for approach in approaches:
            if progress:
                print(f"{approach.label}" + (f" on {fraction:.0%} of the training data" if fractions else "")
                      + f" ({n_train} training recordings) ...", file=sys.stderr, flush=True)
            row = {"approach": approach.label, "spec": approach.spec, "fraction": fraction, "n_train": n_train}
            rows.append(_run(approach, row, csv, where, manifest.layout, sets, progress))
    failed = [{"approach": r["approach"], "fraction": r["fraction"], "error": r["error"]}
              for r in rows if "error" in r]
    result = {"schema": "tympan.compare/1", "data": str(data), "split": split.split_sizes(),
              "approaches": [{"label": a.label, "spec": a.spec} for a in approaches], "rows": rows,
              "failed": failed, "files": _plot_rows(rows, fractions, out)}
    write_text(out / "compare.json", json.dumps(result, indent=2))
    return result


def _run(approach: Approach, row: dict, csv: Path, where: Path, layout: str, sets, progress: bool) -> dict:
    """``row`` with the approach's test and validation scores and its times, or with its error: one failing
    approach does not stop the others."""
    started = time.perf_counter()
    try:
        result = approach.run(csv, where / approach.folder, layout, list(sets), progress)
    except TympanError as error:
        return {**row, "error": str(error)}
    test, val = result.get("test") or {}, result.get("val") or {}
    return {**row, "accuracy": test.get("accuracy"), "macro_f1": test.get("macro_f1"), "mAP": test.get("mAP"),
            "val_accuracy": val.get("accuracy"), "train_seconds": result.get("train_seconds"),
            "seconds": time.perf_counter() - started}


def _plot_rows(rows: list[dict], fractions, out: Path) -> dict:
    """The figures of the rows that ran: the bar chart of the full training split and, with ``fractions``,
    the learning curves. Returns ``{"chart", "learning_curve"}``, each only when drawn."""
    files = {}
    full = [r for r in rows if r["fraction"] == max(fractions or [1.0]) and r.get("error") is None]
    if full:
        files["chart"] = str(save_figure(plot_comparison(full), out / "compare.png"))
    if fractions and any(r.get("error") is None for r in rows):
        files["learning_curve"] = str(save_figure(plot_learning_curve(rows), out / "learning_curve.png"))
    return files


def table(result: dict) -> str:
    """The comparison as aligned text: one row per approach (and fraction)."""
    curve = len({r["fraction"] for r in result["rows"]}) > 1
    header = f"{'approach':<24}" + (f"{'train':>8}" if curve else "") + \
        f"{'accuracy':>10}{'macro-F1':>10}{'val acc':>9}{'seconds':>9}"
    lines = [header]
    for r in result["rows"]:
        start = f"{r['approach']:<24}" + (f"{r['n_train']:>8}" if curve else "")
        if r.get("error"):
            lines.append(f"{start}  failed: {r['error']}")
            continue
        cells = [_number(r.get("accuracy"), 10), _number(r.get("macro_f1"), 10), _number(r.get("val_accuracy"), 9),
                 f"{r['train_seconds']:>9.1f}"]
        lines.append(start + "".join(cells))
    return "\n".join(lines)


def _number(value, width: int) -> str:
    return f"{value:>{width}.4f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def plot_comparison(rows: list[dict]):
    """Test accuracy and macro-F1 per approach, as grouped bars, training seconds written above."""
    from ..display import plt

    labels = [r["approach"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows) + 2), 4.2), constrained_layout=True)
    for offset, key, name in ((-0.2, "accuracy", "accuracy"), (0.2, "macro_f1", "macro-F1")):
        values = [r.get(key) if r.get(key) is not None else np.nan for r in rows]
        bars = ax.bar(x + offset, values, width=0.4, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    for i, r in enumerate(rows):
        ax.text(i, 1.06, f"{r['train_seconds']:.0f} s", ha="center", fontsize=8, color="0.35")
    ax.set_xticks(x, labels, rotation=20 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("test score")
    ax.set_title("approaches on the same split (training time above)")
    ax.legend(loc="lower right")
    return fig


def plot_learning_curve(rows: list[dict]):
    """Test accuracy against the number of training recordings, one line per approach."""
    from ..display import plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    for label in dict.fromkeys(r["approach"] for r in rows):
        mine = sorted((r["n_train"], r["accuracy"]) for r in rows
                      if r["approach"] == label and r.get("accuracy") is not None)
        if mine:
            ax.plot(*zip(*mine), marker="o", label=label)
    sizes = sorted({r["n_train"] for r in rows})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training recordings")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("learning curves")
    ax.legend()
    return fig
