"""Build a 40-second soundscape from the demo dataset's clips, for trying `tympan predict` on a long file.

    python examples/soundscape.py tympan-demo/data soundscape.wav
    tympan predict --model tympan-demo/model.tympan soundscape.wav --plot docs/ --min-duration 1

Clips of six classes are placed at known times over quiet noise; the times are printed, to compare with
the events `tympan predict` finds (the README's picture was made this way).
"""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
PLAN = [("birdsong", 2.0), ("siren", 8.0), ("drums_fast", 14.0), ("rain", 21.0), ("engine", 28.0),
        ("chord_major", 34.0)]


def main(data: Path, out: Path) -> None:
    rng = np.random.default_rng(0)
    y = 0.003 * rng.standard_normal(40 * SR).astype(np.float32)
    for label, start in PLAN:
        clip, sr = sf.read(sorted((data / label).glob("*.wav"))[0], dtype="float32")
        assert sr == SR, f"the demo data is at {SR} Hz"
        first = int(start * SR)
        y[first:first + len(clip)] += clip
        print(f"{label:<12} {start:5.1f} - {start + len(clip) / SR:5.1f} s")
    sf.write(out, y, SR)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
