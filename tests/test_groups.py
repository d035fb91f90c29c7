"""Groups end to end: file names that name the speaker, hints when no group is set, validation and folds
that hold out whole speakers, refitting, and the per-speaker table in the report (real FSDD recordings)."""

import json
import os
import subprocess
import sys

import pytest

from tympan.data.inspect import inspect
from tympan.data.layouts import build
from tympan.errors import ConfigError

from conftest import assert_report_shows_metrics

SPEAKERS, DIGITS, TAKES = ("george", "jackson", "lucas", "nicolas"), ("0", "1", "2"), range(5)
FRONTEND = '{kind: logmel, sr: 8000, n_fft: 256, hop_length: 80, n_mels: 32}'
TINY = ["--set", "train.epochs=2", "--set", "train.batch_size=16", "--set", "train.warmup_epochs=0",
        "--set", f"frontend={FRONTEND}", "--set", "data.clip_seconds=1.0",
        "--set", "network={kind: cnn, channels: [8, 16], dropout: 0.0}"]


@pytest.fixture(scope="module")
def by_digit(fsdd_dir, tmp_path_factory):
    """A folder per digit of real FSDD recordings named {digit}_{speaker}_{take}.wav, and one stray name."""
    root = tmp_path_factory.mktemp("by_digit")
    for digit in DIGITS:
        (root / digit).mkdir()
        for speaker in SPEAKERS:
            for take in TAKES:
                name = f"{digit}_{speaker}_{take}.wav"
                os.symlink(fsdd_dir / "recordings" / name, root / digit / name)
    os.symlink(fsdd_dir / "recordings" / "0_george_9.wav", root / "0" / "stray.wav")
    return root


def _tympan(*args):
    return subprocess.run([sys.executable, "-m", "tympan", *args], capture_output=True, text=True, timeout=600)


def test_group_pattern_reads_speakers_from_file_names(by_digit):
    manifest = build(by_digit, layout="folder", group_pattern="{digit}_{speaker}_{take}")
    assert manifest.group_name == "speaker"
    assert manifest.groups() == {speaker: len(DIGITS) * len(TAKES) for speaker in SPEAKERS}
    assert [b.path.endswith("stray.wav") and "group_pattern" in b.reason for b in manifest.bad] == [True]
    regex = build(by_digit, layout="folder", group_pattern=r"^\d_([a-z]+)_")
    assert regex.groups() == manifest.groups()
    assert build(by_digit, layout="folder").groups() == {}
    for bad in ("{digit}_{index}", "no_parentheses", "([unclosed"):
        with pytest.raises(ConfigError, match="group_pattern"):
            build(by_digit, layout="folder", group_pattern=bad)


def test_hints_name_the_unused_columns_once(by_digit, tmp_path):
    rows = ["path,label,speaker_id,mic"] + [f"{f},{f.parent.name},{f.name.split('_')[1]},phone"
                                            for f in sorted(by_digit.glob("*/*_*_*.wav"))]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    report = inspect(build(tmp_path / "list.csv"), decode=False)
    assert report["other_columns"] == ["speaker_id", "mic"]
    assert "speaker_id, mic" in report["group_hint"] and "group_column=NAME" in report["group_hint"]
    run = _tympan("train", "--data", str(tmp_path / "list.csv"), "--out", str(tmp_path / "run"), *TINY)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("may be much lower") == 1 and "speaker_id, mic" in run.stdout
    page = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "What these scores measure" in page and "sources unknown" in page
    grouped = _tympan("train", "--data", str(tmp_path / "list.csv"), "--out", str(tmp_path / "grouped"),
                      "--option", "group_column=speaker_id", *TINY, "--json")
    result = json.loads(grouped.stdout)
    assert result["evaluation"] == {"group_name": "speaker_id", "test": "new", "val": "new", "note": None}
    assert set(result["test"]["per_group"]).isdisjoint(result["val"]["per_group"])


def test_folds_leave_one_speaker_out_with_refit(by_digit, tmp_path):
    run = _tympan("train", "--data", str(by_digit), "--layout", "folder", "--option",
                  "group_pattern={digit}_{speaker}_{take}", "--out", str(tmp_path), "--folds", "groups",
                  "--set", "train.refit=true", *TINY, "--json")
    assert run.returncode == 1, run.stderr  # the stray file is listed as bad; every fold still runs
    result = json.loads(run.stdout)
    assert len(result["folds"]) == len(SPEAKERS)
    for fold in result["folds"]:
        tested, validated = set(fold["test"]["per_group"]), set(fold["val"]["per_group"])
        assert len(tested) == 1 and len(validated) == 1 and tested != validated
    assert sorted(result["per_group"]) == sorted(SPEAKERS)
    assert result["refit"]["examples"] == len(DIGITS) * len(TAKES) * 3  # training and validation speakers
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Test accuracy per speaker" in page and all(s in page for s in SPEAKERS)
    # the page's numbers, the per-speaker and cross-validation tables among them, are those of metrics.json
    tables = assert_report_shows_metrics(page, json.loads((tmp_path / "report" / "metrics.json").read_text()))
    assert {"Test accuracy per speaker", "Cross-validation"} <= set(tables)
    assert (tmp_path / "folds" / "fold_1" / "refit" / "log.jsonl").exists()


def test_folds_modes_choose_official_or_group_folds(by_digit):
    from tympan.errors import DatasetError
    from tympan.train.run import folded

    manifest = build(by_digit, layout="folder", group_pattern="{digit}_{speaker}_{take}")
    assert sorted(folded(manifest, "auto").folds()) == [1, 2, 3, 4]  # no official folds: one speaker out each
    assert sorted(folded(manifest, "3").folds()) == [1, 2, 3]
    with pytest.raises(DatasetError, match="--folds groups leaves one speaker out"):
        folded(manifest, "official")
    with pytest.raises(ConfigError, match="choose official, groups, auto"):
        folded(manifest, "speakers")
