"""The tympan command, run as a user runs it: a real process, real files, exit codes and output."""

import json
import subprocess
import sys

import matplotlib.image
import pytest

from conftest import make_bad_files, write_tone


def tympan(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tympan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.mark.parametrize("command", [[], ["demo"], ["show"], ["summary"], ["datasets"], ["datasets", "inspect"],
                                     ["datasets", "demo"]])
def test_help_explains_every_option_with_defaults(command):
    result = tympan(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: tympan" in result.stdout
    if command in (["show"], ["datasets", "inspect"], ["demo"]):
        assert "(default:" in result.stdout
    if command == ["datasets", "inspect"]:
        for layout in ("folder", "csv", "fsdd", "esc50", "urbansound8k", "gtzan", "speech_commands"):
            assert layout in result.stdout


def test_inspect_fsdd_json(fsdd_dir):
    result = tympan("datasets", "inspect", fsdd_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n_items"] == 2000 and len(report["classes"]) == 10 and report["n_groups"] == 4
    assert report["splits"] == {"train": 1800, "test": 200}
    assert {"n_items", "classes", "counts", "groups", "bad"} <= set(report)


def test_inspect_reports_bad_files_exits_1_and_strict_exits_2(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        write_tone(tmp_path / "data" / name / "ok.wav")
    reasons = make_bad_files(tmp_path / "data" / "b")
    result = tympan("datasets", "inspect", tmp_path / "data")
    assert result.returncode == 1
    for name, reason in reasons.items():
        assert name in result.stdout and reason in result.stdout
    assert "Traceback" not in result.stderr
    result = tympan("datasets", "inspect", tmp_path / "data", "--strict")
    assert result.returncode == 2 and "--strict" in result.stderr and "Traceback" not in result.stderr


def test_errors_name_the_problem_without_traceback(tmp_path):
    result = tympan("datasets", "inspect", tmp_path / "nowhere")
    assert result.returncode == 2 and "nowhere" in result.stderr and "Traceback" not in result.stderr
    result = tympan("show", tmp_path / "missing.wav")
    assert result.returncode == 2 and "missing.wav: file not found" in result.stderr
    result = tympan("datasets", "inspect", tmp_path, "--option", "nonsense")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_show_draws_a_png(example_files, tmp_path):
    out = tmp_path / "figure.png"
    result = tympan("show", example_files[0], "--out", out, "--duration", "10", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["out"] == str(out)
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 500 and image.shape[1] > 500
    assert image[..., :3].std() > 0.1, "the figure is blank"
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_show_activations_draws_every_function_and_its_derivative(tmp_path):
    result = tympan("show", "activations", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "activations.png"
    assert json.loads(result.stdout)["out"] == "activations.png"
    image = matplotlib.image.imread(out)
    assert image.shape[1] > 1000 and image[..., :3].std() > 0.1


def test_show_augment_writes_each_augmentation_and_a_before_after_figure(example_files, tmp_path):
    result = tympan("show", "augment", example_files[0], "--out", tmp_path / "aug", "--duration", "3", "--json")
    assert result.returncode == 0, result.stderr
    written = {p.rsplit("/", 1)[-1] for p in json.loads(result.stdout)["out"]}
    assert written == {"gain.wav", "noise.wav", "time_shift.wav", "time_stretch.wav", "pitch_shift.wav",
                       "equalize.wav", "reverb.wav", "augmentations.png"}
    assert matplotlib.image.imread(tmp_path / "aug" / "augmentations.png").shape[0] > 1000


def test_demo_trains_on_the_demo_data_and_writes_model_and_report(tmp_path):
    out = tmp_path / "demo"
    result = tympan("demo", "--out", out, "--json", "--set", "train.epochs=2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["classes"]) == 10 and report["dataset"]["n_items"] == 1000 and report["bad_files"] == []
    assert report["epochs"] == 2 and report["test"]["n"] == 200
    for name in ("model.tympan", "log.jsonl", "checkpoints/last.pt", "report/metrics.json", "report/curves.png",
                 "report/confusion.png", "report/report.html"):
        assert (out / name).is_file(), name
    # A second run reuses the data instead of synthesising it again, and says where the results are.
    again = tympan("demo", "--out", out, "--set", "train.epochs=1")
    assert again.returncode == 0 and str(out / "model.tympan") in again.stdout




def test_datasets_demo_writes_soundscapes_with_their_events(tmp_path):
    from tympan.data.layouts import build

    result = tympan("datasets", "demo", "--soundscapes", "--out", tmp_path / "scapes", "--json")
    assert result.returncode == 0, result.stderr
    manifest = build(json.loads(result.stdout)["out"])
    assert {"train", "val", "test"} <= {item.split for item in manifest.items} and not manifest.bad
    assert sum(len(item.events) for item in manifest.items) > len(manifest.items)
