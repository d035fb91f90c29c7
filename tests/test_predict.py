"""Prediction: folders, globs, bad files, the JSON/CSV schemas, long recordings in windows with correct
timestamps, bounded memory, and silent or very short audio."""

import csv
import json
import subprocess
import sys
import tracemalloc

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf

import tympan
from tympan.nn.classifier import Classifier
from tympan.predict import events, find_audio, predict_files, score_windows, timeline
from tympan.train.config import Config, TrainConfig
from tympan.train.data import ClipSet, normalisation_statistics
from tympan.train.loop import fit

SR = 8000
CLASSES = ["low", "high", "noise"]


def sound(kind, seconds, rng, sr=SR, vary=False):
    """A tone (low: 400 Hz, high: 2500 Hz) in noise, or noise alone; ``vary`` draws level, pitch and noise."""
    t = np.arange(int(seconds * sr)) / sr
    level, detune, noise_level = (rng.uniform(0.05, 0.8), rng.uniform(0.8, 1.25), rng.uniform(0.01, 0.1)) \
        if vary else (0.5, 1.0, 0.05)
    noise = noise_level * rng.standard_normal(len(t))
    if kind == "noise":
        return noise.astype(np.float32)
    frequency = {"low": 400, "high": 2500}[kind] * detune
    return (level * np.sin(2 * np.pi * frequency * t) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A perceptron trained on one-second tones and noise: quick, and good enough to place events."""
    rng = np.random.default_rng(0)
    audio = [sound(kind, 1.0, rng, vary=True) for kind in CLASSES for _ in range(20)]
    targets = np.repeat(np.arange(3), 20)
    train = ClipSet(audio, targets, [f"{i}" for i in range(60)])
    frontend = {"kind": "logmel", "sr": SR, "n_fft": 256, "hop_length": 80, "n_mels": 32}
    config = Config(frontend=frontend, network={"kind": "perceptron"},
                    train=TrainConfig(epochs=15, batch_size=10, learning_rate=0.05, early_stopping=0))
    model = Classifier(frontend, "perceptron", CLASSES, clip_seconds=1.0, seed=0)
    model.normalize.set_statistics(*normalisation_statistics(model, train))
    fit(model, train, ClipSet([], np.zeros(0, np.int64), []), config, progress=False)
    path = tmp_path_factory.mktemp("model") / "tones.tympan"
    tympan.save_model(model, path)
    return path


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    """60 s at 16 kHz (the model takes 8 kHz): noise, a low tone at 10-20 s, a high one at 35-42 s."""
    rng = np.random.default_rng(1)
    y = sound("noise", 60.0, rng, sr=16000)
    y[10 * 16000:20 * 16000] = sound("low", 10.0, rng, sr=16000)
    y[35 * 16000:42 * 16000] = sound("high", 7.0, rng, sr=16000)
    path = tmp_path_factory.mktemp("long") / "scene.flac"
    sf.write(path, y, 16000)
    return path


def test_events_of_a_long_recording_are_within_one_hop_of_the_truth(model_file, long_recording):
    model = tympan.load_model(model_file)
    scored = score_windows(model, long_recording, block_seconds=7.0)  # blocks that do not align with windows
    assert scored.window_seconds == 1.0 and scored.hop_seconds == 0.5
    assert scored.starts[0] == 0.0 and scored.starts[-1] == pytest.approx(59.0) and len(scored.starts) == 119
    found = {(e["label"], e["start"], e["end"]) for e in events(scored, CLASSES, False, min_duration=1.0)}
    tones = sorted(((label, start, end) for label, start, end in found if label != "noise"), key=lambda e: e[1])
    assert [label for label, _, _ in tones] == ["low", "high"]
    for (label, start, end), (true_start, true_end) in zip(tones, [(10, 20), (35, 42)]):
        assert abs(start - true_start) <= 0.5 and abs(end - true_end) <= 0.5, (label, start, end)


def test_memory_stays_bounded_on_a_long_file(model_file, tmp_path):
    model = tympan.load_model(model_file)
    path = tmp_path / "ten-minutes.wav"
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        rng = np.random.default_rng(2)
        for _ in range(60):  # 10 minutes, written 10 s at a time
            f.write(sound("noise", 10.0, rng))
    decoded_bytes = 600 * SR * 4
    tracemalloc.start()
    scored = score_windows(model, path, block_seconds=10.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert scored.duration == pytest.approx(600.0) and len(scored.starts) == 1199
    assert peak < decoded_bytes / 4, f"peak {peak / 2**20:.1f} MiB for {decoded_bytes / 2**20:.1f} MiB of audio"


def test_folders_globs_and_bad_files_from_the_command_line(model_file, long_recording, tmp_path):
    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(3)
    sf.write(folder / "a_low.wav", sound("low", 1.0, rng), SR)
    sf.write(folder / "sub" / "b_high.wav", sound("high", 0.8, rng), SR)
    (folder / "sub" / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really")
    sf.write(tmp_path / "c_noise.ogg", sound("noise", 1.2, rng), SR)
    table = tmp_path / "rows.csv"
    result = subprocess.run([sys.executable, "-m", "tympan", "predict", "--model", str(model_file), str(folder),
                             str(tmp_path / "*.ogg"), str(long_recording), str(tmp_path / "missing.wav"),
                             "--json", "--csv", str(table), "--min-duration", "1", "--plot", str(tmp_path / "plots")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr  # bad inputs listed, the rest processed
    report = json.loads(result.stdout)
    assert report["schema"] == "tympan.predict/1" and report["classes"] == CLASSES
    by_name = {item["file"].rsplit("/", 1)[-1]: item for item in report["files"]}
    assert set(by_name) == {"a_low.wav", "b_high.wav", "c_noise.ogg", "scene.flac"}
    assert by_name["a_low.wav"]["top"][0]["label"] == "low" and by_name["b_high.wav"]["top"][0]["label"] == "high"
    assert by_name["c_noise.ogg"]["top"][0]["label"] == "noise" and len(by_name["a_low.wav"]["top"]) == 3
    assert by_name["a_low.wav"]["events"] == [] and {e["label"] for e in by_name["scene.flac"]["events"]} >= {"low",
                                                                                                          "high"}
    reasons = {b["path"].rsplit("/", 1)[-1]: b["reason"] for b in report["bad"]}
    assert set(reasons) == {"broken.wav", "missing.wav"} and "no such file" in reasons["missing.wav"]
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file", "start", "end", "label", "score"]
    assert {r["label"] for r in rows if r["file"].endswith("a_low.wav")} == {"low"}
    scene = [r for r in rows if r["file"].endswith("scene.flac")]
    assert len(scene) == len(by_name["scene.flac"]["events"])
    # a picture for each recording longer than a window: its log-mel with the labelled events under it
    assert by_name["scene.flac"]["plot"] == str(tmp_path / "plots" / "scene.timeline.png")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["c_noise.timeline.png", "scene.timeline.png"]
    image = matplotlib.image.imread(tmp_path / "plots" / "scene.timeline.png")
    assert image.shape[1] > 1000 and image[..., :3].std() > 0.1


def test_silent_and_very_short_audio_get_a_note_not_a_crash(model_file, tmp_path):
    model = tympan.load_model(model_file)
    sf.write(tmp_path / "silence.wav", np.zeros(3 * SR, np.float32), SR)
    sf.write(tmp_path / "blip.wav", sound("high", 0.05, np.random.default_rng(4)), SR)
    report = predict_files(model, [tmp_path])
    notes = {item["file"].rsplit("/", 1)[-1]: item["notes"] for item in report["files"]}
    assert any("silent" in n for n in notes["silence.wav"])
    assert any("very short" in n for n in notes["blip.wav"])
    assert report["bad"] == []


def test_find_audio_reports_targets_that_match_nothing(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    files, bad = find_audio([tmp_path, tmp_path / "*.wav"])
    assert files == [] and [reason for _, reason in bad] == ["no audio files found", "no audio files found"]


def test_the_python_timeline_equals_the_command_line_events(model_file, long_recording):
    model = tympan.load_model(model_file)
    found = timeline(model, long_recording, min_duration=1.0)
    assert [e["label"] for e in found if e["label"] != "noise"] == ["low", "high"]
    assert found == events(score_windows(model, long_recording), CLASSES, False, min_duration=1.0)


def test_multi_label_files_list_every_label_above_its_threshold():
    from tympan.predict import labels_of

    model = Classifier({"kind": "logmel", "sr": SR, "n_fft": 256}, "perceptron", ["a", "b", "c"],
                       multi_label=True)
    scores = np.array([0.9, 0.2, 0.6])
    assert [r["label"] for r in labels_of(model, scores, 1, 0.5)] == ["a", "c"]
    assert [r["label"] for r in labels_of(model, scores, 1, {"a": 0.5, "b": 0.5, "c": 0.7})] == ["a"]
    single = Classifier({"kind": "logmel", "sr": SR, "n_fft": 256}, "perceptron", ["a", "b", "c"])
    assert [r["label"] for r in labels_of(single, scores, 2, 0.5)] == ["a", "c"]


def test_per_window_scores_of_a_long_recording(model_file, long_recording):
    report = predict_files(tympan.load_model(model_file), [long_recording], per_window=True)
    windows = report["files"][0]["window_scores"]
    assert len(windows) == 119 and windows[0]["start"] == 0.0 and windows[0]["end"] == 1.0
    assert windows[-1]["end"] == 60.0 and all(abs(sum(w["scores"]) - 1) < 1e-3 for w in windows)
    assert np.argmax(windows[30]["scores"]) == CLASSES.index("low")  # 15 s: inside the low tone
