"""Soundscapes from labelled clips: events placed in time over backgrounds, with their DCASE annotations.

Most people have labelled clips, not annotated soundscapes. ``synthesize`` places the audible part of
clips (their silent padding trimmed, so onsets and offsets are where the sound is) at random times over a
background, at random event-to-background SNRs, never more than ``max_polyphony`` at once, and writes
``audio/<split>/<split>_<n>.wav``, ``metadata/<split>.tsv`` (the DCASE format, read by the ``events``
layout) and ``synth.json`` (the parameters and the source clip of every event).

No clip is in two splits: the clip dataset is split first (its official split, else by group: speaker,
source recording), and a soundscape of a split draws its clips from that split only, so no group is in two
splits either unless the official split shares them (``synth.json``'s ``sources_split`` says, and the
``events`` layout passes it on to the reports). Each background recording is cut in time into a training,
a validation and a test part likewise.

Why not Scaper: it wants the sox binary and a folder per label of source files, annotates a clip's whole
extent including its silent padding, and splits nothing; this reads any Tympan dataset layout.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from ..audio import is_audio_path
from ..defaults import SR, TEST_FRACTION, VAL_FRACTION
from ..errors import ConfigError, DatasetError
from ..files import atomic_folder
from .events import Event, write_annotations
from .layouts.base import _scan
from .manifest import SPLITS, BadFile, Manifest
from .splits import assign_splits, describe
from .synthesizers import coloured_noise

BACKGROUND_DBFS = -30.0  # the background's RMS level; events sit above it by their SNR
FADE_SECONDS = 0.005  # a trimmed clip's edges are faded so the cut makes no click


@dataclass(frozen=True)
class SynthConfig:
    """What the soundscapes are like: ``n`` of them in all (shared among splits as the source clips are),
    ``seconds`` long, with ``events`` (fewest, most) each, at SNRs drawn from ``snr`` (dB), at most
    ``max_polyphony`` sounding at once; ``top_db`` is how far below a clip's loudest 20 ms a sound still
    counts as audible; ``noise_share`` of the soundscapes are over coloured noise even when background
    recordings are given."""

    n: int = 1000
    seconds: float = 10.0
    snr: tuple = (0.0, 20.0)
    max_polyphony: int = 2
    events: tuple = (1, 5)
    sr: int = SR
    seed: int = 0
    top_db: float = 35.0
    noise_share: float = 0.0
    val_fraction: float = VAL_FRACTION
    test_fraction: float = TEST_FRACTION

    def check(self) -> None:
        if self.n < 1 or not self.seconds > 0 or self.max_polyphony < 1:
            raise ConfigError(f"synth: n={self.n}, seconds={self.seconds}, max_polyphony={self.max_polyphony}: "
                              "each must be at least 1 (seconds above 0)")
        if len(self.snr) != 2 or self.snr[0] > self.snr[1]:
            raise ConfigError(f"synth: snr={list(self.snr)}: give the lowest and highest SNR in dB, e.g. 0,20")
        if len(self.events) != 2 or not 0 <= self.events[0] <= self.events[1]:
            raise ConfigError(f"synth: events={list(self.events)}: give the fewest and most events per soundscape")


def audible(y: np.ndarray, sr: int, top_db: float = 35.0) -> tuple[int, int] | None:
    """First and last sample of the part of a clip louder than ``top_db`` below its loudest 20 ms frame
    (``None`` for digital silence): where the sound is, without its silent padding.

    Examples
    --------
    >>> y = np.zeros(16000, dtype=np.float32)
    >>> y[4000:8000] = np.sin(np.arange(4000) * 0.1 + 1)
    >>> audible(y, 16000)
    (4000, 8000)
    """
    frame = max(1, int(0.02 * sr))
    hop = max(1, frame // 4)
    power = np.array([np.mean(np.square(y[s:s + frame], dtype=np.float64)) for s in range(0, max(1, len(y) - frame + 1), hop)])
    if not power.size or power.max() <= 1e-20:
        return None
    loud = np.flatnonzero(10 * np.log10(np.maximum(power, 1e-20) / power.max()) > -top_db)
    first, last = loud[0] * hop, min(len(y), loud[-1] * hop + frame)
    # the frame is wider than the sound's edge: trim to the samples themselves, at the same threshold
    level = np.sqrt(power.max()) * 10 ** (-top_db / 20)
    inside = np.flatnonzero(np.abs(y[first:last]) > level)
    first, last = int(first), int(last)
    return (first + int(inside[0]), first + int(inside[-1]) + 1) if inside.size else (first, last)


def _backgrounds(folder, sr: int, cache, shares: dict[str, tuple[float, float]]) -> dict[str, list[np.ndarray]]:
    """The background recordings of ``folder`` at ``sr``, each cut in time into one part per split."""
    files = [f for f in _scan(Path(folder), recursive=True) if is_audio_path(f)] if folder else []
    if folder and not files:
        raise DatasetError(f"{folder}: no recordings to use as backgrounds")
    parts: dict[str, list[np.ndarray]] = {split: [] for split in shares}
    for f in files:
        y = cache.load(f, sr)
        for split, (start, end) in shares.items():
            piece = np.asarray(y[int(start * len(y)):int(end * len(y))], dtype=np.float32)
            if len(piece) > sr // 10:
                parts[split].append(piece)
    return parts


def _background(rng, parts: list[np.ndarray], n: int) -> np.ndarray:
    """``n`` samples of a random background part (looped when short), or coloured noise when none."""
    if parts:
        y = parts[rng.integers(len(parts))]
        y = np.tile(y, math.ceil(n / len(y)) + 1)
        start = rng.integers(0, len(y) - n + 1)
        y = y[start:start + n].astype(np.float64)
    else:
        y = coloured_noise(rng, n, rng.uniform(0.0, 2.0))
    rms = np.sqrt(np.mean(np.square(y))) + 1e-12
    return y * (10 ** (BACKGROUND_DBFS / 20) / rms)


def _fits(placed: list[Event], onset: float, offset: float, max_polyphony: int) -> bool:
    """Whether an event from ``onset`` to ``offset`` keeps at most ``max_polyphony`` events at once."""
    points = [onset] + [e.onset for e in placed if onset <= e.onset < offset]
    return all(sum(e.onset <= p < e.offset for e in placed) + 1 <= max_polyphony for p in points)


def soundscape(rng, sources: list[tuple], background: list[np.ndarray], config: SynthConfig):
    """One soundscape: ``(waveform, events, sources used)``. ``sources`` are ``(sound, label, path, group)``
    with the sound already trimmed to its audible part."""
    sr, n = config.sr, int(round(config.seconds * config.sr))
    y = _background(rng, background if rng.random() >= config.noise_share else [], n)
    level = np.sqrt(np.mean(np.square(y)))
    by_label: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        by_label.setdefault(source[1], []).append(i)
    labels = sorted(by_label)
    placed, used = [], []
    for _ in range(int(rng.integers(config.events[0], config.events[1] + 1))):
        index = by_label[labels[rng.integers(len(labels))]]
        sound, label, path, group = sources[index[rng.integers(len(index))]]
        sound = sound[:n]
        for _ in range(20):  # a free place for it, if there is one
            start = int(rng.integers(0, n - len(sound) + 1))
            onset, offset = start / sr, (start + len(sound)) / sr
            if _fits(placed, onset, offset, config.max_polyphony):
                break
        else:
            continue
        snr = float(rng.uniform(*config.snr))
        gain = level * 10 ** (snr / 20) / (np.sqrt(np.mean(np.square(sound, dtype=np.float64))) + 1e-12)
        y[start:start + len(sound)] += gain * _faded(sound, sr)
        placed.append(Event(round(onset, 3), round(offset, 3), label))
        used.append({"onset": round(onset, 3), "label": label, "source": path, "group": group, "snr_db": round(snr, 2)})
    peak = np.max(np.abs(y))
    if peak > 0.99:  # scaled as a whole, so every SNR holds
        y *= 0.99 / peak
    return y.astype(np.float32), placed, used


def _faded(sound: np.ndarray, sr: int) -> np.ndarray:
    ramp = min(len(sound) // 2, int(FADE_SECONDS * sr))
    sound = np.array(sound, dtype=np.float64)
    if ramp:
        window = np.linspace(0.0, 1.0, ramp)
        sound[:ramp] *= window
        sound[-ramp:] *= window[::-1]
    return sound


def _sources(split: Manifest, sr: int, top_db: float, cache, progress: bool) -> tuple[dict[str, list], list]:
    """Each split's clips, decoded and trimmed to their audible part; and the clips that could not be used."""
    audio, bad = cache.load_items(split.items, sr, progress=progress)
    by_split: dict[str, list] = {s: [] for s in SPLITS}
    for item, y in zip(split.items, audio):
        if y is None:
            continue
        span = audible(np.asarray(y), sr, top_db)
        if span is None:
            bad.append(BadFile(item.path, "silent: nothing to place"))
            continue
        by_split[item.split].append((np.asarray(y[span[0]:span[1]]), item.label, item.path, item.group))
    return by_split, bad


def _shares(n: int, sizes: dict[str, int]) -> dict[str, int]:
    """``n`` cut in proportion to ``sizes``, whole numbers that add up to ``n`` (largest remainders).

    >>> _shares(500, {"train": 1350, "val": 150, "test": 500})
    {'train': 338, 'val': 37, 'test': 125}
    """
    exact = {name: n * size / sum(sizes.values()) for name, size in sizes.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda k: counts[k] - exact[k])[:n - sum(counts.values())]:
        counts[name] += 1
    return counts


def synthesize(clips: Manifest, out, background=None, config: SynthConfig = SynthConfig(), cache=None,
               overwrite: bool = False, progress: bool = False) -> dict:
    """Write soundscapes of the clips of ``clips`` over ``background`` recordings into the folder ``out``.

    Parameters
    ----------
    clips : Manifest
        A single-label clip dataset, in any layout (``tympan.data.build``).
    out : str or Path
        The folder to create: ``audio/<split>/``, ``metadata/<split>.tsv``, ``synth.json``. It appears
        whole or not at all.
    background : str, Path or None
        A folder of background recordings (any length); ``None``: white to brown noise.
    config : SynthConfig
        How many soundscapes, how long, how many events, at which SNRs.
    cache : AudioCache or None
        Where decoded audio is kept.
    overwrite : bool
        Replace ``out`` if it exists.
    progress : bool
        A progress bar on a terminal.

    Returns
    -------
    dict
        What ``synth.json`` holds, less the per-event sources: ``out``, ``config``, ``soundscapes`` per
        split, ``events`` per split, ``bad`` (the clips that could not be used, with why).
    """
    from .cache import AudioCache

    out = _checked(clips, Path(out), config, overwrite)
    cache = cache or AudioCache()
    split = assign_splits(clips, config.val_fraction, config.test_fraction, seed=config.seed)
    sources, bad = _sources(split, config.sr, config.top_db, cache, progress)
    total = sum(len(v) for v in sources.values())
    if not sources["train"]:
        raise DatasetError(f"{clips.root}: no usable training clips to place")
    # each background recording cut in time as the clips are shared among the splits
    ends = np.cumsum([0] + [len(sources[name]) / total for name in SPLITS])
    backgrounds = _backgrounds(background, config.sr, cache, {name: (ends[i], ends[i + 1])
                                                              for i, name in enumerate(SPLITS)})
    counts = _shares(config.n, {name: len(sources[name]) for name in SPLITS if sources[name]})
    # do the test and val clips come from speakers or sources of training? Without groups, each clip is its
    # own source, and no clip is on two sides
    relation = describe(split) if clips.has_groups else {"group_name": "clip", "test": "new", "val": "new",
                                                          "note": None}
    summary = {"out": str(out), "config": asdict(config), "sources_split": relation, "clips": clips.root,
               "background": str(background or "noise"), "soundscapes": counts, "events": {},
               "bad": [{"path": b.path, "reason": b.reason} for b in clips.bad + bad]}
    with atomic_folder(out) as tmp:
        used = {}
        for number, name in enumerate(counts):
            summary["events"][name], of_split = _write_split(tmp, name, number, counts[name], sources[name],
                                                             backgrounds[name], config, progress)
            used.update(of_split)  # file names start with their split: unique across splits
        (tmp / "synth.json").write_text(json.dumps({**summary, "sources": used}, indent=1) + "\n")
    return summary


def _checked(clips: Manifest, out: Path, config: SynthConfig, overwrite: bool) -> Path:
    config.check()
    if clips.has_events or clips.multilabel:
        raise ConfigError(f"{clips.root}: synth places clips of a single-label dataset; this one has "
                          f"{'events' if clips.has_events else 'several labels per clip'}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DatasetError(f"{out}: already exists; choose another folder or pass --overwrite to replace it")
    return out


def _write_split(root: Path, name: str, number: int, n: int, sources: list, background: list, config: SynthConfig,
                 progress: bool) -> tuple[int, dict]:
    """Write one split's soundscapes and annotations; returns the number of events and their sources."""
    (root / "audio" / name).mkdir(parents=True)
    annotations, used = {}, {}
    for i in tqdm(range(n), desc=f"{name} soundscapes", unit="file", leave=False,
                  disable=not (progress and sys.stderr.isatty())):
        rng = np.random.default_rng([config.seed, number, i])  # each soundscape its own: the same for a seed
        y, events, sources_used = soundscape(rng, sources, background, config)
        filename = f"{name}_{i:04d}.wav"
        sf.write(root / "audio" / name / filename, y, config.sr, subtype="PCM_16")
        annotations[filename], used[filename] = events, sources_used
    write_annotations(root / "metadata" / f"{name}.tsv", annotations)
    return sum(len(e) for e in annotations.values()), used


# the demo's soundscapes: ten demo classes, 60 dry events each as sources, over coloured noise; many short
# soundscapes rather than few long ones, so an epoch has enough steps
DEMO = SynthConfig(n=320, seconds=5.0, snr=(0.0, 20.0), max_polyphony=2, events=(1, 3))
DEMO_CLIPS_PER_CLASS = 60


def make_demo_soundscapes(out, sr: int = SR, seed: int = 0, progress: bool = False) -> Path:
    """Strongly-labelled soundscapes of the demo classes in ``out/soundscapes`` (events layout), from dry demo
    events in ``out/clips``; reused when already made with the same parameters. Returns the soundscapes' folder.
    """
    from .layouts import build
    from .synthetic import make_demo

    out = Path(out)
    clips = make_demo(out / "clips", n_per_class=DEMO_CLIPS_PER_CLASS, sr=sr, seed=seed, progress=progress, dry=True)
    config = SynthConfig(**{**asdict(DEMO), "sr": int(sr), "seed": int(seed)})
    root = out / "soundscapes"
    try:
        made = json.loads((root / "synth.json").read_text())["config"]
    except (OSError, ValueError, KeyError):
        made = None
    if made != json.loads(json.dumps(asdict(config))):
        synthesize(build(clips, layout="folder"), root, None, config, overwrite=True, progress=progress)
    return root
