"""Decode once: the first pass over FSDD (decode, resample to 16 kHz, cache) against the cached second pass.

    python benchmarks/dataset.py [--data ../shared/data] [--sr 16000]

Both passes run in this process on a fresh temporary cache; the second pass is what later epochs and
later runs pay. Prints both times and their ratio.
"""

import argparse
import tempfile
import time
from pathlib import Path

from tympan.data.cache import AudioCache
from tympan.data.layouts import build

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--sr", type=int, default=16000, help="sample rate to decode to, in Hz")
    args = parser.parse_args()
    manifest = build(Path(args.data) / "fsdd")
    with tempfile.TemporaryDirectory() as folder:
        cache = AudioCache(folder)
        start = time.perf_counter()
        first, bad = cache.load_items(manifest.items, sr=args.sr)
        t_first = time.perf_counter() - start
        start = time.perf_counter()
        second, _ = cache.load_items(manifest.items, sr=args.sr)
        # The cache hands out memory maps: touch every sample so the comparison is of real reads.
        total = sum(float(y.sum()) for y in second)
        t_second = time.perf_counter() - start
    assert not bad and cache.hits == len(manifest.items), (bad, cache.hits)
    seconds = sum(len(y) for y in first) / args.sr
    print(f"FSDD: {len(manifest.items)} files, {seconds:.0f} s of audio, decoded at {args.sr} Hz (checksum {total:.3f})")
    print(f"  first pass (decode + resample + cache) : {t_first:7.3f} s")
    print(f"  second pass (cached)                   : {t_second:7.3f} s")
    print(f"  ratio first/second                     : {t_first / t_second:7.1f}x")


if __name__ == "__main__":
    main()
