"""The fuzz targets (``fuzz/``): every input a fuzzer once crashed Tympan with is replayed, and each target
runs briefly under atheris (``make fuzz`` runs them for long)."""

import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
sys.path.insert(0, str(FUZZ))
from targets import TARGETS, replay  # noqa: E402

CRASHES = sorted(p for p in (FUZZ / "crashes").glob("*/*") if p.is_file())
# a fixed number of inputs from a fixed seed: the same run every time, so CI is not at the mercy of luck
SHORT_RUN = {"audio": 150, "layouts": 600, "config": 200, "model_file": 400, "upload": 150}


@pytest.mark.parametrize("path", CRASHES, ids=[f"{p.parent.name}/{p.name[:14]}" for p in CRASHES])
def test_every_input_that_once_crashed_a_target_now_gets_a_clear_error(path):
    replay(path.parent.name, path.read_bytes())  # raises if anything but Tympan's own error escapes


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_short_fuzz_run_finds_no_crash(target, fsdd_dir, tmp_path):
    pytest.importorskip("atheris", reason="fuzzing needs atheris (the dev extra)")
    if target == "upload":
        pytest.importorskip("fastapi", reason="the upload target needs the serve extra")
    run = subprocess.run([sys.executable, str(FUZZ / "run.py"), target, "--runs", str(SHORT_RUN[target]), "--seed", "1",
                          "--corpus", str(tmp_path / "corpus")], capture_output=True, text=True, timeout=300)
    executed = [line for line in run.stderr.splitlines() if line.startswith("stat::number_of_executed_units")]
    assert run.returncode == 0, run.stderr[-3000:]
    assert executed and int(executed[0].split(":")[-1]) > 0
