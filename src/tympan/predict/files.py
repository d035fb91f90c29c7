"""Predict on anything: files, folders and globs, in any format; clips and hours-long recordings.

Clips (one window at most) are decoded in parallel and share batches; longer recordings are scored window
by window (``windows.score_windows``) and get a timeline of events. A recording's clip-level scores are
the mean over its windows, as ``Classifier.predict`` gives.
"""

from __future__ import annotations

import glob
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio import PERMISSION_DENIED, info, is_audio_path, load
from ..defaults import BATCH_SIZE, MIN_DURATION, SMOOTH, THRESHOLD, TOP_K, default_workers
from ..errors import AudioError, ConfigError
from .windows import events, score_windows


def find_audio(targets) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to predict on: each target a file, a folder (searched recursively) or a glob pattern.

    Returns the audio files, sorted within each target, and ``(target, reason)`` for targets that match
    nothing.
    """
    files, bad, seen = [], [], set()
    for target in map(str, targets):
        if any(ch in target for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(target, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(target):
            # a link that leads nowhere is listed too, so that it is reported, not silently left out; so is a
            # folder that cannot be read
            candidates, unreadable = _walk(target)
            found = sorted(p for p in candidates if (p.is_file() or (p.is_symlink() and not p.exists()))
                           and is_audio_path(p))
            bad += [(folder, PERMISSION_DENIED) for folder in unreadable]
        elif os.path.isfile(target) or os.path.islink(target):  # a broken link is reported when opened
            found = [Path(target)]
        else:
            bad.append((target, "no such file or folder"))
            continue
        if not found:
            bad.append((target, "no audio files found"))
        for path in found:
            real = os.path.realpath(path)  # Path.resolve raises on a symlink loop
            if real not in seen:
                seen.add(real)
                files.append(path)
    return files, bad


def _walk(folder) -> tuple[list[Path], list[str]]:
    """Every file under ``folder`` (links that lead nowhere included), and the folders that cannot be read."""
    files, unreadable = [], []
    for dirpath, _, filenames in os.walk(folder, followlinks=True, onerror=lambda e: unreadable.append(e.filename)):
        files += [Path(dirpath, name) for name in filenames]
    return files, unreadable


def top_k(scores: np.ndarray, classes, k: int) -> list[dict]:
    order = np.argsort(-scores)[:k]
    return [{"label": classes[i], "score": round(float(scores[i]), 4)} for i in order]


def labels_of(model, scores: np.ndarray, k: int, threshold) -> list[dict]:
    """A file's labels: the ``k`` best of a single-label model; every label at or above its threshold
    (a number, or ``{class: threshold}``, 0.5 for those not named) for a multi-label model, best first."""
    if not model.multi_label:
        return top_k(scores, model.classes, k)
    limits = np.array([threshold.get(c, 0.5) if isinstance(threshold, dict) else threshold for c in model.classes])
    return [row for row in top_k(scores, model.classes, len(scores))
            if scores[model.classes.index(row["label"])] >= limits[model.classes.index(row["label"])]]


def class_thresholds(classes, pairs, default: float = 0.5):
    """The ``threshold`` of ``predict_files`` with some classes' own: ``LABEL=VALUE`` strings, as
    ``--class-threshold`` takes them, over ``default`` for the others.

    Parameters
    ----------
    classes : list of str
        The model's classes.
    pairs : iterable of str
        ``"LABEL=VALUE"``; a label may itself hold ``=`` (the value is after the last one).
    default : float
        The threshold of the classes not named.

    Returns
    -------
    float or dict
        ``default`` when ``pairs`` is empty, else ``{class: threshold}`` for every class.

    Examples
    --------
    >>> class_thresholds(["bird", "car"], ["car=0.8"], default=0.5)
    {'bird': 0.5, 'car': 0.8}
    """
    named = {}
    for pair in pairs:
        label, sep, value = pair.rpartition("=")
        try:
            if not sep or label not in classes:
                raise ValueError(label)
            named[label] = float(value)
        except ValueError:
            raise ConfigError(f"--class-threshold {pair!r}: expected LABEL=VALUE with a label of the model "
                              f"({', '.join(classes)})") from None
    return {c: named.get(c, default) for c in classes} if named else default


def each_file(files, sr: int, clip_seconds, on_clips, on_long, bar, workers: int | None = None) -> list[dict]:
    """Walk ``files`` as prediction and embedding both do: files of at most ``clip_seconds`` (``None``:
    none) decoded in parallel and handed to ``on_clips([(index, waveform), ...])`` in shared batches, every
    other file to ``on_long(index, path)``, which streams it. Returns the bad files ``[{"path", "reason"}]``;
    the others are processed whatever fails."""
    bad = []
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        clips = short_files(files, clip_seconds, pool) if clip_seconds is not None else []
        for good, failed in decoded(files, clips, sr, pool):
            bad += [{"path": str(files[i]), "reason": reason} for i, reason in failed]
            if good:
                on_clips(good)
            bar.update(len(good) + len(failed))
    done = set(clips)
    for i, path in enumerate(files):
        if i not in done:
            try:
                on_long(i, path)
            except AudioError as error:
                bad.append({"path": str(path), "reason": error.reason})
            bar.update(1)
    bar.close()
    return bad


def predict_files(model, targets, top: int = TOP_K, window_seconds=None, hop_seconds=None, threshold=THRESHOLD,
                  smooth: int = SMOOTH, min_duration: float = MIN_DURATION, batch_size: int = BATCH_SIZE,
                  progress: bool = False,
                  per_window: bool = False, workers: int | None = None, on_block=None) -> dict:
    """Predict on every file ``targets`` name; bad files are reported with their reasons, never fatal.

    Returns
    -------
    dict
        ``{"schema": "tympan.predict/1", "classes", "files": [{"file", "duration", "top": [{"label",
        "score"}], "windows", "notes", "events"}], "bad": [{"path", "reason"}]}``; ``events`` are the
        timeline (``events``) of recordings longer than one window, and empty otherwise. An event detector
        (``task: events``) gives every recording its timeline from its frames (``detect``), with the
        post-processing in its model file; the window options do not apply. With
        ``per_window``, a long recording's item also has ``"window_scores": [{"start", "end", "scores"}]``
        (scores in ``classes`` order; an event detector's: each frame's). ``on_block``, if given, is
        handed each block of a recording that is streamed (longer than a clip), as ``score_windows`` does.
    """
    files, bad = found_files(targets)
    if getattr(model, "task", "clips") == "events":  # frames of an event detector, not windows of clips
        from .detect import detect_files

        results, failed = detect_files(model, files, batch_size, progress_bar(len(files), "detecting", progress),
                                       per_window, on_block)
        return {"schema": "tympan.predict/1", "task": "events", "classes": list(model.classes), "files": results,
                "bad": bad + failed}
    results: list[dict | None] = [None] * len(files)
    window = model.clip_seconds if window_seconds is None else float(window_seconds)
    # only the model's own clip length makes a clip one window: otherwise every file is windowed
    short = window == model.clip_seconds

    def on_clips(good):
        scores = model.predict_waveforms([y for _, y in good], batch_size).numpy()
        for (i, y), p in zip(good, scores):
            results[i] = _clip_result(model, files[i], y, p, window, top, threshold)

    def on_long(i, path):
        scored = score_windows(model, path, window_seconds, hop_seconds, batch_size, on_block=on_block)
        results[i] = _long_result(model, scored, top, threshold, smooth, min_duration, per_window)

    bad += each_file(files, model.sr, window if short else None, on_clips, on_long,
                     progress_bar(len(files), "predicting", progress), workers)
    return {"schema": "tympan.predict/1", "classes": list(model.classes),
            "files": [r for r in results if r is not None], "bad": bad}


def _clip_result(model, path, y, scores, window: float, top: int, threshold) -> dict:
    notes = [f"very short ({len(y) / model.sr:.2f} s for {window:g} s windows): padded with silence"] \
        if len(y) < window * model.sr / 2 else []
    notes += ["silent: every sample is zero"] if not np.any(y) else []
    return {"file": str(path), "duration": round(len(y) / model.sr, 3),
            "top": labels_of(model, scores, top, threshold), "windows": 1, "notes": notes, "events": []}


def _long_result(model, scored, top: int, threshold, smooth: int, min_duration: float, per_window: bool) -> dict:
    long = scored.duration > scored.window_seconds
    result = {"file": scored.path, "duration": round(scored.duration, 3),
              "top": labels_of(model, scored.clip_scores(), top, threshold),
              "windows": len(scored.starts), "notes": scored.notes,
              "events": events(scored, model.classes, model.multi_label, threshold, smooth,
                               min_duration) if long else []}
    if per_window and long:
        result["window_scores"] = [
            {"start": round(float(a), 3), "end": round(min(float(a) + scored.window_seconds, scored.duration), 3),
             "scores": [round(float(v), 4) for v in row]} for a, row in zip(scored.starts, scored.scores)]
    return result


def found_files(targets) -> tuple[list[Path], list[dict]]:
    """``find_audio``'s files, and its misses as bad inputs ``[{"path", "reason"}]``."""
    files, missing = find_audio(targets)
    return files, [{"path": t, "reason": r} for t, r in missing]


def short_files(files, window: float, pool) -> list[int]:
    """The indices of the files no longer than ``window`` seconds, by their headers. A file whose header
    cannot be read is not among them: the streaming pass reports why."""
    def duration(path):
        try:
            return info(path).duration
        except AudioError:
            return None

    return [i for i, d in enumerate(pool.map(duration, files)) if d is not None and d <= window]


def decoded(files, indices, sr: int, pool, chunk: int = 256):
    """``files[indices]`` decoded at ``sr`` in parallel, ``chunk`` at a time, so thousands of short files
    cost a few forward passes and bounded memory: yields ``(good, failed)`` per chunk, ``good`` as
    ``[(index, waveform)]`` and ``failed`` as ``[(index, reason)]`` (undecodable or empty)."""
    def decode(path):
        try:
            return load(path, sr=sr)[0], None
        except AudioError as error:
            return None, error.reason

    for first in range(0, len(indices), chunk):
        part = indices[first:first + chunk]
        waves = list(pool.map(decode, [files[i] for i in part]))
        yield ([(i, y) for i, (y, _) in zip(part, waves) if y is not None and len(y)],
               [(i, reason or "empty") for i, (y, reason) in zip(part, waves) if y is None or not len(y)])


def progress_bar(total: int, desc: str, progress: bool):
    """A bar over files, on a terminal only."""
    return tqdm(total=total, desc=desc, unit="file", disable=not (progress and sys.stderr.isatty()))


def rows(report: dict) -> list[dict]:
    """CSV rows ``{file, start, end, label, score}``: a long recording's events, a clip's best label."""
    found = []
    for item in report["files"]:
        if item["events"] or report.get("task") == "events":
            found += item["events"]
        else:
            best = item["top"][0]
            found.append({"file": item["file"], "start": 0.0, "end": item["duration"], "label": best["label"],
                          "score": best["score"]})
    return found
