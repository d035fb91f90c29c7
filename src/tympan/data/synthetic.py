"""The embedded demo dataset: ten classes of music and soundscape sounds, synthesised on the spot.

``make_demo`` writes ``<out>/<class>/<class>_<index:03d>.wav`` (16-bit PCM, a folder per class) with
nothing to download; it is what ``make demo`` trains on. Each clip is one event (random pitch, timbre,
duration, onset and loudness) over white-to-brown background noise at a random SNR, with a random EQ
on the whole clip. Every clip is seeded on its own (``[seed, class, clip]``), so the bytes depend on
the seed only, never on how many processes wrote them. The sounds of each class come from
``tympan.data.synthesizers``.

The classes are meant to need a time-frequency model: a linear model on mean log-mel reaches about
62% (``linear_baseline``: 5-fold CV on the default 100 clips per class, seed 0; chance is 10%), since a
time average hides tempo, pitch contours and which partials belong together, and the two chord classes
differ only by their third. A small CNN on the log-mel images reaches about 90% on a held-out fifth.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from ..audio import load
from ..errors import ConfigError, DatasetError, OutputError
from ..files import atomic_folder
from ..frontend import LogMel
from .synthesizers import SYNTHESIZERS, coloured_noise, linear_envelope, random_eq

CLASSES = ("tone_soft", "tone_bright", "chord_major", "chord_minor", "drums_slow", "drums_fast",
           "birdsong", "siren", "engine", "rain")
VERSION = 1  # bump whenever a synthesiser changes, so old folders are not mistaken for current ones
_META = "tympan-demo.json"


def synthesize(class_name, rng, sr=16000):
    """One clip of a class: an event over background noise, 1.5 to 2.5 s long.

    Parameters
    ----------
    class_name : str
        One of ``CLASSES``.
    rng : np.random.Generator
        Every random choice comes from it: the same state gives the same clip.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        float32, shape ``(samples,)``, peak between -20 and 0 dBFS.

    Examples
    --------
    >>> y = synthesize("siren", np.random.default_rng(0))
    >>> y.dtype, 1.5 <= len(y) / 16000 <= 2.5
    (dtype('float32'), True)
    """
    if class_name not in SYNTHESIZERS:
        raise ConfigError(f"unknown demo class {class_name!r}: choose one of {', '.join(CLASSES)}")
    n = int(rng.uniform(1.5, 2.5) * sr)
    m = int(rng.uniform(0.5, 1.0) * n)
    event = SYNTHESIZERS[class_name](rng, m, sr) * linear_envelope(m, sr, 0.005, 0.005)  # no clicks at the edges
    clip = np.zeros(n)
    onset = rng.integers(0, n - m + 1)
    clip[onset: onset + m] = event
    # The SNR is against the event's own power, so a quiet event is as buried as a loud one.
    snr_db = rng.uniform(0, 30)
    clip += coloured_noise(rng, n, rng.uniform(0, 2)) * np.sqrt(np.mean(event ** 2) / 10 ** (snr_db / 10))
    clip = random_eq(rng, clip, sr)
    clip *= 10 ** (rng.uniform(-20, 0) / 20) / (np.abs(clip).max() + 1e-12)
    return clip.astype(np.float32)


def dry_event(class_name, rng, sr=16000):
    """One event of a class alone, 0.5 to 2 s, no background: the demo soundscapes' sources, whose
    events then start and end exactly where the sound does.

    Examples
    --------
    >>> y = dry_event("siren", np.random.default_rng(0))
    >>> bool(abs(y[0]) < 1e-3 and abs(y[-1]) < 1e-3), 0.5 <= len(y) / 16000 <= 2
    (True, True)
    """
    if class_name not in SYNTHESIZERS:
        raise ConfigError(f"unknown demo class {class_name!r}: choose one of {', '.join(CLASSES)}")
    m = int(rng.uniform(0.5, 2.0) * sr)
    event = SYNTHESIZERS[class_name](rng, m, sr) * linear_envelope(m, sr, 0.005, 0.005)
    event = random_eq(rng, event, sr) * linear_envelope(m, sr, 0.005, 0.005)
    event *= 10 ** (rng.uniform(-20, 0) / 20) / (np.abs(event).max() + 1e-12)
    return event.astype(np.float32)


def demo_clip(class_index, clip_index, sr=16000, seed=0, dry=False):
    """Clip ``clip_index`` of class ``CLASSES[class_index]`` of the demo dataset made with ``seed``, as
    ``make_demo`` writes it (before its 16-bit rounding): each clip has its own seed, so any one can be
    made alone.

    Examples
    --------
    >>> bool((demo_clip(6, 3) == synthesize("birdsong", np.random.default_rng([0, 6, 3]))).all())
    True
    """
    make = dry_event if dry else synthesize
    return make(CLASSES[class_index], np.random.default_rng([seed, class_index, clip_index]), sr)


def _clip_path(root, class_index, clip_index):
    return Path(root) / CLASSES[class_index] / f"{CLASSES[class_index]}_{clip_index:03d}.wav"


def _write_clip(root, params, class_index, clip_index):
    clip = demo_clip(class_index, clip_index, params["sr"], params["seed"], params.get("dry", False))
    sf.write(_clip_path(root, class_index, clip_index), clip, params["sr"], subtype="PCM_16", format="WAV")


def _write_clips(root, params, progress):
    """Write every clip; in parallel on Linux. Each clip has its own seed.

    Workers come from a fork server, not from forking the caller: a process that already runs threads
    (torch's, onnxruntime's, a thread pool's) can fork a child while one of them holds a lock, and the child
    then waits on it for ever (it happened in the test suite). The server is a fresh single-threaded
    process that has imported this module once; forking it is cheap and safe.
    """
    jobs = [(c, i) for c in range(len(CLASSES)) for i in range(params["n_per_class"])]
    write = partial(_write_clip, root, params)
    workers = min(len(os.sched_getaffinity(0)), 8, len(jobs) // 50) if sys.platform == "linux" else 1
    with tqdm(total=len(jobs), desc="demo dataset", unit="clip",
              disable=not (progress and sys.stderr.isatty())) as bar:
        if workers < 2:
            for job in jobs:
                write(*job)
                bar.update()
            return
        context = get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for _ in pool.map(write, *zip(*jobs), chunksize=10):
                bar.update()


def _is_complete(root, params):
    """Whether ``root`` holds every file of the dataset ``params`` describes (its metadata comes last)."""
    try:
        recorded = json.loads((root / _META).read_text())
    except (OSError, ValueError):
        return False
    return recorded == params and all(_clip_path(root, c, i).is_file()
                                      for c in range(len(CLASSES)) for i in range(params["n_per_class"]))


def make_demo(out, n_per_class=100, sr=16000, seed=0, overwrite=False, progress=False, dry=False):
    """Write the demo dataset to ``out``, or reuse the one already there.

    ``out`` appears whole or not at all: the clips go to a sibling ``<out>.tmp-<pid>``, renamed when
    complete. A complete dataset made with the same parameters (``tympan-demo.json`` records them) is
    returned as it is, even with ``overwrite=True``: regenerating would write the same bytes.

    Parameters
    ----------
    out : str or Path
        Folder to create; it gets one sub-folder per class of ``<class>_<index:03d>.wav`` files.
    n_per_class, sr, seed : int
        Clips per class, sample rate in Hz, and the seed (same seed, byte-identical files).
    dry : bool
        Each clip the event alone (``dry_event``), without background, as sources for soundscapes.
    overwrite : bool
        Replace whatever else is at ``out``; otherwise that raises ``DatasetError``.
    progress : bool
        Show a progress bar on stderr when it is a terminal.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> import tempfile
    >>> root = make_demo(tempfile.mkdtemp(), n_per_class=20, overwrite=True)
    >>> sorted(p.name for p in (root / "siren").iterdir())[:2]
    ['siren_000.wav', 'siren_001.wav']
    """
    out = Path(out)
    if int(n_per_class) < 1 or int(sr) < 8000:
        raise ConfigError(f"make_demo needs n_per_class >= 1 and sr >= 8000; got {n_per_class} and {sr}")
    params = {"version": VERSION, "classes": list(CLASSES), "n_per_class": int(n_per_class),
              "sr": int(sr), "seed": int(seed), **({"dry": True} if dry else {})}
    if _is_complete(out, params):
        return out
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not overwrite:
        raise DatasetError(f"{out} already exists and does not hold a complete demo dataset made with these "
                           f"parameters ({n_per_class} per class, sr={sr}, seed={seed}); choose another "
                           "folder, delete it, or pass overwrite=True to replace it")
    _write_whole(out, params, progress)
    return out


def _write_whole(out, params, progress):
    """Write the dataset beside ``out`` and rename it into place, so that ``out`` appears whole or not at all."""
    try:
        with atomic_folder(out) as tmp:
            for name in CLASSES:
                (tmp / name).mkdir(parents=True)
            _write_clips(tmp, params, progress)
            (tmp / _META).write_text(json.dumps(params, indent=2) + "\n")  # last: it marks the folder complete
    except OutputError:
        if not _is_complete(out, params):  # another process may have just written the same dataset
            raise DatasetError(f"{out} appeared while the demo dataset was being written; delete it "
                               "and run again") from None


def linear_baseline(root, sr=16000, seed=0):
    """Accuracy of a linear model on each clip's mean log-mel: how far a bag of spectra gets.

    Standardised 64-band log-mel means (``n_fft=1024``, ``hop_length=256``) feed a logistic
    regression, scored by stratified 5-fold cross-validation (shuffled with ``seed``).

    Parameters
    ----------
    root : str or Path
        A folder per class of WAV files, as ``make_demo`` writes (at least 5 clips per class).
    sr, seed : int
        Rate the clips are analysed at, and the seed of the fold assignment.

    Returns
    -------
    float
        Mean accuracy over the folds.

    Examples
    --------
    >>> import tempfile
    >>> 0.3 < linear_baseline(make_demo(tempfile.mkdtemp(), n_per_class=20, overwrite=True)) < 1.0
    True
    """
    # Imported here, not at the top, so that make_demo does not pay for scikit-learn.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = Path(root)
    folders = sorted(d for d in root.glob("*/") if any(d.glob("*.wav")))
    if len(folders) < 2:
        raise DatasetError(f"{root} needs at least two class folders of WAV files; make one with make_demo")
    logmel = LogMel(sr=sr, n_fft=1024, hop_length=256, n_mels=64)
    features, labels = [], []
    with torch.no_grad():
        for label, folder in enumerate(folders):
            for path in sorted(folder.glob("*.wav")):
                y, _ = load(path, sr=sr)
                features.append(logmel(torch.from_numpy(y)).mean(-1).numpy())
                labels.append(label)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, np.stack(features), np.array(labels), cv=folds).mean())
