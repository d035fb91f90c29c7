"""Events in time from an event detector: each recording streamed block by block through the model's
frames (``EventDetector.stream_scores``), its timeline read with the model's post-processing, in memory
that does not grow with the recording beyond its frame scores."""

from __future__ import annotations

from ..audio import stream
from ..data.events import Event, write_annotations
from ..errors import AudioError
from ..nn.detector import decode
from .windows import reporting

STREAM_SECONDS = 30.0  # decoded at a time


def detect_file(model, path, batch_size: int, per_window: bool = False, on_block=None) -> dict:
    """One recording's result: its classes (those with an event), its events with their highest frame
    score, and its duration; with ``per_window``, each frame's scores as ``window_scores`` (the schema of
    a clip model's windows). ``on_block`` as ``score_windows`` takes it."""
    blocks = reporting(stream(path, sr=model.sr, block_seconds=STREAM_SECONDS), on_block)
    scores = model.stream_scores(blocks, batch_size)
    found = decode(scores, model.frame_seconds, model.classes, model.postprocess)
    index = {label: i for i, label in enumerate(model.classes)}
    rows = []
    for event in found:
        first = int(round(event.onset / model.frame_seconds))
        end = max(first + 1, int(round(event.offset / model.frame_seconds)))
        rows.append({"file": str(path), "start": event.onset, "end": event.offset, "label": event.label,
                     "score": round(float(scores[first:end, index[event.label]].max()), 4)})
    best = scores.max(axis=0)
    present = sorted({r["label"] for r in rows}, key=lambda label: -best[index[label]])
    result = {"file": str(path), "duration": round(len(scores) * model.frame_seconds, 3),
              "top": [{"label": label, "score": round(float(best[index[label]]), 4)} for label in present],
              "windows": len(model.blocks(len(scores) * model.frame_samples)[2]), "notes": [], "events": rows}
    if per_window:
        step = model.frame_seconds
        result["window_scores"] = [{"start": round(i * step, 3), "end": round((i + 1) * step, 3),
                                    "scores": [round(float(v), 4) for v in row]} for i, row in enumerate(scores)]
    return result


def detect_files(model, files, batch_size: int, bar, per_window: bool = False,
                 on_block=None) -> tuple[list[dict], list[dict]]:
    """Every file's result, and the bad files ``[{"path", "reason"}]`` (never fatal)."""
    results, bad = [], []
    for path in files:
        try:
            results.append(detect_file(model, path, batch_size, per_window, on_block))
        except AudioError as error:
            bad.append({"path": str(path), "reason": error.reason})
        bar.update(1)
    bar.close()
    return results, bad


def write_events(report: dict, path) -> None:
    """The events of a ``predict`` report in the DCASE format (``filename, onset, offset, event_label``;
    tab-separated unless ``path`` ends in ``.csv``), a recording without events as an empty row."""
    write_annotations(path, {item["file"]: [Event(e["start"], e["end"], e["label"]) for e in item["events"]]
                             for item in report["files"]})
