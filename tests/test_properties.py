"""Properties that hold for every input, not just the hand-picked ones (hypothesis): front-end shapes, floors
and equality to librosa; splits that never leak a group and stay stratified; timelines whose events never
overlap, lie inside the recording and are stable under decoding again; model files that load back
exactly; augmentations that keep shapes, repeat under a seed, and keep what they declare they keep."""

import os

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tympan.augment import AUGMENTATIONS, build  # noqa: E402
from tympan.data.manifest import Item, Manifest  # noqa: E402
from tympan.data.splits import assign_splits  # noqa: E402
from tympan.errors import DatasetError  # noqa: E402
from tympan.frontend.logmel import LogMel  # noqa: E402
from tympan.model_file import load_model, save_model  # noqa: E402
from tympan.nn.classifier import Classifier  # noqa: E402
from tympan.nn.detector import PostProcess, decode  # noqa: E402
from tympan.predict.windows import WindowScores, events  # noqa: E402
from tympan.train.events import rasterise  # noqa: E402

# few examples each: the suite runs on 2 cores in CI; a long search is TYMPAN_HYPOTHESIS=long, by hand
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("TYMPAN_HYPOTHESIS", "ci"))

FFT_SIZES = st.sampled_from([64, 128, 256, 512])


@given(n=st.integers(1, 6000), n_fft=FFT_SIZES, hop_divisor=st.sampled_from([1, 2, 4, 8]),
       n_mels=st.integers(4, 40))
def test_logmel_of_any_length_has_the_documented_shape(n, n_fft, hop_divisor, n_mels):
    layer = LogMel(sr=8000, n_fft=n_fft, hop_length=n_fft // hop_divisor, n_mels=n_mels)
    out = layer(torch.randn(n, generator=torch.Generator().manual_seed(n)))
    assert out.shape == (n_mels, layer.n_frames(n)) == (n_mels, 1 + n // (n_fft // hop_divisor))
    assert torch.isfinite(out).all()


@given(n=st.integers(1, 4000), n_fft=FFT_SIZES)
def test_silence_gives_the_floor(n, n_fft):
    out = LogMel(sr=8000, n_fft=n_fft, hop_length=n_fft // 4, n_mels=16)(torch.zeros(n))
    assert torch.all(out == -100.0)  # 10 log10(amin), amin = 1e-10


@given(n=st.integers(512, 6000), sr=st.sampled_from([8000, 16000, 22050]), n_fft=st.sampled_from([256, 512, 1024]),
       hop_divisor=st.sampled_from([2, 4]), n_mels=st.integers(8, 64), seed=st.integers(0, 2**16))
def test_logmel_equals_librosa_on_random_signals_and_parameters(n, sr, n_fft, hop_divisor, n_mels, seed):
    librosa = pytest.importorskip("librosa")
    y = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    hop_length = n_fft // hop_divisor
    theirs = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
                                                                n_mels=n_mels))
    ours = LogMel(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)(torch.from_numpy(y)).numpy()
    assert ours.shape == theirs.shape
    # an empty mel band (more bands than FFT bins can fill) is at the floor in both, from each one's peak
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


@st.composite
def labelled_items(draw):
    n_classes = draw(st.integers(2, 4))
    grouped = draw(st.booleans())
    n = draw(st.integers(4 * n_classes, 60))
    labels = [str(i % n_classes) for i in range(n)]
    groups = [f"g{draw(st.integers(0, 9))}" for _ in range(n)] if grouped else [None] * n
    return [Item(f"/data/{i}.wav", (label,), group=group) for i, (label, group) in enumerate(zip(labels, groups))], \
        [str(c) for c in range(n_classes)]


@given(data=labelled_items(), seed=st.integers(0, 1000))
def test_splits_never_put_a_group_on_two_sides_and_stay_stratified(data, seed):
    items, classes = data
    manifest = Manifest("/data", "csv", items, classes)
    try:
        split = assign_splits(manifest, seed=seed)
    except DatasetError as error:  # too few groups for a held-out part is a clear refusal, never a leak
        assert "group" in str(error) or "at least two recordings" in str(error)
        return
    assert len(split.items) == len(items) and all(item.split in ("train", "val", "test") for item in split.items)
    if manifest.has_groups:
        sides = {}
        for item in split.items:
            sides.setdefault(item.group, set()).add(item.split)
        assert all(len(s) == 1 for s in sides.values()), sides
    else:
        # each class's share of the test split is its share of the data, within one clip
        test = [item for item in split.items if item.split == "test"]
        for c in classes:
            in_class = sum(item.label == c for item in split.items)
            expected = in_class * len(test) / len(items)
            assert abs(sum(item.label == c for item in test) - expected) <= 1.0 + 1e-9


@given(folds=st.lists(st.integers(1, 5), min_size=10, max_size=40), seed=st.integers(0, 100))
def test_an_official_split_is_kept(folds, seed):
    items = [Item(f"/d/{i}.wav", (str(i % 2),), split=("test" if f == 1 else "val" if f == 2 else "train"))
             for i, f in enumerate(folds)]
    try:
        split = assign_splits(Manifest("/d", "csv", items, ["0", "1"]), seed=seed)
    except DatasetError as error:  # too little training data to give validation its share: said, not guessed
        assert "give each class at least two recordings" in str(error)
        return
    if any(f == 2 for f in folds):  # an official validation split is kept too
        assert [i.split for i in split.items] == [i.split for i in items]
    else:  # validation comes from training only
        assert all((a.split == "test") == (b.split == "test") for a, b in zip(items, split.items))


@given(scores=st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=1, max_size=60),
       hop=st.sampled_from([0.25, 0.5, 1.0]), smooth=st.integers(1, 5), multi_label=st.booleans(),
       threshold=st.floats(0.1, 0.9), min_duration=st.sampled_from([0.0, 0.5, 2.0]))
def test_timeline_events_never_overlap_and_lie_inside_the_recording(scores, hop, smooth, multi_label, threshold,
                                                                     min_duration):
    window = 2 * hop
    starts = np.arange(len(scores)) * hop
    duration = float(starts[-1] + window)
    result = WindowScores("x.wav", duration, window, hop, starts, np.array(scores))
    found = events(result, ["a", "b", "c"], multi_label, threshold, smooth, min_duration)
    for label in "abc":
        mine = [e for e in found if e["label"] == label]
        for e in mine:
            assert 0.0 <= e["start"] < e["end"] <= round(duration, 3) and e["end"] - e["start"] >= min_duration - 1e-3
        for a, b in zip(mine, mine[1:]):  # apart by more than the merge gap: merging again changes nothing
            assert b["start"] - a["end"] > hop - 1e-3
    if not multi_label:  # one class at a time
        spans = sorted((e["start"], e["end"]) for e in found)
        assert all(b[0] >= a[1] - 1e-3 for a, b in zip(spans, spans[1:]))


@given(frames=st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), min_size=1, max_size=200),
       gap=st.sampled_from([0.0, 0.1, 0.3]), median=st.sampled_from([0.0, 0.1, 0.25]),
       shortest=st.sampled_from([0.0, 0.05, 0.2]))
def test_decoding_is_stable_inside_the_recording_and_idempotent(frames, gap, median, shortest):
    frame_seconds = 0.02
    scores = np.array(frames)
    post = PostProcess(threshold=0.5, median_seconds=median, min_gap=gap, min_duration=shortest)
    found = decode(scores, frame_seconds, ["a", "b"], post)
    end = len(frames) * frame_seconds
    for label in "ab":
        mine = sorted(e for e in found if e.label == label)
        assert all(0 <= e.onset < e.offset <= end + 1e-9 for e in mine)
        assert all(b.onset - a.offset >= gap - 1e-9 for a, b in zip(mine, mine[1:]))
    # decoding the events' own activity again (nothing left to filter, bridge or drop) gives them back
    again = decode(rasterise(found, ["a", "b"], len(frames), frame_seconds), frame_seconds, ["a", "b"],
                   PostProcess(threshold=0.5, median_seconds=0.0, min_gap=gap, min_duration=0.0))
    assert again == found



@given(frames=st.lists(st.floats(0, 1), min_size=1, max_size=200), low=st.sampled_from([0.1, 0.3, 0.5]))
def test_hysteresis_only_widens_the_events_one_threshold_finds(frames, low):
    scores = np.array(frames)[:, None]
    plain = PostProcess(threshold=0.5, median_seconds=0.0, min_gap=0.0, min_duration=0.0)
    one = decode(scores, 0.02, ["a"], plain)
    both = decode(scores, 0.02, ["a"], PostProcess(**{**vars(plain), "low_threshold": low}))
    # each event one threshold finds lies in one found with two, which holds at least one (two joined by
    # frames above the low threshold become one), its frames all at or above the low threshold
    inside = lambda a, b: b.onset <= a.onset and a.offset <= b.offset  # noqa: E731
    assert all(sum(inside(a, b) for b in both) == 1 for a in one) and all(any(inside(a, b) for a in one) for b in both)
    assert all((scores[int(round(e.onset / 0.02)):int(round(e.offset / 0.02)), 0] >= low).all() for e in both)
    if low == 0.5:
        assert both == one

NETWORKS = {
    "perceptron": {"kind": "perceptron"},
    "mlp": {"kind": "mlp", "hidden": [8]},
    "cnn": {"kind": "cnn", "channels": [4, 8]},
    "cnn1d": {"kind": "cnn1d", "channels": [4, 8]},
    "lstm": {"kind": "lstm", "hidden": 8},
    "gru": {"kind": "gru", "hidden": 8},
    "rnn": {"kind": "rnn", "hidden": 8},
    "crnn": {"kind": "crnn", "channels": [4], "hidden": 8},
    "transformer": {"kind": "transformer", "dim": 16, "depth": 1, "heads": 2, "patch": 4},
}


@settings(max_examples=len(NETWORKS) * 2)
@given(kind=st.sampled_from(sorted(NETWORKS)), n_classes=st.integers(2, 5), seed=st.integers(0, 1000))
def test_save_then_load_is_the_identity_for_every_network_kind(tmp_path_factory, kind, n_classes, seed):
    frontend = {"kind": "waveform", "sr": 8000} if kind == "cnn1d" else \
        {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16}
    model = Classifier(frontend, NETWORKS[kind], [f"c{i}" for i in range(n_classes)], 0.5, seed=seed).eval()
    path = save_model(model, tmp_path_factory.mktemp("m") / "m.tympan")
    loaded = load_model(path).eval()
    theirs, ours = loaded.state_dict(), model.state_dict()
    assert theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in ours)
    x = torch.randn(2, 4000, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded.classes == model.classes and loaded.sr == model.sr


WAVEFORM_KINDS = [k for k in AUGMENTATIONS.names() if AUGMENTATIONS.get(k).stage == "waveform" and k != "background"]


@settings(max_examples=30)
@given(kind=st.sampled_from(WAVEFORM_KINDS), batch=st.integers(1, 3), n=st.integers(800, 8000),
       seed=st.integers(0, 1000))
def test_augmentations_keep_the_shape_stay_finite_and_repeat_under_a_seed(kind, batch, n, seed):
    augmentation = build([{"kind": kind, "p": 1.0}], sr=8000)[0]
    y = 0.1 * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))
    first = augmentation(y.clone(), 8000, torch.Generator().manual_seed(seed))
    again = augmentation(y.clone(), 8000, torch.Generator().manual_seed(seed))
    assert first.shape == y.shape and torch.isfinite(first).all() and torch.equal(first, again)
    # p = 0 leaves every example as it was
    unchanged = build([{"kind": kind, "p": 0.0}], sr=8000)[0](y.clone(), 8000, torch.Generator().manual_seed(seed))
    assert torch.equal(unchanged, y)


# What each augmentation declares it keeps (``changes`` names what it does not): checked on random inputs.
SR = 8000


def _batch(seed: int, batch: int, n: int) -> torch.Tensor:
    return 0.1 * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _dominant_hz(y: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(y * torch.hann_window(len(y), dtype=y.dtype)).abs()
    return float(torch.fft.rfftfreq(len(y), 1 / SR)[spectrum.argmax()])


@given(seed=st.integers(0, 10_000), batch=st.integers(1, 4), n=st.integers(400, 6000),
       low=st.floats(-20, 0), span=st.floats(0, 20))
def test_gain_only_scales_each_example_within_its_range_of_decibels(seed, batch, n, low, span):
    y = _batch(seed, batch, n)
    out = build([{"kind": "gain", "p": 1.0, "db": [low, low + span]}], sr=SR)[0](y, SR, torch.Generator().manual_seed(seed))
    ratio = out / y
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-9)  # one factor per example
    db = 20 * torch.log10(ratio[:, 0])
    assert ((db >= low - 1e-9) & (db <= low + span + 1e-9)).all(), db


@given(seed=st.integers(0, 10_000), batch=st.integers(1, 4), low=st.floats(0, 30), span=st.floats(0, 10))
def test_noise_is_added_at_a_signal_to_noise_ratio_in_its_range(seed, batch, low, span):
    y = _batch(seed, batch, 8000)
    out = build([{"kind": "noise", "p": 1.0, "snr_db": [low, low + span]}], sr=SR)[0](
        y, SR, torch.Generator().manual_seed(seed))
    snr = 10 * torch.log10(y.square().mean(1) / (out - y).square().mean(1))
    # 8000 samples of white noise estimate its power within a few percent: 0.5 dB is many deviations
    assert ((snr > low - 0.5) & (snr < low + span + 0.5)).all(), (snr, low, span)


@given(seed=st.integers(0, 10_000), n=st.integers(400, 4000), max_seconds=st.floats(0.0, 0.1))
def test_time_shift_only_moves_the_sound_by_at_most_its_maximum_and_fills_with_silence(seed, n, max_seconds):
    y = _batch(seed, 1, n)
    out = build([{"kind": "time_shift", "p": 1.0, "max_seconds": max_seconds}], sr=SR)[0](
        y, SR, torch.Generator().manual_seed(seed))[0].numpy()
    x, limit = y[0].numpy(), round(max_seconds * SR)
    matches = []
    for s in range(-limit, limit + 1):
        moved = np.zeros_like(x)
        if abs(s) >= len(x):
            pass  # moved out entirely: silence
        elif s >= 0:
            moved[s:] = x[:len(x) - s]
        else:
            moved[:s] = x[-s:]
        matches.append(np.array_equal(moved, out))
    assert any(matches)


@given(seed=st.integers(0, 10_000), kind=st.sampled_from(["equalize", "reverb"]), silence=st.integers(0, 2000))
def test_equalize_and_reverb_keep_the_loudness_and_reverb_is_never_heard_before_the_sound(seed, kind, silence):
    y = _batch(seed, 2, 6000)
    y[:, :silence] = 0
    out = build([{"kind": kind, "p": 1.0}], sr=SR)[0](y, SR, torch.Generator().manual_seed(seed))
    assert torch.allclose(out.square().mean(1).sqrt(), y.square().mean(1).sqrt(), rtol=1e-6)
    if kind == "reverb":  # a room answers a sound, it does not announce it
        assert out[:, :silence].abs().max() < 1e-9 * y.abs().max() if silence else True


@given(hz=st.floats(300, 1500), rate=st.floats(0.8, 1.25), semitones=st.floats(-3, 3))
def test_time_stretch_keeps_the_pitch_and_pitch_shift_moves_it_by_its_semitones(hz, rate, semitones):
    t = torch.arange(SR, dtype=torch.float64) / SR
    y = (0.5 * torch.sin(2 * np.pi * hz * t))[None]
    g = torch.Generator().manual_seed(0)
    stretched = build([{"kind": "time_stretch", "p": 1.0, "rate": [rate, rate]}], sr=SR)[0](y, SR, g)
    shifted = build([{"kind": "pitch_shift", "p": 1.0, "semitones": [semitones, semitones]}], sr=SR)[0](y, SR, g)
    assert stretched.shape == shifted.shape == y.shape
    # a 1-s window resolves 1 Hz; the phase vocoder's 1024-point frames smear a few more
    assert abs(_dominant_hz(stretched[0]) - hz) < 8, (_dominant_hz(stretched[0]), hz)
    expected = hz * 2 ** (semitones / 12)
    assert abs(_dominant_hz(shifted[0]) - expected) < 8 + 0.005 * expected, (_dominant_hz(shifted[0]), expected)
