"""The defaults that several stages share, each in one place: a change here changes them everywhere.

The sample rate is 16 kHz: speech and most environmental sound need no more, and it is what the field's
pretrained networks and the DCASE baselines use. Decoding is parallel over at most 8 threads: beyond that
the disk, not the CPU, is the limit.
"""

from __future__ import annotations

import os

SR = 16000
VAL_FRACTION = 0.1
TEST_FRACTION = 0.2


def default_workers() -> int:
    """Threads for decoding: the CPU count, at most 8."""
    return min(8, os.cpu_count() or 1)
