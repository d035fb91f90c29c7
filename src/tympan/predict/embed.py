"""Embeddings: what a model's output layer sees, for every file, as a matrix for other tools.

    tympan embed --model model.tympan recordings/ --out embeddings.npy
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..defaults import default_workers
from ..errors import AudioError, ConfigError
from ..files import atomic_path, write_text
from .files import decoded, found_files, progress_bar, short_files
from .windows import score_windows


def embed_files(model, targets, window_seconds=None, hop_seconds=None, batch_size: int = 64,
                progress: bool = False, workers: int | None = None) -> tuple[np.ndarray, list[str], list[dict]]:
    """The embedding of every file ``targets`` name (files, folders, globs), the mean over its windows.

    Clips (one window at most) are decoded in parallel and embedded in shared batches; longer recordings
    are streamed block by block (``score_windows``), so memory stays bounded.

    Returns
    -------
    (embeddings (n_files, embedding_size) float32, file paths in row order, bad inputs ``[{"path", "reason"}]``)
    """
    files, bad = found_files(targets)
    window = model.clip_seconds if window_seconds is None else float(window_seconds)
    rows: list[np.ndarray | None] = [None] * len(files)
    model.eval()
    bar = progress_bar(len(files), "embedding", progress)
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        clips = short_files(files, window, pool)
        for good, failed in decoded(files, clips, model.sr, pool):
            bad += [{"path": str(files[i]), "reason": reason} for i, reason in failed]
            values = model.embed_waveforms([y for _, y in good], batch_size).numpy() if good else []
            for (i, _), row in zip(good, values):
                rows[i] = row
            bar.update(len(good) + len(failed))
    done = set(clips)
    for i, path in enumerate(files):
        if i in done:
            continue
        try:
            with torch.no_grad():
                rows[i] = score_windows(model, path, window_seconds, hop_seconds, batch_size,
                                        output=model.embed).clip_scores()
        except AudioError as error:
            bad.append({"path": str(path), "reason": error.reason})
        bar.update(1)
    bar.close()
    kept = [i for i, row in enumerate(rows) if row is not None]
    size = model.network.embedding_size
    matrix = np.stack([rows[i] for i in kept]).astype(np.float32) if kept else np.zeros((0, size), np.float32)
    return matrix, [str(files[i]) for i in kept], bad


def write_embeddings(path, matrix: np.ndarray, files: list[str]):
    """``.npy`` (the matrix; the file names, in row order, in ``<name>.files.txt`` beside it) or ``.csv``
    (``path`` then one column per value), written atomically. Returns the paths written."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["path", *(f"e{k}" for k in range(matrix.shape[1]))])
        writer.writerows([name, *(f"{v:.7g}" for v in row)] for name, row in zip(files, matrix))
        return [write_text(path, text.getvalue())]
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"--out {path}: write embeddings to a .npy or a .csv file")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, matrix)
    listing = path.with_name(path.stem + ".files.txt")
    return [path, write_text(listing, "".join(name + "\n" for name in files))]
