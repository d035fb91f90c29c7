"""tympan.audio: decoding every format, mixdown, resampling (against librosa), streaming, bad files."""

import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf

import tympan
from tympan import AudioError, TympanError
from tympan.audio import info, load, stream

from conftest import make_bad_files, write_tone


@pytest.mark.parametrize("fmt,subtype,tolerance", [
    ("WAV", "PCM_U8", 1e-2), ("WAV", "PCM_16", 1e-4), ("WAV", "PCM_24", 1e-6), ("WAV", "PCM_32", 1e-6),
    ("WAV", "FLOAT", 0), ("WAV", "DOUBLE", 1e-7), ("FLAC", "PCM_16", 1e-4), ("FLAC", "PCM_24", 1e-6),
    ("OGG", "VORBIS", 0.05), ("MP3", "MPEG_LAYER_III", 0.2), ("AIFF", "PCM_16", 1e-4),
])
def test_load_decodes_every_format_and_bit_depth(tmp_path, fmt, subtype, tolerance):
    path = tmp_path / f"tone.{fmt.lower()}"
    reference = write_tone(path, seconds=1.0, sr=16000, fmt=fmt, subtype=subtype)[:, 0]
    y, sr = load(path)
    assert y.dtype == np.float32 and y.ndim == 1 and sr == 16000
    if fmt == "MP3":  # an MP3 decoder adds its own delay: compare the level, not sample by sample
        assert len(y) >= 16000 - 1152 and abs(np.sqrt(np.mean(y ** 2)) - np.sqrt(0.125)) < 0.05
    else:
        assert len(y) == 16000
        np.testing.assert_allclose(y, reference, atol=tolerance)


def test_mixdown_is_the_channel_mean_and_mono_false_keeps_channels(tmp_path):
    reference = write_tone(tmp_path / "six.wav", seconds=0.25, sr=8000, channels=6, subtype="FLOAT")
    y, _ = load(tmp_path / "six.wav")
    np.testing.assert_allclose(y, reference.mean(axis=1), atol=1e-7)
    multi, _ = load(tmp_path / "six.wav", mono=False)
    assert multi.shape == (6, 2000)
    np.testing.assert_allclose(multi, reference.T, atol=0)


def test_resampling_matches_librosa_load(example_files):
    for path in example_files[:3]:
        for sr in (8000, 22050, 44100):
            ours, got_sr = load(path, sr=sr)
            theirs, _ = librosa.load(path, sr=sr)
            assert got_sr == sr and ours.shape == theirs.shape and ours.dtype == np.float32
            np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_stereo_resampled_matches_librosa(tmp_path):
    write_tone(tmp_path / "st.wav", seconds=0.5, sr=44100, channels=2)
    ours, _ = load(tmp_path / "st.wav", sr=16000, mono=False)
    theirs, _ = librosa.load(tmp_path / "st.wav", sr=16000, mono=False)
    assert ours.shape == theirs.shape == (2, 8000)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_offset_and_duration_select_a_segment(tmp_path):
    reference = write_tone(tmp_path / "t.wav", seconds=2.0, sr=8000, subtype="FLOAT")[:, 0]
    y, _ = load(tmp_path / "t.wav", offset=0.5, duration=1.0)
    np.testing.assert_array_equal(y, reference[4000:12000])


def test_info_reads_the_header_without_decoding(example_files, tmp_path):
    write_tone(tmp_path / "st.flac", seconds=1.5, sr=44100, channels=2)
    header = info(tmp_path / "st.flac")
    assert (header.sr, header.channels, header.frames, header.format) == (44100, 2, 66150, "FLAC")
    assert header.duration == pytest.approx(1.5)
    path = example_files[0]
    header = info(path)
    assert header.sr == sf.info(str(path)).samplerate
    assert header.duration == pytest.approx(librosa.get_duration(path=path), abs=1e-3)


def test_stream_blocks_concatenate_to_load(example_files, tmp_path):
    write_tone(tmp_path / "t.wav", seconds=2.5, sr=8000, subtype="FLOAT")
    blocks = list(stream(tmp_path / "t.wav", block_seconds=1.0))
    assert [len(b) for b in blocks] == [8000, 8000, 4000]
    np.testing.assert_array_equal(np.concatenate(blocks), load(tmp_path / "t.wav")[0])
    # With resampling, blocks are exact in length and agree with whole-file resampling away from the edges.
    path = example_files[0]
    whole, _ = load(path, sr=16000)
    blocks = list(stream(path, sr=16000, block_seconds=2.0))
    assert all(len(b) == 32000 for b in blocks[:-1])
    joined = np.concatenate(blocks)
    assert abs(len(joined) - len(whole)) <= 2
    n = min(len(joined), len(whole)) - 1000
    np.testing.assert_allclose(joined[1000:n], whole[1000:n], atol=1e-4)


def test_stream_memory_stays_bounded_on_a_long_file(tmp_path):
    path = tmp_path / "long.wav"
    sr = 16000
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        for _ in range(10):  # 10 minutes of stereo noise, written a minute at a time
            f.write((np.random.default_rng(0).standard_normal((60 * sr, 2)) * 0.1).astype(np.float32))
    tracemalloc.start()
    total = 0
    for block in stream(path, sr=8000, block_seconds=5.0):
        total += len(block)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == pytest.approx(600 * 8000, abs=2)
    whole_file_bytes = 600 * sr * 2 * 4
    assert peak < 8 * 2**20, f"streaming 10 minutes peaked at {peak / 2**20:.1f} MiB"
    assert peak < whole_file_bytes / 20


def test_bad_files_raise_audio_error_naming_file_and_reason(tmp_path):
    expected = make_bad_files(tmp_path)
    for name, reason in expected.items():
        with pytest.raises(AudioError) as caught:
            load(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
        assert reason in caught.value.reason, (name, caught.value.reason)
        assert isinstance(caught.value, TympanError)


def test_missing_folder_and_unsupported_format(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        load(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        info(tmp_path)
    (tmp_path / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    with pytest.raises(AudioError, match="unsupported format '.m4a'"):
        load(tmp_path / "song.m4a")
    with pytest.raises(AudioError, match="truncated"):
        info(_truncated_ogg(tmp_path))


def _truncated_ogg(folder):
    write_tone(folder / "whole.ogg", seconds=2.0)
    data = (folder / "whole.ogg").read_bytes()
    (folder / "cut.ogg").write_bytes(data[: len(data) // 2])
    return folder / "cut.ogg"


def test_stream_reports_bad_files_too(tmp_path):
    make_bad_files(tmp_path)
    for name in ("empty.wav", "text.wav", "nan.wav", "corrupt.flac"):
        with pytest.raises(AudioError):
            list(stream(tmp_path / name, block_seconds=0.01))


def test_top_level_api():
    assert tympan.load is load and tympan.info is info and tympan.stream is stream
