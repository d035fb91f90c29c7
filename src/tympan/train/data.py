"""From a manifest to batches: decoded audio in memory (through the cache), targets, clip-long crops.

Every random choice of an epoch (the order, the crops) comes from a generator seeded with
``(seed, epoch)``, so an epoch is the same whether the run was interrupted before it or not, and the
same global batches are cut whatever the number of data-parallel processes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ..audio import info
from ..defaults import default_workers
from ..data.cache import AudioCache
from ..data.manifest import BadFile, Manifest
from ..errors import AudioError


@dataclass
class ClipSet:
    """Waveforms at the model's sample rate and their targets (indices, or 0/1 rows for multi-label), with
    each recording's path and group (speaker, source...; ``None`` when unknown)."""

    audio: list[np.ndarray]
    targets: np.ndarray
    paths: list[str]
    groups: list | None = None

    def __len__(self) -> int:
        return len(self.audio)

    def __add__(self, other: "ClipSet") -> "ClipSet":
        groups = None if self.groups is None or other.groups is None else self.groups + other.groups
        return ClipSet(self.audio + other.audio, np.concatenate([self.targets, other.targets]),
                       self.paths + other.paths, groups)

    def batches(self, epoch: int, batch_size: int, clip_samples: int, seed: int, rank: int = 0, world: int = 1):
        """Shuffled ``(waveforms (batch, clip_samples), targets)`` for one epoch; this process's share.

        ``batch_size`` is the global batch (0: everything at once). A recording longer than a clip gives a
        random clip-long crop, a shorter one is padded with zeros at its end (as ``predict`` does).
        With ``world`` processes, each global batch is cut into ``world`` nearly equal, contiguous shares.
        """
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(self))
        offsets = rng.random(len(self))  # drawn for every item, so crops do not depend on the batch size
        size = batch_size or len(self)
        for first in range(0, len(order), size):
            chunk = order[first:first + size]
            if len(chunk) < world:
                break  # too few to give every process one: dropped, as in every process alike
            bounds = np.linspace(0, len(chunk), world + 1).round().astype(int)
            mine = chunk[bounds[rank]:bounds[rank + 1]]
            waves = np.zeros((len(mine), clip_samples), dtype=np.float32)
            starts = []
            for row, i in enumerate(mine):
                y = self.audio[i]
                starts.append(self.crop_start(len(y), clip_samples, offsets[i]))
                piece = y[starts[-1]:starts[-1] + clip_samples]
                waves[row, :len(piece)] = piece
            yield torch.from_numpy(waves), self.batch_targets(mine, starts), len(chunk)

    def crop_start(self, n_samples: int, clip_samples: int, offset: float) -> int:
        """Where a crop of a recording of ``n_samples`` starts, for a random ``offset`` in [0, 1)."""
        return int(offset * (n_samples - clip_samples + 1)) if n_samples > clip_samples else 0

    def batch_targets(self, rows, starts) -> torch.Tensor:
        """The targets of the recordings ``rows`` cropped at ``starts`` (a clip's label holds for any crop)."""
        return torch.from_numpy(self.targets[rows])


def targets_of(manifest: Manifest, classes: list[str], multi_label: bool) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    if multi_label:
        rows = np.zeros((len(manifest.items), len(classes)), dtype=np.float32)
        for row, item in enumerate(manifest.items):
            rows[row, [index[label] for label in item.labels]] = 1.0
        return rows
    return np.array([index[item.label] for item in manifest.items], dtype=np.int64)


def load_clipset(manifest: Manifest, classes: list[str], sr: int, multi_label: bool, cache: AudioCache,
                 workers: int | None = None, progress: bool = False) -> tuple[ClipSet, list[BadFile]]:
    """Decode a split's recordings at ``sr``; undecodable ones are left out and returned as bad files."""
    audio, bad = cache.load_items(manifest.items, sr, workers=workers, progress=progress)
    keep = [i for i, y in enumerate(audio) if y is not None and len(y) > 0]
    empty = [BadFile(manifest.items[i].path, "empty") for i, y in enumerate(audio) if y is not None and len(y) == 0]
    targets = targets_of(manifest, classes, multi_label)
    return (ClipSet([audio[i] for i in keep], targets[keep], [manifest.items[i].path for i in keep],
                    [manifest.items[i].group for i in keep]), bad + empty)


def load_splits(split: Manifest, sr: int, multi_label: bool, cache: AudioCache, workers: int | None = None,
                strict: bool = False, progress: bool = False) -> tuple[dict[str, ClipSet], list[BadFile]]:
    """The train, val and test ``ClipSet``s of a split manifest, decoded at ``sr`` through the cache, and
    every bad file (the manifest's and the undecodable ones). ``strict`` makes any bad file an error."""
    from ..errors import DatasetError

    sets, bad = {}, list(split.bad)
    for name in ("train", "val", "test"):
        sets[name], found = load_clipset(split.subset(name), split.classes, sr, multi_label, cache, workers, progress)
        bad += found
    if bad and strict:
        listed = "\n".join(f"  {b.path}: {b.reason}" for b in bad[:20])
        raise DatasetError(f"{len(bad)} bad file(s), and data.strict is set:\n{listed}")
    if len(sets["train"]) == 0:
        raise DatasetError(f"{split.root}: none of the training recordings could be decoded")
    return sets, bad


def scan_headers(manifest: Manifest, workers: int | None = None,
                 bad: list[BadFile] | None = None) -> tuple[list[int], list[float]]:
    """Sample rates and durations from the files' headers (no decoding), for adapting the configuration.

    A file whose header cannot be read adds nothing to either list; when ``bad`` is given, it is appended
    there as a ``BadFile`` with the reason. (``load_splits`` reports the same files when it cannot decode
    them, so a training run lists each bad file once.)

    Examples
    --------
    >>> from tympan.data.manifest import Item
    >>> unread = []
    >>> scan_headers(Manifest("/nowhere", "csv", [Item("/nowhere/a.wav", ("dog",))], ["dog"]), bad=unread)
    ([], [])
    >>> unread
    [BadFile(path='/nowhere/a.wav', reason='file not found')]
    """
    def one(item):
        try:
            header = info(item.path)
        except AudioError as error:
            return BadFile(item.path, error.reason)
        length = header.duration if item.end is None else item.end - (item.start or 0.0)
        return header.sr, length

    with ThreadPoolExecutor(workers or default_workers()) as pool:
        results = list(pool.map(one, manifest.items))
    found = [r for r in results if not isinstance(r, BadFile)]
    if bad is not None:
        bad.extend(r for r in results if isinstance(r, BadFile))
    return [r[0] for r in found], [r[1] for r in found]


def fingerprint(manifest: Manifest) -> str:
    """A digest of what the dataset is for this run: paths (relative to its root), labels, splits, sizes."""
    h = hashlib.blake2b(digest_size=12)
    for item in manifest.items:
        try:
            size = os.path.getsize(item.path)
        except OSError:
            size = -1
        relative = os.path.relpath(item.path, manifest.root) if os.path.isdir(manifest.root) else item.path
        h.update(f"{relative}|{'|'.join(item.labels)}|{item.split}|{item.start}|{item.end}|{size}\n".encode())
    return h.hexdigest()


def normalisation_statistics(model, clips: ClipSet, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and standard deviation of the front-end output over every frame of the training clips
    (one value for a waveform front-end). Computed on the training split only, so nothing leaks from test."""
    from ..frontend import transform_clips

    if len(model.feature_shape) == 1:  # a waveform: one mean and std over every sample
        n = sum(len(y) for y in clips.audio)
        mean = sum(float(np.sum(y, dtype=np.float64)) for y in clips.audio) / n
        var = sum(float(np.sum(np.square(y, dtype=np.float64))) for y in clips.audio) / n - mean ** 2
        return np.array([mean], np.float32), np.array([max(np.sqrt(max(var, 0.0)), 1e-5)], np.float32)
    total, total_sq, count = 0.0, 0.0, 0
    for first in range(0, len(clips), 512):
        # copies: cached audio is a read-only memory map, which torch will not wrap
        chunk = [torch.from_numpy(np.array(y, dtype=np.float32)) for y in clips.audio[first:first + 512]]
        with torch.no_grad():
            feats = transform_clips(model.frontend, chunk, batch_size)
        for f in feats:
            f = f.double()
            if f.ndim == 1:
                f = f[None]
            total = total + f.sum(dim=-1)
            total_sq = total_sq + f.square().sum(dim=-1)
            count += f.shape[-1]
    mean = total / count
    std = torch.sqrt(torch.clamp(total_sq / count - mean.square(), min=0.0))
    std = torch.where(std > 1e-5, std, torch.ones_like(std))  # a constant bin (digital silence) stays as is
    return mean.float().numpy(), std.float().numpy()
