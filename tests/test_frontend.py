"""tympan.frontend against librosa, on the real example recordings, with librosa's defaults."""

import librosa
import numpy as np
import pytest
import torch

from tympan import ConfigError, load
from tympan.frontend import (MFCC, PCEN, STD_FLOOR, LogMel, MelSpectrogram, Spectrogram, build_frontend,
                             dct_matrix, mel_filterbank, transform_clips)

SR = 22050  # librosa's default rate: the defaults below are librosa's defaults


@pytest.fixture(scope="module")
def recordings(example_files):
    """Every example recording, decoded at 22,050 Hz (mono), as librosa.load would."""
    return {path.name: load(path, sr=SR)[0] for path in example_files}


def _max_relative(ours, theirs):
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


@pytest.mark.parametrize("kwargs", [
    {}, {"htk": True}, {"norm": None}, {"fmin": 50.0, "fmax": 8000.0}, {"n_mels": 40, "sr": 8000, "n_fft": 512},
])
def test_mel_filterbank_equals_librosa(kwargs):
    params = {"sr": SR, "n_fft": 2048, **kwargs}
    np.testing.assert_allclose(mel_filterbank(**params), librosa.filters.mel(**params, dtype=np.float64),
                               rtol=1e-9, atol=1e-12)


def test_dct_matrix_equals_scipy_orthonormal_dct():
    import scipy.fft
    x = np.random.default_rng(0).standard_normal((128, 7))
    np.testing.assert_allclose(dct_matrix(20, 128) @ x, scipy.fft.dct(x, axis=0, norm="ortho")[:20], atol=1e-12)


@pytest.mark.parametrize("kwargs,power", [
    ({}, 2.0), ({}, 1.0), ({"n_fft": 512, "hop_length": 128, "win_length": 400, "window": "hamming"}, 2.0),
    ({"center": False}, 2.0), ({"pad_mode": "reflect"}, 1.0), ({"window": "blackman", "n_fft": 1024}, 2.0),
])
def test_spectrogram_equals_librosa_stft(recordings, kwargs, power):
    y = recordings["sorohanro_-_solo-trumpet-06.ogg"]
    theirs = np.abs(librosa.stft(y, **kwargs)) ** power
    ours = Spectrogram(**kwargs, power=power)(torch.from_numpy(y)).numpy()
    assert ours.shape == theirs.shape
    assert _max_relative(ours, theirs) < 1e-5


def test_mel_power_logmel_and_mfcc_equal_librosa_on_every_example(recordings):
    mel, logmel, mfcc = MelSpectrogram(sr=SR), LogMel(sr=SR), MFCC(sr=SR)
    worst = {"mel": 0.0, "db": 0.0, "mfcc": 0.0}
    for name, y in recordings.items():
        wave = torch.from_numpy(y)
        M = librosa.feature.melspectrogram(y=y, sr=SR)
        ours = mel(wave).numpy()
        assert ours.shape == M.shape == (128, 1 + len(y) // 512), name
        worst["mel"] = max(worst["mel"], _max_relative(ours, M),
                           float(np.linalg.norm(ours - M) / np.linalg.norm(M)))

        D = librosa.power_to_db(M)
        ours_db = logmel(wave).numpy()
        above_floor = D > D.max() - 80.0
        worst["db"] = max(worst["db"], float(np.abs(ours_db - D)[above_floor].max()))
        # At the floor both clamp to (their own) peak - 80 dB.
        np.testing.assert_allclose(ours_db.min(), D.min(), atol=0.01)

        C = librosa.feature.mfcc(y=y, sr=SR)
        ours_c = mfcc(wave).numpy()
        assert ours_c.shape == C.shape == (20, M.shape[1])
        worst["mfcc"] = max(worst["mfcc"], float(np.abs(ours_c - C).max()))
    assert worst["mel"] <= 1e-4, worst
    assert worst["db"] <= 0.01, worst
    assert worst["mfcc"] <= 1e-3, worst


def test_non_default_parameters_equal_librosa(recordings):
    y = recordings["198-209-0000.ogg"]
    y = librosa.resample(y, orig_sr=SR, target_sr=16000)
    params = dict(sr=16000, n_fft=1024, hop_length=160, win_length=400, n_mels=64, fmin=20.0, fmax=7600.0,
                  htk=True, norm=None)
    M = librosa.feature.melspectrogram(y=y, **params)
    ours = MelSpectrogram(**params)(torch.from_numpy(y)).numpy()
    assert _max_relative(ours, M) < 1e-4
    # librosa.feature.mfcc's own `norm` is the DCT's; Tympan's is the mel filters' (the DCT is always
    # orthonormal, librosa's default), so librosa gets the mel spectrogram given.
    C = librosa.feature.mfcc(S=librosa.power_to_db(M), n_mfcc=13, lifter=22)
    ours_c = MFCC(n_mfcc=13, lifter=22, **params)(torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(ours_c, C, atol=1e-3)


def test_layout_batches_and_zero_padding(recordings):
    clips = [recordings[name][: n] for name, n in
             [("pibble.ogg", 30000), ("198-209-0000.ogg", 22050), ("glacier-bay-humpback.ogg", 41000)]]
    longest = max(len(c) for c in clips)
    batch = torch.stack([torch.nn.functional.pad(torch.from_numpy(c), (0, longest - len(c))) for c in clips])
    layer = MelSpectrogram(sr=SR, n_mels=64)
    out = layer(batch)
    assert out.shape == (3, 64, layer.n_frames(longest))
    assert layer(torch.from_numpy(clips[0])).shape == (64, layer.n_frames(len(clips[0])))
    assert layer(batch.reshape(1, 3, -1)).shape == (1, 3, 64, out.shape[-1])
    for row, clip in zip(out, clips):
        # Padding a clip with zeros leaves its own frames unchanged: clips of any length can share a batch.
        alone = layer(torch.from_numpy(clip))
        n = layer.n_frames(len(clip))
        torch.testing.assert_close(row[:, :n], alone, rtol=1e-5, atol=1e-6 * float(alone.max()))


def test_top_db_floor_is_per_example(recordings):
    loud = torch.from_numpy(recordings["pibble.ogg"][:22050])
    quiet = loud * 0.01
    layer = LogMel(sr=SR, amin=1e-30)  # no amin floor in the way: only top_db floors
    together = layer(torch.stack([loud, quiet]))
    torch.testing.assert_close(together[1], layer(quiet))
    # 40 dB quieter everywhere, floor included: each example's floor follows its own peak.
    torch.testing.assert_close(together[1], together[0] - 40.0, rtol=0, atol=1e-3)


def test_frontends_are_differentiable():
    wave = torch.randn(2, 8000, requires_grad=True)
    for layer in (Spectrogram(n_fft=512), MelSpectrogram(sr=8000, n_fft=512), LogMel(sr=8000, n_fft=512),
                  MFCC(sr=8000, n_fft=512, n_mels=40), PCEN(sr=8000, n_fft=512),
                  LogMel(sr=8000, n_fft=512, per_recording="mean_std"), PCEN(sr=8000, n_fft=512, per_recording="mean")):
        wave.grad = None
        layer(wave)[..., 1].mean().backward()  # one frame: a normalised mean has no gradient
        assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0


def test_numpy_input_and_dtypes():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    for layer in (LogMel(sr=8000, n_fft=512, n_mels=40), LogMel(sr=8000, n_fft=512, per_recording="mean_std"),
                  PCEN(sr=8000, n_fft=512, n_mels=40)):
        torch.testing.assert_close(layer(y), layer(torch.from_numpy(y)))
        assert layer(torch.from_numpy(y).double()).dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_same_numbers_on_gpu(recordings):
    y = torch.from_numpy(recordings["pibble.ogg"])
    for layer in (MelSpectrogram(sr=SR), LogMel(sr=SR), MFCC(sr=SR)):
        cpu = layer(y)
        gpu = layer.to("cuda")(y.to("cuda")).cpu()
        assert float((gpu - cpu).abs().max() / cpu.abs().max()) < 1e-4


@pytest.mark.parametrize("make", [
    lambda: Spectrogram(n_fft=512, win_length=1024), lambda: Spectrogram(hop_length=0),
    lambda: Spectrogram(window="no-such-window"), lambda: Spectrogram(pad_mode="edge"),
    lambda: MelSpectrogram(sr=8000, fmax=6000), lambda: MelSpectrogram(norm="l2"),
    lambda: LogMel(top_db=-1), lambda: LogMel(amin=0), lambda: MFCC(n_mfcc=200),
    lambda: PCEN(b=1.5), lambda: PCEN(eps=0), lambda: PCEN(gain=-1), lambda: PCEN(time_constant=0),
    lambda: LogMel(per_recording="std"), lambda: MFCC(per_recording=True), lambda: PCEN(per_recording="max"),
])
def test_bad_parameters_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


def test_center_false_needs_a_full_frame():
    with pytest.raises(ConfigError, match="n_fft"):
        Spectrogram(center=False)(torch.zeros(100))


# ---------------------------------------------------------------------------------------------
# PCEN and per-recording normalisation, on a spoken digit (8 kHz) and a LibriSpeech utterance (16 kHz)
# ---------------------------------------------------------------------------------------------

DIGIT = {"sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 40}
SPEECH = {"sr": 16000, "n_fft": 512, "hop_length": 160, "n_mels": 64}


@pytest.fixture(scope="module")
def digit(fsdd_dir):
    """A spoken digit, 0.3 s at 8 kHz, with no digital silence of its own."""
    return load(fsdd_dir / "recordings" / "0_george_0.wav", sr=8000)[0]


@pytest.fixture(scope="module")
def speech(examples_dir):
    """14 s of read speech at its own 16 kHz: 1,392 frames at 10 ms, more than one PCEN block."""
    return load(examples_dir / "198-209-0000.ogg", sr=16000)[0]


def _librosa_pcen(y, sr, hop_length, **mel):
    M = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=hop_length, power=1, **mel)
    return librosa.pcen(M * 2**31, sr=sr, hop_length=hop_length)


def test_pcen_equals_librosa_on_real_recordings(digit, speech):
    # Each at its own rate: PCEN lifts a band that holds only float32 rounding (as in 16 kHz speech resampled
    # to 22,050 Hz, above 8 kHz) to O(0.1), so there two float32 STFTs differ by ~1e-2 however exact PCEN is.
    htk = {**SPEECH, "n_fft": 400, "n_mels": 40, "fmin": 20.0, "fmax": 7600.0, "htk": True}
    for y, params in ((digit, DIGIT), (speech, SPEECH), (speech, htk)):
        ours = PCEN(**params)(torch.from_numpy(y)).numpy()
        theirs = _librosa_pcen(y, **params)
        assert ours.shape == theirs.shape
        assert _max_relative(ours, theirs) < 1e-5, params


@pytest.mark.parametrize("kwargs", [
    {"gain": 0.8, "bias": 10.0, "pcen_power": 0.25, "time_constant": 0.06}, {"b": 0.5}, {"b": 1.0},
    {"bias": 0.0}, {"pcen_power": 0.0},
])
def test_pcen_options_equal_librosa_on_the_same_mel(digit, kwargs):
    # Given librosa's own mel spectrogram, so only the normalisation is compared (every branch of it).
    S = librosa.feature.melspectrogram(y=digit, **DIGIT, power=1) * 2**31
    theirs = librosa.pcen(S, sr=8000, hop_length=80, **{"power" if k == "pcen_power" else k: v
                                                         for k, v in kwargs.items()})
    ours = PCEN(**DIGIT, **kwargs).pcen(torch.from_numpy(S)).numpy()
    assert _max_relative(ours, theirs) < 1e-5


def test_pcen_batches_blocks_and_build_frontend(digit, speech):
    layer = PCEN(**SPEECH)
    clip = torch.from_numpy(speech[:16000])
    batch = torch.stack([clip, 0.5 * clip])
    out = layer(batch)
    assert out.shape == (2, 64, layer.n_frames(16000)) and layer.sr == 16000 and layer.hop_length == 160
    torch.testing.assert_close(out[1], layer(clip * 0.5))
    assert layer(batch[None]).shape == (1, 2, 64, out.shape[-1])

    class SmallBlocks(PCEN):
        BLOCK_FRAMES = 7  # the smoother's state carried across 15 blocks

    torch.testing.assert_close(SmallBlocks(**SPEECH)(clip), out[0], rtol=1e-5, atol=1e-6)

    built, resolved = build_frontend({"kind": "pcen", **DIGIT, "per_recording": "mean"})
    assert resolved["scale"] == 2**31 and resolved["pcen_power"] == 0.5 and resolved["per_recording"] == "mean"
    again, same = build_frontend(resolved)
    assert same == resolved
    wave = torch.from_numpy(digit)
    torch.testing.assert_close(again(wave), built(wave))
    assert build_frontend({"kind": "logmel"})[1]["per_recording"] is None  # stored in model files


def _recorded_reference(y, hop_length, S, how):
    """Per-bin statistics over the frames before ``y``'s trailing zeros whose bins are not all at the floor."""
    end = np.flatnonzero(y)[-1] + 1
    use = (np.arange(S.shape[1]) < 1 + end // hop_length) & ~(S == S.min()).all(axis=0)
    mean = S[:, use].mean(axis=1, keepdims=True)
    if how == "mean":
        return np.where(use, S - mean, 0.0)
    return np.where(use, (S - mean) / np.maximum(S[:, use].std(axis=1, keepdims=True), STD_FLOOR), 0.0)


@pytest.mark.parametrize("how", ["mean", "mean_std"])
def test_per_recording_logmel_equals_numpy_reference(digit, how):
    # Digital silence before the word and padding after it: neither counts in the statistics.
    y = np.concatenate([np.zeros(1000, np.float32), digit, np.zeros(3000, np.float32)])
    D = librosa.power_to_db(librosa.feature.melspectrogram(y=y, **DIGIT))
    ours = LogMel(**DIGIT, per_recording=how)(torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(ours, _recorded_reference(y, 80, D, how), atol=1e-3 if how == "mean" else 1e-4)


@pytest.mark.parametrize("cls", [LogMel, MFCC, PCEN])
def test_per_recording_mean_is_zero_per_bin(digit, cls):
    out = cls(**DIGIT, per_recording="mean")(torch.from_numpy(digit))
    assert float(out.mean(-1).abs().max()) < 1e-4
    spread = cls(**DIGIT, per_recording="mean_std")(torch.from_numpy(digit)).square().mean(-1)
    torch.testing.assert_close(spread, torch.ones_like(spread))
    silence = cls(**DIGIT, per_recording="mean_std")(torch.zeros(800))  # all silent: zeros, not NaN
    assert float(silence.abs().max()) == 0.0


@pytest.mark.parametrize("how", ["mean", "mean_std"])
@pytest.mark.parametrize("cls", [LogMel, MFCC, PCEN])
def test_zero_padding_does_not_change_the_normalised_frames(digit, speech, cls, how):
    # The key property: a 0.3 s word padded to a 1 s clip is normalised by its own frames.
    layer = cls(**DIGIT, per_recording=how)
    wave = torch.from_numpy(digit)
    alone = layer(wave)
    n = layer.n_frames(len(digit))
    for samples in (8000, 16000):
        padded = layer(torch.nn.functional.pad(wave, (0, samples - len(digit))))
        torch.testing.assert_close(padded[:, :n], alone, rtol=1e-4, atol=1e-4)
        assert float(padded[:, n:].abs().max()) == 0.0  # padding: set to the normalised mean
    other = speech[:8000]  # another, longer clip in the same padded batch
    together = transform_clips(layer, [digit, other])
    torch.testing.assert_close(together[0], alone, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls", [LogMel, MFCC])
def test_mean_std_undoes_a_change_of_gain(digit, cls):
    layer = cls(**DIGIT, per_recording="mean_std")
    wave = torch.from_numpy(digit)  # no digital silence, and 20 dB down stays above amin's -100 dB
    torch.testing.assert_close(layer(wave * 0.1), layer(wave), rtol=0, atol=1e-3)
    assert float((cls(**DIGIT)(wave * 0.1) - cls(**DIGIT)(wave)).abs().max()) > 1.0  # without it, it shows


def test_bad_per_recording_is_a_config_error():
    for kind in ("logmel", "mfcc", "pcen"):
        with pytest.raises(ConfigError, match="per_recording='median': choose None, 'mean' or 'mean_std'"):
            build_frontend({"kind": kind, **DIGIT, "per_recording": "median"})
    with pytest.raises(ConfigError, match="unknown option.*per_recording"):
        build_frontend({"kind": "mel", **DIGIT, "per_recording": "mean"})
