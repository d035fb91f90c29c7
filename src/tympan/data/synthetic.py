"""The embedded demo dataset: ten classes of music and soundscape sounds, synthesised on the spot.

``make_demo`` writes ``<out>/<class>/<class>_<index:03d>.wav`` (16-bit PCM, a folder per class) with
nothing to download; it is what ``make demo`` trains on. Each clip is one event (random pitch, timbre,
duration, onset and loudness) over white-to-brown background noise at a random SNR, with a random EQ
on the whole clip. Every clip is seeded on its own (``[seed, class, clip]``), so the bytes depend on
the seed only, never on how many processes wrote them.

The classes are meant to need a time-frequency model: a linear model on mean log-mel reaches about
62% (``linear_baseline``: 5-fold CV on the default 100 clips per class, seed 0; chance is 10%), since a
time average hides tempo, pitch contours and which partials belong together, and the two chord classes
differ only by their third. A small CNN on the log-mel images reaches about 90% on a held-out fifth.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf
import torch
from tqdm import tqdm

from ..audio import load
from ..errors import ConfigError, DatasetError
from ..frontend import LogMel

CLASSES = ("tone_soft", "tone_bright", "chord_major", "chord_minor", "drums_slow", "drums_fast",
           "birdsong", "siren", "engine", "rain")
VERSION = 1  # bump whenever a synthesiser changes, so old folders are not mistaken for current ones
_META = "tympan-demo.json"
_TABLE = 4096  # wavetable length: interpolation error stays 70 dB below even the 30th partial


def _harmonics(f0, amps, sr):
    """Partials ``k * f0`` (``f0`` in Hz, one value per sample) weighted by ``amps[k - 1]``."""
    k = np.arange(1, len(amps) + 1)
    # Partials above Nyquist would alias back as inharmonic noise, so leave them out.
    amps = np.where(k * np.max(f0) < 0.45 * sr, amps, 0.0)
    # One period in a table (the inverse FFT of the partials) read at the running phase: 100 partials
    # cost what one does.
    table = np.fft.irfft(np.concatenate([[0], -0.5j * _TABLE * amps]), _TABLE)
    table = np.append(table, table[0])
    return np.interp(np.cumsum(f0) * (_TABLE / sr) % _TABLE, np.arange(_TABLE + 1), table)


def _envelope(n, sr, attack, release):
    """Linear attack and release (in seconds) around a flat sustain."""
    t = np.arange(n) / sr
    return np.clip(np.minimum(t / attack, (n / sr - t) / release), 0.0, 1.0)


def _noise(rng, n, slope):
    """Unit-variance noise with power falling as ``f ** -slope``: 0 white, 1 pink, 2 brown."""
    size = scipy.fft.next_fast_len(n, real=True)  # a prime length would make the FFT 10 times slower
    spectrum = np.fft.rfft(rng.standard_normal(size))
    spectrum *= np.maximum(np.arange(len(spectrum)), 1.0) ** (-slope / 2)
    y = np.fft.irfft(spectrum, size)[:n]
    return y / (y.std() + 1e-12)


def _filter(y, sr, kind, hz):
    """Second-order Butterworth filter: ``kind`` is ``"lowpass"``, ``"highpass"`` or ``"bandpass"``."""
    hz = np.minimum(hz, 0.45 * sr)  # bands chosen for 16 kHz, squeezed under Nyquist at lower rates
    if kind == "bandpass":
        hz[0] = min(hz[0], hz[1] / 1.5)
    return scipy.signal.sosfilt(scipy.signal.butter(2, hz, kind, fs=sr, output="sos"), y)


def _random_eq(rng, y, sr):
    """A random spectral tilt and one broad boost or cut, as different microphones and rooms give."""
    size = scipy.fft.next_fast_len(len(y), real=True)
    f = np.maximum(np.fft.rfftfreq(size, 1 / sr), 20.0)
    octaves = np.log2(f / rng.uniform(300, 4000))
    gain_db = rng.uniform(-3, 3) * np.log2(f / 1000) + rng.uniform(-6, 6) * np.exp(
        -0.5 * (octaves / rng.uniform(0.5, 2)) ** 2)
    return np.fft.irfft(np.fft.rfft(y, size) * 10 ** (gain_db / 20), size)[: len(y)]


# One synthesiser per class: (rng, n samples, sr) -> the event, at any level.

def _tone_soft(rng, n, sr):
    # Flute-like: a few fast-falling partials, a slow attack, vibrato and a breath of noise.
    t = np.arange(n) / sr
    vibrato = rng.uniform(0.003, 0.02) * np.sin(2 * np.pi * rng.uniform(4, 7) * t + rng.uniform(0, 6.3))
    f0 = rng.uniform(250, 1000) * (1 + vibrato)
    amps = rng.uniform(0.1, 0.6) ** np.arange(rng.integers(2, 5))
    breath = rng.uniform(0.01, 0.08) * _filter(rng.standard_normal(n), sr, "bandpass", [1000, 6000])
    envelope = _envelope(n, sr, rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.3))
    return (_harmonics(f0, amps, sr) + breath) * envelope


def _tone_bright(rng, n, sr):
    # Brass or bowed string: many partials falling about as 1/k (a sawtooth), a quicker attack.
    t = np.arange(n) / sr
    f0 = rng.uniform(100, 700) * (1 + rng.uniform(0, 0.008) * np.sin(2 * np.pi * rng.uniform(4, 7) * t))
    k = np.arange(1, rng.integers(10, 31))
    amps = k ** -rng.uniform(0.7, 1.3) * rng.uniform(0.6, 1.0, len(k))
    return _harmonics(f0, amps, sr) * _envelope(n, sr, rng.uniform(0.01, 0.08), rng.uniform(0.03, 0.2))


def _chord(rng, n, sr, third):
    # Both chord classes share this code, so only the third (3 or 4 semitones) tells them apart.
    root = 110 * 2 ** rng.uniform(0, 2.5)
    semitones = np.array([0, third, 7])
    semitones[: rng.integers(0, 3)] += 12  # inversion: the lowest notes go up an octave
    amps = np.arange(1, rng.integers(3, 10)) ** -rng.uniform(0.8, 2.0)
    tone = sum(_harmonics(np.full(n, root * 2 ** (s / 12) * rng.uniform(0.998, 1.002)), amps, sr)
               for s in semitones)
    if rng.random() < 0.5:  # plucked or struck: an exponential decay; otherwise held like an organ
        return tone * np.exp(-np.arange(n) / (sr * rng.uniform(0.3, 1.5))) * _envelope(n, sr, 0.003, 0.05)
    return tone * _envelope(n, sr, rng.uniform(0.01, 0.1), rng.uniform(0.05, 0.3))


def _drums(rng, n, sr, bpm):
    # One kit per clip; a rock pattern on eighth notes, shifted and varied so no two bars are alike.
    t = np.arange(int(0.4 * sr)) / sr
    sweep = rng.uniform(40, 60) + rng.uniform(60, 120) * np.exp(-t / 0.03)  # a kick drops in pitch
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-t / rng.uniform(0.08, 0.25))
    rattle = _filter(rng.standard_normal(len(t)), sr, "bandpass", [1000, 7000])
    body = 0.5 * np.sin(2 * np.pi * rng.uniform(150, 250) * t)
    snare = (body + rattle) * np.exp(-t / rng.uniform(0.06, 0.15))
    hiss = _filter(rng.standard_normal(len(t)), sr, "highpass", rng.uniform(5000, 7000))
    hat = 0.4 * hiss * np.exp(-t / rng.uniform(0.015, 0.05))
    y = np.zeros(n + len(t))
    step, shift = 30 / bpm * sr, rng.integers(0, 8)
    for i in range(int(n / step) + 1):
        beat, at = (i + shift) % 8, int(i * step)
        hits = [hat] if rng.random() < 0.9 else []
        hits += [kick] if beat in (0, 4) or rng.random() < 0.12 else []
        hits += [snare] if beat in (2, 6) else []
        for sound in hits:
            y[at: at + len(t)] += rng.uniform(0.6, 1.0) * sound
    return y[:n]


def _birdsong(rng, n, sr):
    # A repeated motif of short chirps, each a frequency sweep with a trill on top, in 2-8 kHz.
    y = np.zeros(n)
    length = int(rng.uniform(0.03, 0.15) * sr)
    lo, hi = np.sort(rng.uniform(2000, 8000, 2))
    trill = rng.uniform(0, 0.1) * np.sin(2 * np.pi * rng.uniform(20, 80) * np.arange(length) / sr)
    for _ in range(rng.integers(2, 9)):
        sweep = np.linspace(*rng.permutation([lo, hi]), length) * (1 + trill) * rng.uniform(0.95, 1.05)
        at = rng.integers(0, max(1, n - length))
        chirp = _harmonics(np.minimum(sweep, 0.44 * sr), [1.0, rng.uniform(0, 0.3)], sr) * np.hanning(length)
        y[at: at + length] += rng.uniform(0.5, 1.0) * chirp[: n - at]
    return y


def _siren(rng, n, sr):
    # Emergency sirens: either a slow sinusoidal sweep (wail) or two alternating tones (hi-lo).
    t = np.arange(n) / sr
    lo = rng.uniform(500, 900)
    hi = rng.uniform(max(lo * 1.2, 1000), 1800)  # far enough apart to hear two tones
    cycle = np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 6.3))
    shape = np.tanh(8 * cycle) if rng.random() < 0.5 else cycle
    f0 = lo + (hi - lo) * (shape + 1) / 2
    amps = np.arange(1, rng.integers(3, 7)) ** -rng.uniform(0.8, 1.5)
    return _harmonics(f0, amps, sr) * _envelope(n, sr, 0.05, 0.1)


def _engine(rng, n, sr):
    # A combustion engine: a low firing frequency rich in partials, throbbing, with mechanical noise.
    t = np.arange(n) / sr
    f0 = rng.uniform(30, 120) * (1 + rng.uniform(-0.2, 0.2) * t / t[-1])
    k = np.arange(1, int(3000 / f0.max()) + 1)
    amps = k ** -rng.uniform(0.5, 1.5) * np.where(k % 2, 1.0, rng.uniform(0.2, 1.0))
    throb = 1 + rng.uniform(0.2, 0.7) * np.sin(2 * np.pi * rng.uniform(2, 15) * t)
    rumble = rng.uniform(0.1, 0.5) * _filter(_noise(rng, n, 1.0), sr, "lowpass", rng.uniform(300, 1500))
    return (_harmonics(f0, amps, sr) * throb / np.sqrt(len(k)) + rumble) * _envelope(n, sr, 0.1, 0.1)


def _rain(rng, n, sr):
    # Band-limited hiss of many far drops, plus loud near drops: clicks ringing at one resonance.
    band = [rng.uniform(200, 1000), rng.uniform(2000, 7000)]
    hiss = _filter(_noise(rng, n, rng.uniform(0, 1)), sr, "bandpass", band)
    drops = np.zeros(n)
    count = rng.poisson(rng.uniform(10, 150) * n / sr)
    drops[rng.integers(0, n, count)] = rng.exponential(1.0, count) * rng.choice([-1, 1], count)
    centre = rng.uniform(1000, 6000)
    clicks = _filter(drops, sr, "bandpass", [centre / 1.3, centre * 1.3])
    return (hiss + rng.uniform(1, 5) * clicks) * _envelope(n, sr, 0.1, 0.1)


_SYNTHS = {
    "tone_soft": _tone_soft, "tone_bright": _tone_bright,
    "chord_major": lambda rng, n, sr: _chord(rng, n, sr, third=4),
    "chord_minor": lambda rng, n, sr: _chord(rng, n, sr, third=3),
    "drums_slow": lambda rng, n, sr: _drums(rng, n, sr, bpm=rng.uniform(60, 95)),
    "drums_fast": lambda rng, n, sr: _drums(rng, n, sr, bpm=rng.uniform(130, 180)),
    "birdsong": _birdsong, "siren": _siren, "engine": _engine, "rain": _rain,
}


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
    if class_name not in _SYNTHS:
        raise ConfigError(f"unknown demo class {class_name!r}: choose one of {', '.join(CLASSES)}")
    n = int(rng.uniform(1.5, 2.5) * sr)
    m = int(rng.uniform(0.5, 1.0) * n)
    event = _SYNTHS[class_name](rng, m, sr) * _envelope(m, sr, 0.005, 0.005)  # no clicks at the edges
    clip = np.zeros(n)
    onset = rng.integers(0, n - m + 1)
    clip[onset: onset + m] = event
    # The SNR is against the event's own power, so a quiet event is as buried as a loud one.
    snr_db = rng.uniform(0, 30)
    clip += _noise(rng, n, rng.uniform(0, 2)) * np.sqrt(np.mean(event ** 2) / 10 ** (snr_db / 10))
    clip = _random_eq(rng, clip, sr)
    clip *= 10 ** (rng.uniform(-20, 0) / 20) / (np.abs(clip).max() + 1e-12)
    return clip.astype(np.float32)


def demo_clip(class_index, clip_index, sr=16000, seed=0):
    """Clip ``clip_index`` of class ``CLASSES[class_index]`` of the demo dataset made with ``seed``, as
    ``make_demo`` writes it (before its 16-bit rounding): each clip has its own seed, so any one can be
    made alone.

    Examples
    --------
    >>> bool((demo_clip(6, 3) == synthesize("birdsong", np.random.default_rng([0, 6, 3]))).all())
    True
    """
    return synthesize(CLASSES[class_index], np.random.default_rng([seed, class_index, clip_index]), sr)


def _clip_path(root, class_index, clip_index):
    return Path(root) / CLASSES[class_index] / f"{CLASSES[class_index]}_{clip_index:03d}.wav"


def _write_clip(root, params, class_index, clip_index):
    clip = demo_clip(class_index, clip_index, params["sr"], params["seed"])
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


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def make_demo(out, n_per_class=100, sr=16000, seed=0, overwrite=False, progress=False):
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
              "sr": int(sr), "seed": int(seed)}
    if _is_complete(out, params):
        return out
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not overwrite:
        raise DatasetError(f"{out} already exists and does not hold a complete demo dataset made with these "
                           f"parameters ({n_per_class} per class, sr={sr}, seed={seed}); choose another "
                           "folder, delete it, or pass overwrite=True to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        for name in CLASSES:
            (tmp / name).mkdir(parents=True)
        _write_clips(tmp, params, progress)
        (tmp / _META).write_text(json.dumps(params, indent=2) + "\n")  # last: it marks the folder complete
        aside = out.with_name(f"{out.name}.old-{os.getpid()}")
        if out.exists() or out.is_symlink():
            os.replace(out, aside)  # an empty folder or, with overwrite=True, the old content
        try:
            os.replace(tmp, out)
        except OSError:
            if not _is_complete(out, params):  # another process may have just written the same dataset
                raise DatasetError(f"{out} appeared while the demo dataset was being written; delete it "
                                   "and run again") from None
        _remove(aside)
    finally:
        _remove(tmp)  # only still there if something failed
    return out


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
