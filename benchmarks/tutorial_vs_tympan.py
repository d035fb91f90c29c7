"""Seconds per epoch: a small CNN trained the way tutorials do it, against Tympan's pipeline, in one run.

Both sides train the same network (``{"kind": "cnn", "channels": [16, 32, 64], "dropout": 0.3}``, seed 0)
on FSDD's official training split (index 5-49, 1,800 clips) with Adam, the same learning rate, batch size
and number of epochs, on the same CPU threads, and are tested on the official test split (index 0-4).
Features: log-mel at 8 kHz, n_fft=256, hop_length=80, 40 bands, on clips of 1 s.

- Reference, the tutorial: a ``torch.utils.data.Dataset`` whose ``__getitem__`` calls ``librosa.load``,
  pads or crops to 1 s, ``librosa.feature.melspectrogram`` and ``power_to_db``, and standardises the clip,
  every epoch, from the file; a ``DataLoader`` (shuffle, no workers) and a plain forward, cross-entropy,
  backward, Adam step loop.
- Tympan: ``AudioCache`` (decoding once, timed apart as a one-time cost, with the normalisation
  statistics), ``load_clipset``, a ``Classifier`` (the batched front-end inside the model) and
  ``train.loop.fit``, whose epoch time is taken from its history. It includes what ``fit`` always does
  per epoch: precise batch-norm statistics (one extra forward pass over the training clips).

Prints seconds per epoch (mean and best), test accuracy, and the ratio tutorial / Tympan (above 1 means
Tympan is faster), then where the time of one batch goes on each side.

    python benchmarks/tutorial_vs_tympan.py [--data ../shared/data/fsdd] [--epochs 5] [--threads 2]
                                            [--batch-size 32]
"""

import argparse
import tempfile
import time
import timeit
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from tympan.data.cache import AudioCache
from tympan.data.layouts import build
from tympan.nn import build_network
from tympan.nn.classifier import Classifier
from tympan.train.config import Config, TrainConfig
from tympan.train.data import ClipSet, load_clipset, normalisation_statistics
from tympan.train.loop import evaluate_clips, fit

ROOT = Path(__file__).resolve().parents[1]
FEATURES = dict(sr=8000, n_fft=256, hop_length=80, n_mels=40)
CLIP_SECONDS = 1.0
NETWORK = {"kind": "cnn", "channels": [16, 32, 64], "dropout": 0.3}


class TutorialDataset(Dataset):
    """What tutorials write: decode, pad and compute features in ``__getitem__``, for every item, every epoch."""

    def __init__(self, manifest, features=FEATURES, clip_seconds=CLIP_SECONDS):
        self.items = manifest.items
        self.index = manifest.class_index()
        self.features, self.clip_seconds = features, clip_seconds

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        y, sr = librosa.load(self.items[i].path, sr=self.features["sr"])
        y = librosa.util.fix_length(y, size=int(self.clip_seconds * sr))
        S = librosa.feature.melspectrogram(y=y, **self.features)
        x = librosa.power_to_db(S, ref=1.0, top_db=80)
        x = (x - x.mean()) / (x.std() + 1e-6)
        return torch.from_numpy(x.astype(np.float32)), self.index[self.items[i].label]


def step(network, optimizer, x, target):
    loss = F.cross_entropy(network(x), target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def tutorial(train, test, args, features=FEATURES, clip_seconds=CLIP_SECONDS):
    """The reference: (seconds per epoch, test accuracy, network, optimiser, one batch)."""
    frames = 1 + int(clip_seconds * features["sr"]) // features["hop_length"]
    network = build_network(NETWORK, (features["n_mels"], frames), len(train.classes), seed=args.seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=args.learning_rate)
    torch.manual_seed(args.seed)  # the DataLoader's shuffling and dropout
    loader = DataLoader(TutorialDataset(train, features, clip_seconds), batch_size=args.batch_size, shuffle=True,
                        num_workers=0)
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        network.train()
        for x, target in loader:
            step(network, optimizer, x, target)
        seconds.append(time.perf_counter() - start)
    network.eval()
    correct = 0
    with torch.no_grad():
        for x, target in DataLoader(TutorialDataset(test, features, clip_seconds), batch_size=64):
            correct += int((network(x).argmax(dim=1) == target).sum())
    return seconds, correct / len(test), network, optimizer, next(iter(loader))


def tympan(train, test, cache_root, args):
    """Tympan's pipeline: (seconds per epoch, test accuracy, one-time seconds, model, training clips)."""
    start = time.perf_counter()
    cache = AudioCache(cache_root)
    train_clips, _ = load_clipset(train, train.classes, FEATURES["sr"], False, cache)
    test_clips, _ = load_clipset(test, test.classes, FEATURES["sr"], False, cache)
    decode = time.perf_counter() - start
    model = Classifier({"kind": "logmel", **FEATURES}, NETWORK, train.classes, CLIP_SECONDS, seed=args.seed)
    start = time.perf_counter()
    model.normalize.set_statistics(*normalisation_statistics(model, train_clips))
    statistics = time.perf_counter() - start
    config = Config(frontend=model.frontend_config, network=NETWORK, train=TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, optimizer="adam",
        schedule="constant", early_stopping=0, warmup_epochs=0, seed=args.seed, device="cpu",
        cpu_bf16=args.cpu_bf16))
    no_val = ClipSet([], np.zeros(0, dtype=np.int64), [])
    result = fit(model, train_clips, no_val, config, out=None, progress=False)
    seconds = [line["seconds"] for line in result["history"]]
    accuracy = evaluate_clips(model, test_clips, train.classes, False)["accuracy"]
    return seconds, accuracy, (decode, statistics), model, train_clips


def per_call(fn, repeat=5):
    """Best seconds per call of ``fn`` over ``repeat`` runs (timeit picks the number of calls per run)."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat, number)) / number


def breakdown(args, train, network, optimizer, batch, model, clips):
    """Milliseconds per batch: features and network step on each side, and Tympan's forward pass (after
    training; weights still move under the timed steps, which does not change their cost)."""
    dataset = TutorialDataset(train)
    indices = list(range(args.batch_size))
    librosa_ms = 1000 * per_call(lambda: [dataset[i] for i in indices], repeat=3)
    x, target = batch
    network.train()
    tutorial_step_ms = 1000 * per_call(lambda: step(network, optimizer, x, target))
    waves, targets, _ = next(clips.batches(1, args.batch_size, model.clip_samples, args.seed))
    model.train()
    with torch.no_grad():
        frontend_ms = 1000 * per_call(lambda: model.features(waves))
        forward_ms = 1000 * per_call(lambda: model(waves))  # what fit's precise batch-norm pass costs
        features = model.features(waves)
    batches_ms = 1000 * per_call(lambda: next(clips.batches(1, args.batch_size, model.clip_samples, args.seed)))
    optimizer = torch.optim.Adam(model.network.parameters(), lr=args.learning_rate)
    tympan_step_ms = 1000 * per_call(lambda: step(model.network, optimizer, features, targets))
    return librosa_ms, tutorial_step_ms, batches_ms, frontend_ms, tympan_step_ms, forward_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd", help="FSDD folder")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs, each side")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads, each side")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch")
    parser.add_argument("--learning-rate", type=float, default=0.002, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, shuffling and dropout")
    parser.add_argument("--cpu-bf16", action="store_true",
                        help="Tympan's network in bfloat16 on CPU (train.cpu_bf16), for CPUs with native bfloat16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = build(args.data, layout="fsdd")
    train, test = manifest.subset("train"), manifest.subset("test")
    print(f"FSDD: {len(train)} training and {len(test)} test clips (official split); network {NETWORK}")
    print(f"{args.epochs} epochs, batch {args.batch_size}, Adam lr {args.learning_rate}, {args.threads} torch "
          f"threads; torch {torch.__version__}, librosa {librosa.__version__}"
          + ("; Tympan's network in bfloat16" if args.cpu_bf16 else ""))

    t_seconds, t_accuracy, network, optimizer, batch = tutorial(train, test, args)
    with tempfile.TemporaryDirectory() as cache_root:
        y_seconds, y_accuracy, (decode, statistics), model, clips = tympan(train, test, cache_root, args)
        parts = breakdown(args, train, network, optimizer, batch, model, clips)

    t_mean, y_mean = np.mean(t_seconds), np.mean(y_seconds)
    print(f"\n{'':<34}{'s/epoch mean':>14}{'best':>9}{'test accuracy':>15}")
    print(f"{'tutorial (librosa in __getitem__)':<34}{t_mean:>14.2f}{min(t_seconds):>9.2f}{t_accuracy:>15.3f}")
    print(f"{'tympan (cache, batched front-end)':<34}{y_mean:>14.2f}{min(y_seconds):>9.2f}{y_accuracy:>15.3f}")
    print(f"ratio tutorial/tympan per epoch   : {t_mean / y_mean:.2f}x (best {min(t_seconds) / min(y_seconds):.2f}x)"
          f"   (target >= 5x at equal or better accuracy)")
    print(f"tympan, once: decode into the cache {decode:.2f} s, normalisation statistics {statistics:.2f} s")
    print(f"tutorial epochs: {', '.join(f'{s:.2f}' for s in t_seconds)} s; "
          f"tympan epochs: {', '.join(f'{s:.2f}' for s in y_seconds)} s")

    librosa_ms, tutorial_step_ms, batches_ms, frontend_ms, tympan_step_ms, forward_ms = parts
    print(f"\nper batch of {args.batch_size} (best of repeated runs, ms):")
    print(f"  tutorial: librosa load + features {librosa_ms:8.1f}, network step {tutorial_step_ms:8.1f}")
    print(f"  tympan:   cut batch from cache    {batches_ms:8.1f}, front-end {frontend_ms:8.1f}, "
          f"network step {tympan_step_ms:8.1f}")
    print(f"            then per epoch, precise batch norm: a forward pass (front-end + network) {forward_ms:8.1f}")


if __name__ == "__main__":
    main()
