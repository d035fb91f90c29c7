"""Shared fixtures: the real recordings in ../shared/data, and small generated audio files."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def _require(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real data not found at {path} (CI and developers have ../shared/data beside the project)")
    return path


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The real music, speech and nature recordings (Ogg Vorbis, 3 s to 133 s)."""
    return _require("examples")


@pytest.fixture(scope="session")
def example_files(examples_dir) -> list[Path]:
    return sorted(examples_dir.glob("*.ogg"))


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    """The real Free Spoken Digit Dataset subset (2,000 WAV files at 8 kHz)."""
    return _require("fsdd")


def write_tone(path, seconds=0.5, sr=8000, channels=1, freq=440.0, subtype=None, fmt=None):
    """A sine (one frequency per channel) written with soundfile; returns the float32 samples."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.stack([0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], axis=1)
    y = y.astype(np.float32)
    sf.write(str(path), y if channels > 1 else y[:, 0], sr, subtype=subtype, format=fmt)
    return y


def make_bad_files(folder: Path) -> dict[str, str]:
    """Corrupt, truncated, empty, zero-length and non-audio files; returns {name: expected reason part}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("this is not audio, it is a text file\n" * 20)
    sf.write(str(folder / "zero.wav"), np.zeros(0, np.float32), 8000)
    write_tone(folder / "whole.wav", seconds=1.0)
    data = (folder / "whole.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(data[: len(data) // 2])
    (folder / "whole.wav").unlink()
    write_tone(folder / "whole.flac", seconds=1.0)
    data = (folder / "whole.flac").read_bytes()
    (folder / "corrupt.flac").write_bytes(data[:200] + bytes(range(256)) * 40)
    (folder / "whole.flac").unlink()
    y = np.zeros(800, np.float32)
    y[100] = np.nan
    sf.write(str(folder / "nan.wav"), y, 8000, subtype="FLOAT")
    return {"empty.wav": "empty", "text.wav": "not an audio file", "zero.wav": "zero length",
            "truncated.wav": "truncated", "corrupt.flac": "corrupt", "nan.wav": "non-finite"}


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded audio goes to a cache of the test session's own, for the tests and the commands they run."""
    import os

    previous = os.environ.get("TYMPAN_CACHE")
    os.environ["TYMPAN_CACHE"] = str(tmp_path_factory.mktemp("tympan-cache"))
    yield
    if previous is None:
        os.environ.pop("TYMPAN_CACHE", None)
    else:
        os.environ["TYMPAN_CACHE"] = previous
