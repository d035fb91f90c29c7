"""tympan.data.cache: decode once, keyed by content and sample rate; changed files are decoded again."""

import os

import numpy as np
import pytest

from tympan import AudioError, ConfigError, load
from tympan.data.cache import AudioCache
from tympan.data.manifest import Item

from conftest import make_bad_files, write_tone


def test_second_load_reads_the_cache_and_equals_decoding(tmp_path, example_files):
    cache = AudioCache(tmp_path / "cache")
    path = example_files[1]
    first = cache.load(path, sr=16000)
    assert (cache.misses, cache.hits) == (1, 0)
    second = cache.load(path, sr=16000)
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(first, load(path, sr=16000)[0])
    np.testing.assert_array_equal(second, first)
    assert second.dtype == np.float32
    # Another sample rate is another entry.
    assert len(cache.load(path, sr=8000)) == pytest.approx(len(first) / 2, abs=1)
    assert cache.misses == 2
    # A new cache object on the same folder (a later run) decodes nothing.
    later = AudioCache(tmp_path / "cache")
    np.testing.assert_array_equal(later.load(path, sr=16000), first)
    assert (later.misses, later.hits) == (0, 1)


def test_a_long_recording_is_decoded_block_by_block_into_its_entry(tmp_path, monkeypatch):
    """Past ``STREAM_SECONDS`` a recording goes to the cache a block at a time and comes back memory-mapped,
    equal to decoding it whole; a long one that turns out corrupt leaves no entry and no temporary file."""
    from hostile import wav_header
    from tympan.data import cache as cache_module

    monkeypatch.setattr(cache_module, "STREAM_SECONDS", 2.0)
    monkeypatch.setattr(cache_module, "_STREAM_BLOCK_SECONDS", 0.7)
    write_tone(tmp_path / "long.wav", seconds=5.3, sr=22050, channels=2)
    cache = AudioCache(tmp_path / "cache")
    streamed = cache.load(tmp_path / "long.wav", sr=16000)
    assert isinstance(streamed, np.memmap) and streamed.dtype == np.float32
    np.testing.assert_array_equal(streamed, load(tmp_path / "long.wav", sr=16000)[0])
    (tmp_path / "cut.wav").write_bytes(wav_header(8000, 1, 8000 * 2 * 10) + b"\0" * 8000 * 2 * 4)
    with pytest.raises(AudioError, match="truncated"):
        cache.load(tmp_path / "cut.wav", sr=8000)
    entries = [p.name for p in (tmp_path / "cache").rglob("*.npy")]
    assert len(entries) == 1 and "tmp" not in entries[0], entries


def test_changing_a_file_invalidates_its_entry(tmp_path):
    cache = AudioCache(tmp_path / "cache")
    path = tmp_path / "a.wav"
    write_tone(path, seconds=0.5, freq=440.0)
    before = cache.load(path, sr=8000).copy()
    first = os.stat(path)
    write_tone(path, seconds=0.5, freq=880.0)  # the same size
    # a later modification time, set rather than waited for: a rewrite within the file system's timestamp
    # granularity would otherwise keep the old one
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns + 1_000_000_000))
    assert os.stat(path).st_size == first.st_size
    after = cache.load(path, sr=8000)
    assert cache.misses == 2
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, load(path)[0])


def test_same_content_elsewhere_shares_the_entry(tmp_path):
    cache = AudioCache(tmp_path / "cache")
    write_tone(tmp_path / "a.wav")
    (tmp_path / "b.wav").write_bytes((tmp_path / "a.wav").read_bytes())
    cache.load(tmp_path / "a.wav", sr=8000)
    cache.load(tmp_path / "b.wav", sr=8000)
    assert (cache.misses, cache.hits) == (1, 1)


def test_segments_are_cut_from_the_cached_file(tmp_path):
    cache = AudioCache(tmp_path / "cache")
    whole = write_tone(tmp_path / "t.wav", seconds=2.0, sr=8000, subtype="FLOAT")[:, 0]
    np.testing.assert_array_equal(cache.load(tmp_path / "t.wav", 8000, start=0.5, end=1.0), whole[4000:8000])
    with pytest.raises(AudioError, match="outside the recording"):
        cache.load(tmp_path / "t.wav", 8000, start=3.0, end=4.0)


def test_load_items_reports_bad_files_and_keeps_the_good(tmp_path):
    reasons = make_bad_files(tmp_path / "bad")
    write_tone(tmp_path / "good1.wav")
    write_tone(tmp_path / "good2.wav", freq=220.0)
    paths = [tmp_path / "good1.wav", *(tmp_path / "bad" / n for n in reasons), tmp_path / "good2.wav"]
    items = [Item(str(p), ("x",)) for p in paths]
    cache = AudioCache(tmp_path / "cache")
    audio, bad = cache.load_items(items, sr=8000, workers=2)
    assert audio[0] is not None and audio[-1] is not None
    assert all(a is None for a in audio[1:-1])
    assert sorted(os.path.basename(b.path) for b in bad) == sorted(reasons)
    for b in bad:
        assert reasons[os.path.basename(b.path)] in b.reason
    # Nothing was cached for the bad files; the good ones are hits the second time.
    cache.load_items(items, sr=8000)
    assert cache.hits == 2


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    from tympan.data.cache import default_cache_dir
    monkeypatch.setenv("TYMPAN_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"


def test_many_threads_on_a_new_cache(fsdd_dir, tmp_path):
    # Regression: threads opening a brand-new index at once used to fail with "database is locked".
    items = [Item(str(p), ("x",)) for p in sorted((fsdd_dir / "recordings").glob("*.wav"))[:200]]
    cache = AudioCache(tmp_path / "cache")
    audio, bad = cache.load_items(items, sr=16000, workers=8)
    assert not bad and all(a is not None and a.dtype == np.float32 for a in audio)
    assert cache.misses == 200


def test_a_cache_folder_that_cannot_be_used_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("a file where the cache folder should be")
    with pytest.raises(ConfigError, match=r"cache folder .*taken: cannot keep decoded audio there .*TYMPAN_CACHE"):
        AudioCache(tmp_path / "taken")
