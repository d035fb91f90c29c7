"""Many short files: ``tympan predict`` on the 2,000 FSDD recordings against a loop that calls
``load_model(...).predict`` file by file, in one run.

Both sides use the same model (the demo model, ``tympan-demo/model.tympan``, made by ``tympan demo`` if it
is missing) and give the same probabilities; the loop loads the model once, as a careful user would.
``tympan predict`` decodes clips in parallel and scores them in shared batches. Prints files per second
for both and the ratio.

    python benchmarks/predict_many.py [--data ../shared/data/fsdd] [--model tympan-demo/model.tympan]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import tympan
from tympan.predict import find_audio, predict_files

ROOT = Path(__file__).resolve().parents[1]


def demo_model(path: Path) -> Path:
    if not path.exists():
        subprocess.run([sys.executable, "-m", "tympan", "demo", "--out", str(path.parent)], check=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--model", type=Path, default=ROOT / "tympan-demo" / "model.tympan")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = tympan.load_model(demo_model(args.model))
    files, _ = find_audio([args.data])
    print(f"{len(files)} files from {args.data}; model {args.model} ({model.sr} Hz, {model.clip_seconds:g} s clips)")

    start = time.perf_counter()
    looped = np.stack([model.predict(path) for path in files])
    loop_seconds = time.perf_counter() - start

    start = time.perf_counter()
    report = predict_files(model, [args.data], top=len(model.classes))
    tympan_seconds = time.perf_counter() - start

    ours = {item["file"]: {t["label"]: t["score"] for t in item["top"]} for item in report["files"]}
    worst = max(abs(ours[str(path)][label] - looped[n, c])
                for n, path in enumerate(files) for c, label in enumerate(model.classes))
    print(f"{'loop of load_model(...).predict':<34}{len(files) / loop_seconds:>10.0f} files/s  ({loop_seconds:.1f} s)")
    print(f"{'tympan predict (batched)':<34}{len(files) / tympan_seconds:>10.0f} files/s  ({tympan_seconds:.1f} s)")
    print(f"ratio: {loop_seconds / tympan_seconds:.2f}x; largest difference in a probability: {worst:.1e} "
          "(scores are rounded to 4 decimals in reports)")


if __name__ == "__main__":
    main()
