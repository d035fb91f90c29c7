"""Little data: which remedy pays off on spoken digits from voices never heard in training?

FSDD, leave one speaker out: for each of the four speakers, train on the other three (a random tenth of
their recordings held out for validation) and test on the held-out one. Five approaches on exactly the same
splits, through ``tympan.compare``:

- the conventional baseline: MFCC + deltas, mean and std, into an RBF SVM (``tympan baseline``);
- a small CNN from scratch (``examples/little_data/cnn.yaml``);
- the same CNN with augmentation (``cnn_augment.yaml``: pitch, tempo, shift, gain, noise, SpecAugment);
- the same CNN fine-tuned from a model trained on the demo data's ten classes of music and nature sounds
  (``cnn_finetune.yaml``; the source model is trained here first, with ``cnn.yaml``);
- an untrained CNN as a fixed feature extractor with logistic regression (``random_logistic.yaml``).

    python benchmarks/little_data.py [--data ../shared/data/fsdd] [--out DIR] [--threads 2]
"""

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from tympan.train.compare import compare
from tympan.data.synthetic import make_demo
from tympan.train.run import train

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "little_data"
NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav$")


def fold_csv(recordings: list[Path], speaker: str, path: Path, seed: int = 0) -> Path:
    """Test: the speaker; validation: a random tenth of the others; training: the rest."""
    rng = np.random.default_rng(seed)
    rows = ["path,label,split,group"]
    for file in recordings:
        digit, who, _ = NAME.search(file.name).groups()
        split = "test" if who == speaker else "val" if rng.random() < 0.1 else "train"
        rows.append(f"{file},{digit},{split},{who}")
    path.write_text("\n".join(rows) + "\n")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--speakers", default=None, help="comma-separated subset of the speakers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recordings = sorted((args.data / "recordings").glob("*.wav"))
    speakers = sorted({NAME.search(f.name).group(2) for f in recordings})
    if args.speakers:
        speakers = args.speakers.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        demo = make_demo(out / "demo", seed=0, progress=False)
        source = train(demo, out / "source", layout="folder", config_file=CONFIGS / "cnn.yaml",
                       sets=["train.monitor=macro_f1"], progress=False)
        print(f"source model: the demo data's {len(source['classes'])} classes, test accuracy "
              f"{source['test']['accuracy']:.3f} ({time.perf_counter() - started:.0f} s)")
        finetune = out / "cnn_finetune.yaml"
        finetune.write_text((CONFIGS / "cnn_finetune.yaml").read_text().replace(
            "init_from: source.tympan", f"init_from: {out / 'source' / 'model.tympan'}"))
        approaches = ["MFCC + SVM=baseline", f"CNN={CONFIGS / 'cnn.yaml'}",
                      f"CNN + augmentation={CONFIGS / 'cnn_augment.yaml'}", f"CNN fine-tuned={finetune}",
                      f"random CNN + logistic={CONFIGS / 'random_logistic.yaml'}"]
        labels = [a.partition("=")[0] for a in approaches]
        table = {label: {} for label in labels}
        seconds = {label: [] for label in labels}
        print(f"\nFSDD, leave one speaker out: {len(recordings)} recordings, speakers {', '.join(speakers)}")
        for speaker in speakers:
            csv = fold_csv(recordings, speaker, out / f"{speaker}.csv")
            result = compare(csv, out / speaker, approaches, layout="csv", progress=False)
            for row in result["rows"]:
                if row.get("error"):
                    print(f"  {speaker}: {row['approach']} failed: {row['error']}")
                    continue
                table[row["approach"]][speaker] = row["accuracy"]
                seconds[row["approach"]].append(row["train_seconds"])
            print(f"  {speaker}: " + ", ".join(f"{label} {table[label].get(speaker, float('nan')):.3f}"
                                               for label in labels), flush=True)
        print(f"\n{'test accuracy':<24}" + "".join(f"{s:>10}" for s in speakers) + f"{'mean':>8}{'train s':>9}")
        for label in labels:
            values = [table[label].get(s, np.nan) for s in speakers]
            print(f"{label:<24}" + "".join(f"{v:>10.3f}" for v in values) + f"{np.nanmean(values):>8.3f}"
                  f"{np.mean(seconds[label]) if seconds[label] else np.nan:>9.1f}")
        means = {label: np.nanmean([table[label].get(s, np.nan) for s in speakers]) for label in labels}
        deep = {k: v for k, v in means.items() if k != "MFCC + SVM"}
        best = max(deep, key=deep.get)
        print(f"\nreference MFCC + SVM mean {means['MFCC + SVM']:.3f}; best deep approach {best} {deep[best]:.3f} "
              f"({deep[best] / means['MFCC + SVM']:.2f}x)")
        print(f"targets: augmentation improves the CNN's mean ({means['CNN']:.3f} -> "
              f"{means['CNN + augmentation']:.3f}: {'met' if means['CNN + augmentation'] > means['CNN'] else 'NOT met'}); "
              f"best deep >= 0.60 ({'met' if deep[best] >= 0.6 else 'NOT met'})")
        print(f"whole benchmark {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
