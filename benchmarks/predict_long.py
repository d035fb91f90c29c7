"""Hours-long recordings: ``tympan predict`` on a 1-hour and a 10-minute 44.1 kHz stereo WAV.

The recordings are made by looping the example recordings in ``../shared/data/examples`` (resampled to
44.1 kHz, mono copied to both channels). Each is predicted by ``tympan predict`` in a child process with
the demo model (``tympan-demo/model.tympan``, made by ``tympan demo`` if missing); prints wall seconds,
the real-time factor (audio seconds per wall second) and the child's peak memory, which should not grow
with the recording's length. Targets on 2 CPU cores: 1 hour in at most 30 s, under 1.5 GB, flat.

    python benchmarks/predict_long.py [--examples ../shared/data/examples] [--keep DIR]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tympan import load

ROOT = Path(__file__).resolve().parents[1]
SR = 44100


def make_recording(path: Path, seconds: float, examples: list[Path]) -> None:
    """Loop the examples into a stereo 16-bit WAV of ``seconds``, written a piece at a time."""
    pieces = [load(p, sr=SR)[0] for p in examples]
    left = int(seconds * SR)
    with sf.SoundFile(path, "w", samplerate=SR, channels=2, subtype="PCM_16") as f:
        n = 0
        while left > 0:
            y = pieces[n % len(pieces)][:left]
            f.write(np.stack([y, y], axis=1))
            left -= len(y)
            n += 1


def predict(model: Path, recording: Path) -> tuple[float, float, int]:
    """(wall seconds, peak resident memory in MB, events) of one ``tympan predict`` child process."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", (
        "import json, resource, sys; from tympan.cli import main; code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"),
        "predict", "--model", str(model), str(recording), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(run.stderr)
    peak_kb = int(run.stderr.strip().splitlines()[-1])
    events = len(json.loads(run.stdout)["files"][0]["events"])
    return wall, peak_kb / 1024, events


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=Path, default=ROOT.parent / "shared" / "data" / "examples")
    parser.add_argument("--model", type=Path, default=ROOT / "tympan-demo" / "model.tympan")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the generated recordings in")
    args = parser.parse_args()
    if not args.model.exists():
        subprocess.run([sys.executable, "-m", "tympan", "demo", "--out", str(args.model.parent)], check=True)
    examples = sorted(args.examples.glob("*.ogg"))
    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    print(f"model {args.model}; recordings looped from {len(examples)} examples, {SR} Hz stereo 16-bit WAV")
    print(f"{'recording':<12}{'wall':>9}{'real-time factor':>18}{'peak memory':>14}{'events':>8}")
    for name, seconds in (("10 minutes", 600), ("1 hour", 3600)):
        path = folder / f"{seconds}s.wav"
        if not path.exists():
            make_recording(path, seconds, examples)
        wall, peak, events = predict(args.model, path)
        print(f"{name:<12}{wall:>8.1f}s{seconds / wall:>17.0f}x{peak:>11.0f} MB{events:>8}", flush=True)
        if args.keep is None:
            path.unlink()


if __name__ == "__main__":
    main()
