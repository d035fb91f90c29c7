"""The model file: save -> load -> predict gives identical outputs; every kind of bad file is refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import tympan
from tympan.errors import AudioError, ConfigError, ModelFileError
from tympan.nn.classifier import Classifier

FRONTEND = {"kind": "logmel", "sr": 16000, "n_fft": 512, "hop_length": 160, "n_mels": 40}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small CRNN with non-default normalisation and batch-norm statistics, saved."""
    model = Classifier(FRONTEND, {"kind": "crnn", "channels": [8, 16], "hidden": 16}, classes=["dog", "rain", "bell"],
                       clip_seconds=1.0, seed=0)
    model.normalize.set_statistics(np.linspace(-60, -20, 40), np.linspace(8, 12, 40))
    model.train()
    model(torch.randn(8, 16000))  # moves the batch-norm running statistics away from their start
    model.eval()
    path = tmp_path_factory.mktemp("model") / "model.tympan"
    tympan.save_model(model, path, provenance={"dataset": "fingerprint-123", "metrics": {"accuracy": 0.5}})
    return model, path


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}


def test_save_load_predict_round_trip_is_identical(trained, fsdd_dir, example_files):
    model, path = trained
    loaded = tympan.load_model(path)
    assert loaded.classes == ["dog", "rain", "bell"] and loaded.sr == 16000 and loaded.clip_seconds == 1.0
    assert loaded.provenance["dataset"] == "fingerprint-123"
    assert loaded.provenance["tympan_version"] == tympan.__version__
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    y = torch.randn(4, 16000)
    assert torch.equal(model(y), loaded(y))
    # real recordings: an 8 kHz spoken digit (resampled, padded) and a long Ogg (windows)
    digit = sorted(fsdd_dir.rglob("*.wav"))[0]
    for recording in (digit, example_files[0]):
        p = loaded.predict(recording)
        assert p.shape == (3,) and np.isclose(p.sum(), 1.0, atol=1e-5)
        assert np.array_equal(p, model.predict(recording))


def test_predict_takes_waveforms_at_any_rate_and_checks_them(trained):
    model, _ = trained
    y = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    at_44k = model.predict(y, sr=44100)
    at_16k = model.predict(tympan.audio.resample(y, 44100, 16000), sr=16000)
    assert np.allclose(at_44k, at_16k, atol=1e-6)
    stereo = np.stack([y, y])
    assert np.allclose(model.predict(stereo, sr=44100), at_44k, atol=1e-6)
    with pytest.raises(ConfigError, match="pass sr="):
        model.predict(y)
    for sr in (0, -16000, "16000"):  # the option named, and what it must be
        with pytest.raises(ConfigError, match=r"predict: sr=.*must be a positive number of Hz"):
            model.predict(y, sr=sr)
    # a bad waveform is bad audio: an AudioError that says what is wrong with the samples, without a path
    stereo_with_nan = np.stack([y[:100], np.full(100, np.nan, np.float32)])
    with pytest.raises(AudioError, match=r"predict: the waveform has 100 NaN or infinite samples of 200") as caught:
        model.predict(stereo_with_nan, sr=16000)
    assert caught.value.path is None and str(caught.value) == caught.value.reason
    with pytest.raises(AudioError, match=r"waveform has shape \(0,\); pass a non-empty"):
        model.predict(np.zeros(0, np.float32), sr=16000)
    with pytest.raises(AudioError, match=r"waveform has shape \(1, 2, 100\); pass a non-empty 1-D"):
        model.predict(np.zeros((1, 2, 100), np.float32), sr=16000)
    with pytest.raises(AudioError, match="neither a path nor an array of samples"):
        model.predict([[0.0, 0.1], [0.2]], sr=16000)


def test_long_audio_is_scored_in_overlapping_clip_windows(trained):
    model, _ = trained
    y = torch.arange(40000, dtype=torch.float32)
    windows = model.windows(y)  # 16,000-sample clips every 8,000, the last ending at the end
    assert windows.shape == (4, 16000)
    assert windows[1, 0] == 8000 and windows[-1, -1] == 39999
    short = model.windows(torch.ones(100))
    assert short.shape == (1, 16000) and short[0, 100:].abs().sum() == 0


def test_multi_label_models_score_each_class_with_a_sigmoid():
    model = Classifier(FRONTEND, "perceptron", classes=["a", "b", "c"], multi_label=True, seed=0)
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    assert torch.allclose(model.scores(logits), torch.sigmoid(logits))


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        tympan.load_model(tmp_path / "nothing.tympan")


@pytest.mark.parametrize("keep", [4, 100, 0.5, 0.99])
def test_truncated_files_are_refused(trained, tmp_path, keep):
    _, path = trained
    data = path.read_bytes()
    cut = tmp_path / "cut.tympan"
    cut.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(ModelFileError, match="truncated|damaged"):
        tympan.load_model(cut)


@pytest.mark.parametrize("where, message", [
    (slice(-1000, -999), "corrupted"),  # one byte of the weights: bit rot
    (slice(20, 40), "damaged"),  # inside the JSON header
])
def test_damaged_bytes_are_found(trained, tmp_path, where, message):
    _, path = trained
    data = bytearray(path.read_bytes())
    data[where] = bytes(b ^ 0x40 for b in data[where])
    bad = tmp_path / "damaged.tympan"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=message):
        tympan.load_model(bad)


def test_a_pickle_is_refused_without_being_unpickled(trained, tmp_path):
    model, _ = trained
    canary = tmp_path / "pwned"

    class Payload:  # what a malicious pickle does: run code when loaded
        def __reduce__(self):
            return (canary.write_text, ("ran",))

    for name, obj in (("state.tympan", model.state_dict()), ("payload.tympan", Payload())):
        torch.save(obj, tmp_path / name)
        with pytest.raises(ModelFileError, match="never unpickles"):
            tympan.load_model(tmp_path / name)
    import pickle
    (tmp_path / "raw.tympan").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelFileError, match="pickle"):
        tympan.load_model(tmp_path / "raw.tympan")
    assert not canary.exists()


def _tamper(trained, tmp_path, change_tensors=None, change_document=None, keep_digest=True):
    _, path = trained
    metadata, tensors = _read(path)
    document = json.loads(metadata["tympan"])
    if change_tensors:
        change_tensors(tensors)
    if change_document:
        change_document(document)
    out = tmp_path / "tampered.tympan"
    save_file(tensors, str(out), metadata={"tympan": json.dumps(document)})
    return out


@pytest.mark.parametrize("change, message", [
    (lambda t: t.__setitem__("network.layers.output.linear.weight", torch.zeros(5, 32)), "wrong shape"),
    (lambda t: t.pop("normalize.mean"), "missing: normalize.mean"),
    (lambda t: t.__setitem__("extra.payload", torch.zeros(3)), "unexpected: extra.payload"),
    (lambda t: t.__setitem__("normalize.std", t["normalize.std"] * 2), "corrupted"),
    (lambda t: t.__setitem__("normalize.mean", t["normalize.mean"].double()), "wrong shape or type"),
])
def test_tampered_tensors_are_refused(trained, tmp_path, change, message):
    with pytest.raises(ModelFileError, match=message):
        tympan.load_model(_tamper(trained, tmp_path, change_tensors=change))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("classes"), "lacks 'classes'"),
    (lambda d: d.__setitem__("payload", "gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="), "unexpected entries"),
    (lambda d: d.__setitem__("version", 99), "newer than this Tympan"),
    (lambda d: d.__setitem__("sr", "16000"), "'sr' has the wrong type"),
    (lambda d: d.__setitem__("classes", ["dog", "rain", "fire"]), "corrupted"),
    (lambda d: d["network"].__setitem__("kind", "resnet"), "cannot be built"),
])
def test_tampered_descriptions_are_refused(trained, tmp_path, change, message):
    with pytest.raises(ModelFileError, match=message):
        tympan.load_model(_tamper(trained, tmp_path, change_document=change))


def test_a_safetensors_file_that_is_not_a_model_is_refused(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.tympan"))
    with pytest.raises(ModelFileError, match="not a model file"):
        tympan.load_model(tmp_path / "plain.tympan")


def test_saving_replaces_a_file_only_when_complete(trained, tmp_path):
    model, _ = trained
    target = tmp_path / "model.tympan"
    target.write_bytes(b"previous model")
    with pytest.raises(ConfigError, match="JSON"):
        tympan.save_model(model, target, provenance={"not json": object()})
    assert target.read_bytes() == b"previous model" and list(tmp_path.iterdir()) == [target]
    tympan.save_model(model, target)
    assert tympan.load_model(target).classes == model.classes


def test_summary_and_errors_from_the_command_line(trained, tmp_path):
    _, path = trained
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", str(path), "--json"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["total_parameters"] == sum(p.numel() for p in trained[0].parameters())
    (tmp_path / "bad.tympan").write_bytes(b"\x80\x04garbage")
    run = subprocess.run([sys.executable, "-m", "tympan", "summary", str(tmp_path / "bad.tympan")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "never unpickles" in run.stderr and "Traceback" not in run.stderr


def test_a_header_length_that_looks_like_a_pickle_is_still_read(tmp_path):
    # A safetensors file starts with its header's length: its first byte may be 0x80, a pickle's first byte.
    model = Classifier(FRONTEND, "perceptron", classes=["a", "b"], seed=0)
    path = tmp_path / "model.tympan"
    for pad in range(300):
        tympan.save_model(model, path, provenance={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert tympan.load_model(path).classes == ["a", "b"]


def test_crafted_descriptions_are_refused_before_any_large_allocation(trained, tmp_path):
    import resource

    from tympan.model_file import _digest

    _, path = trained
    metadata, tensors = _read(path)
    document = json.loads(metadata["tympan"])
    # a network of 2^33 units in its first layer, with a digest that matches (a digest is no signature)
    document["network"] = {"kind": "mlp", "hidden": [2**33]}
    document["digest"] = _digest(document, tensors)
    out = tmp_path / "huge.tympan"
    save_file(tensors, str(out), metadata={"tympan": json.dumps(document)})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError, match="tensors do not match the network|wrong shape"):
        tympan.load_model(out)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing near 32 GiB
    # a description nested 100,000 deep
    deep = tmp_path / "deep.tympan"
    save_file(tensors, str(deep), metadata={"tympan": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(ModelFileError, match="nested too deeply"):
        tympan.load_model(deep)
