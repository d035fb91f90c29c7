"""A corpus of hostile inputs, generated at test time (nothing large is committed): each a file in a class
folder of a ``folder`` dataset beside good FSDD recordings, with what Tympan must say of it."""

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

TEN_HOURS = "ten hours of silence.wav"
LOCKED = "locked.wav"
# root reads any file; without these two capabilities it obeys permissions like any user
NO_READ_ALL = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
               "--inh-caps", "-dac_override,-dac_read_search"]


def commands_obey_permissions() -> bool:
    """Whether the commands a test runs can be refused a file: not root, or root with ``NO_READ_ALL``."""
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def as_a_user(command: list[str]) -> list[str]:
    """``command`` run so that file permissions hold for it (root gives up reading everything)."""
    return NO_READ_ALL + command if os.geteuid() == 0 and shutil.which("setpriv") else command


def wav_header(sr: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", min(36 + data_bytes, 2**32 - 1)) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * block, block, bits) + b"data" +
            struct.pack("<I", min(data_bytes, 2**32 - 1)))


def make_corpus(root: Path, fsdd: Path, locks: bool = False) -> dict[str, str | None]:
    """Write the corpus under ``root`` (class folders ``zero`` and ``one``); ``{relative path: None for a
    file that must be processed, else a part of the reason it must be refused with}``. ``locks``: add a
    file nobody may read (meaningful when the commands run without root's power to read anything:
    ``NO_READ_ALL``)."""
    expected: dict[str, str | None] = {}
    for digit, name in (("0", "zero"), ("1", "one")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            source = fsdd / "recordings" / f"{digit}_jackson_{i}.wav"
            (root / name / source.name).write_bytes(source.read_bytes())
            expected[f"{name}/{source.name}"] = None
    bad = root / "zero"
    y, sr = sf.read(fsdd / "recordings" / "0_george_0.wav", dtype="float32")
    whole = (fsdd / "recordings" / "0_george_0.wav").read_bytes()

    def add(name, reason, content=None):
        if content is not None:
            (bad / name).write_bytes(content)
        expected[f"zero/{name}"] = reason

    add("truncated.wav", "truncated", whole[:len(whole) // 2])
    add("empty.wav", "empty", b"")
    add("header only.wav", "no audio samples", wav_header(8000, 1, 0))
    add("not audio.wav", "not an audio file", b"this is a text file, not a recording\n" * 40)
    sf.write(bad / "nan.wav", np.where(np.arange(len(y)) == 100, np.nan, y).astype(np.float32), sr, subtype="FLOAT")
    add("nan.wav", "non-finite")
    sf.write(bad / "inf.wav", np.where(np.arange(len(y)) == 100, np.inf, y).astype(np.float32), sr, subtype="FLOAT")
    add("inf.wav", "non-finite")
    add("announces 4 GB.wav", "truncated", wav_header(8000, 1, 2**32 - 100) + b"\0" * 64)
    os.symlink(bad / "loop b.wav", bad / "loop a.wav")
    os.symlink(bad / "loop a.wav", bad / "loop b.wav")
    expected["zero/loop a.wav"] = expected["zero/loop b.wav"] = "symbolic link that leads nowhere"
    if locks:
        (bad / LOCKED).write_bytes(whole)
        os.chmod(bad / LOCKED, 0)
        expected[f"zero/{LOCKED}"] = "permission denied"
    # hostile but valid: each is processed
    sf.write(bad / "eight channels.wav", np.tile(y[:, None], (1, 8)), sr)
    expected["zero/eight channels.wav"] = None
    sf.write(bad / "ünïcödé ñame\nwith a newline.wav", y, sr)
    expected["zero/ünïcödé ñame\nwith a newline.wav"] = None
    sf.write(bad / "one hertz.wav", y[:4], 1)  # four samples, four seconds
    expected["zero/one hertz.wav"] = None
    sf.write(bad / "768 kHz.wav", np.repeat(y, 96), 768_000)
    expected["zero/768 kHz.wav"] = None
    # ten hours at 8 kHz: 576 MB announced and held, as a sparse file taking no disk
    with open(bad / TEN_HOURS, "wb") as f:
        data = 10 * 3600 * 8000 * 2
        f.write(wav_header(8000, 1, data))
        f.truncate(44 + data)
    expected[f"zero/{TEN_HOURS}"] = None
    return expected
