"""The embedded demo dataset: layout, audio, determinism, atomic reuse and replacement, difficulty."""

import json
import os

import numpy as np
import pytest

import tympan
from tympan.data.synthetic import CLASSES, linear_baseline, make_demo, synthesize
from tympan.errors import ConfigError, DatasetError

SMALL = 12  # clips per class: 120 clips, enough for the writer to use its process pool


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small demo set shared by the read-only tests."""
    return make_demo(tmp_path_factory.mktemp("small") / "demo", n_per_class=SMALL, seed=0)


def _wavs(root):
    return sorted(p.relative_to(root) for p in root.rglob("*.wav"))


def _mtimes(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")}


def _aged(root):
    """Every file's and folder's modification time set to a fixed instant of 2001, then ``_mtimes``: a rewrite
    now shows however coarse the file system's timestamps are, and however soon it comes."""
    for path in root.rglob("*"):
        os.utime(path, ns=(10**18, 10**18))
    return _mtimes(root)


def test_layout_is_one_folder_per_class_with_numbered_clips(small):
    assert len(CLASSES) >= 8
    assert sorted(p.name for p in small.iterdir() if p.is_dir()) == sorted(CLASSES)
    for name in CLASSES:
        assert sorted(p.name for p in (small / name).iterdir()) == [f"{name}_{i:03d}.wav" for i in range(SMALL)]
    meta = json.loads((small / "tympan-demo.json").read_text())
    assert (meta["n_per_class"], meta["sr"], meta["seed"], meta["classes"]) == (SMALL, 16000, 0, list(CLASSES))
    assert [p.name for p in small.parent.iterdir()] == ["demo"]  # no temporary folder left beside it


def test_clips_are_16_bit_16_khz_mono_of_1_5_to_2_5_s_and_audible(small):
    for path in small.rglob("*.wav"):
        info = tympan.info(path)
        assert (info.sr, info.channels, info.subtype) == (16000, 1, "PCM_16")
        y, sr = tympan.load(path)
        assert sr == 16000 and y.dtype == np.float32
        assert 1.5 <= len(y) / sr <= 2.5, path
        peak = float(np.abs(y).max())
        assert 0.099 <= peak <= 1.0, path  # peak between -20 and 0 dBFS
        assert np.sqrt(np.mean(y ** 2)) > 1e-3, path


def test_clips_vary_within_each_class(small):
    for name in CLASSES:
        clips = [tympan.load(p)[0] for p in sorted((small / name).glob("*.wav"))]
        assert len({len(y) for y in clips}) == SMALL, name
        peaks_db = [20 * np.log10(np.abs(y).max()) for y in clips]
        assert max(peaks_db) - min(peaks_db) > 5, name
        # Where the energy sits in time moves with the onset and duration of the event.
        centres = [np.sum(np.arange(len(y)) * y ** 2) / np.sum(y ** 2) / len(y) for y in clips]
        assert max(centres) - min(centres) > 0.05, name


def test_same_seed_gives_identical_bytes_and_another_seed_different_ones(small, tmp_path):
    again = make_demo(tmp_path / "again", n_per_class=SMALL, seed=0)
    other = make_demo(tmp_path / "other", n_per_class=SMALL, seed=1)
    assert _wavs(again) == _wavs(other) == _wavs(small)
    assert all((again / rel).read_bytes() == (small / rel).read_bytes() for rel in _wavs(small))
    assert all((other / rel).read_bytes() != (small / rel).read_bytes() for rel in _wavs(small))


def test_bytes_do_not_depend_on_how_many_clips_are_written_or_by_how_many_processes(small, tmp_path):
    # 4 per class is written in this process, 12 per class by a pool: the first 4 must still match.
    few = make_demo(tmp_path / "few", n_per_class=4, seed=0)
    assert len(_wavs(few)) == 4 * len(CLASSES)
    assert all((few / rel).read_bytes() == (small / rel).read_bytes() for rel in _wavs(few))


def test_synthesize_is_a_function_of_the_generator_state():
    a = synthesize("birdsong", np.random.default_rng([0, 6, 3]))
    b = synthesize("birdsong", np.random.default_rng([0, 6, 3]))
    c = synthesize("birdsong", np.random.default_rng([0, 6, 4]))
    assert a.dtype == np.float32 and np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])
    with pytest.raises(ConfigError, match="birdsong"):
        synthesize("bird", np.random.default_rng(0))


def test_a_complete_folder_with_the_same_parameters_is_reused_untouched(small):
    before = _aged(small)
    assert make_demo(small, n_per_class=SMALL, seed=0) == small
    assert make_demo(small, n_per_class=SMALL, seed=0, overwrite=True) == small  # same bytes: no rewrite
    assert _mtimes(small) == before


def test_a_demo_made_with_other_parameters_is_refused(small):
    before = _aged(small)
    with pytest.raises(DatasetError, match="overwrite=True") as error:
        make_demo(small, n_per_class=SMALL, seed=1)
    assert str(small) in str(error.value)
    assert _mtimes(small) == before


def test_a_foreign_folder_is_refused_then_replaced_whole_with_overwrite(tmp_path, capfd):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="overwrite=True") as error:
        make_demo(out, n_per_class=2)
    assert str(out) in str(error.value)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]

    assert make_demo(out, n_per_class=2, overwrite=True, progress=True) == out
    assert not (out / "notes.txt").exists()
    assert len(_wavs(out)) == 2 * len(CLASSES)
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # neither the new nor the old one left aside
    assert capfd.readouterr().err == ""  # the progress bar stays quiet when stderr is not a terminal


def test_an_incomplete_demo_is_refused_and_an_empty_folder_is_filled(tmp_path):
    out = make_demo(tmp_path / "demo", n_per_class=2)
    (out / "siren" / "siren_001.wav").unlink()
    with pytest.raises(DatasetError, match="complete"):
        make_demo(out, n_per_class=2)
    assert (make_demo(out, n_per_class=2, overwrite=True) / "siren" / "siren_001.wav").is_file()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(_wavs(make_demo(empty, n_per_class=1))) == len(CLASSES)


def test_invalid_options_leave_nothing_behind(tmp_path):
    with pytest.raises(ConfigError, match="n_per_class"):
        make_demo(tmp_path / "demo", n_per_class=0)
    assert list(tmp_path.iterdir()) == []


def test_default_size_is_complete_and_hard_for_a_linear_model_but_learnable(tmp_path):
    root = make_demo(tmp_path / "demo")
    assert all(len(list((root / name).glob("*.wav"))) == 100 for name in CLASSES)
    accuracy = linear_baseline(root)
    assert 0.3 < accuracy < 1.0  # chance is 0.1
