"""The corpus of hostile inputs (``hostile.py``) through the entry points: each bad item listed with its
reason, the good ones processed, the documented exit code, and memory bounded (a ten-hour recording is
streamed, or read through the decode cache's memory map, never held whole)."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from hostile import LOCKED, TEN_HOURS, as_a_user, commands_obey_permissions, make_corpus
from tympan.model_file import save_model
from tympan.nn.classifier import Classifier
from web import request, serving

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
# the command, then its own peak resident memory on stderr: the measure of "bounded"
# VmHWM, the peak of this program's own memory map: getrusage's ru_maxrss also keeps the peak of the process
# image before exec, which a forked child shares with pytest (gigabytes late in the suite)
MEASURED = ("import sys\nfrom tympan.cli import main\ncode = main(sys.argv[1:])\n"
            "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
            "print('peak-rss-kb', peak, file=sys.stderr)\nsys.exit(code)")
# Training and evaluation read a long recording through the decode cache's memory map, whose pages count in
# the resident set but are page cache the kernel takes back: what they must bound is the process's own
# (anonymous) memory, sampled here every 20 ms.
MEASURED_ANONYMOUS = (
    "import sys, threading, time\npeak = [0]\n"
    "def watch():\n"
    "    while True:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('RssAnon:'):\n"
    "                peak[0] = max(peak[0], int(line.split()[1]))\n"
    "        time.sleep(0.02)\n"
    "threading.Thread(target=watch, daemon=True).start()\n"
    "from tympan.cli import main\ncode = main(sys.argv[1:])\n"
    "print('peak-rss-kb', peak[0], file=sys.stderr)\nsys.exit(code)")
MEMORY_KB = 1_500_000  # ten hours at 8 kHz held as float32 would be 1.15 GB on top of torch's 400 MB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fsdd_dir):
    root = tmp_path_factory.mktemp("hostile")
    expected = make_corpus(root / "data", fsdd_dir, locks=commands_obey_permissions())
    models = root / "models"
    models.mkdir()
    save_model(Classifier(FRONTEND, {"kind": "perceptron"}, ["one", "zero"], 1.0, seed=0), models / "digits.tympan")
    return root, expected


def _tympan(*args, timeout=600, measured=MEASURED, env=None):
    run = subprocess.run(as_a_user([sys.executable, "-c", measured, *map(str, args)]), capture_output=True,
                         text=True, timeout=timeout, env=env)
    peak = int(run.stderr.rsplit("peak-rss-kb", 1)[-1].split()[0]) if "peak-rss-kb" in run.stderr else None
    return run, peak


def _bad(expected):
    return {name: reason for name, reason in expected.items() if reason is not None}


def test_datasets_inspect_lists_every_bad_file_and_decodes_ten_hours_in_bounded_memory(corpus):
    root, expected = corpus
    run, peak = _tympan("datasets", "inspect", root / "data", "--json")
    assert run.returncode == 1, run.stderr[-2000:]  # finished, some inputs bad
    report = json.loads(run.stdout)
    found = {os.path.relpath(b["path"], root / "data"): b["reason"] for b in report["bad"]}
    for name, reason in _bad(expected).items():
        assert name in found and reason.lower() in found[name].lower(), (name, found.get(name))
    good = [name for name, reason in expected.items() if reason is None]
    assert report["n_items"] == len(good), report["n_items"]
    assert peak < MEMORY_KB, peak


def test_predict_reports_the_bad_files_and_predicts_the_rest_ten_hours_included(corpus):
    root, expected = corpus
    run, peak = _tympan("predict", "--model", root / "models" / "digits.tympan", root / "data", "--json",
                        "--window", "10", "--hop", "10", "--batch-size", "16")
    assert run.returncode == 1, run.stderr[-2000:]
    report = json.loads(run.stdout)
    predicted = {os.path.relpath(f["file"], root / "data"): f for f in report["files"]}
    bad = {os.path.relpath(b["path"], root / "data"): b["reason"] for b in report["bad"]}
    for name, reason in expected.items():
        if reason is None:
            assert name in predicted, (name, bad.get(name))
        else:
            assert name in bad and reason.lower() in bad[name].lower(), (name, bad.get(name))
    assert predicted[f"zero/{TEN_HOURS}"]["duration"] == 36000.0
    assert peak < MEMORY_KB, peak


def test_embed_reports_the_bad_files_and_embeds_the_rest(corpus, tmp_path):
    root, expected = corpus
    out = tmp_path / "embeddings.npy"
    files = [root / "data" / name for name in expected if TEN_HOURS not in name]
    run, _ = _tympan("embed", "--model", root / "models" / "digits.tympan", *files, "--out", out, "--json")
    assert run.returncode == 1, run.stderr[-2000:]
    report = json.loads(run.stdout)
    good = [root / "data" / name for name, reason in expected.items() if reason is None and TEN_HOURS not in name]
    assert sorted(report["files"]) == sorted(map(str, good))
    bad = {os.path.relpath(b["path"], root / "data"): b["reason"] for b in report["bad"]}
    assert set(bad) == set(_bad(expected)) and all(r.lower() in bad[n].lower() for n, r in _bad(expected).items())


def test_the_server_answers_every_hostile_upload_with_a_clear_status(corpus):
    root, expected = corpus
    with serving(root / "models", "--max-upload-mb", "20") as base:
        for name, reason in expected.items():
            path = root / "data" / name
            if TEN_HOURS in name or LOCKED in name or not path.exists():
                continue  # 576 MB is over the upload cap; a symlink loop or a locked file is nothing to upload
            status, body = request(f"{base}/api/predict", {"model": "digits"},
                                   {"file": (os.path.basename(name).replace("\n", " "), path.read_bytes())})
            if reason is None:
                assert status == 200, (name, body)
            else:
                assert status == 400 and reason.lower() in body["detail"].lower(), (name, status, body)
        # a good upload past 1 MB, which the server writes from a thread, not its event loop
        y, sr = sf.read(root / "data" / "one" / "1_jackson_0.wav", dtype="float32")
        big = io.BytesIO()
        sf.write(big, np.tile(y, 1 + 2_000_000 // (4 * len(y))), sr, format="WAV", subtype="FLOAT")
        status, body = request(f"{base}/api/predict", {"model": "digits"}, {"file": ("big.wav", big.getvalue())})
        assert len(big.getvalue()) > 2_000_000 and status == 200 and body["files"][0]["file"] == "big.wav", body
        assert request(f"{base}/api/health")[0] == 200  # still up


def test_train_and_evaluate_list_every_bad_file_and_learn_from_the_rest_ten_hours_included(corpus, tmp_path):
    root, expected = corpus
    env = {**os.environ, "TYMPAN_CACHE": str(tmp_path / "cache")}
    # long windows and hops: what is measured is the bookkeeping and the memory, over ten hours of audio
    settings = ["--set", "frontend.sr=8000", "--set", "frontend.n_fft=1024", "--set", "frontend.hop_length=1000",
                "--set", "frontend.n_mels=16", "--set", "data.clip_seconds=10", "--set", "train.epochs=1"]
    run, peak = _tympan("train", "--data", root / "data", "--out", tmp_path / "run", "--model", "perceptron",
                        *settings, "--json", measured=MEASURED_ANONYMOUS, env=env)
    assert run.returncode == 1, run.stderr[-2000:]  # trained, some inputs bad
    report = json.loads(run.stdout)
    bad = {os.path.relpath(b["path"], root / "data"): b["reason"] for b in report["bad_files"]}
    assert set(bad) == set(_bad(expected)), set(bad) ^ set(_bad(expected))
    assert all(reason.lower() in bad[name].lower() for name, reason in _bad(expected).items()), bad
    good = sum(reason is None for reason in expected.values())
    assert sum(report["dataset"]["splits"].values()) == len(expected)  # found, then sorted into good and bad
    assert (tmp_path / "run" / "model.tympan").is_file() and peak < MEMORY_KB, peak

    run, peak = _tympan("evaluate", "--model", tmp_path / "run" / "model.tympan", "--data", root / "data",
                        "--split", "all", "--json", measured=MEASURED_ANONYMOUS, env=env)
    assert run.returncode == 1, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["all"]["n"] == good, report["all"]["n"]  # the ten hours among them, window by window
    evaluated_bad = {os.path.relpath(b["path"], root / "data") for b in report["bad_files"]}
    assert evaluated_bad == set(_bad(expected)) and peak < MEMORY_KB, (evaluated_bad, peak)


@pytest.mark.skipif(not commands_obey_permissions(), reason="root here cannot give up reading every file (setpriv)")
def test_a_folder_nobody_may_read_is_reported_not_silently_left_out(fsdd_dir, tmp_path):
    for digit, name in (("0", "zero"), ("1", "one"), ("2", "two")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(2):
            (tmp_path / "data" / name / f"{digit}_{i}.wav").write_bytes(
                (fsdd_dir / "recordings" / f"{digit}_jackson_{i}.wav").read_bytes())
    os.chmod(tmp_path / "data" / "two", 0)  # a whole class
    try:
        run, _ = _tympan("datasets", "inspect", tmp_path / "data", "--json")
        assert run.returncode == 1, run.stderr[-2000:]
        report = json.loads(run.stdout)
        assert [(b["path"], "permission denied" in b["reason"]) for b in report["bad"]] == \
            [(str(tmp_path / "data" / "two"), True)] and report["n_items"] == 4
        model = tmp_path / "digits.tympan"
        save_model(Classifier(FRONTEND, {"kind": "perceptron"}, ["one", "zero"], 1.0, seed=0), model)
        run, _ = _tympan("predict", "--model", model, tmp_path / "data", "--json")
        assert run.returncode == 1, run.stderr[-2000:]
        report = json.loads(run.stdout)
        assert len(report["files"]) == 4 and [b["path"] for b in report["bad"]] == [str(tmp_path / "data" / "two")]
    finally:
        os.chmod(tmp_path / "data" / "two", 0o755)  # so that pytest can clean up


def test_a_hostile_csv_is_read_with_each_odd_row_named(fsdd_dir, tmp_path):
    from tympan.data.layouts import build
    from tympan.errors import DatasetError

    wav = fsdd_dir / "recordings"
    (tmp_path / "odd.csv").write_bytes(  # a byte-order mark, a label with a comma, a repeat, a ';' row
        ("\ufeffpath,label\n"
         f'{wav / "0_george_0.wav"},"zero, spoken"\n'
         f'{wav / "0_george_0.wav"},"zero, spoken"\n'
         f'{wav / "0_george_1.wav"},one\n'
         f'{wav / "1_george_0.wav"};one\n'
         f'{wav / "1_george_1.wav"},one\n').encode())
    manifest = build(tmp_path / "odd.csv")
    assert sorted(manifest.classes) == ["one", "zero, spoken"] and len(manifest.items) == 3
    reasons = {(b.path, b.reason) for b in manifest.bad}
    assert any(p.endswith("0_george_0.wav") and "listed more than once" in r for p, r in reasons)
    assert any("1_george_0.wav;one" in p and "line 5" in r for p, r in reasons)
    (tmp_path / "no-label.csv").write_text(f"path,kind\n{wav / '0_george_0.wav'},x\n")
    with pytest.raises(DatasetError, match="missing column"):
        build(tmp_path / "no-label.csv")
