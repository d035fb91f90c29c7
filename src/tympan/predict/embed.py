"""Embeddings: what a model's output layer sees, for every file, as a matrix for other tools.

    tympan embed --model model.tympan recordings/ --out embeddings.npy
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from ..defaults import BATCH_SIZE
from ..errors import ConfigError
from ..files import atomic_path, write_text
from .files import each_file, found_files, progress_bar
from .windows import score_windows


def embed_files(model, targets, window_seconds=None, hop_seconds=None, batch_size: int = BATCH_SIZE,
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

    def on_clips(good):
        for (i, _), row in zip(good, model.embed_waveforms([y for _, y in good], batch_size).numpy()):
            rows[i] = row

    def on_long(i, path):
        with torch.no_grad():
            rows[i] = score_windows(model, path, window_seconds, hop_seconds, batch_size,
                                    output=model.embed).clip_scores()

    bad += each_file(files, model.sr, window, on_clips, on_long, progress_bar(len(files), "embedding", progress),
                     workers)
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
