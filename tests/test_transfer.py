"""Transfer learning and random-weights networks on real recordings: a CNN trained on three FSDD digits is
the source for three other digits: embeddings, fine-tuning, a frozen backbone, shallow heads stored as the
output layer, and an untrained network as a feature extractor."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import tympan
from tympan.errors import ConfigError
from tympan.nn.classifier import Classifier
from tympan.train.run import train
from tympan.train.transfer import _linear_classifier, parse_init_from

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
QUICK = [f"frontend={json.dumps(FRONTEND)}", "data.clip_seconds=1.0", "train.epochs=4", "train.batch_size=16",
         "train.learning_rate=0.005", "train.warmup_epochs=0", "train.early_stopping=0"]


def _csv(fsdd_dir, folder, digits, speakers=("george", "jackson", "lucas"), per_speaker=8):
    rows = ["path,label,split,group"]
    for digit in digits:
        for speaker in speakers:
            for index in range(per_speaker):
                split = "test" if index < 2 else "val" if index < 3 else "train"
                rows.append(f"{fsdd_dir / 'recordings' / f'{digit}_{speaker}_{index}.wav'},{digit},{split},{speaker}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return folder / "data.csv"


@pytest.fixture(scope="module")
def source(fsdd_dir, tmp_path_factory):
    """A small CNN trained on the digits 0, 1, 2: the other task."""
    folder = tmp_path_factory.mktemp("source")
    data = _csv(fsdd_dir, folder, ("0", "1", "2"), per_speaker=12)
    train(data, folder / "run", sets=[*QUICK, "network={kind: cnn, channels: [8, 16, 32]}", "train.epochs=6"],
          progress=False)
    return folder / "run" / "model.tympan"


@pytest.fixture(scope="module")
def target(fsdd_dir, tmp_path_factory):
    """The digits 5, 6, 7: other classes, few recordings."""
    return _csv(fsdd_dir, tmp_path_factory.mktemp("target"), ("5", "6", "7"))


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_embedding_is_what_the_output_layer_sees(source, fsdd_dir):
    model = tympan.load_model(source)
    y, _ = tympan.load(fsdd_dir / "recordings" / "3_nicolas_0.wav", sr=model.sr)
    clip = torch.from_numpy(model.windows(torch.from_numpy(y))[0].numpy())[None]
    embedding = model.embed(clip)
    assert embedding.shape == (1, model.network.embedding_size) == (1, 32)  # the last convolution's 32 maps, pooled over time and frequency
    torch.testing.assert_close(model.network.layers[-1](embedding), model(clip))
    # a long recording: the mean of its windows' embeddings
    long = np.concatenate([y] * 5)
    windows = model.windows(torch.from_numpy(long))
    assert len(windows) > 2
    with torch.no_grad():
        torch.testing.assert_close(model.embed_waveforms([long])[0], model.embed(windows).mean(dim=0))


def test_tympan_embed_writes_npy_and_csv_and_lists_bad_files(source, fsdd_dir, examples_dir, tmp_path):
    files = [fsdd_dir / "recordings" / f"{d}_jackson_20.wav" for d in "345"]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(files[0].read_bytes()[:30])
    long = sorted(examples_dir.glob("*.ogg"))[0]
    out = tmp_path / "emb.npy"
    run = subprocess.run([sys.executable, "-m", "tympan", "embed", "--model", source, *files, long, broken,
                          "--out", out, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr  # the broken file
    report = json.loads(run.stdout)
    assert report["files"] == [str(p) for p in [*files, long]] and report["embedding_size"] == 32
    assert [b["path"] for b in report["bad"]] == [str(broken)]
    matrix = np.load(out)
    assert matrix.shape == (4, 32) and matrix.dtype == np.float32
    assert (tmp_path / "emb.files.txt").read_text().splitlines() == report["files"]
    model = tympan.load_model(source)
    expected = model.embed_waveforms([tympan.load(f, sr=model.sr)[0] for f in files]).numpy()
    np.testing.assert_allclose(matrix[:3], expected, rtol=1e-4, atol=1e-5)
    run = subprocess.run([sys.executable, "-m", "tympan", "embed", "--model", source, *files,
                          "--out", tmp_path / "emb.csv"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = (tmp_path / "emb.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["path", "e0", "e1"] and len(lines) == 4
    np.testing.assert_allclose([float(v) for v in lines[1].split(",")[1:]], matrix[0], rtol=1e-5, atol=1e-6)


def test_fine_tuning_replaces_the_head_and_starts_from_the_source(source, target, tmp_path):
    trained = tympan.load_model(source)
    result = train(target, tmp_path / "fine", sets=[*QUICK, f"transfer.init_from={source}", "train.epochs=12"],
                   progress=False)
    model = tympan.load_model(tmp_path / "fine" / "model.tympan")
    assert model.classes == ["5", "6", "7"] and model.network.layers.output.linear.out_features == 3
    assert result["config"]["network"] == trained.network_spec.to_dict()  # the source's, not the recipe's
    assert result["config"]["frontend"] == trained.frontend_config
    assert result["config"]["transfer"]["freeze"] == "none"
    first = model.network.layers[0].block[0].weight
    assert not torch.equal(first, trained.network.layers[0].block[0].weight)  # fine-tuned
    assert result["test"]["accuracy"] > 0.5  # three digits: chance is 1/3


def test_a_frozen_backbone_keeps_the_source_weights(source, target, tmp_path):
    trained = tympan.load_model(source)
    train(target, tmp_path / "frozen", sets=[*QUICK, f"transfer.init_from={source}", "transfer.freeze=backbone",
                                             "train.precise_bn=false"], progress=False)
    model = tympan.load_model(tmp_path / "frozen" / "model.tympan")
    theirs = trained.state_dict()
    for name, tensor in model.state_dict().items():
        if name.startswith("network.layers.output"):
            assert tensor.shape[0] == 3
        elif name.startswith("network."):
            assert torch.equal(tensor, theirs[name]), name  # weights and batch-norm statistics alike


@pytest.mark.parametrize("head", ["logistic", "svm"])
def test_a_shallow_head_is_stored_as_the_output_layer_and_predicts(source, target, tmp_path, head):
    out = tmp_path / head
    run = subprocess.run([sys.executable, "-m", "tympan", "train", "--data", target, "--out", out,
                          *[a for s in QUICK for a in ("--set", s)], "--init-from", str(source), "--freeze",
                          "backbone", "--head", head, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["head"]["classifier"] == head and result["head"]["C"] in (0.01, 0.1, 1.0, 10.0)
    assert result["epochs"] == 0 and result["head"]["examples"] >= 45  # 3 digits x 3 speakers x 5, a window or more each
    assert result["test"]["accuracy"] > 0.5
    raw = (out / "model.tympan").read_bytes()
    assert raw[8:9] == b"{" and b"sklearn" not in raw  # safetensors, no pickled estimator
    model = tympan.load_model(out / "model.tympan")
    evaluated = tympan.train.run.evaluate(out / "model.tympan", target, progress=False)
    assert evaluated["test"]["accuracy"] == pytest.approx(result["test"]["accuracy"])
    probabilities = model.predict(_first_test(target))
    assert probabilities.shape == (3,) and abs(probabilities.sum() - 1) < 1e-5


def _first_test(csv):
    return next(line.split(",")[0] for line in csv.read_text().splitlines()[1:] if ",test," in line)


def test_an_untrained_network_as_a_feature_extractor(target, tmp_path):
    spec = "random:{kind: cnn, channels: [8, 16, 32]}"
    result = train(target, tmp_path / "random", sets=[*QUICK, f"transfer.init_from={spec}",
                                                      "transfer.head=logistic"], progress=False)
    assert result["config"]["network"]["init"] == "random-frozen" and result["head"]["classifier"] == "logistic"
    assert result["test"]["accuracy"] > 0.5
    model = tympan.load_model(tmp_path / "random" / "model.tympan")
    fresh = Classifier(FRONTEND, {"kind": "cnn", "channels": [8, 16, 32], "init": "random-frozen"}, ["5", "6", "7"],
                       1.0, seed=0)
    # the convolutions are the random ones of the seed, untouched; only the output layer learned
    torch.testing.assert_close(model.network.layers[0].block[0].weight, fresh.network.layers[0].block[0].weight)
    # and with the output layer trained by gradient descent, the backbone does not move either
    train(target, tmp_path / "random_sgd", sets=[*QUICK, f"transfer.init_from={spec}", "train.precise_bn=false"],
          progress=False)
    moved = tympan.load_model(tmp_path / "random_sgd" / "model.tympan")
    for name, tensor in moved.state_dict().items():
        if name.startswith("network.") and not name.startswith("network.layers.output"):
            assert torch.equal(tensor, fresh.state_dict()[name]), name


def test_linear_heads_fold_the_standardisation_and_match_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    for n_classes in (2, 4):
        Z = rng.standard_normal((120, 6))
        labels = (Z[:, 0] + 0.5 * Z[:, 1] > 0).astype(int) if n_classes == 2 else rng.integers(0, 4, 120)
        groups = np.arange(120)
        weight, bias, info = _linear_classifier(Z, labels, groups, n_classes, False, "logistic", 0)
        reference = LogisticRegression(C=info["C"], max_iter=3000).fit(Z, labels)
        ours = torch.softmax(torch.from_numpy(Z @ weight.T + bias), dim=1).numpy()
        np.testing.assert_allclose(ours, reference.predict_proba(Z), atol=1e-6)
        weight, bias, info = _linear_classifier(Z, labels, groups, n_classes, False, "svm", 0)
        assert info["temperature"] > 0
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=info["C"], max_iter=20000, random_state=0).fit(Z, labels)
        assert ((Z @ weight.T + bias).argmax(axis=1) == svm.predict(Z)).all()


def test_transfer_options_are_checked(target, tmp_path):
    with pytest.raises(ConfigError, match="--init-from"):
        train(target, tmp_path / "a", sets=[*QUICK, "transfer.head=logistic"], progress=False)
    with pytest.raises(ConfigError, match="no such model file"):
        train(target, tmp_path / "b", sets=[*QUICK, f"transfer.init_from={tmp_path / 'missing.tympan'}"],
              progress=False)
    with pytest.raises(ConfigError, match="freeze=backbone"):
        train(target, tmp_path / "c", sets=[*QUICK, "transfer.init_from=random:cnn", "transfer.freeze=none",
                                            "transfer.head=svm"], progress=False)
    with pytest.raises(ConfigError, match="kind"):
        parse_init_from("random:{kind: resnet}")
    assert parse_init_from("random:gru")[1]["kind"] == "gru"
