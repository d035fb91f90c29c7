"""Injected failures: a disk that fills up (a small tmpfs), and processes killed with SIGKILL while they write.
The promise: a clear error, the file that was there intact (the old one or the new one, never a mix), no
temporary files left behind, and a decode cache that is only ever read back whole."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from tympan.errors import OutputError
from tympan.model_file import load_model, read_model_file, save_model
from tympan.nn.classifier import Classifier

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}


def _model(hidden: int, seed: int = 0) -> Classifier:
    return Classifier(FRONTEND, {"kind": "mlp", "hidden": [hidden]}, ["a", "b"], 1.0, seed=seed)


@contextmanager
def full_disk(folder, size="600k"):
    """A tmpfs of ``size`` mounted at ``folder``: a disk that really fills up (ENOSPC)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small disk to fill needs a tmpfs, and mounting one was refused here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_while_saving_a_model_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    with full_disk(tmp_path / "disk") as disk:
        path = disk / "model.tympan"
        save_model(_model(4), path, provenance={"version": "old"})
        with pytest.raises(OutputError, match="No space left on device.*unchanged"):
            save_model(_model(20000), path, provenance={"version": "new"})  # about 2.7 MB of weights
        assert read_model_file(path)[0]["provenance"]["version"] == "old"
        assert sorted(p.name for p in disk.iterdir()) == ["model.tympan"]


def test_training_onto_a_full_disk_fails_clearly_and_a_full_cache_is_done_without(fsdd_dir, tmp_path):
    rows = ["path,label,split"] + [f"{fsdd_dir / 'recordings' / f'{d}_george_{i}.wav'},{d},{'test' if i < 2 else 'train'}"
                                   for d in "01" for i in range(8)]
    (tmp_path / "digits.csv").write_text("\n".join(rows) + "\n")
    small = ["--set", f"frontend={json.dumps(FRONTEND)}", "--set", "network={kind: mlp, hidden: [2000]}",
             "--set", "train.epochs=2", "--set", "data.clip_seconds=1.0"]
    with full_disk(tmp_path / "disk") as disk:
        (disk / "filler").write_bytes(b"\0" * 480_000)  # the cache opens, then fills up
        run = subprocess.run([sys.executable, "-m", "tympan", "train", "--data", str(tmp_path / "digits.csv"),
                              "--out", str(tmp_path / "run"), *small], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "TYMPAN_CACHE": str(disk / "cache")})
        assert run.returncode == 0, run.stderr[-3000:]  # a cache only saves time: the run goes on without it
        assert "decode cache" in run.stderr and "cannot be written" in run.stderr
        assert not [p for p in disk.rglob("*") if ".tmp-" in p.name]
        with sqlite3.connect(disk / "cache" / "index.sqlite") as index:  # its index, written to full, is sound
            assert index.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        index.close()
        (disk / "filler").unlink()
        (disk / "filler").write_bytes(b"\0" * 200_000)
        run = subprocess.run([sys.executable, "-m", "tympan", "train", "--data", str(tmp_path / "digits.csv"),
                              "--out", str(disk / "run"), *small], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "TYMPAN_CACHE": str(tmp_path / "cache")})
    assert run.returncode == 2 and "No space left on device" in run.stderr, run.stderr[-3000:]
    assert "Traceback" not in run.stderr


def test_a_full_disk_while_writing_a_report_keeps_the_previous_report_whole(tmp_path):
    from tympan.train.report import write_report

    history = [{"epoch": e, "train_loss": 1 / e, "val_accuracy": 0.5 + e / 20} for e in (1, 2, 3)]
    result = {"classes": ["a", "b"], "epochs": 3, "best_epoch": 3, "history": history,
              "test": {"n": 4, "accuracy": 0.75, "confusion": [[2, 0], [1, 1]]}}
    with full_disk(tmp_path / "disk") as disk:
        written = write_report(disk / "report", result)
        before = {p.name: p.read_bytes() for p in (disk / "report").iterdir()}
        assert set(before) == {"metrics.json", "curves.png", "confusion.png", "report.html"}
        # the new report's metrics fit, its figures and page do not
        bad_files = [{"path": f"/data/{i:06d}.wav", "reason": "truncated"} for i in range(4000)]
        (disk / "filler").write_bytes(b"\0" * (600_000 - sum(map(len, before.values())) - 330_000))
        with pytest.raises(OutputError, match="No space left on device"):
            write_report(disk / "report", {**result, "bad_files": bad_files})
        assert {p.name: p.read_bytes() for p in (disk / "report").iterdir()} == before  # old, whole, together
        assert not [p for p in disk.rglob("*") if ".tmp-" in p.name]
    assert sorted(written) == ["confusion", "curves", "metrics", "report"]


SAVE_FOREVER = """
import sys
from tympan.model_file import save_model
from tympan.nn.classifier import Classifier
frontend = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
for i in range(10**9):
    save_model(Classifier(frontend, {"kind": "mlp", "hidden": [500]}, ["a", "b"], 1.0, seed=i % 2), sys.argv[1],
               provenance={"version": i})
    print(i, flush=True)
"""


def test_kill_9_during_save_model_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "model.tympan"
    for delay in (0.05, 0.21, 0.37):
        process = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
        process.stdout.readline()  # one save done: from here on every kill lands during a save or between two
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        model = load_model(path)  # whole, its digest checked
        version = read_model_file(path)[0]["provenance"]["version"]
        reference = Classifier(FRONTEND, {"kind": "mlp", "hidden": [500]}, ["a", "b"], 1.0, seed=version % 2)
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


EXPORT_FOREVER = """
import sys
from tympan.model_file import load_model
from tympan.predict.export import export
model = load_model(sys.argv[1])
for i in range(10**9):
    export(model, sys.argv[2], "onnx")
    print(i, flush=True)
"""


def test_kill_9_during_export_leaves_a_whole_onnx_file(tmp_path):
    onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx (the dev extra)")
    save_model(_model(64), tmp_path / "m.tympan")
    out = tmp_path / "m.onnx"
    for delay in (0.3,):
        process = subprocess.Popen([sys.executable, "-c", EXPORT_FOREVER, str(tmp_path / "m.tympan"), str(out)],
                                   stdout=subprocess.PIPE, text=True)
        process.stdout.readline()
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        onnx.checker.check_model(onnx.load(str(out)))


CACHE_FOREVER = """
import sys
from tympan.data.cache import AudioCache
cache = AudioCache(sys.argv[1])
files = sys.argv[2:]
while True:
    for f in files:
        cache.entry(f, 8000).unlink(missing_ok=True)
        cache.load(f, 8000)
"""


def test_two_runs_sharing_a_cache_and_one_killed_never_read_back_a_corrupt_entry(fsdd_dir, tmp_path):
    from tympan.audio import load
    from tympan.data.cache import AudioCache

    files = [str(p) for p in sorted((fsdd_dir / "recordings").glob("*_lucas_*.wav"))[:6]]
    writers = [subprocess.Popen([sys.executable, "-c", CACHE_FOREVER, str(tmp_path / "cache"), *files])
               for _ in range(2)]
    try:
        time.sleep(4)  # both rewrite every entry over and over
        writers[0].send_signal(signal.SIGKILL)
        cache = AudioCache(tmp_path / "cache")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # read while the other still writes
            for f in files:
                np.testing.assert_array_equal(cache.load(f, 8000), load(f, sr=8000)[0])
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
