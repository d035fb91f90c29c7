"""The training engine on real recordings (FSDD spoken digits): losses, optimisers, schedules, early
stopping, reproducibility, resume after kill -9, data-parallel runs, evaluate, and the report files."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

import tympan
import tympan.train.run
from tympan.data.cache import AudioCache
from tympan.data.layouts import build
from tympan.errors import ConfigError, DatasetError
from tympan.nn.classifier import Classifier
from tympan.train.config import RECIPES, Config, TrainConfig, load_config, parse_set
from tympan.train.data import load_clipset, normalisation_statistics
from tympan.train.loop import fit
from tympan.train.losses import LOSSES

from conftest import assert_report_shows_metrics, make_bad_files, write_tone
from layout_fixtures import make_speech_commands

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
DIGITS, SPEAKERS = ("0", "1", "2"), ("george", "jackson", "lucas")
# A small, fast run: a CNN without dropout or batch norm, so data-parallel runs can match exactly.
SMALL = ["--set", "train.epochs=6", "--set", "train.batch_size=8", "--set", "train.warmup_epochs=0",
         "--set", "train.learning_rate=0.01",
         "--set", f"frontend={json.dumps(FRONTEND)}", "--set", "data.clip_seconds=1.0",
         "--set", "network={kind: cnn, channels: [16, 32], batch_norm: false, dropout: 0.0}"]


def _env(tmp_path_factory):
    return {**os.environ, "TYMPAN_CACHE": str(tmp_path_factory.getbasetemp() / "cache")}


@pytest.fixture(scope="module")
def digits_csv(fsdd_dir, tmp_path_factory):
    """90 FSDD recordings of three digits by three speakers, with fixed splits, and one truncated file."""
    folder = tmp_path_factory.mktemp("digits")
    rows = ["path,label,split"]
    for digit in DIGITS:
        for speaker in SPEAKERS:
            for index in range(10):
                split = "test" if index < 2 else "val" if index < 4 else "train"
                rows.append(f"{fsdd_dir / 'recordings' / f'{digit}_{speaker}_{index}.wav'},{digit},{split}")
    whole = (fsdd_dir / "recordings" / "0_george_10.wav").read_bytes()
    (folder / "cut.wav").write_bytes(whole[:len(whole) // 3])
    rows.append("cut.wav,0,train")
    (folder / "digits.csv").write_text("\n".join(rows) + "\n")
    return folder / "digits.csv"


@pytest.fixture(scope="module")
def clips(digits_csv, tmp_path_factory):
    manifest = build(digits_csv)
    cache = AudioCache(tmp_path_factory.mktemp("cache"))
    sets = {name: load_clipset(manifest.subset(name), list(DIGITS), 8000, False, cache)[0]
            for name in ("train", "val", "test")}
    return sets


def _fit(clips, network=None, augment=(), **train):
    config = Config(frontend=FRONTEND, network=network or {"kind": "cnn", "channels": [8, 16], "dropout": 0.0},
                    train=TrainConfig(**{"epochs": 6, "batch_size": 16, "learning_rate": 0.01, "early_stopping": 0,
                                         "schedule": "constant", **train}), augment=list(augment))
    model = Classifier(FRONTEND, config.network, list(DIGITS), clip_seconds=1.0, seed=0)
    model.normalize.set_statistics(*normalisation_statistics(model, clips["train"]))
    return model, fit(model, clips["train"], clips["val"], config, progress=False)


def _decreases(history):
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert np.isfinite(last) and last < 0.8 * first, [round(h["train_loss"], 4) for h in history]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_decreases_on_a_small_problem(clips, loss):
    lr = {"sse": 0.002}.get(loss, 0.01)  # a summed loss's gradient grows with the batch
    _, run = _fit(clips, loss=loss, learning_rate=lr, label_smoothing=0.1 if loss != "sse" else 0.0)
    _decreases(run["history"])


@pytest.mark.parametrize("settings", [
    {"optimizer": "sgd", "batch_size": 0, "momentum": 0.0, "learning_rate": 0.1, "epochs": 15},  # full batch
    {"optimizer": "sgd", "batch_size": 1, "momentum": 0.0, "learning_rate": 0.002, "epochs": 3},  # stochastic
    {"optimizer": "sgd", "batch_size": 8, "momentum": 0.9, "learning_rate": 0.01},
    {"optimizer": "sgd", "batch_size": 8, "momentum": 0.9, "nesterov": True, "learning_rate": 0.01},
    {"optimizer": "adam", "schedule": "step", "step_epochs": 2, "gamma": 0.5},
    {"optimizer": "adamw", "weight_decay": 0.05, "schedule": "cosine", "warmup_epochs": 2},
    {"optimizer": "adam", "schedule": "plateau", "plateau_patience": 1, "clip_grad_norm": 1.0},
], ids=["full-batch-gd", "stochastic-gd", "momentum", "nesterov", "adam-step", "adamw-cosine-warmup",
        "adam-plateau-clipped"])
def test_every_optimiser_batch_mode_and_schedule_decreases_the_loss(clips, settings):
    _, run = _fit(clips, **settings)
    _decreases(run["history"])


def test_schedules_set_the_learning_rate_per_epoch(clips):
    _, run = _fit(clips, schedule="step", step_epochs=2, gamma=0.5, epochs=5)
    assert [h["learning_rate"] for h in run["history"]] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    _, run = _fit(clips, schedule="cosine", warmup_epochs=1, epochs=5)
    rates = [h["learning_rate"] for h in run["history"]]
    assert rates[0] == pytest.approx(0.005) and rates[1] == pytest.approx(0.01) and rates[1] > rates[2] > rates[4]


def test_early_stopping_keeps_the_best_epoch(clips):
    # a learning rate too small to change anything: validation never improves after epoch 1
    model, run = _fit(clips, learning_rate=1e-12, epochs=30, early_stopping=3, monitor="accuracy")
    assert run["stopped_early"] and run["epochs"] == 4 and run["best_epoch"] == 1
    model, run = _fit(clips, epochs=8, early_stopping=0, monitor="loss")
    best = run["history"][run["best_epoch"] - 1]
    assert best["val_loss"] == min(h["val_loss"] for h in run["history"])
    from tympan.train.loop import evaluate_clips
    again = evaluate_clips(model, clips["val"], list(DIGITS), False)
    assert again["loss"] == pytest.approx(best["val_loss"], rel=1e-5)  # the model holds the best weights


def test_the_same_seed_gives_the_same_run(clips):
    a, run_a = _fit(clips, network={"kind": "cnn", "channels": [8, 16], "dropout": 0.3}, epochs=3)
    b, run_b = _fit(clips, network={"kind": "cnn", "channels": [8, 16], "dropout": 0.3}, epochs=3)
    assert [h["train_loss"] for h in run_a["history"]] == [h["train_loss"] for h in run_b["history"]]
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name


def test_multi_label_training_uses_a_sigmoid_per_class_and_reports_map(clips):
    from tympan.train.data import ClipSet
    from tympan.train.loop import evaluate_clips

    labels = list(DIGITS) + list(SPEAKERS)  # each recording: its digit and its speaker

    def tagged(split):
        rows = np.zeros((len(clips[split]), len(labels)), dtype=np.float32)
        for row, (path, digit) in enumerate(zip(clips[split].paths, clips[split].targets)):
            rows[row, digit] = 1.0
            rows[row, 3 + SPEAKERS.index(Path(path).name.split("_")[1])] = 1.0
        return ClipSet(clips[split].audio, rows, clips[split].paths)

    train, val = tagged("train"), tagged("val")
    config = Config(frontend=FRONTEND, network={"kind": "cnn", "channels": [8, 16], "dropout": 0.0},
                    train=TrainConfig(loss="binary_cross_entropy", epochs=6, batch_size=16, learning_rate=0.01,
                                      schedule="constant", early_stopping=0, monitor="mAP"))
    model = Classifier(FRONTEND, config.network, labels, clip_seconds=1.0, multi_label=True, seed=0)
    model.normalize.set_statistics(*normalisation_statistics(model, train))
    run = fit(model, train, val, config, progress=False)
    _decreases(run["history"])
    metrics = evaluate_clips(model, val, labels, True, "binary_cross_entropy")
    assert 0.5 < metrics["mAP"] <= 1.0 and set(metrics["per_class"]) == set(labels)
    scores = model.predict_waveforms(val.audio[:2])
    assert scores.shape == (2, 6) and not torch.allclose(scores.sum(1), torch.ones(2))  # sigmoids, not softmax


def test_cross_validation_over_official_folds(digits_csv, tmp_path_factory):
    folded = digits_csv.parent / "folds.csv"
    rows = ["path,label,fold"] + [f"{line.split(',')[0]},{line.split(',')[1]},{1 + n % 3}"
                                  for n, line in enumerate(digits_csv.read_text().splitlines()[1:-1])]
    folded.write_text("\n".join(rows) + "\n")
    out = tmp_path_factory.mktemp("folds")
    result = tympan_cli("train", "--data", folded, "--out", out, *SMALL, "--set", "train.epochs=2", "--folds",
                        "--json", env=_env(tmp_path_factory))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert [f["fold"] for f in metrics["folds"]] == [1, 2, 3]
    accuracies = [f["test"]["accuracy"] for f in metrics["folds"]]
    assert metrics["cross_validation"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert metrics["cross_validation"]["accuracy"]["std"] == pytest.approx(np.std(accuracies))
    assert all((out / "folds" / f"fold_{k}" / "model.tympan").is_file() for k in (1, 2, 3))


def test_training_with_augmentation_and_mixup_learns_and_repeats_exactly(clips):
    augment = [{"kind": "noise", "p": 0.5, "snr_db": [10, 30]}, {"kind": "time_shift", "p": 0.5},
               {"kind": "pitch_shift", "p": 0.3, "semitones": [-1, 1]}, {"kind": "spec_augment", "p": 0.5}]
    a, run_a = _fit(clips, augment=augment, mixup=0.2, epochs=5)
    b, run_b = _fit(clips, augment=augment, mixup=0.2, epochs=5)
    _decreases(run_a["history"])
    assert [h["train_loss"] for h in run_a["history"]] == [h["train_loss"] for h in run_b["history"]]
    plain, run_plain = _fit(clips, epochs=5)
    assert run_plain["history"][-1]["train_loss"] != run_a["history"][-1]["train_loss"]  # it did something


def test_batches_augmented_in_several_threads_are_those_of_one_thread_in_order():
    from tympan.augment import build as build_augmentations
    from tympan.train.loop import augmented

    augmentations = build_augmentations([{"kind": "pitch_shift", "p": 0.5, "semitones": [-2, 2]},
                                         {"kind": "time_shift", "p": 0.5, "max_seconds": 0.05},
                                         {"kind": "gain", "p": 0.5}], {}, sr=8000)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(4, 8000, generator=g), torch.randint(0, 2, (4, 25, 3), generator=g).float(), 4)
               for _ in range(7)]
    one, several = (list(augmented(iter(batches), augmentations, 8000, seed=5, frame_samples=320, workers=w))
                    for w in (1, 3))
    assert len(one) == len(several) == 7
    for (waves, targets, _, _), (waves_3, targets_3, _, _) in zip(one, several):
        assert torch.equal(waves, waves_3) and torch.equal(targets, targets_3)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(one, batches))  # it augmented


def test_an_augmentation_against_what_labels_depend_on_is_refused_by_train(digits_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("refused")
    result = tympan_cli("train", "--data", digits_csv, "--out", out, *SMALL, "--set", "data.depends_on=[pitch]",
                        "--set", "augment=[{kind: pitch_shift, p: 0.5}]", env=_env(tmp_path_factory))
    assert result.returncode == 2 and "pitch_shift changes the pitch" in result.stderr


def test_configuration_errors_name_the_option():
    with pytest.raises(ConfigError, match="unknown train option"):
        load_config("fsdd", sets=["train.epoch=3"])
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        parse_set(["epochs=3"])
    with pytest.raises(ConfigError, match="unknown section"):
        load_config("fsdd", sets=["model.kind=cnn"])
    config = load_config("fsdd", model="gru", sets=["network.hidden=32", "train.epochs=2"])
    assert config.network == {"kind": "gru", "hidden": 32} and config.train.epochs == 2
    assert config.frontend["sr"] == 8000  # the FSDD recipe
    # the kind-dependent sections are checked when read, before any data is
    with pytest.raises(ConfigError, match="frontend logmel: unknown option.*n_mfcc"):
        load_config("fsdd", sets=["frontend.kind=logmel", "frontend.n_mfcc=13"])
    with pytest.raises(ConfigError, match="hiden"):
        load_config("fsdd", model="gru", sets=["network.hiden=32"])


def test_one_source_of_defaults():
    """A front-end that names only its kind, the configuration's data section and the defaults module agree."""
    from tympan import defaults
    from tympan.frontend import DEFAULT_FRONTEND, build_frontend
    from tympan.train.config import Config, adapt_to_data

    assert build_frontend({"kind": "logmel"})[1]["sr"] == defaults.SR == DEFAULT_FRONTEND["sr"]
    adapted = adapt_to_data(Config(), [44100], [1.0]).frontend
    assert {k: adapted[k] for k in ("sr", "n_fft", "hop_length", "n_mels")} == \
        {k: DEFAULT_FRONTEND[k] for k in ("sr", "n_fft", "hop_length", "n_mels")}
    assert (Config().data.val_fraction, Config().data.test_fraction) == (defaults.VAL_FRACTION,
                                                                          defaults.TEST_FRACTION)


def tympan_cli(*args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "tympan", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def trained_run(digits_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = tympan_cli("train", "--data", digits_csv, "--out", out, *SMALL, "--json", env=_env(tmp_path_factory))
    return out, result


def test_train_writes_the_model_and_an_honest_report(trained_run):
    out, result = trained_run
    assert result.returncode == 1, result.stderr  # finished, but one file was bad
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert json.loads(result.stdout)["test"] == metrics["test"]
    assert {"accuracy", "macro_f1", "n"} <= set(metrics["test"]) and metrics["test"]["n"] == 18
    assert metrics["val"]["n"] == 18 and metrics["epochs"] == 6 and metrics["train_seconds"] > 0
    assert metrics["config"]["train"]["epochs"] == 6 and metrics["config"]["frontend"]["n_mels"] == 32
    assert [b["path"].endswith("cut.wav") for b in metrics["bad_files"]] == [True]
    assert metrics["test"]["accuracy"] > 0.5  # three digits; chance is 1/3
    for png in ("curves.png", "confusion.png"):
        assert matplotlib.image.imread(out / "report" / png).shape[0] > 200
    html = (out / "report" / "report.html").read_text()
    assert "cut.wav" in html and "data:image/png;base64," in html
    tables = assert_report_shows_metrics(html, metrics)  # the page shows the numbers of metrics.json
    assert [row[0] for row in tables["Per class (test)"][1:]] == list(DIGITS)
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4, 5, 6]
    model = tympan.load_model(out / "model.tympan")
    assert model.classes == list(DIGITS) and model.sr == 8000
    assert model.provenance["dataset"]["fingerprint"] == metrics["dataset"]["fingerprint"]


def test_evaluate_a_saved_model(trained_run, digits_csv, tmp_path_factory, fsdd_dir):
    out, _ = trained_run
    env = _env(tmp_path_factory)
    result = tympan_cli("evaluate", "--model", out / "model.tympan", "--data", digits_csv, "--json", env=env)
    assert result.returncode == 0, result.stderr  # the test split is the one training used, all readable
    report = json.loads(result.stdout)
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert report["test"]["accuracy"] == metrics["test"]["accuracy"]
    assert report["test"]["confusion"] == metrics["test"]["confusion"]
    assert set(report["test"]) >= {"accuracy", "macro_f1", "n", "per_class", "confusion"}
    everything = tympan_cli("evaluate", "--model", out / "model.tympan", "--data", digits_csv, "--split", "all",
                            "--json", env=env)
    assert everything.returncode == 1  # the truncated training file is reported, the rest scored
    report = json.loads(everything.stdout)
    assert report["all"]["n"] == 90 and [b["path"].endswith("cut.wav") for b in report["bad_files"]] == [True]
    other = digits_csv.parent / "more.csv"
    other.write_text(f"path,label\n{fsdd_dir / 'recordings' / '7_george_0.wav'},7\n")
    result = tympan_cli("evaluate", "--model", out / "model.tympan", "--data", other, env=env)
    assert result.returncode == 2 and "not trained on: 7" in result.stderr


# `tympan train`, killed (SIGKILL, as by kill -9) in the middle of its third epoch: after that epoch's first
# training step, once the second epoch's checkpoint and log line are written. The loop runs unchanged; the
# wrappers only choose the moment, which is then the same on a fast machine and on a busy one.
KILLED_IN_EPOCH_3 = """
import os, signal, sys
import tympan.train.loop as loop
from tympan.cli import main

ended, end_epoch, train_step = [], loop.Run.end_epoch, loop.train_step

def end_and_count(run, line):
    end_epoch(run, line)
    ended.append(line["epoch"])

def step_then_die_in_epoch_3(*args, **kwargs):
    result = train_step(*args, **kwargs)
    if ended == [1, 2]:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

loop.Run.end_epoch, loop.train_step = end_and_count, step_then_die_in_epoch_3
sys.exit(main(sys.argv[1:]))
"""


def test_resume_after_kill_ends_with_the_same_metrics(digits_csv, tmp_path_factory, trained_run):
    reference, _ = trained_run  # the same options, never interrupted
    env = _env(tmp_path_factory)
    out = tmp_path_factory.mktemp("killed")
    args = ["train", "--data", str(digits_csv), "--out", str(out), *SMALL, "--json"]
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_EPOCH_3, *args], capture_output=True, text=True,
                            env=env, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    log = out / "log.jsonl"
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [1, 2]
    assert (out / "checkpoints" / "last.pt").exists() and not (out / "model.tympan").exists()
    resumed = tympan_cli(*args, "--resume", env=env)
    assert resumed.returncode == 1, resumed.stderr
    a = json.loads((out / "report" / "metrics.json").read_text())
    b = json.loads((reference / "report" / "metrics.json").read_text())
    assert a["test"] == b["test"] and a["val"] == b["val"]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [1, 2, 3, 4, 5, 6]


def test_two_process_data_parallel_run_matches_one_process(digits_csv, tmp_path_factory, trained_run):
    reference, _ = trained_run
    out = tmp_path_factory.mktemp("ddp")
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "tympan", "train",
                             "--data", str(digits_csv), "--out", str(out), *SMALL, "--json"],
                            capture_output=True, text=True, env={**_env(tmp_path_factory), "OMP_NUM_THREADS": "1"},
                            timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    a = tympan.load_model(out / "model.tympan").state_dict()
    b = tympan.load_model(reference / "model.tympan").state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    ma = json.loads((out / "report" / "metrics.json").read_text())
    mb = json.loads((reference / "report" / "metrics.json").read_text())
    assert ma["test"]["accuracy"] == mb["test"]["accuracy"]
    assert ma["history"][-1]["train_loss"] == pytest.approx(mb["history"][-1]["train_loss"], rel=1e-4)


def test_strict_makes_a_bad_file_an_error(digits_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("strict")
    result = tympan_cli("train", "--data", digits_csv, "--out", out, *SMALL, "--set", "data.strict=true",
                        env=_env(tmp_path_factory))
    assert result.returncode == 2 and "cut.wav" in result.stderr and "Traceback" not in result.stderr
    assert not (out / "model.tympan").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where there is no CUDA device")
def test_asking_for_cuda_without_one_is_a_clear_error(digits_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cuda")
    result = tympan_cli("train", "--data", digits_csv, "--out", out, *SMALL, "--device", "cuda",
                        env=_env(tmp_path_factory))
    assert result.returncode == 2 and "no CUDA device" in result.stderr and "Traceback" not in result.stderr


def test_scan_headers_reports_the_files_it_cannot_read(tmp_path):
    from tympan.data.manifest import BadFile, Item, Manifest
    from tympan.train.data import scan_headers

    expected = make_bad_files(tmp_path)
    write_tone(tmp_path / "good.wav", seconds=0.5, sr=8000)
    paths = sorted(str(p) for p in tmp_path.iterdir())
    manifest = Manifest(str(tmp_path), "csv", [Item(p, ("a",)) for p in paths], ["a"])
    bad = []
    rates, durations = scan_headers(manifest, workers=2, bad=bad)
    # the headers of corrupt.flac and nan.wav are sound (their samples are not): they count, and decoding
    # reports them later
    readable = {"good.wav", "corrupt.flac", "nan.wav"}
    assert rates == [8000] * len(readable) and len(durations) == len(readable)
    assert sorted(Path(b.path).name for b in bad) == sorted(set(expected) - readable)
    for b in bad:
        assert isinstance(b, BadFile) and expected[Path(b.path).name] in b.reason, b
    assert scan_headers(manifest, workers=2) == (rates, durations)  # without a list, the same numbers


def test_a_dataset_without_training_items_is_refused(tmp_path, fsdd_dir):
    (tmp_path / "only-test.csv").write_text(f"path,label,split\n{fsdd_dir / 'recordings' / '0_george_0.wav'},0,test\n")
    with pytest.raises(DatasetError):
        tympan.train.train(tmp_path / "only-test.csv", tmp_path / "out", progress=False)


@pytest.mark.parametrize("recipe", sorted(p.stem for p in RECIPES.glob("*.yaml")))
def test_every_recipe_loads_and_its_augmentations_build(recipe, tmp_path):
    from tympan.augment import build as build_augmentations
    from tympan.train.run import _in_dataset

    config = load_config(recipe)
    make_speech_commands(tmp_path)  # a dataset with background recordings, for {data}
    pipeline = build_augmentations(_in_dataset(config.augment, tmp_path), config.data.depends_on, sr=16000)
    assert len(pipeline) == len(config.augment)
    if recipe in ("esc50", "urbansound8k", "gtzan", "speech_commands"):
        assert pipeline, f"{recipe} has few examples per class and ships augmentation"


def test_the_speech_commands_recipe_mixes_in_the_datasets_background_noise(tmp_path):
    root = make_speech_commands(tmp_path / "sc")
    result = tympan.train.run.train(root, tmp_path / "run", sets=["train.epochs=1", "train.batch_size=4",
                                                                   "network={kind: perceptron}"], progress=False)
    background = next(a for a in result["config"]["augment"] if a["kind"] == "background")
    assert background["folder"] == str(root / "_background_noise_")
    assert result["epochs"] == 1


def test_paths_in_a_configuration_file_are_relative_to_it(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.yaml").write_text(
        "transfer: {init_from: models/source.tympan}\n"
        "augment: [{kind: background, folder: noise}, {kind: background, folder: '{data}/_background_noise_'}]\n")
    config = load_config("csv", tmp_path / "sub" / "run.yaml")
    assert config.transfer.init_from == str(tmp_path / "sub" / "models" / "source.tympan")
    assert [a["folder"] for a in config.augment] == [str(tmp_path / "sub" / "noise"), "{data}/_background_noise_"]
    assert load_config("csv", sets=["transfer.init_from=random:{kind: cnn, channels: [8]}"]).transfer.init_from \
        == "random:{kind: cnn, channels: [8]}"


def test_a_loss_that_becomes_nan_stops_training_at_once_with_a_clear_message(digits_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("diverged")
    result = tympan_cli("train", "--data", digits_csv, "--out", out, *SMALL, "--set", "train.optimizer=sgd",
                        "--set", "train.learning_rate=1e30", "--set", "train.schedule=constant",
                        env=_env(tmp_path_factory))
    assert result.returncode == 2, result.stderr
    message = result.stderr
    assert "training diverged: the loss became" in message and "epoch 1, batch" in message
    assert "--set train.learning_rate=1e+29" in message and "Traceback" not in message
    assert not (out / "model.tympan").exists() and not list(out.rglob("*.tmp-*"))  # nothing half-written
