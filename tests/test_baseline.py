"""The conventional baseline on real recordings: MFCC statistics (deltas checked against librosa), the
classifiers, grouped cross-validation on the training split, and the same splits and report as training."""

import json
import subprocess
import sys

import librosa
import matplotlib.image
import numpy as np
import pytest
import torch

from tympan.train.baseline import baseline, delta, mfcc_statistics
from tympan.errors import ConfigError
from tympan.frontend import MFCC
from tympan.train.run import train

from conftest import assert_report_shows_metrics

DIGITS, SPEAKERS = ("0", "1", "2", "3"), ("george", "jackson", "lucas", "nicolas")


@pytest.fixture(scope="module")
def digits(fsdd_dir, tmp_path_factory):
    """160 recordings: four digits by four speakers, the speaker as the group; no split column."""
    folder = tmp_path_factory.mktemp("baseline")
    rows = ["path,label,group"] + [f"{fsdd_dir / 'recordings' / f'{d}_{s}_{i}.wav'},{d},{s}"
                                   for d in DIGITS for s in SPEAKERS for i in range(10)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return folder / "data.csv"


@pytest.fixture(scope="module")
def digits_by_take(fsdd_dir, tmp_path_factory):
    """The same recordings split by take (0-1 test, 2 validation), so every speaker is in every split."""
    folder = tmp_path_factory.mktemp("by_take")
    rows = ["path,label,split"] + [
        f"{fsdd_dir / 'recordings' / f'{d}_{s}_{i}.wav'},{d},{'test' if i < 2 else 'val' if i < 3 else 'train'}"
        for d in DIGITS for s in SPEAKERS for i in range(10)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return folder / "data.csv"


def test_deltas_equal_librosa_away_from_the_edges():
    x = np.random.default_rng(0).standard_normal((5, 60)).astype(np.float32)
    ours = delta(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours[:, 4:-4], librosa.feature.delta(x)[:, 4:-4], atol=1e-5)
    # the second deltas are the deltas of the deltas (HTK's acceleration coefficients)
    np.testing.assert_allclose(delta(torch.from_numpy(ours)).numpy()[:, 8:-8],
                               librosa.feature.delta(librosa.feature.delta(x))[:, 8:-8], atol=1e-5)


def test_mfcc_statistics_are_the_mean_and_std_of_mfccs_and_their_deltas(fsdd_dir):
    y = librosa.load(fsdd_dir / "recordings" / "7_lucas_3.wav", sr=None)[0]
    features = mfcc_statistics([y], sr=8000, n_mfcc=13, n_fft=256, hop_length=80, n_mels=40)
    assert features.shape == (1, 78)
    m = MFCC(sr=8000, n_mfcc=13, n_fft=256, hop_length=80, n_mels=40)(torch.from_numpy(y)).double().numpy()
    np.testing.assert_allclose(features[0, :13], m.mean(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[0, 39:52], m.std(axis=1), rtol=1e-5, atol=1e-5)


def test_baseline_uses_the_training_splits_of_train_and_its_report(digits, tmp_path):
    result = baseline(digits, tmp_path / "svm", progress=False)
    assert result["baseline"]["classifier"] == "svm" and result["baseline"]["n_features"] == 120
    # the grid was searched on the training split, in folds that keep each speaker together
    assert result["baseline"]["cv_grouped"] and result["baseline"]["cv_folds"] >= 2
    assert set(result["baseline"]["chosen"]) == {"svc__C", "svc__gamma"}
    # speakers are groups, so the test speaker is one the classifier never heard: well above chance (1/4),
    # far below the same-speaker accuracy
    assert result["test"]["accuracy"] > 0.35 and result["test"]["n"] == result["dataset"]["splits"]["test"]
    metrics = json.loads((tmp_path / "svm" / "report" / "metrics.json").read_text())
    assert metrics["test"] == json.loads(json.dumps(result["test"]))
    assert matplotlib.image.imread(tmp_path / "svm" / "report" / "confusion.png").shape[0] > 200
    assert_report_shows_metrics((tmp_path / "svm" / "report" / "report.html").read_text(), metrics)
    # the same recordings in the same splits as a network trained on the same data
    trained = train(digits, tmp_path / "net", sets=["train.epochs=1", "network={kind: perceptron}",
                                                     "data.clip_seconds=1.0"], progress=False)
    assert trained["dataset"]["fingerprint"] == result["dataset"]["fingerprint"]
    assert trained["dataset"]["splits"] == result["dataset"]["splits"]


@pytest.mark.parametrize("classifier", ["rf", "knn"])
def test_the_other_classifiers_from_the_command_line(digits_by_take, tmp_path, classifier):
    run = subprocess.run([sys.executable, "-m", "tympan", "baseline", "--data", digits_by_take, "--out", tmp_path,
                          "--classifier", classifier, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["baseline"]["classifier"] == classifier and not result["baseline"]["cv_grouped"]
    assert result["test"]["accuracy"] > 0.6 and result["test"]["n"] == 32
    assert (tmp_path / "report" / "report.html").is_file()


def test_an_unknown_classifier_is_refused(digits, tmp_path):
    with pytest.raises(ConfigError, match="svm, rf, knn"):
        baseline(digits, tmp_path, classifier="xgboost", progress=False)
    run = subprocess.run([sys.executable, "-m", "tympan", "baseline", "--data", digits, "--out", tmp_path,
                          "--classifier", "tree"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "invalid choice" in run.stderr
