"""tympan lab: each lesson's claim, computed by the real engine (tympan.nn, tympan.train, the demo data).

The fast lessons are checked for seeds 0, 1 and 2; the slow ones (a few dozen seconds: activations,
descent, weights, memory, features) for seed 0, which also draws every figure.
"""

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from tympan.config import read_documents
from tympan.lab import LESSONS, run
from tympan.lab.convolution import lecture_counts
from tympan.nn.classifier import Classifier
from tympan.nn.summary import summary

SEEDS = [0, 1, 2]


def tympan(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tympan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def _figure(path):
    assert path is not None and path.endswith(".png")
    assert matplotlib.image.imread(path).shape[0] > 100


# ------------------------------------------------------------------------------------------- fast, 3 seeds


@pytest.mark.parametrize("seed", SEEDS)
def test_xor_one_unit_learns_and_or_not_but_not_xor_an_mlp_does(seed):
    r = run("xor", None, seed)
    assert r["perceptron"]["AND"] == r["perceptron"]["OR"] == r["perceptron"]["NOT"] == 1.0
    assert r["perceptron"]["XOR"] <= 0.75  # no line separates XOR
    assert r["mlp"]["XOR"] == 1.0
    assert r["holds"] is True and "XOR" in r["verdict"]


@pytest.mark.parametrize("seed", SEEDS)
def test_step_network_loss_never_moves_sigmoid_network_learns(seed):
    r = run("step-vs-sigmoid", None, seed)
    step, sigmoid = r["step"], r["sigmoid"]
    assert step["gradient_norm"] == 0.0 and step["loss_range"] == 0.0
    assert step["loss_first"] == step["loss_last"]
    assert sigmoid["gradient_norm"] > 0 and sigmoid["loss_last"] < 0.5 * sigmoid["loss_first"]
    assert sigmoid["accuracy"] == 1.0 and r["holds"] is True


@pytest.mark.parametrize("seed", SEEDS)
def test_learning_rate_too_small_crawls_good_converges_too_large_overshoots(seed):
    r = run("learning-rate", None, seed)
    small, good, large = (r["rates"][k] for k in ("too small", "good", "too large"))
    assert small["learning_rate"] < good["learning_rate"] < large["learning_rate"]
    assert small["gap"] > 0.25 and small["rises"] == 0  # steady, but far from the minimum
    assert good["gap"] < 0.01
    assert large["highest_loss"] > r["start_loss"] and large["rises"] >= 5
    assert r["holds"] is True


@pytest.mark.parametrize("seed", SEEDS)
def test_depth_sigmoid_gradients_vanish_relu_ones_do_not(seed):
    r = run("depth", None, seed)
    assert len(r["gradient_norms"]["sigmoid"]) == len(r["gradient_norms"]["relu"]) == 11
    assert r["first_to_last"]["sigmoid"] < 0.01 < 0.1 < r["first_to_last"]["relu"]
    assert r["final_loss"]["relu"] < 0.5 * r["final_loss"]["sigmoid"]
    assert r["accuracy"]["relu"] > r["accuracy"]["sigmoid"] and r["holds"] is True


def test_weight_counts_are_the_lectures_and_tympan_summary_agrees():
    counts = lecture_counts()
    assert counts == {"dense": 491520, "locally_connected": 61440, "convolutional": 7680}
    # the same numbers as `tympan summary examples/lecture_weights.yaml`, from the file the README cites
    path = Path(__file__).resolve().parents[1] / "examples" / "lecture_weights.yaml"
    from_file = [summary(Classifier.from_spec(doc))["total_weights"] for doc in read_documents(path)]
    assert from_file == list(counts.values())


# ------------------------------------------------------------------------------- slower: seed 0, figures


def test_activations_every_nonlinearity_bends_linear_cannot_step_never_learns(tmp_path):
    from tympan.nn.activations import names

    r = run("activations", tmp_path, 0)
    assert set(r["final_loss"]) == set(names())
    assert r["step_hidden_weight_change"] == 0.0
    for name, loss in r["final_loss"].items():
        if name not in ("linear", "step"):
            assert loss < r["final_loss"]["linear"] / 5, name
    assert r["holds"] is True
    _figure(r["plot"])


def test_descent_batch_ends_highest_stochastic_costs_most_per_example(tmp_path):
    r = run("descent", tmp_path, 0)
    methods = r["methods"]
    assert [m["batch_size"] for m in methods.values()] == [0, 1, 32, 32]
    assert methods["batch"]["steps"] == 20 and methods["stochastic"]["steps"] == r["examples_seen"]
    assert max(methods, key=lambda k: methods[k]["final_loss"]) == "batch"
    # per example, stochastic descent takes the most steps, each with its fixed cost: counted, not timed, so
    # the check does not depend on how busy the machine is
    assert max(methods, key=lambda k: methods[k]["steps"] / r["examples_seen"]) == "stochastic"
    # the lesson's verdict also times the steps; it holds exactly when the measured cost agrees with the count
    timed = max(methods, key=lambda k: methods[k]["microseconds_per_example"]) == "stochastic"
    assert r["holds"] is timed
    _figure(r["plot"])


def test_weights_cnn_beats_dense_network_with_a_fraction_of_its_weights(tmp_path):
    r = run("weights", tmp_path, 0)
    assert r["weights"] == {"dense": 491520, "locally_connected": 61440, "convolutional": 7680}
    cnn, dense = r["experiment"]["cnn"], r["experiment"]["dense"]
    assert cnn["weights"] < 0.1 * dense["weights"]
    assert cnn["accuracy"] >= dense["accuracy"] and cnn["accuracy"] > 0.5
    assert r["holds"] is True
    _figure(r["plot"])


def test_memory_rnn_forgets_with_distance_lstm_does_not(tmp_path):
    r = run("memory", tmp_path, 0)
    assert r["steps"][0] == 5 and r["steps"][-1] == 100
    rnn, lstm = r["accuracy"]["rnn"], r["accuracy"]["lstm"]
    runs = r["runs"]["rnn"]  # each T's accuracy is the mean of its networks'
    assert len(runs) == 5 and all(len(each) == 3 for each in runs) and abs(rnn[-1] - sum(runs[-1]) / 3) < 1e-3
    assert rnn[0] > 0.95 and rnn[-1] < lstm[-1]  # the RNN learns short memories, loses long ones
    assert rnn[-1] <= rnn[0] - 0.3 and min(lstm) > 0.9
    assert r["holds"] is True
    _figure(r["plot"])


def test_features_saliency_points_at_what_the_cnn_uses(tmp_path):
    r = run("features", tmp_path, 0)
    assert r["accuracy"] > 3 * r["chance"]
    product, plain = r["deletion"]["gradient_x_input"], r["deletion"]["gradient"]
    assert product["salient"] > 2 * product["random"] and plain["salient"] > plain["random"]
    assert r["holds"] is True
    _figure(r["plot"])


def test_conventional_vs_deep_baseline_ahead_with_few_clips_cnn_overtakes(tmp_path):
    r = run("conventional-vs-deep", tmp_path, 0)
    sizes, baseline, cnn = r["sizes"], r["baseline"], r["cnn"]
    assert len(sizes) == len(baseline) == len(cnn) == 4 and sizes == sorted(sizes) and sizes[-1] > 400
    assert cnn[-1] > baseline[-1] and cnn[-1] - baseline[-1] > cnn[0] - baseline[0]  # the CNN's lead grows
    first = sizes.index(r["crossover"])  # from the crossover on, the CNN stays ahead
    assert all(cnn[i] > baseline[i] for i in range(first, 4))
    assert first == 0 or cnn[first - 1] <= baseline[first - 1]
    assert r["holds"] is True
    _figure(r["plot"])
    assert (tmp_path / "runs" / "compare.json").is_file()  # the comparison it ran, for a closer look


def test_conventional_vs_deep_names_every_failed_run():
    from tympan.errors import TympanError
    from tympan.lab.conventional import _every_run

    rows = [{"approach": "MFCC + SVM", "fraction": 0.1, "accuracy": 0.4},
            {"approach": "CNN", "fraction": 0.1, "error": "data.clip_seconds=-1: must be positive"}]
    failed = [{"approach": "CNN", "fraction": 0.1, "error": "data.clip_seconds=-1: must be positive"}]
    with pytest.raises(TympanError) as caught:
        _every_run({"rows": rows, "failed": failed}, Path("/runs"))
    message = str(caught.value)
    assert message.startswith("conventional-vs-deep: 1 of 2 training runs failed") and "/runs" in message
    assert "CNN on 10% of the training split: data.clip_seconds=-1: must be positive" in message
    assert _every_run({"rows": rows[:1], "failed": []}) == {("MFCC + SVM", 0.1): rows[0]}


# ------------------------------------------------------------------------------------------------ command


def test_lab_list_names_every_lesson_with_one_line():
    result = tympan("lab", "--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(LESSONS)
    assert all(len(line.split()) > 4 for line in lines)


def test_lab_xor_json_schema_and_figure(tmp_path):
    result = tympan("lab", "xor", "--json", "--out", tmp_path / "xor")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert set(r["perceptron"]) == {"AND", "OR", "NOT", "XOR"} and set(r["mlp"]) >= {"XOR"}
    assert all(isinstance(v, float) for v in r["perceptron"].values())
    assert r["lesson"] == "xor" and r["seed"] == 0 and isinstance(r["holds"], bool) and r["verdict"]
    assert r["plot"] == str(tmp_path / "xor" / "xor.png")
    _figure(r["plot"])


def test_lab_unknown_lesson_is_a_clear_error_with_exit_code_2(tmp_path):
    result = tympan("lab", "no-such-lesson", cwd=tmp_path)
    assert result.returncode == 2
    assert "no-such-lesson" in result.stderr and "xor" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "lab").exists()
    help_text = tympan("lab", "--help").stdout
    for option in ("--out", "--seed", "--json", "--list", "(default: 0)"):
        assert option in help_text
