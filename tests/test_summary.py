"""Summaries: the lecture's weight counts exactly, MACs against formulas, totals against the parameters."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tympan.config import read_documents
from tympan.nn import MODELS
from tympan.nn.classifier import Classifier
from tympan.nn.summary import format_summary, summary

LECTURE = Path(__file__).resolve().parents[1] / "examples" / "lecture_weights.yaml"


def test_the_lecture_example_counts_exactly():
    specs = read_documents(LECTURE)
    reports = [summary(Classifier.from_spec(spec)) for spec in specs]
    for report in reports:
        assert report["layers"][0]["output_shape"] == [1024, 60]  # 3 s, 20 frames/s, 1,024 bins
        assert report["layers"][1]["output_shape"] == [61440]
    assert [r["total_weights"] for r in reports] == [491_520, 61_440, 7_680]
    assert [r["layers"][-1]["weights"] for r in reports] == [491_520, 61_440, 7_680]
    assert [r["total_biases"] for r in reports] == [8, 8, 1]
    # each unit multiplies its 7,680 or 61,440 inputs once: sharing saves weights, not arithmetic
    assert [r["total_macs"] for r in reports] == [491_520, 61_440, 61_440]


def test_the_cli_prints_the_lecture_numbers(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", str(LECTURE)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for number in ("491,520", "61,440", "7,680"):
        assert f"total: {number} weights" in run.stdout
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", str(LECTURE), "--json"],
                         capture_output=True, text=True)
    reports = json.loads(run.stdout)
    assert [r["total_weights"] for r in reports] == [491_520, 61_440, 7_680]
    for r in reports:
        assert r["schema"] == "tympan.summary/1"
        assert {"total_weights", "total_biases", "layers"} <= set(r)
        for layer in r["layers"]:
            assert set(layer) >= {"name", "output_shape", "weights", "biases", "macs"}


@pytest.mark.parametrize("kind", sorted(k for k in MODELS if not k.startswith("panns_")))  # in test_panns.py
def test_totals_add_up_to_the_parameters_of_the_model(kind):
    frontend = {"kind": "waveform", "sr": 16000} if kind == "cnn1d" else None
    network = {"kind": "layers", "layers": [{"kind": "global_pool"}]} if kind == "layers" else kind
    model = Classifier(frontend, network, classes=list("abcde"), seed=0)
    s = summary(model)
    parameters = sum(p.numel() for p in model.parameters())
    assert s["total_parameters"] == parameters == s["total_weights"] + s["total_biases"]
    assert sum(r["weights"] + r["biases"] for r in s["layers"]) == parameters
    assert s["layers"][-1]["output_shape"] == [5]
    assert s["total_macs"] > 0 and "total:" in format_summary(s)


def test_macs_match_the_formulas_for_dense_convolution_and_recurrent_layers():
    frontend = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}  # 101 frames in 1 s
    conv = summary(Classifier(frontend, {"kind": "cnn", "channels": [4], "hidden": [16]}, list("ab")))
    rows = {r["name"]: r for r in conv["layers"]}
    assert rows["conv2d"]["output_shape"] == [4, 16, 51]
    assert rows["conv2d"]["macs"] == 3 * 3 * 1 * 4 * 32 * 101  # kernel x in x out x positions (before pooling)
    assert rows["dense"]["macs"] == 4 * 16 and rows["output"]["macs"] == 16 * 2
    gru = summary(Classifier(frontend, {"kind": "gru", "hidden": 8, "layers": 1, "bidirectional": False}, ["a", "b"]))
    assert gru["layers"][1]["macs"] == 3 * 8 * (32 + 8) * 101  # gates x hidden x (inputs + hidden) x frames
    lstm = summary(Classifier(frontend, {"kind": "lstm", "hidden": 8, "layers": 1, "bidirectional": True}, ["a", "b"]))
    assert lstm["layers"][1]["macs"] == 4 * 8 * (32 + 8) * 101 * 2


def test_input_seconds_changes_shapes_and_macs_but_not_weights():
    model = Classifier(None, "crnn", classes=list("ab"))
    one, three = summary(model, 1.0), summary(model, 3.0)
    assert one["total_weights"] == three["total_weights"]
    assert one["layers"][0]["output_shape"] == [64, 101] and three["layers"][0]["output_shape"] == [64, 301]
    assert three["total_macs"] > 2.5 * one["total_macs"]


def test_summary_cli_on_kinds_and_errors():
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", "gru", "--input-seconds", "2", "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["layers"][0]["output_shape"] == [64, 201]
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", "no-such-thing"], capture_output=True, text=True)
    assert run.returncode == 2 and "not a network kind" in run.stderr and "Traceback" not in run.stderr
