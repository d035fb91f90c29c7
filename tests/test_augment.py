"""Augmentations: shapes, determinism under a seed, what each does to the signal, and the invariance refusal."""

import numpy as np
import pytest
import torch

from tympan.augment import AUGMENTATIONS, Equalize, Reverb, build, mixup, phase_vocoder, pitch_shift
from tympan.augment.stretch import _phase_vocoder
from tympan.errors import ConfigError

SR = 16000


def tone(freq=440.0, seconds=1.0, sr=SR):
    t = torch.arange(int(seconds * sr), dtype=torch.float32) / sr
    return 0.5 * torch.sin(2 * torch.pi * freq * t)


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, SR, generator=g) * 0.1 + tone()


def _spec(name):
    return {"kind": name, "p": 1.0, **({"recordings": [np.random.default_rng(0).standard_normal(3 * SR)]}
                                       if name == "background" else {})}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_each_augmentation_keeps_the_shape_and_is_deterministic_under_a_seed(name):
    (augmentation,) = build([_spec(name)])
    x = batch() if augmentation.stage == "waveform" else torch.randn(4, 40, 101)
    a = augmentation(x, SR, torch.Generator().manual_seed(1))
    b = augmentation(x, SR, torch.Generator().manual_seed(1))
    c = augmentation(x, SR, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype and torch.isfinite(a).all()
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
        build([{"kind": "pitch_shift"}], depends_on=["key"])
    with pytest.raises(ConfigError, match="time_stretch changes the tempo"):
        build([{"kind": "time_stretch"}, {"kind": "noise"}], depends_on=["tempo"])
    assert [a.kind for a in build([{"kind": "noise"}, {"kind": "gain"}], depends_on=["key", "tempo"])] == ["noise",
                                                                                                          "gain"]
    with pytest.raises(ConfigError, match="choose one of"):
        build([{"kind": "not_an_augmentation"}])
    with pytest.raises(ConfigError, match="p=2"):
        build([{"kind": "noise", "p": 2}])
    with pytest.raises(ConfigError, match="reverb changes the room"):
        build([{"kind": "reverb"}], depends_on=["room"])
    with pytest.raises(ConfigError, match="equalize changes the timbre"):
        build([{"kind": "noise"}, {"kind": "equalize"}], depends_on=["timbre"])


def test_a_legacy_name_key_builds_the_same_augmentation():
    # Configuration files written before ``kind`` key augmentations by ``name``: they still load, the same.
    spec = {"name": "noise", "p": 1.0, "snr_db": [10.0, 10.0]}
    (legacy,) = build([spec])
    (noise,) = build([{"kind": "noise", "p": 1.0, "snr_db": [10.0, 10.0]}])
    y = torch.randn(2, 800, generator=torch.Generator().manual_seed(0))
    assert legacy.kind == "noise" and spec["name"] == "noise"
    assert torch.equal(legacy(y, SR, torch.Generator().manual_seed(1)), noise(y, SR, torch.Generator().manual_seed(1)))


def test_noise_reaches_the_requested_snr():
    (noise,) = build([{"kind": "noise", "p": 1.0, "snr_db": [10.0, 10.0]}])
    x = tone().repeat(8, 1)
    added = noise(x, SR, torch.Generator().manual_seed(0)) - x
    snr = 10 * torch.log10(x.square().mean(1) / added.square().mean(1))
    assert torch.allclose(snr, torch.full((8,), 10.0), atol=0.3)


def test_spec_augment_masks_bands_and_stretches_with_the_mean():
    (masks,) = build([{"kind": "spec_augment", "p": 1.0, "freq_masks": 1, "freq_width": 10, "time_masks": 0}])
    S = torch.randn(2, 40, 50)
    out = masks(S, SR, torch.Generator().manual_seed(3))
    for i in range(2):
        masked_rows = [r for r in range(40) if torch.all(out[i, r] == S[i].mean())]
        assert len(masked_rows) <= 10 and (out[i] != S[i]).any(dim=1).sum() == len(masked_rows)


@pytest.mark.parametrize("alpha", [0.9, 1.12])
def test_vtlp_moves_a_tone_by_its_factor_on_the_mel_bands_and_keeps_the_rest(alpha):
    from tympan.frontend import LogMel
    from tympan.frontend.filters import mel_frequencies

    S = LogMel(sr=SR, n_fft=1024, hop_length=256, n_mels=128)(tone(1500.0))[None]
    (warp,) = build([{"kind": "vtlp", "p": 1.0, "alpha": [alpha, alpha]}])
    out = warp(S, SR, torch.Generator().manual_seed(0))
    centres = mel_frequencies(130, 0.0, SR / 2)[1:-1]
    peak, moved = (float(centres[int(x[0].mean(1).argmax())]) for x in (S, out))
    assert abs(moved - alpha * peak) <= centres[1:][centres[1:] > peak][0] - peak  # within a band
    assert out.shape == S.shape and S.min() - 1e-4 <= out.min() and out.max() <= S.max() + 1e-4  # interpolated
    (same,) = build([{"kind": "vtlp", "p": 1.0, "alpha": [1.0, 1.0]}])
    assert torch.allclose(same(S, SR, torch.Generator()), S)
    with pytest.raises(ConfigError, match="vtlp: alpha"):
        build([{"kind": "vtlp", "alpha": [1.1, 0.9]}])


def test_mixup_mixes_examples_and_targets_alike():
    x = torch.eye(4)
    mixed, rows = mixup(x, torch.arange(4), 4, alpha=0.4, g=torch.Generator().manual_seed(0))
    assert torch.allclose(rows.sum(1), torch.ones(4)) and torch.allclose(mixed, rows)  # one-hot inputs: equal
    again, _ = mixup(x, torch.arange(4), 4, alpha=0.4, g=torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again)


def test_equalize_and_reverb_are_built_from_yaml_specs_and_refuse_bad_ranges():
    reverb, equalize = build([{"kind": "reverb", "p": 0.5, "rt60": [0.2, 0.8]},
                              {"kind": "equalize", "db": [-6, 6], "low_hz": [100, 300], "n_points": 4}])
    assert isinstance(reverb, Reverb) and (reverb.p, reverb.rt60, reverb.drr_db) == (0.5, (0.2, 0.8), (0.0, 15.0))
    assert isinstance(equalize, Equalize) and (equalize.db, equalize.low_hz, equalize.n_points) == ((-6.0, 6.0),
                                                                                                  (100.0, 300.0), 4)
    for spec, match in [({"kind": "reverb", "rt60": [1.0, 0.2]}, "reverb: rt60=.* low <= high"),
                        ({"kind": "reverb", "rt60": [0, 0.5]}, "reverb: rt60=.* 0.01 <= low"),
                        ({"kind": "reverb", "drr_db": 10}, "reverb: drr_db=10 must be a range"),
                        ({"kind": "reverb", "high_rt60_ratio": 2}, "reverb: high_rt60_ratio=2"),
                        ({"kind": "equalize", "n_points": 1}, "equalize: n_points=1"),
                        ({"kind": "equalize", "band_limit_p": 1.5}, "equalize: band_limit_p=1.5"),
                        ({"kind": "equalize", "high_hz": ["a", 1]}, "equalize: high_hz=")]:
        with pytest.raises(ConfigError, match=match):
            build([spec])


@pytest.mark.parametrize("name", ["equalize", "reverb"])
def test_microphone_and_room_augmentations_keep_each_examples_rms_and_dtype(name):
    (augmentation,) = build([{"kind": name, "p": 1.0}])
    for x in (batch(), batch().double()):
        out = augmentation(x, SR, torch.Generator().manual_seed(4))
        assert out.dtype == x.dtype and out.shape == x.shape
        torch.testing.assert_close(out.square().mean(1), x.square().mean(1), rtol=1e-5, atol=0)
    silent = torch.zeros(2, SR)
    assert torch.equal(augmentation(silent, SR, torch.Generator().manual_seed(4)), silent)


def _transfer_db(name_spec, seed=0):
    """|rfft(out)| / |rfft(in)| in dB for one second of white noise through the augmentation."""
    (augmentation,) = build([{"kind": "equalize", "p": 1.0, **name_spec}])
    x = torch.randn(1, SR, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = augmentation(x, SR, torch.Generator().manual_seed(seed))
    return 20 * torch.log10(torch.fft.rfft(out[0]).abs() / torch.fft.rfft(x[0]).abs())


def test_equalize_is_a_smooth_curve_within_the_db_range_piecewise_linear_in_log_frequency():
    f = torch.fft.rfftfreq(SR, 1 / SR, dtype=torch.float64)
    knots = 50.0 * (SR / 2 / 50.0) ** (torch.arange(6, dtype=torch.float64) / 5)
    for seed in range(3):
        gain = _transfer_db({"band_limit_p": 0.0}, seed)  # up to a constant: the RMS is restored
        assert 1.0 < float(gain.max() - gain.min()) <= 20.0 + 1e-6
        assert float(gain[f <= 50].std()) < 1e-6  # flat below the lowest control point
        for a, b in zip(knots[:-1], knots[1:]):  # a straight line over log-frequency between control points
            inside = (f > a) & (f < b)
            logf = torch.log(f[inside])
            design = torch.stack([logf, torch.ones_like(logf)], 1)
            line = torch.linalg.lstsq(design, gain[inside, None]).solution
            assert float((design @ line - gain[inside, None]).abs().max()) < 1e-6


def test_equalize_band_limit_rolls_off_as_a_second_order_butterworth():
    f = torch.fft.rfftfreq(SR, 1 / SR, dtype=torch.float64)[1:]
    gain = _transfer_db({"db": [0, 0], "band_limit_p": 1.0, "low_hz": [200, 200], "high_hz": [4000, 4000]})[1:]
    expected = -10 * torch.log10(1 + (200 / f) ** 4) - 10 * torch.log10(1 + (f / 4000) ** 4)
    assert float((gain - expected).std()) < 1e-6
    at = {hz: float(gain[f == hz][0] - gain[f == 1000][0]) for hz in (50, 200, 8000)}
    assert at[50] < -23 and -3.2 < at[200] < -2.8 and at[8000] < -12  # 12 dB per octave beyond each cut
    default = _transfer_db({"db": [0, 0], "band_limit_p": 1.0})[1:]  # any low cut in 50-400 Hz
    assert float(default[f == 20][0] - default[f == 1000][0]) < -15


def _t60(energy, step_seconds):
    """T60 from the Schroeder backward-integrated energy decay curve, its slope fitted from -5 to -25 dB."""
    curve = torch.flip(torch.cumsum(torch.flip(energy, [0]), 0), [0])
    curve_db = 10 * torch.log10(curve / curve[0])
    fit = (curve_db <= -5) & (curve_db >= -25)
    t = torch.nonzero(fit).flatten().double() * step_seconds
    slope = float(torch.linalg.lstsq(torch.stack([t, torch.ones_like(t)], 1), curve_db[fit, None]).solution[0])
    return -60 / slope


def _impulses(n=4):
    y = torch.zeros(n, SR, dtype=torch.float64)
    y[:, 0] = 1.0
    return y


def test_reverb_of_an_impulse_decays_at_the_drawn_rt60_after_the_direct_sound():
    for rt60 in (0.3, 0.6):
        (reverb,) = build([{"kind": "reverb", "p": 1.0, "rt60": [rt60, rt60], "drr_db": [0, 0],
                            "high_rt60_ratio": 1.0}])
        out = reverb(_impulses(), SR, torch.Generator().manual_seed(6))
        for row in out:
            assert abs(_t60(row[1:].square(), 1 / SR) - rt60) < 0.15 * rt60  # Polack's tail
    (default,) = build([{"kind": "reverb", "p": 1.0}])
    out = default(_impulses(8), SR, torch.Generator().manual_seed(7))
    assert (out.abs().argmax(1) == 0).all()  # the direct sound comes first and loudest


def test_reverb_decays_faster_above_the_crossover():
    (reverb,) = build([{"kind": "reverb", "p": 1.0, "rt60": [0.6, 0.6], "drr_db": [0, 0],
                        "high_rt60_ratio": 0.5, "crossover_hz": 2000}])
    out = reverb(_impulses(2), SR, torch.Generator().manual_seed(8))
    power = torch.stft(out, 512, 128, window=torch.hann_window(512, dtype=out.dtype), center=False,
                       return_complex=True).abs().square()  # (rows, bins, frames); 31.25 Hz bins
    for rows in power:
        low, high = rows[:32].sum(0)[1:], rows[96:].sum(0)[1:]  # below 1 kHz, above 3 kHz
        assert abs(_t60(low, 128 / SR) - 0.6) < 0.2 * 0.6 and abs(_t60(high, 128 / SR) - 0.3) < 0.2 * 0.3


def test_reverb_convolution_is_linear_without_wrap_around():
    (reverb,) = build([{"kind": "reverb", "p": 1.0, "rt60": [0.5, 0.5], "pre_delay_seconds": [0, 0]}])
    x = torch.zeros(1, SR, dtype=torch.float64)
    x[0, -1] = 1.0  # an impulse at the end: its tail must not come back at the start
    out = reverb(x, SR, torch.Generator().manual_seed(9))
    assert float(out[0, :-1].abs().max()) < 1e-12 * float(out[0, -1]) and out[0, -1] > 0


def _bursts(frame_samples=640, n_frames=50):
    """Two examples of tone bursts on the frame grid, with their frame targets ``(2, frames, 1)``."""
    waves, targets = torch.zeros(2, frame_samples * n_frames), torch.zeros(2, n_frames, 1)
    for row, (first, end) in enumerate([(10, 20), (25, 32)]):
        waves[row, first * frame_samples:end * frame_samples] = tone(seconds=(end - first) * frame_samples / SR)
        targets[row, first:end] = 1.0
    return waves, targets


def _active_frames(waves, frame_samples=640):
    energy = waves.reshape(len(waves), -1, frame_samples).square().mean(dim=2)
    return energy > 0.01 * energy.amax(dim=1, keepdim=True)


@pytest.mark.parametrize("kind, options", [("time_shift", {"max_seconds": 0.5}), ("time_stretch", {"rate": [0.7, 1.4]})])
def test_frame_targets_move_with_the_sound_and_clip_targets_hold(kind, options):
    (augmentation,) = build([{"kind": kind, "p": 1.0, **options}])
    waves, targets = _bursts()
    for seed in range(4):
        moved_waves, moved = augmentation.with_targets(waves, targets, SR, torch.Generator().manual_seed(seed), 640)
        if kind == "time_stretch":  # a shift is rounded to whole frames when there are frame targets
            assert torch.equal(moved_waves, augmentation(waves, SR, torch.Generator().manual_seed(seed)))
        sounding, active = _active_frames(moved_waves), moved[:, :, 0] > 0
        assert not torch.equal(moved, targets)
        # the targets follow the sound: a shift exactly, a stretch to a frame at each edge (the vocoder's window)
        mismatched = (sounding != active).sum(dim=1)
        assert (mismatched == 0).all() if kind == "time_shift" else (mismatched <= 2).all(), (seed, mismatched)
        labels = torch.tensor([[1.0], [0.0]])
        assert augmentation.with_targets(waves, labels, SR, torch.Generator().manual_seed(seed), 640)[1] is labels
