"""What a prediction gives back besides its dictionary: text for a terminal, a CSV of events, a timeline
figure per long recording, and an embedding file with its report.

These are what ``tympan predict`` and ``tympan embed`` print and write, as functions a script can call on
the report ``predict_files`` returns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..defaults import BATCH_SIZE
from ..files import write_text
from .embed import embed_files, write_embeddings
from .files import rows

EMBED_SCHEMA = "tympan.embed/1"


def format_predictions(report: dict) -> str:
    """The report as text: per file its best labels, notes, events and figure; then the bad inputs.

    Parameters
    ----------
    report : dict
        What ``predict_files`` returned (``plot_timelines`` adds the figures).

    Returns
    -------
    str

    Examples
    --------
    >>> report = {"files": [{"file": "a.wav", "duration": 1.0, "top": [{"label": "dog", "score": 0.9}],
    ...                      "notes": [], "events": []}], "bad": [{"path": "b.wav", "reason": "empty"}]}
    >>> print(format_predictions(report))
    a.wav (1.00 s): dog 0.900
    bad: b.wav: empty
    """
    lines = []
    for item in report["files"]:
        best = ", ".join(f"{t['label']} {t['score']:.3f}" for t in item["top"])
        lines.append(f"{item['file']} ({item['duration']:.2f} s): {best}"
                     + "".join(f"\n  note: {n}" for n in item["notes"]))
        lines += [f"  {e['start']:9.2f} - {e['end']:9.2f} s  {e['label']} ({e['score']:.3f})" for e in item["events"]]
        lines += [f"  plot: {item['plot']}"] if "plot" in item else []
    lines += [f"bad: {b['path']}: {b['reason']}" for b in report["bad"]]
    return "\n".join(lines)


def write_csv(report: dict, path) -> Path:
    """Write ``rows(report)`` as CSV, ``file,start,end,label,score``: a long recording's events, a clip's
    best label; an event detector's report in the DCASE format (``filename,onset,offset,event_label``,
    tab-separated for a ``.tsv`` path). Written atomically.

    Parameters
    ----------
    report : dict
        What ``predict_files`` returned.
    path : str or Path
        The CSV file.

    Returns
    -------
    Path
        ``path``.
    """
    if report.get("task") == "events":  # the field's own format, which its tools read
        from .detect import write_events

        write_events(report, path)
        return Path(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["file", "start", "end", "label", "score"])
    writer.writeheader()
    writer.writerows(rows(report))
    return write_text(path, text.getvalue())


def plot_timelines(model, report: dict, out_dir, window_seconds=None) -> list[Path]:
    """Draw ``out_dir/<name>.timeline.png`` for each recording longer than a window: its log-mel
    spectrogram with its events under it. Each drawn item of ``report`` gets its figure's path as ``plot``.

    Parameters
    ----------
    model : Classifier
        The model that made ``report`` (its sample rate and clip length).
    report : dict
        What ``predict_files`` returned; changed in place.
    out_dir : str or Path
        The folder for the figures.
    window_seconds : float or None
        The window ``predict_files`` used; None for the model's clip length.

    Returns
    -------
    list of Path
        The figures written.
    """
    from ..display import plot_timeline, save_figure  # matplotlib, only for those who ask for figures

    written = []
    for item in report["files"]:
        if item["duration"] > (window_seconds or model.clip_seconds) or report.get("task") == "events":
            out = Path(out_dir) / f"{Path(item['file']).stem}.timeline.png"
            written.append(save_figure(plot_timeline(item["file"], item["events"], sr=model.sr), out))
            item["plot"] = str(written[-1])
    return written


def embed_to_file(model_file, targets, out, device: str = "auto", window_seconds=None, hop_seconds=None,
                  batch_size: int = BATCH_SIZE, progress: bool = False) -> dict:
    """Embed every file ``targets`` name with the model in ``model_file`` and write the matrix to ``out``
    (``.npy`` or ``.csv``, as ``write_embeddings``); bad inputs are reported, never fatal.

    Parameters
    ----------
    model_file : str or Path
        A ``.tympan`` model file.
    targets : list
        Files, folders (searched recursively) or glob patterns.
    out : str or Path
        The ``.npy`` or ``.csv`` file to write; nothing is written when no file could be embedded.
    device : str
        ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
    window_seconds, hop_seconds, batch_size, progress
        As ``embed_files``.

    Returns
    -------
    dict
        ``{"schema": "tympan.embed/1", "model", "embedding_size", "files", "written", "bad": [{"path",
        "reason"}]}``.
    """
    from ..device import pick_device
    from ..model_file import load_model

    model = load_model(model_file, device=pick_device(device))
    matrix, files, bad = embed_files(model, targets, window_seconds=window_seconds, hop_seconds=hop_seconds,
                                     batch_size=batch_size, progress=progress)
    written = write_embeddings(out, matrix, files) if files else []
    return {"schema": EMBED_SCHEMA, "model": str(model_file), "embedding_size": int(matrix.shape[1]),
            "files": files, "written": [str(p) for p in written], "bad": bad}


def format_embedding(report: dict) -> str:
    """What ``tympan embed`` prints: how many files, how many values each, what was written, bad inputs.

    Parameters
    ----------
    report : dict
        What ``embed_to_file`` returned.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_embedding({"files": ["a.wav"], "embedding_size": 64, "written": ["e.csv"], "bad": []}))
    1 file(s) -> 64 values each: e.csv
    """
    lines = [f"{len(report['files'])} file(s) -> {report['embedding_size']} values each: "
             f"{', '.join(report['written']) or 'nothing written'}"]
    lines += [f"bad: {b['path']}: {b['reason']}" for b in report["bad"]]
    return "\n".join(lines)


__all__ = ["embed_to_file", "format_embedding", "format_predictions", "plot_timelines", "write_csv"]
