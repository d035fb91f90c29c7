"""What augmentation costs: a training epoch with and without it, on the same data and network.

FSDD (1,800 recordings), the CNN of ``examples/little_data/cnn.yaml``; the augmented epoch uses the
pipeline of ``cnn_augment.yaml`` (pitch shift, time stretch, time shift, gain, noise, SpecAugment), and a
heavier one with pitch shift and time stretch on every example. Epochs alternate (plain, augmented,
heavy, plain...) so a noisy machine affects all alike; the median of the repeats is reported. The target
is an epoch no more than 2x slower with augmentation on 2 CPU cores.

    python benchmarks/augment.py [--data ../shared/data/fsdd] [--repeats 3] [--threads 2]
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from tympan.augment import build
from tympan.data.cache import AudioCache
from tympan.data.layouts import build as build_manifest
from tympan.nn.classifier import Classifier
from tympan.train.config import load_config
from tympan.train.data import load_clipset, normalisation_statistics
from tympan.train.loop import fit

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "little_data"


def epoch_seconds(clips, config) -> float:
    model = Classifier(config.frontend, config.network, [str(d) for d in range(10)], config.data.clip_seconds,
                       seed=0)
    model.normalize.set_statistics(*normalisation_statistics(model, clips))
    empty = dataclasses.replace(clips, audio=[], targets=clips.targets[:0], paths=[])
    started = time.perf_counter()
    fit(model, clips, empty, config, progress=False)
    return time.perf_counter() - started


def augmentation_seconds(clips, config, batches: int = 20) -> float:
    """The augmentations alone, per batch of 32 clips."""
    pipeline = build(config.augment, sr=config.frontend["sr"])
    g = torch.Generator().manual_seed(0)
    waves = next(clips.batches(1, 32, round(config.data.clip_seconds * config.frontend["sr"]), 0))[0]
    started = time.perf_counter()
    for _ in range(batches):
        for augmentation in pipeline:
            if augmentation.stage == "waveform":
                augmentation(waves, config.frontend["sr"], g)
    return (time.perf_counter() - started) / batches


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = build_manifest(args.data, layout="fsdd")
    train_items = manifest.subset("train")
    clips, _ = load_clipset(train_items, manifest.classes, 8000, False, AudioCache(), progress=False)
    one_epoch = ["train.epochs=1", "train.precise_bn=false", "train.warmup_epochs=0"]
    plain = load_config("fsdd", CONFIGS / "cnn.yaml", sets=one_epoch)
    augmented = load_config("fsdd", CONFIGS / "cnn_augment.yaml", sets=one_epoch)
    heavy = dataclasses.replace(augmented, augment=[{"kind": "pitch_shift", "p": 1.0, "semitones": [-3, 3]},
                                                    {"kind": "time_stretch", "p": 1.0, "rate": [0.85, 1.15]},
                                                    *augmented.augment[2:]])
    print(f"FSDD training split: {len(clips)} recordings, batches of {plain.train.batch_size}; "
          f"torch threads {args.threads}")
    times = {"plain": [], "augmented": [], "heavy": []}
    for repeat in range(args.repeats):
        for name, config in (("plain", plain), ("augmented", augmented), ("heavy", heavy)):
            times[name].append(epoch_seconds(clips, config))
        print(f"  repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    base = np.median(times["plain"])
    print(f"\n{'epoch':<42}{'seconds':>9}{'ratio':>8}")
    print(f"{'no augmentation':<42}{base:>9.1f}{1.0:>8.2f}")
    for name, label in (("augmented", "cnn_augment.yaml (p = 0.3 - 0.5 each)"),
                        ("heavy", "pitch shift + time stretch on every clip")):
        median = np.median(times[name])
        print(f"{label:<42}{median:>9.1f}{median / base:>8.2f}")
    for name, config in (("augmented", augmented), ("heavy", heavy)):
        print(f"waveform augmentations alone, {name}: {1000 * augmentation_seconds(clips, config):.0f} ms per batch")
    worst = np.median(times["augmented"]) / base
    print(f"\ntarget: cnn_augment.yaml's epoch at most 2x the plain one: {worst:.2f}x, "
          f"{'met' if worst <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
