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


def report_tables(page: str) -> dict[str, list[list[str]]]:
    """The tables of a training report's HTML page, by the heading above each: rows of cell texts (HTML
    entities decoded), the header row first."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.heading, self.text, self.row = {}, None, None, None

        def handle_starttag(self, tag, attrs):
            if tag in ("h1", "h2", "th", "td"):
                self.text = ""
            elif tag == "table":
                self.tables[self.heading] = []
            elif tag == "tr":
                self.row = []

        def handle_endtag(self, tag):
            if tag in ("h1", "h2"):
                self.heading, self.text = self.text.strip(), None
            elif tag in ("th", "td"):
                self.row.append(self.text.strip())
                self.text = None
            elif tag == "tr":
                self.tables[self.heading].append(self.row)

        def handle_data(self, data):
            if self.text is not None:
                self.text += data

    parser = Tables()
    parser.feed(page)
    return parser.tables


def _shown(cell: str, value, where: str) -> None:
    """``cell`` shows ``value``: a dash for none, whole numbers as they are, others to the 3 decimals shown."""
    if value is None:
        assert cell == "–", where
    elif isinstance(value, int):
        assert cell == str(value), where
    else:
        assert float(cell) == pytest.approx(value, abs=5e-4 + 1e-12), where


def assert_report_shows_metrics(page: str, metrics: dict) -> dict[str, list[list[str]]]:
    """Every number in the report page (``report.html``) is the one in its ``metrics.json``: the headline
    scores of each split, the per-class table of each split, the per-group table and the cross-validation
    table when there are some, and the epochs. Returns the tables, by heading."""
    import re

    tables = report_tables(page)
    splits = [split for split in ("test", "val") if isinstance(metrics.get(split), dict)]
    headline = {"accuracy": "accuracy", "balanced accuracy": "balanced_accuracy", "mAP": "mAP",
                "macro-F1": "macro_f1", "n": "n"}
    header, *rows = tables["Headline"]
    assert [row[0] for row in rows] == splits
    for row in rows:
        for column, cell in zip(header, row):
            if column in headline:
                _shown(cell, metrics[row[0]].get(headline[column]), f"headline {row[0]} {column}")
    for split in splits:
        header, *rows = tables[f"Per class ({split})"]
        per_class = metrics[split]["per_class"]
        assert [row[0] for row in rows] == list(per_class)
        for row in rows:
            for column, cell in zip(header[1:], row[1:]):
                _shown(cell, per_class[row[0]][column.lower()], f"{split} {row[0]} {column}")
    per_group = metrics.get("per_group") or (metrics.get("test") or {}).get("per_group")
    group_tables = [heading for heading in tables if heading.startswith("Test accuracy per ")]
    assert len(group_tables) == (1 if per_group else 0)
    if per_group:
        header, *rows = tables[group_tables[0]]
        assert header[1:] == ["accuracy", "n"] and [row[0] for row in rows] == [str(g) for g in per_group]
        for row, (group, scores) in zip(rows, per_group.items()):
            _shown(row[1], scores["accuracy"], f"{group} accuracy")
            _shown(row[2], scores["n"], f"{group} n")
    if metrics.get("cross_validation"):
        header, *rows = tables["Cross-validation"]
        assert [row[0] for row in rows] == list(metrics["cross_validation"])
        for (name, mean_std, per_fold), summary in zip(rows, metrics["cross_validation"].values()):
            mean, std = mean_std.split(" ± ")
            _shown(mean, summary["mean"], f"{name} mean")
            _shown(std, summary["std"], f"{name} std")
            for cell, value in zip(per_fold.split(", "), summary["values"], strict=True):
                _shown(cell, value, f"{name} fold")
    epochs = re.search(r"Epochs: (\S+) · best epoch: (\S+)", page)
    _shown(epochs.group(1), metrics.get("epochs"), "epochs")
    _shown(epochs.group(2), metrics.get("best_epoch"), "best epoch")
    return tables
