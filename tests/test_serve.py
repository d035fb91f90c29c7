"""`tympan serve`: the real server in its own process, spoken to over HTTP on the loopback address."""

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tympan.model_file import save_model
from tympan.nn.classifier import Classifier
from tympan.predict import predict_files
from web import request as _request
from web import start_server as _start

pytest.importorskip("fastapi", reason="tympan serve needs the serve extra (fastapi, uvicorn, python-multipart)")

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    model = Classifier(FRONTEND, {"kind": "perceptron"}, [str(d) for d in range(10)], 1.0, seed=0)
    save_model(model, folder / "digits.tympan", provenance={"metrics": {"test": {"accuracy": 0.5}}})
    (folder / "broken.tympan").write_bytes(b"not a model")
    return folder


@pytest.fixture(scope="module")
def server(models):
    process, base = _start(models, "--max-upload-mb", "0.1")
    yield base
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def test_health_models_and_openapi_documentation(server):
    assert _request(f"{server}/api/health") == (200, {"status": "ok", "version": _request(f"{server}/api/health")[1]
                                                      ["version"], "models": 2})
    status, listed = _request(f"{server}/api/models")
    by_name = {m["name"]: m for m in listed}
    assert status == 200 and by_name["digits"]["classes"] == [str(d) for d in range(10)]
    assert by_name["digits"]["sr"] == 8000 and by_name["digits"]["metrics"] == {"test": {"accuracy": 0.5}}
    assert "not a model file" in by_name["broken"]["error"] or "truncated" in by_name["broken"]["error"]
    status, spec = _request(f"{server}/openapi.json")
    assert status == 200 and {"/api/predict", "/api/models", "/api/health"} <= set(spec["paths"])
    status, page = _request(f"{server}/docs")
    assert status == 200 and "swagger" in page.lower()


def test_predict_over_http_equals_predict_files(server, models, fsdd_dir):
    from tympan.model_file import load_model

    wav = sorted((fsdd_dir / "recordings").glob("*.wav"))[0]
    status, report = _request(f"{server}/api/predict", {"model": "digits", "top_k": "2"},
                              {"file": (wav.name, wav.read_bytes())})
    assert status == 200, report
    direct = predict_files(load_model(models / "digits.tympan"), [wav], top=2)
    assert report["files"][0]["file"] == wav.name and report["model"] == "digits"
    assert [t["label"] for t in report["files"][0]["top"]] == [t["label"] for t in direct["files"][0]["top"]]
    np.testing.assert_allclose([t["score"] for t in report["files"][0]["top"]],
                               [t["score"] for t in direct["files"][0]["top"]], rtol=1e-6)


def test_bad_requests_get_clear_errors(server, fsdd_dir, tmp_path):
    wav = sorted((fsdd_dir / "recordings").glob("*.wav"))[0]
    status, body = _request(f"{server}/api/predict", {"model": "../digits"}, {"file": (wav.name, wav.read_bytes())})
    assert status == 404 and "no model named '../digits'" in body["detail"]
    status, body = _request(f"{server}/api/predict", {"model": "digits"}, {"file": ("notes.txt", b"hello")})
    assert status == 415 and "notes.txt" in body["detail"]
    status, body = _request(f"{server}/api/predict", {"model": "digits"}, {"file": ("fake.wav", b"RIFF....WAVEjunk")})
    assert status == 400 and "fake.wav" in body["detail"]
    loud = tmp_path / "long.wav"
    sf.write(loud, np.zeros(8000 * 10, dtype=np.float32), 8000)  # 160 kB, over the 0.1 MB cap
    status, body = _request(f"{server}/api/predict", {"model": "digits"}, {"file": (loud.name, loud.read_bytes())})
    assert status == 413 and "upload cap" in body["detail"]  # refused by the copy's count
    # a body announced as 4 GB is refused from its headers, before any of it is sent
    import http.client

    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/api/predict")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(4 << 30))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "upload cap" in json.loads(response.read())["detail"]
    connection.close()
    status, body = _request(f"{server}/api/predict", {"model": "broken"}, {"file": (wav.name, wav.read_bytes())})
    assert status == 500 and "broken" in body["detail"]


def test_a_token_guards_every_request_and_ctrl_c_stops_the_server(models):
    process, base = _start(models, "--token", "s3cret", token="s3cret")
    try:
        assert _request(f"{base}/api/health")[0] == 401
        assert _request(f"{base}/docs")[0] == 401
        assert _request(f"{base}/api/health", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert _request(f"{base}/api/health", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert _request(f"{base}/api/models?token=s3cret")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert "Ctrl-C" in process.stderr.read()


def test_serve_refuses_a_missing_models_folder(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tympan", "serve", "--models", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "no such folder" in run.stderr
