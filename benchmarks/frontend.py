"""Log-mel speed: Tympan's batched front-end against librosa called clip by clip, at equal output.

1. 1,000 FSDD clips (8 kHz speech, n_fft=512, hop_length=128, n_mels=64): librosa's
   power_to_db(melspectrogram(...)) per clip, versus tympan.frontend.LogMel over length-bucketed batches.
2. The example recordings of at least 60 s, cut to 60 s at 22,050 Hz with librosa's defaults, one at a time.
Decoding is done beforehand and not timed; both sides get the same float32 arrays. Prints times, the
ratio (librosa / Tympan: above 1 means Tympan is faster) and the largest difference in dB.

    python benchmarks/frontend.py [--data ../shared/data] [--repeat 3]
"""

import argparse
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from tympan import load
from tympan.frontend import LogMel, transform_clips

ROOT = Path(__file__).resolve().parents[1]


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def max_db_error(ours, theirs):
    worst = 0.0
    for a, b in zip(ours, theirs):
        a = a.numpy() if torch.is_tensor(a) else a
        assert a.shape == b.shape, (a.shape, b.shape)
        above = b > b.max() - 80.0
        worst = max(worst, float(np.abs(a - b)[above].max()))
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    args = parser.parse_args()
    data = Path(args.data)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; librosa {librosa.__version__}")

    files = sorted((data / "fsdd" / "recordings").glob("*.wav"))[:1000]
    clips = [load(f)[0] for f in files]
    params = dict(sr=8000, n_fft=512, hop_length=128, n_mels=64)
    layer = LogMel(**params)
    with torch.inference_mode():
        transform_clips(layer, clips[:64])  # warm-up: first-call allocations are not the steady state
        t_librosa, theirs = best_of(args.repeat, lambda: [
            librosa.power_to_db(librosa.feature.melspectrogram(y=y, **params)) for y in clips])
        t_tympan, ours = best_of(args.repeat, lambda: transform_clips(layer, clips, batch_size=128))
    seconds = sum(len(c) for c in clips) / 8000
    print(f"\n1,000 FSDD clips ({seconds:.0f} s of audio), log-mel {params}")
    print(f"  librosa, clip by clip : {t_librosa:8.3f} s")
    print(f"  tympan, batched       : {t_tympan:8.3f} s")
    print(f"  ratio librosa/tympan  : {t_librosa / t_tympan:8.2f}x   (target >= 3x)")
    print(f"  max difference        : {max_db_error(ours, theirs):.5f} dB")

    long = []
    for path in sorted((data / "examples").glob("*.ogg")):
        y, _ = load(path, sr=22050)
        if len(y) >= 60 * 22050:
            long.append((path.name, y[: 60 * 22050]))
    layer = LogMel(sr=22050)
    with torch.inference_mode():
        layer(torch.from_numpy(long[0][1]))
        t_librosa, theirs = best_of(args.repeat, lambda: [
            librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050)) for _, y in long])
        t_tympan, ours = best_of(args.repeat, lambda: [layer(torch.from_numpy(y)) for _, y in long])
    print(f"\n{len(long)} example recordings cut to 60 s, 22,050 Hz, librosa's defaults, one at a time")
    print(f"  librosa               : {t_librosa:8.3f} s")
    print(f"  tympan                : {t_tympan:8.3f} s")
    print(f"  ratio librosa/tympan  : {t_librosa / t_tympan:8.2f}x   (target >= 1x)")
    print(f"  max difference        : {max_db_error(ours, theirs):.5f} dB")


if __name__ == "__main__":
    main()
