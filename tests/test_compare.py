"""``tympan compare`` on real recordings: several approaches on exactly the same split, the table, the
chart, learning curves on nested subsets of the training data, and a failing approach that does not stop
the others."""

import json
import subprocess
import sys

import matplotlib.image
import pytest

from tympan.train.compare import parse_approaches, subsample
from tympan.data.layouts import build
from tympan.data.splits import assign_splits
from tympan.errors import ConfigError

SMALL = """data: {clip_seconds: 1.0}
frontend: {kind: logmel, sr: 8000, n_fft: 256, hop_length: 80, n_mels: 32}
network: {kind: cnn, channels: [8, 16]}
train: {epochs: 3, batch_size: 16, learning_rate: 0.005, warmup_epochs: 0}
"""
RANDOM = """data: {clip_seconds: 1.0}
frontend: {kind: logmel, sr: 8000, n_fft: 256, hop_length: 80, n_mels: 32}
transfer: {init_from: "random:{kind: cnn, channels: [8, 16, 32]}", head: logistic}
"""


@pytest.fixture(scope="module")
def digits(fsdd_dir, tmp_path_factory):
    """90 recordings of three digits by three speakers (a folder per class, no split)."""
    folder = tmp_path_factory.mktemp("compare")
    for digit in "012":
        (folder / "data" / digit).mkdir(parents=True)
        for speaker in ("george", "jackson", "lucas"):
            for index in range(10):
                name = f"{digit}_{speaker}_{index}.wav"
                (folder / "data" / digit / name).symlink_to(fsdd_dir / "recordings" / name)
    (folder / "small.yaml").write_text(SMALL)
    (folder / "random.yaml").write_text(RANDOM)
    (folder / "broken.yaml").write_text(SMALL.replace("kind: cnn", "kind: resnet"))
    return folder


def test_approaches_are_parsed_and_checked(digits):
    approaches = parse_approaches(["baseline", "baseline:rf", f"net={digits / 'small.yaml'}", "fsdd", "auto"])
    assert [a.label for a in approaches] == ["baseline", "baseline:rf", "net", "fsdd", "auto"]
    assert [a.classifier for a in approaches] == ["svm", "rf", None, None, None]
    assert approaches[1].folder == "baseline_rf"
    with pytest.raises(ConfigError, match="no recipe or configuration file 'nothing.yaml'"):
        parse_approaches(["nothing.yaml"])
    with pytest.raises(ConfigError, match="svm, rf, knn"):
        parse_approaches(["baseline:tree"])
    with pytest.raises(ConfigError, match="distinct labels"):
        parse_approaches(["fsdd", "fsdd"])


def test_subsets_are_stratified_nested_and_leave_val_and_test_alone(digits):
    split = assign_splits(build(digits / "data"), seed=0)
    parts = {f: subsample(split, f, seed=0) for f in (0.1, 0.25, 0.5, 1.0)}
    train = {f: {i.path for i in m.items if i.split == "train"} for f, m in parts.items()}
    assert train[0.1] < train[0.25] < train[0.5] < train[1.0]
    for m in parts.values():
        assert [i.path for i in m.items if i.split != "train"] == [i.path for i in split.items if i.split != "train"]
        assert set(m.subset("train").counts()) == {"0", "1", "2"}  # every class kept


def test_compare_runs_every_approach_on_one_split_with_learning_curves(digits, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "tympan", "compare", "--data", digits / "data", "--out", out,
                          "--recipes", f"baseline,cnn={digits / 'small.yaml'},random={digits / 'random.yaml'}",
                          "--recipes", f"broken={digits / 'broken.yaml'}", "--learning-curve", "0.5,1", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr  # the broken approach
    result = json.loads(run.stdout)
    assert [f["approach"] for f in result["failed"]] == ["broken", "broken"]
    assert "resnet" in result["failed"][0]["error"]
    rows = [r for r in result["rows"] if not r.get("error")]
    assert sorted((r["approach"], r["fraction"]) for r in rows) == sorted(
        (a, f) for a in ("baseline", "cnn", "random") for f in (0.5, 1.0))
    sizes = {r["fraction"]: r["n_train"] for r in rows}
    assert sizes[0.5] < sizes[1.0]
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["train_seconds"] > 0
    # every approach saw the same recordings in the same splits
    for fraction in ("050pct", "100pct"):
        prints = {json.loads((out / fraction / name / "report" / "metrics.json").read_text())["dataset"]["fingerprint"]
                  for name in ("baseline", "cnn", "random")}
        assert len(prints) == 1
    assert next(r for r in rows if r["approach"] == "random" and r["fraction"] == 1.0)["accuracy"] > 0.5
    for picture in ("compare.png", "learning_curve.png"):
        assert matplotlib.image.imread(out / picture).shape[0] > 200
    assert json.loads((out / "compare.json").read_text())["rows"] == result["rows"]
    table = subprocess.run([sys.executable, "-m", "tympan", "compare", "--help"], capture_output=True, text=True)
    assert "--learning-curve" in table.stdout and "baseline:rf" in table.stdout
