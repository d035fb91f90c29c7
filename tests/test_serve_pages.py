"""`tympan serve`'s analysis jobs, limits and pages: the real server over HTTP, the pages in a real headless
Chromium (Debian's chromium and chromium-driver, driven by Selenium)."""

import http.client
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tympan.model_file import load_model, save_model
from tympan.nn.classifier import Classifier
from tympan.nn.detector import EventDetector
from tympan.predict import predict_files
from tympan.predict.report import write_csv
from web import chromium, request, screenshot, serving, wait_for

pytest.importorskip("fastapi", reason="tympan serve needs the serve extra (fastapi, uvicorn, python-multipart)")

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
CRNN = {"kind": "crnn", "channels": [8, 8], "pool": [[2, 2], [2, 1]], "hidden": 8}
LONG = "198-209-0000.ogg"  # 13.9 s of speech: several windows, so scores over time and events


@pytest.fixture(scope="module")
def folders(tmp_path_factory, fsdd_dir):
    """Models (a clip classifier and an event detector, random weights: the pages draw whatever they
    score) and a runs folder with one real, small training run."""
    models = tmp_path_factory.mktemp("models")
    save_model(Classifier(FRONTEND, {"kind": "perceptron"}, [str(d) for d in range(10)], 1.0, seed=0),
               models / "digits.tympan", provenance={"metrics": {"test": {"accuracy": 0.5}}})
    save_model(EventDetector(FRONTEND, CRNN, ["speech", "music"], clip_seconds=2.0, seed=0), models / "events.tympan")
    runs = tmp_path_factory.mktemp("runs")
    rows = ["path,label,split,group"] + [
        f"{fsdd_dir / 'recordings' / f'{d}_{s}_{i}.wav'},{d},{'test' if s == 'lucas' else 'train'},{s}"
        for d in "012" for s in ("george", "jackson", "lucas") for i in range(6)]
    (runs / "digits.csv").write_text("\n".join(rows) + "\n")
    trained = subprocess.run(
        [sys.executable, "-m", "tympan", "train", "--data", str(runs / "digits.csv"), "--out", str(runs / "perceptron"),
         "--set", f"frontend={json.dumps(FRONTEND)}", "--set", "network={kind: perceptron}", "--set",
         "train.epochs=2", "--set", "data.clip_seconds=1.0"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "TYMPAN_CACHE": str(runs / "cache")})
    assert trained.returncode == 0, trained.stderr
    tmp = tmp_path_factory.mktemp("server-tmp")
    return models, runs, tmp


@pytest.fixture(scope="module")
def server(folders):
    models, runs, tmp = folders
    with serving(models, "--runs", str(runs), env={**os.environ, "TMPDIR": str(tmp)}) as base:
        yield base


def _job(base, path, model="digits", name=None):
    status, job = request(f"{base}/api/jobs", {"model": model}, {"file": (name or path.name, path.read_bytes())})
    assert status == 202, job
    seen = []
    while job["status"] in ("queued", "running"):
        time.sleep(0.05)
        job = request(f"{base}/api/jobs/{job['id']}")[1]
        seen.append(job["progress"])
    return job, seen


def test_an_analysis_job_gives_predicts_report_a_view_and_predicts_downloads(server, folders, examples_dir, tmp_path):
    models = folders[0]
    path = examples_dir / LONG
    job, seen = _job(server, path)
    assert job["status"] == "done", job
    assert seen == sorted(seen) and seen[-1] == 1.0  # progress only grows
    report, view = job["result"]["report"], job["result"]["view"]
    direct = predict_files(load_model(models / "digits.tympan"), [path])
    item, expected = report["files"][0], direct["files"][0]
    assert item["file"] == LONG and all(e["file"] == LONG for e in item["events"])  # no server path shown
    assert [t["label"] for t in item["top"]] == [t["label"] for t in expected["top"]]
    assert [(e["start"], e["end"], e["label"]) for e in item["events"]] == \
        [(e["start"], e["end"], e["label"]) for e in expected["events"]]
    assert view["columns"] == 1200 and abs(view["duration"] - expected["duration"]) < 0.01
    assert len(view["waveform"]["max"]) == 1200 and len(view["scores"]["scores"]) == 10
    assert len(view["scores"]["starts"]) == expected["windows"]  # 27 windows fit in 1200 columns unpooled
    import base64
    assert len(base64.b64decode(view["logmel"]["data"])) == 1200 * view["logmel"]["n_mels"]
    # the downloads are what tympan predict --json and --csv write
    status, downloaded = request(f"{server}/api/jobs/{job['id']}/predictions.json")
    assert status == 200 and downloaded == report
    status, text = request(f"{server}/api/jobs/{job['id']}/predictions.csv")
    for row in expected["events"]:
        row["file"] = LONG
    expected["file"] = LONG
    assert status == 200 and text == write_csv(direct, tmp_path / "p.csv").read_text()


def test_an_event_detector_shows_its_frames_and_events(server, examples_dir):
    job, _ = _job(server, examples_dir / LONG, model="events")
    assert job["status"] == "done", job
    report, view = job["result"]["report"], job["result"]["view"]
    assert report["task"] == "events" and report["classes"] == ["speech", "music"]
    scores = view["scores"]
    assert len(scores["scores"]) == 2 and 0 < len(scores["starts"]) <= 1200  # 695 frames of 20 ms
    assert scores["ends"][-1] == pytest.approx(view["duration"], abs=0.05)


def test_limits_refuse_with_clear_statuses_and_leave_nothing_behind(folders, examples_dir, tmp_path):
    models, _, _ = folders
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    long = tmp_path / "long.wav"
    sf.write(long, (0.1 * np.random.default_rng(0).standard_normal(8000 * 50)).astype(np.float32), 8000)  # 800 kB
    with serving(models, "--workers", "1", "--queue", "0", "--max-seconds", "40", "--max-upload-mb", "1",
                 env={**os.environ, "TMPDIR": str(tmp)}) as base:
        # past the decoded-duration cap: 413 before decoding
        status, body = request(f"{base}/api/predict", {"model": "digits"}, {"file": (long.name, long.read_bytes())})
        assert status == 413 and "more than this server's limit of 40 s" in body["detail"]
        # a bad recording: 400 naming it; a truncated one likewise
        status, body = request(f"{base}/api/predict", {"model": "digits"}, {"file": ("notes.wav", b"hello" * 100)})
        assert status == 400 and body["detail"].startswith("notes.wav: ")
        whole = (examples_dir / LONG).read_bytes()
        wav = long.read_bytes()
        status, body = request(f"{base}/api/jobs", {"model": "digits"}, {"file": ("cut.wav", wav[:len(wav) // 3])})
        job = body
        while job.get("status") in ("queued", "running"):
            time.sleep(0.05)
            job = request(f"{base}/api/jobs/{job['id']}")[1]
        assert job["status"] == "failed" and "cut.wav: " in job["error"] and "truncated" in job["error"], job
        # options out of range name the field
        status, body = request(f"{base}/api/predict", {"model": "digits", "threshold": "2"},
                               {"file": ("a.wav", b"x")})
        assert status == 422 and "threshold=2" in body["detail"]
        # one worker, no queue: a second job while the first runs gets 503 with Retry-After
        first = request(f"{base}/api/jobs", {"model": "digits"}, {"file": (LONG, whole)})[1]
        status, body = request(f"{base}/api/jobs", {"model": "digits"}, {"file": (LONG, whole)})
        assert status == 503 and "busy" in body["detail"]
        assert request(f"{base}/api/jobs/{first['id']}", method="DELETE")[0] == 200
        # a chunked upload (no length announced) past the cap is refused while it arrives
        host, port = base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.putrequest("POST", "/api/predict")
        connection.putheader("Content-Type", "multipart/form-data; boundary=x")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        try:
            for chunk in [head] + [bytes(65536)] * 40:  # 2.6 MB offered, 1 MB allowed
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server closed the connection once it said no
        response = connection.getresponse()
        assert response.status == 413 and "upload cap" in json.loads(response.read())["detail"]
        connection.close()
        deadline = time.monotonic() + 10
        while request(f"{base}/api/jobs/{first['id']}")[1]["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("tympan-")]  # no upload left behind


def test_a_job_past_its_time_limit_is_stopped(folders, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(8000 * 70, dtype=np.float32), 8000)  # three 30-second blocks: three checks
    with serving(folders[0], "--time-limit", "0.001") as base:
        status, body = request(f"{base}/api/predict", {"model": "digits"}, {"file": (long.name, long.read_bytes())})
    assert status == 504 and "time limit of 0.001 s" in body["detail"]


def test_the_analysis_page_shows_labels_timeline_and_plays_from_a_click(server, examples_dir, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with chromium(1280, 1400) as driver:
        driver.get(f"{server}/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), message="no models listed")
        driver.find_element(By.ID, "file").send_keys(str(examples_dir / LONG))
        wait_for(driver, lambda d: d.find_element(By.ID, "results").is_displayed() or d.find_element(By.ID, "error").text)
        assert driver.find_element(By.ID, "error").text == ""
        labels = driver.find_elements(By.CSS_SELECTOR, "#labels tr.label")
        assert len(labels) == 3 and driver.find_element(By.ID, "file-name").text == LONG
        assert driver.find_element(By.ID, "heatmap-track").is_displayed()
        assert driver.find_element(By.ID, "events-track").is_displayed()
        assert "event(s)" in driver.find_element(By.ID, "events-note").text
        wait_for(driver, lambda d: d.execute_script("return document.getElementById('audio').readyState >= 1"),
                 message="the recording did not load for playback")
        timeline = driver.find_element(By.ID, "events")
        width = timeline.size["width"]
        # half-way along the plot (the class names take the first 110 px)
        ActionChains(driver).move_to_element_with_offset(timeline, int((110 + (width - 110) / 2) - width / 2), 0) \
            .click().perform()
        time.sleep(0.3)
        cursor = float(driver.find_element(By.ID, "cursor").get_attribute("data-time"))
        assert 6.0 < cursor < 8.5  # about 13.9 s / 2, and playing on
        assert driver.find_element(By.ID, "download-csv").get_attribute("href").endswith("predictions.csv")
        screenshot(driver, "analysis")
        # a bad upload shows its error
        bad = tmp_path / "notes.wav"
        bad.write_text("this is not audio\n" * 50)
        driver.find_element(By.ID, "file").send_keys(str(bad))
        error = wait_for(driver, lambda d: d.find_element(By.ID, "error").text)
        assert error.startswith("notes.wav: ") and not driver.find_element(By.ID, "results").is_displayed()
        screenshot(driver, "analysis-error")
        # the (fake) microphone: record, stop, and the recording is analysed
        driver.find_element(By.ID, "record").click()
        wait_for(driver, lambda d: "Stop" in d.find_element(By.ID, "record").text, message="recording did not start")
        time.sleep(1.5)
        driver.find_element(By.ID, "record").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "file-name").text.startswith("recording-"),
                 message="the recording was not analysed")
        assert driver.find_element(By.ID, "error").text == ""


def test_the_runs_page_shows_metrics_side_by_side_and_opens_reports(server, folders):
    from selenium.webdriver.common.by import By

    metrics = json.loads((folders[1] / "perceptron" / "report" / "metrics.json").read_text())
    with chromium() as driver:
        driver.get(f"{server}/runs")
        row = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#runs tr[data-run='perceptron']"))[0]
        cell = row.find_element(By.CSS_SELECTOR, "td[data-metric='accuracy']")
        assert cell.text == f"{metrics['test']['accuracy']:.3f}"
        assert "new groups (held out)" in row.text  # lucas is only in test
        screenshot(driver, "runs")
        row.find_element(By.TAG_NAME, "a").click()
        wait_for(driver, lambda d: "perceptron" in d.current_url and d.find_elements(By.TAG_NAME, "img"))
    status, listed = request(f"{server}/api/runs")
    assert status == 200 and [r["name"] for r in listed] == ["perceptron"]
    assert request(f"{server}/runs/..%2F..%2Fetc/report.html")[0] == 404


def test_clips_posted_at_once_are_batched_and_each_gets_its_own_answer(server, folders, fsdd_dir):
    from concurrent.futures import ThreadPoolExecutor

    wavs = sorted((fsdd_dir / "recordings").glob("*_jackson_*.wav"))[:12]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda w: request(f"{server}/api/predict", {"model": "digits", "top_k": "10"},
                                                  {"file": (w.name, w.read_bytes())}), wavs))
    direct = predict_files(load_model(folders[0] / "digits.tympan"), wavs, top=10)
    for wav, (status, report), expected in zip(wavs, answers, direct["files"]):
        assert status == 200, report
        assert [i["file"] for i in report["files"]] == [wav.name] and report["bad"] == []
        assert {t["label"]: t["score"] for t in report["files"][0]["top"]} == \
            pytest.approx({t["label"]: t["score"] for t in expected["top"]}, abs=2e-4)
