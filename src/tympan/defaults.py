"""The defaults that several stages share, each in one place: a change here changes them everywhere.

The sample rate is 16 kHz: speech and most environmental sound need no more, and it is what the field's
pretrained networks and the DCASE baselines use. Decoding is parallel over at most 8 threads: beyond that
the disk, not the CPU, is the limit.
"""

from __future__ import annotations

import math
import os

SR = 16000
VAL_FRACTION = 0.1
TEST_FRACTION = 0.2
# the time-frequency grid, in time so it holds at any sample rate: windows of about 32 ms (a power of two,
# for the FFT), hops of 10 ms (the field's usual frame rate); 64 mel bands, 40 below 16 kHz, where the
# narrower band leaves the highest of 64 bands too few FFT bins
WINDOW_SECONDS = 0.032
HOP_SECONDS = 0.010


def spectral_params(sr: int = SR) -> dict:
    """The FFT size, hop and mel bands at sample rate ``sr``: what a front-end spec leaves out gets these.

    Examples
    --------
    >>> spectral_params(16000)
    {'n_fft': 512, 'hop_length': 160, 'n_mels': 64}
    >>> spectral_params(8000)
    {'n_fft': 256, 'hop_length': 80, 'n_mels': 40}
    """
    return {"n_fft": 2 ** round(math.log2(WINDOW_SECONDS * sr)), "hop_length": round(HOP_SECONDS * sr),
            "n_mels": 64 if sr >= 16000 else 40}


# prediction: labels shown per file, the score a label or an event must reach, the moving average of window
# scores (in windows) and the shortest event kept (s); clips or windows per forward pass
TOP_K = 3
THRESHOLD = 0.5
SMOOTH = 3
MIN_DURATION = 0.0
BATCH_SIZE = 64
# showing a recording (``tympan show``): librosa's own defaults, so a figure matches librosa.display's
DISPLAY = {"n_fft": 2048, "hop_length": 512, "n_mels": 128, "n_mfcc": 20}
# the conventional baseline's MFCCs per frame (librosa's default)
N_MFCC = 20


def default_workers() -> int:
    """Threads for decoding: the CPU count, at most 8."""
    return min(8, os.cpu_count() or 1)
