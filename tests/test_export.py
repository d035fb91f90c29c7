"""Export: the ONNX file run by onnxruntime and the TorchScript file run by torch equal Tympan's own
outputs on real recordings; which kinds export to which format."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import tympan
from tympan.errors import ConfigError
from tympan.predict.export import NO_ONNX, Probabilities, export
from tympan.nn import MODELS
from tympan.nn.classifier import Classifier

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a dev dependency: pip install -e '.[dev]'")
FRONTEND = {"kind": "logmel", "sr": 16000, "n_fft": 512, "hop_length": 160, "n_mels": 40}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = Classifier(FRONTEND, {"kind": "cnn", "channels": [8, 16, 32]}, ["a", "b", "c", "d"], seed=0)
    model.normalize.set_statistics(np.linspace(-60, -30, 40), np.linspace(10, 14, 40))
    path = tmp_path_factory.mktemp("export") / "model.tympan"
    tympan.save_model(model, path)
    return path


def _recordings(example_files, fsdd_dir, sr):
    """Real audio of several lengths: a spoken digit (resampled from 8 kHz) and cuts of the examples."""
    digit, _ = tympan.load(sorted((fsdd_dir / "recordings").glob("*.wav"))[0], sr=sr)
    clips = [digit]
    for path, seconds in zip(example_files[:3], (1.0, 2.5, 4.0)):
        y, _ = tympan.load(path, sr=sr, duration=seconds)
        clips.append(y)
    return clips


def test_onnx_and_torchscript_equal_tympan_on_real_recordings(saved, tmp_path, example_files, fsdd_dir):
    onnx_file, script_file = tmp_path / "model.onnx", tmp_path / "model.pt"
    for fmt, out in (("onnx", onnx_file), ("torchscript", script_file)):
        run = subprocess.run([sys.executable, "-m", "tympan", "export", "--model", str(saved), "--format", fmt,
                              "--out", str(out), "--json"], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        assert json.loads(run.stdout)["out"] == str(out)
    model = tympan.load_model(saved)
    session = ort.InferenceSession(str(onnx_file))
    extra = {"tympan.json": ""}
    script = torch.jit.load(str(script_file), _extra_files=extra)
    assert json.loads(extra["tympan.json"])["classes"] == ["a", "b", "c", "d"]
    metadata = session.get_modelmeta().custom_metadata_map
    assert json.loads(metadata["sr"]) == 16000 and json.loads(metadata["classes"]) == ["a", "b", "c", "d"]
    for y in _recordings(example_files, fsdd_dir, model.sr):  # dynamic length: each its own size
        batch = torch.from_numpy(np.stack([y, 0.5 * y]))  # dynamic batch
        ours = Probabilities(model)(batch).detach().numpy()
        assert np.abs(session.run(None, {"waveform": batch.numpy()})[0] - ours).max() < 1e-4
        assert np.abs(script(batch).detach().numpy() - ours).max() < 1e-4


@pytest.mark.parametrize("kind", sorted(set(MODELS) - {"layers"}))
def test_every_kind_exports_to_torchscript_and_all_but_recurrent_ones_to_onnx(kind, tmp_path):
    frontend = {"kind": "waveform", "sr": 8000} if kind == "cnn1d" else {**FRONTEND, "sr": 8000, "n_fft": 256}
    model = Classifier(frontend, kind, ["x", "y"], seed=0).eval()
    y = torch.randn(2, 8000)
    ours = Probabilities(model)(y).detach().numpy()
    script = torch.jit.load(str(export(model, tmp_path / "m.pt", "torchscript")))
    assert np.abs(script(y).detach().numpy() - ours).max() < 1e-4
    if kind in NO_ONNX:
        with pytest.raises(ConfigError, match="--format torchscript"):
            export(model, tmp_path / "m.onnx", "onnx")
        assert not (tmp_path / "m.onnx").exists()
    # the others share their layers (ONNX export takes seconds); a PANNs MobileNet pools five times, so the
    # graph's least input length is the network's, found by the exporter, not a fixed one
    elif kind in ("cnn", "transformer", "cnn1d", "panns_mobilenetv2"):
        session = ort.InferenceSession(str(export(model, tmp_path / "m.onnx", "onnx")))
        assert np.abs(session.run(None, {"waveform": y.numpy()})[0] - ours).max() < 1e-4
