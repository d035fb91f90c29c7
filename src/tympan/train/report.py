"""The training report: metrics as JSON, learning curves and confusion as PNG, and one HTML page with all of it.

The HTML page is a single self-contained file (images inlined as base64), so it can be mailed or archived
alone and still show everything. The files are written to temporary names and renamed together once all
are written, so a reader never sees half a report, nor parts of two.
"""

from __future__ import annotations

import base64
import html
import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..display import plt, save_figure  # display sets the file-only Agg back-end first
from ..files import atomic_path
from .metrics import summarize_folds

MAX_CLASSES_WITH_COUNTS = 30  # beyond this the numbers in the cells overlap and only the colours read


def _plain(value):
    """JSON for the NumPy numbers and paths a result may carry."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _label(text) -> str:
    # Matplotlib reads $...$ as mathematics; a class name is plain text.
    return str(text).replace("$", r"\$")


def plot_curves(history: list[dict], best_epoch=None):
    """Loss (left) and accuracy / macro-F1 (right) per epoch, train against val, best epoch marked.

    Examples
    --------
    >>> fig = plot_curves([{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}, {"epoch": 2, "train_loss": 0.5}], 1)
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    panels = {"loss": ["train_loss", "val_loss"], "accuracy": ["train_accuracy", "val_accuracy", "val_macro_f1"]}
    for ax, (title, keys) in zip(axes, panels.items()):
        drawn = False
        for key in keys:
            # None where an epoch lacks the value: the line breaks there instead of dropping to zero.
            values = np.array([np.nan if row.get(key) is None else row[key] for row in history], dtype=float)
            if np.isfinite(values).any():
                ax.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                        linestyle="--" if key.startswith("train") else "-", label=key.replace("_", " "))
                drawn = True
        if best_epoch is not None:
            ax.axvline(best_epoch, color="#888", linestyle=":", label=f"best epoch {best_epoch}")
        if drawn:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {title} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=title, xlabel="epoch", ylabel=title)
        ax.grid(alpha=0.3)
    return fig


def plot_confusion(confusion, classes, title: str = ""):
    """A confusion matrix normalised per row (so the diagonal is each class's recall), counts in the cells.

    Examples
    --------
    >>> fig = plot_confusion([[3, 1], [0, 4]], ["dog", "rain"], "test")
    >>> fig.axes[0].get_title()
    'test'
    """
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = max(4.0, 0.45 * len(classes) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size), constrained_layout=True)
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    if len(classes) <= MAX_CLASSES_WITH_COUNTS:
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if recall[i, j] > 0.5 else "black")
    ticks = range(len(classes))
    names = [_label(c) for c in classes]
    ax.set_xticks(ticks, names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig


def _confusion_split(result: dict):
    """The split whose confusion the report shows: test if it has one, else val, else none."""
    for split in ("test", "val"):
        metrics = result.get(split)
        if isinstance(metrics, dict) and metrics.get("confusion") is not None:
            return split, metrics
    return None, None


STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;border-bottom:1px solid #ddd}
td{text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}
pre{background:#f5f5f5;padding:1em;overflow:auto}code{background:#f5f5f5}
.note{background:#fff6dd;border-left:4px solid #e0a800;padding:.6em 1em}"""


def _cell(value) -> str:
    """A value as escaped HTML text: numbers rounded, missing ones as a dash."""
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>\n"


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    minutes, seconds = divmod(float(seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def _splits(result: dict) -> list[tuple[str, dict]]:
    return [(split, result[split]) for split in ("test", "val") if isinstance(result.get(split), dict)]


def _measures(evaluation: dict, split: str) -> str:
    """Where a split's recordings come from, relative to training: new or known sources, or unknown."""
    relation = evaluation.get(split)
    name = evaluation.get("group_name", "group")
    return {"new": f"new {name}s", "known": f"known {name}s"}.get(relation, "sources unknown" if relation else "–")


def _headline_table(result: dict, evaluation: dict) -> str:
    """Each split's scores: the DCASE scores for an event detector, else accuracy, mAP and macro-F1."""
    if any("event_f1" in m for _, m in _splits(result)):
        scores = [[split, _measures(evaluation, split), *(m.get(k) for k in EVENT_KEYS)] for split, m in _splits(result)]
        return _table(["split", "recordings from", "event F1", "event error rate", "segment F1 (1 s)",
                       "segment error rate", "PSDS 1", "PSDS 2", "recordings"], scores)
    scores = [[split, _measures(evaluation, split), m.get("accuracy"), m.get("balanced_accuracy"), m.get("mAP"),
               m.get("macro_f1"), m.get("n")] for split, m in _splits(result)]
    return _table(["split", "recordings from", "accuracy", "balanced accuracy", "mAP", "macro-F1", "n"],
                  scores) if scores else "<p>No evaluation split.</p>\n"


def _html(result: dict, images: dict[str, str]) -> str:
    """The report page; ``images`` maps captions to base64 PNG data."""
    dataset = result.get("dataset") or {}
    parts = [f"<h1>Tympan training report</h1>\n<p>{_cell(dataset.get('path'))}</p>\n<h2>Headline</h2>\n"]
    evaluation = result.get("evaluation") or {}
    parts.append(_headline_table(result, evaluation))
    if evaluation.get("note"):
        parts.append(f'<p class="note"><strong>What these scores measure.</strong> {_cell(evaluation["note"])}</p>\n')
    parts.append(f"<p>Epochs: {_cell(result.get('epochs'))} · best epoch: {_cell(result.get('best_epoch'))}"
                 f" · training time: {_duration(result.get('train_seconds'))}</p>\n")
    for caption, data in images.items():
        parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>\n")
    for split, metrics in _splits(result):
        per_class = metrics.get("per_class") or {}
        if "event_f1" in metrics:
            parts.append(f"<h2>Per class ({html.escape(split)})</h2>\n")
            parts.append(_table(["class", "event F1", "segment F1", "events"],
                                [[name, row.get("event_f1"), row.get("segment_f1"), row.get("n_events")]
                                 for name, row in per_class.items()]))
            continue
        multi_label = any("ap" in row for row in per_class.values())
        keys = ["precision", "recall", "f1", "support"] + (["ap"] if multi_label else [])
        parts.append(f"<h2>Per class ({html.escape(split)})</h2>\n")
        parts.append(_table(["class", "precision", "recall", "F1", "support"] + (["AP"] if multi_label else []),
                            [[name] + [row.get(k) for k in keys] for name, row in per_class.items()]))
    per_group = result.get("per_group") or (result.get("test") or {}).get("per_group")
    if per_group:
        name = evaluation.get("group_name", "group")
        parts.append(f"<h2>Test accuracy per {html.escape(name)}</h2>\n")
        parts.append(_table([name, "accuracy", "n"], [[g, row["accuracy"], row["n"]] for g, row in per_group.items()]))
    folds = [fold["test"] for fold in result.get("folds") or [] if isinstance(fold.get("test"), dict)]
    cross_validation = result.get("cross_validation") or summarize_folds(folds)
    if cross_validation:
        parts.append("<h2>Cross-validation</h2>\n")
        parts.append(_table(["metric", "mean ± std", "per fold"], [
            [name, f"{s['mean']:.3f} ± {s['std']:.3f}", ", ".join(_cell(v) for v in s["values"])]
            for name, s in cross_validation.items()]))
    bad_files = result.get("bad_files") or []
    parts.append(f"<h2>Bad files ({len(bad_files)})</h2>\n")
    parts.append("<ul>\n" + "".join(f"<li><code>{_cell(bad.get('path'))}</code>: {_cell(bad.get('reason'))}</li>\n"
                                    for bad in bad_files) + "</ul>\n" if bad_files else "<p>none</p>\n")
    parts.append("<h2>Dataset</h2>\n")
    parts.append(_table(["", ""], [[key, ", ".join(f"{k}: {v}" for k, v in value.items())
                                   if isinstance(value, dict) else value] for key, value in dataset.items()])
                 if dataset else "<p>not recorded</p>\n")
    config = result.get("config")
    parts.append("<h2>Configuration</h2>\n")
    parts.append(f"<pre>{html.escape(json.dumps(config, indent=2, default=_plain))}</pre>\n"
                 if config else "<p>not recorded</p>\n")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Tympan training report</title>'
            f"<style>{STYLE}</style></head>\n<body>\n{''.join(parts)}<p><small>{_cell(result.get('schema'))}"
            "</small></p>\n</body>\n</html>\n")


EVENT_KEYS = ("event_f1", "event_error_rate", "segment_f1", "segment_error_rate", "psds1", "psds2", "n")


def write_report(out_dir, result: dict, figures: dict | None = None) -> dict[str, Path]:
    """Write ``metrics.json``, ``curves.png``, ``confusion.png`` and ``report.html`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the report, created if needed.
    result : dict
        ``{"schema", "classes", "test", "val", "epochs", "best_epoch", "train_seconds", "history", "config",
        "dataset", "bad_files", "folds", "cross_validation"}``; any key may be missing or ``None``.

    Returns
    -------
    dict of str to Path
        The files written, by kind: ``"metrics"``, ``"report"``, and ``"curves"`` when there is a history,
        ``"confusion"`` when the test (else val) metrics are single-label.
    figures : dict or None
        More figures for the page, ``{caption: PNG path}`` (an event detector's timelines).

    Examples
    --------
    >>> import tempfile
    >>> paths = write_report(tempfile.mkdtemp(), {"classes": ["dog", "rain"], "epochs": 0})
    >>> sorted(paths)
    ['metrics', 'report']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, images = {}, {}
    # Every file goes to a temporary first; they are moved in place together once all are written, so a
    # full disk leaves the previous report whole, never new metrics beside an old page.
    with ExitStack() as files:
        def beside(kind: str, name: str) -> Path:
            paths[kind] = out_dir / name
            return files.enter_context(atomic_path(out_dir / name))

        beside("metrics", "metrics.json").write_text(json.dumps(result, indent=2, default=_plain), encoding="utf-8")
        if result.get("history"):
            images["learning curves"] = save_figure(plot_curves(result["history"], result.get("best_epoch")),
                                                    beside("curves", "curves.png"))
        split, metrics = _confusion_split(result)
        if split:
            classes = result.get("classes") or [str(i) for i in range(len(metrics["confusion"]))]
            accuracy = metrics.get("accuracy")
            title = f"{split} confusion" + (f", accuracy {accuracy:.3f}" if accuracy is not None else "")
            images[f"{split} confusion (rows: true class, normalised)"] = save_figure(
                plot_confusion(metrics["confusion"], classes, title), beside("confusion", "confusion.png"))
        images.update(figures or {})
        inlined = {name: base64.b64encode(path.read_bytes()).decode("ascii") for name, path in images.items()}
        beside("report", "report.html").write_text(_html(result, inlined), encoding="utf-8")
    return paths
