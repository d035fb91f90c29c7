"""A run's result in a few lines of text: what ``tympan train``, ``baseline``, ``evaluate`` and ``compare``
print, so a script gets the same summary as the command line.

The results are the dictionaries ``train``, ``baseline``, ``evaluate`` and ``compare`` return (the
``metrics.json`` content for a run); nothing here reads a file.
"""

from __future__ import annotations

from pathlib import Path

from .compare import table

# more groups than this are summarised in the report only: a line per speaker would fill the terminal
SHOWN_GROUPS = 12


def headline(metrics: dict) -> str:
    """The one number a split is judged by: the DCASE F-scores and error rates for an event detector, mAP
    for a multi-label model, else accuracy and macro-F1.

    Parameters
    ----------
    metrics : dict
        One split's metrics, as in ``result["test"]``.

    Returns
    -------
    str

    Examples
    --------
    >>> headline({"accuracy": 0.9, "macro_f1": 0.85, "n": 200})
    'accuracy 0.9000, macro-F1 0.8500'
    """
    if "event_f1" in metrics:
        return (f"event-based F1 {metrics['event_f1']:.4f}, error rate {metrics['event_error_rate']:.4f}; "
                f"segment-based F1 {metrics['segment_f1']:.4f}, error rate {metrics['segment_error_rate']:.4f}; "
                f"PSDS {metrics['psds1']:.3f} / {metrics['psds2']:.3f} (scenario 1 / 2)")
    if "mAP" in metrics:
        return f"mAP {metrics['mAP']:.4f}"
    return f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}"


def _per_group(result: dict) -> list[str]:
    per_group = result.get("per_group") or (result.get("test") or {}).get("per_group")
    if not per_group:
        return []
    name = (result.get("evaluation") or {}).get("group_name", "group")
    shown = ", ".join(f"{g} {row['accuracy']:.3f}" for g, row in list(per_group.items())[:SHOWN_GROUPS])
    more = f", ... ({len(per_group)} in all, in the report)" if len(per_group) > SHOWN_GROUPS else ""
    return [f"test accuracy per {name}: {shown}{more}"]


def _training(result: dict) -> str:
    """How the model was made: a shallow head on embeddings, the conventional baseline, or epochs."""
    head = result.get("head")
    if head:
        return (f"{head['classifier']} head (C={head['C']:g}) on {head['examples']} embeddings of "
                f"{head['embedding_size']} values, fitted in {result['train_seconds']:.1f} s")
    refit = result.get("refit")
    again = f", then {refit['epochs']} on training and validation together" if refit else ""
    b = result.get("baseline")
    if b:
        chosen = ", ".join(f"{k.rpartition('__')[2]}={v}" for k, v in b["chosen"].items())
        what = f"{b['classifier']} on {b['n_features']} MFCC statistics ({chosen})"
    else:
        what = f"{result['epochs']} epochs (best {result['best_epoch']})"
    return f"{what}{again} in {result['train_seconds']:.1f} s"


def format_run(result: dict, out) -> str:
    """The summary ``tympan train`` (and ``demo``, ``baseline``) prints: scores, cross-validation, scores
    per group, how the model was made, bad files, and where the model and report are.

    Parameters
    ----------
    result : dict
        What ``train`` or ``baseline`` returned.
    out : str or Path
        The run's folder, as given to ``train``.

    Returns
    -------
    str
        Lines of text; a baseline writes no model file, so it has no ``model:`` line.

    Examples
    --------
    >>> result = {"test": {"accuracy": 0.9, "macro_f1": 0.85, "n": 200}, "epochs": 2, "best_epoch": 2,
    ...           "train_seconds": 3.2, "bad_files": []}
    >>> print(format_run(result, "runs/demo"))
    test: accuracy 0.9000, macro-F1 0.8500 (n=200)
    2 epochs (best 2) in 3.2 s
    model:  runs/demo/model.tympan
    report: runs/demo/report/report.html
    """
    out = Path(out)
    lines = [f"{split}: {headline(result[split])} (n={result[split]['n']})"
             for split in ("val", "test") if result.get(split)]
    cv = result.get("cross_validation")
    if cv and "accuracy" in cv:
        lines.append(f"cross-validation over {len(result['folds'])} folds: accuracy "
                     f"{cv['accuracy']['mean']:.4f} +- {cv['accuracy']['std']:.4f}")
    lines += _per_group(result)
    note = (result.get("evaluation") or {}).get("note")
    lines += [f"note: {note}"] if note else []
    lines.append(_training(result))
    if result["bad_files"]:
        lines.append(f"{len(result['bad_files'])} bad file(s) skipped, listed in the report:")
        lines += [f"  {b['path']}: {b['reason']}" for b in result["bad_files"][:10]]
    lines += [] if result.get("baseline") else [f"model:  {out / 'model.tympan'}"]
    lines.append(f"report: {out / 'report' / 'report.html'}")
    return "\n".join(lines)


def format_evaluation(result: dict, split: str = "test") -> str:
    """What ``tympan evaluate`` prints: the split's headline and the evaluation's note, if any.

    Parameters
    ----------
    result : dict
        What ``evaluate`` returned.
    split : str
        The split it scored: ``test``, ``val``, ``train`` or ``all``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_evaluation({"test": {"accuracy": 1.0, "macro_f1": 1.0, "n": 4}, "note": None})
    'test: accuracy 1.0000, macro-F1 1.0000 (n=4)'
    """
    text = f"{split}: {headline(result[split])} (n={result[split]['n']})"
    if result.get("tuned"):  # an event detector's post-processing, tuned on validation
        text += "\ntuned on val: " + ", ".join(
            f"{label} threshold {row['threshold']:g}"
            + (f" (low {row['low_threshold']:g})" if row["low_threshold"] < row["threshold"] else "")
            + f", median {row['median_seconds']:g} s" for label, row in result["tuned"].items())
    per_class = result[split].get("per_class") or {}
    if "event_f1" in result[split]:
        text += "\n" + "\n".join(f"  {label}: event F1 {row['event_f1']:.3f}, segment F1 {row['segment_f1']:.3f} "
                                 f"({row['n_events']} events)" for label, row in per_class.items())
    return text + (f"\nnote: {result['note']}" if result.get("note") else "")


def format_comparison(result: dict) -> str:
    """What ``tympan compare`` prints: the table of approaches, then the files it wrote.

    Parameters
    ----------
    result : dict
        What ``compare`` returned.

    Returns
    -------
    str
    """
    return table(result) + "".join(f"\n{name}: {path}" for name, path in result["files"].items())


__all__ = ["format_comparison", "format_evaluation", "format_run", "headline"]
