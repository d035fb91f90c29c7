"""FSDD spoken digits: Tympan's FSDD recipe against the conventional MFCC + SVM pipeline, in one run.

1. The official split (recordings with index 0-4 are test): test accuracy and training time.
2. Leave one speaker out: train on three speakers, test on the fourth, for each of the four. This is the
   number that shows whether a model generalises to a voice it has never heard.

The reference is MFCC (20 coefficients, Tympan's librosa-equal front-end) summarised by mean and standard
deviation over time, standardised, into an RBF SVM (scikit-learn). Tympan runs ``tympan.train.train``
with ``recipes/fsdd.yaml``; in leave-one-speaker-out its validation split is a random tenth of the three
training speakers, so the test speaker is never seen, not even to choose the epoch.

    python benchmarks/fsdd.py [--data ../shared/data/fsdd] [--no-loso] [--threads 2]
"""

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from tympan import load
from tympan.frontend import MFCC
from tympan.train.config import recipe_path
from tympan.train.run import train

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav$")


def recordings(data: Path):
    found = []
    for path in sorted((data / "recordings").glob("*.wav")):
        digit, speaker, index = NAME.search(path.name).groups()
        found.append((path, digit, speaker, int(index)))
    return found


def mfcc_svm(items, train_mask):
    mfcc = MFCC(sr=8000, n_mfcc=20, n_fft=256, hop_length=80, n_mels=40)
    features = []
    for path, *_ in items:
        y, _ = load(path, sr=8000)
        m = mfcc(torch.from_numpy(y)).numpy()
        features.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
    X, labels = np.array(features), np.array([digit for _, digit, _, _ in items])
    svm = make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale")).fit(X[train_mask], labels[train_mask])
    return float((svm.predict(X[~train_mask]) == labels[~train_mask]).mean())


def tympan_run(items, split_of, out: Path):
    """Train the FSDD recipe on a CSV with the given split per item; (test accuracy, seconds)."""
    rows = ["path,label,split"] + [f"{path},{digit},{split_of(item)}" for item in items
                                   for path, digit, *_ in [item]]
    (out / "data.csv").write_text("\n".join(rows) + "\n")
    start = time.perf_counter()
    result = train(out / "data.csv", out / "run", config_file=recipe_path("fsdd"), progress=False)
    return result["test"]["accuracy"], time.perf_counter() - start, result["train_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--no-loso", action="store_true", help="skip leave-one-speaker-out")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    items = recordings(args.data)
    rng = np.random.default_rng(0)
    held_for_val = rng.random(len(items)) < 0.1
    val_of = {str(item[0]): bool(v) for item, v in zip(items, held_for_val)}

    print(f"FSDD: {len(items)} recordings, {len({s for _, _, s, _ in items})} speakers; torch threads {args.threads}")
    official = np.array([index >= 5 for *_, index in items])
    svm = mfcc_svm(items, official)
    with tempfile.TemporaryDirectory() as tmp:
        accuracy, wall, seconds = tympan_run(
            items, lambda item: "test" if item[3] < 5 else "val" if val_of[str(item[0])] else "train", Path(tmp))
    print("\nofficial split (index 0-4 test)")
    print(f"  MFCC + SVM  test accuracy {svm:.4f}")
    print(f"  Tympan      test accuracy {accuracy:.4f}  (training {seconds:.0f} s, whole job {wall:.0f} s)")
    if args.no_loso:
        return
    print("\nleave one speaker out (train on three, test on the fourth)")
    print(f"  {'speaker':<10}{'MFCC + SVM':>12}{'Tympan':>10}{'training':>10}")
    svm_scores, tympan_scores = [], []
    for speaker in sorted({s for _, _, s, _ in items}):
        others = np.array([s != speaker for _, _, s, _ in items])
        svm_scores.append(mfcc_svm(items, others))
        with tempfile.TemporaryDirectory() as tmp:
            accuracy, _, seconds = tympan_run(
                items, lambda item: "test" if item[2] == speaker else "val" if val_of[str(item[0])] else "train",
                Path(tmp))
        tympan_scores.append(accuracy)
        print(f"  {speaker:<10}{svm_scores[-1]:>12.4f}{accuracy:>10.4f}{seconds:>9.0f}s", flush=True)
    print(f"  {'mean':<10}{np.mean(svm_scores):>12.4f}{np.mean(tympan_scores):>10.4f}")


if __name__ == "__main__":
    main()
