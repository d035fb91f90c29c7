"""tympan.frontend against librosa, on the real example recordings, with librosa's defaults."""

import librosa
import numpy as np
import pytest
import torch

from tympan import ConfigError, load
from tympan.frontend import MFCC, LogMel, MelSpectrogram, Spectrogram, dct_matrix, mel_filterbank

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
                  MFCC(sr=8000, n_fft=512, n_mels=40)):
        wave.grad = None
        layer(wave).mean().backward()
        assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0


def test_numpy_input_and_dtypes():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    layer = LogMel(sr=8000, n_fft=512, n_mels=40)
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
])
def test_bad_parameters_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


def test_center_false_needs_a_full_frame():
    with pytest.raises(ConfigError, match="n_fft"):
        Spectrogram(center=False)(torch.zeros(100))
