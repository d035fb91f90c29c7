"""tympan.data.inspect: the dataset report, and bad files found among good ones."""

import pytest

from tympan import DatasetError
from tympan.data.inspect import SCHEMA, check, format_report, inspect
from tympan.data.layouts import build

from conftest import make_bad_files, write_tone


def test_fsdd_report(fsdd_dir):
    report = inspect(build(fsdd_dir))
    assert report["schema"] == SCHEMA and report["layout"] == "fsdd"
    assert report["n_items"] == 2000
    assert report["classes"] == [str(d) for d in range(10)]
    assert report["n_groups"] == 4 and set(report["groups"]) == {"george", "jackson", "lucas", "nicolas"}
    assert report["splits"] == {"train": 1800, "test": 200}
    assert all(report["counts"][d] == {"train": 180, "test": 20, "total": 200} for d in report["classes"])
    assert report["sample_rates"] == {"8000": 2000} and report["channels"] == {"1": 2000}
    assert 0.1 < report["duration_seconds"]["min"] < report["duration_seconds"]["max"] < 3.0
    assert report["bad"] == []
    text = format_report(report)
    assert "2000 items, 10 classes" in text and "george: 500" in text


@pytest.fixture
def messy_folder(tmp_path):
    """Two classes of good recordings with every kind of bad file mixed into one of them."""
    root = tmp_path / "messy"
    (root / "birds").mkdir(parents=True)
    (root / "engine").mkdir(parents=True)
    for i in range(3):
        write_tone(root / "birds" / f"good{i}.wav", freq=2000 + 100 * i)
        write_tone(root / "engine" / f"good{i}.flac", freq=60 + 10 * i)
    reasons = make_bad_files(root / "engine")
    (root / "engine" / "notes.txt").write_text("recorded on a windy day")
    return root, reasons


def test_every_bad_file_is_reported_and_the_good_ones_kept(messy_folder):
    root, reasons = messy_folder
    report = inspect(build(root))
    assert report["n_items"] == 6
    assert report["counts"]["birds"]["none"] == 3 and report["counts"]["engine"]["none"] == 3
    found = {b["path"].rsplit("/", 1)[-1]: b["reason"] for b in report["bad"]}
    assert set(found) == set(reasons), "notes.txt is a sidecar, not a bad recording"
    for name, reason in reasons.items():
        assert reason in found[name]
    assert "6 bad file(s), left out" in format_report(report)


def test_strict_makes_bad_files_an_error_listing_all(messy_folder):
    root, reasons = messy_folder
    with pytest.raises(DatasetError) as caught:
        inspect(build(root), strict=True)
    for name in reasons:
        assert name in str(caught.value)


def test_quick_check_reads_headers_only(messy_folder):
    root, _ = messy_folder
    quick, _ = check(build(root), decode=False)
    thorough, checked = check(build(root), decode=True)
    quick_bad = {b.path.rsplit("/", 1)[-1] for b in quick.bad}
    assert {"empty.wav", "text.wav", "zero.wav", "truncated.wav"} <= quick_bad
    # Only decoding finds damage past the header and NaN samples.
    assert "nan.wav" not in quick_bad
    assert {"nan.wav", "corrupt.flac"} <= {b.path.rsplit("/", 1)[-1] for b in thorough.bad}
    assert [c.path for c in checked] == [item.path for item in thorough.items]
    assert all(c.info.sr == 8000 for c in checked)
