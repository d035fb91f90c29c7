"""Augmentations: shapes, determinism under a seed, what each does to the signal, and the invariance refusal."""

import numpy as np
import pytest
import torch

from tympan.augment import AUGMENTATIONS, _phase_vocoder, build, mixup, phase_vocoder, pitch_shift
from tympan.errors import ConfigError

SR = 16000


def tone(freq=440.0, seconds=1.0, sr=SR):
    t = torch.arange(int(seconds * sr), dtype=torch.float32) / sr
    return 0.5 * torch.sin(2 * torch.pi * freq * t)


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, SR, generator=g) * 0.1 + tone()


def _spec(name):
    return {"name": name, "p": 1.0, **({"recordings": [np.random.default_rng(0).standard_normal(3 * SR)]}
                                       if name == "background" else {})}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_each_augmentation_keeps_the_shape_and_is_deterministic_under_a_seed(name):
    (augmentation,) = build([_spec(name)])
    x = batch() if augmentation.stage == "waveform" else torch.randn(4, 40, 101)
    a = augmentation(x, SR, torch.Generator().manual_seed(1))
    b = augmentation(x, SR, torch.Generator().manual_seed(1))
    c = augmentation(x, SR, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)
    (never,) = build([{**_spec(name), "p": 0.0}])
    assert torch.equal(never(x, SR, torch.Generator().manual_seed(1)), x)


def _peak_hz(y, n_fft=4096):
    spectrum = torch.stft(y, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True).abs().mean(1)
    return float(spectrum.argmax()) * SR / n_fft, SR / n_fft


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 5.0])
def test_pitch_shift_moves_the_spectral_peak_by_the_semitones_within_a_bin(semitones):
    shifted = pitch_shift(tone(440.0), semitones)
    peak, bin_hz = _peak_hz(shifted)
    assert len(shifted) == SR
    assert abs(peak - 440.0 * 2 ** (semitones / 12)) <= bin_hz


@pytest.mark.parametrize("rate", [0.8, 1.25, 2.0])
def test_time_stretch_changes_duration_by_the_factor_and_keeps_the_pitch(rate):
    y = torch.zeros(SR)
    y[SR // 2:SR // 2 + 1600] = tone(1000.0, 0.1)  # a burst at 0.5 s
    stretched = _phase_vocoder(y, rate)
    assert len(stretched) == round(SR / rate)
    envelope = stretched.abs().unfold(0, 160, 160).mean(1)
    onset = float(torch.nonzero(envelope > 0.5 * envelope.max())[0, 0]) * 160 / SR
    assert abs(onset - 0.5 / rate) <= 0.03
    peak, bin_hz = _peak_hz(_phase_vocoder(tone(1000.0, 2.0), rate))
    assert abs(peak - 1000.0) <= bin_hz


def test_a_batch_is_stretched_and_shifted_as_each_waveform_alone():
    y = batch()
    rates = [0.8, 1.0, 1.25, 0.93]
    for row, rate, together in zip(y, rates, phase_vocoder(y, rates)):
        assert len(together) == round(SR / rate)
        torch.testing.assert_close(together, _phase_vocoder(row, rate), atol=1e-5, rtol=0)
    steps = torch.tensor([-3.0, 2.0, 0.5, 5.0])
    for row, step, together in zip(y, steps, pitch_shift(y, steps)):
        torch.testing.assert_close(together, pitch_shift(row, float(step)), atol=1e-5, rtol=0)


def test_the_phase_vocoder_matches_librosa():
    librosa = pytest.importorskip("librosa")
    y = batch()[0]
    for rate in (0.8, 1.25):
        ours = _phase_vocoder(y, rate).numpy()
        theirs = librosa.effects.time_stretch(y.numpy(), rate=rate, n_fft=1024)
        assert len(ours) == len(theirs)
        assert np.abs(ours - theirs).max() < 2e-3 * np.abs(theirs).max()  # float32 here, float64 there


def test_an_augmentation_that_changes_what_labels_depend_on_is_refused():
    with pytest.raises(ConfigError, match="pitch_shift changes the key"):
        build([{"name": "pitch_shift"}], depends_on=["key"])
    with pytest.raises(ConfigError, match="time_stretch changes the tempo"):
        build([{"name": "time_stretch"}, {"name": "noise"}], depends_on=["tempo"])
    assert [a.name for a in build([{"name": "noise"}, {"name": "gain"}], depends_on=["key", "tempo"])] == ["noise",
                                                                                                          "gain"]
    with pytest.raises(ConfigError, match="choose one of"):
        build([{"name": "reverb"}])
    with pytest.raises(ConfigError, match="p=2"):
        build([{"name": "noise", "p": 2}])


def test_noise_reaches_the_requested_snr():
    (noise,) = build([{"name": "noise", "p": 1.0, "snr_db": [10.0, 10.0]}])
    x = tone().repeat(8, 1)
    added = noise(x, SR, torch.Generator().manual_seed(0)) - x
    snr = 10 * torch.log10(x.square().mean(1) / added.square().mean(1))
    assert torch.allclose(snr, torch.full((8,), 10.0), atol=0.3)


def test_spec_augment_masks_bands_and_stretches_with_the_mean():
    (masks,) = build([{"name": "spec_augment", "p": 1.0, "freq_masks": 1, "freq_width": 10, "time_masks": 0}])
    S = torch.randn(2, 40, 50)
    out = masks(S, SR, torch.Generator().manual_seed(3))
    for i in range(2):
        masked_rows = [r for r in range(40) if torch.all(out[i, r] == S[i].mean())]
        assert len(masked_rows) <= 10 and (out[i] != S[i]).any(dim=1).sum() == len(masked_rows)


def test_mixup_mixes_examples_and_targets_alike():
    x = torch.eye(4)
    mixed, rows = mixup(x, torch.arange(4), 4, alpha=0.4, g=torch.Generator().manual_seed(0))
    assert torch.allclose(rows.sum(1), torch.ones(4)) and torch.allclose(mixed, rows)  # one-hot inputs: equal
    again, _ = mixup(x, torch.arange(4), 4, alpha=0.4, g=torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again)
