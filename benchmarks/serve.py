"""`tympan serve` under load: concurrent clients posting 1-second clips to ``POST /api/predict`` of a local
server, against ``tympan predict`` (``predict_files``) on the same clips, in one run.

Both sides use the demo model (``tympan-demo/model.tympan``, made by ``tympan demo`` if missing). The clips
are FSDD recordings padded or cut to 1 s, written as WAV files. The clients are wrk (``apt-get install wrk``;
keep-alive connections, two threads) or, without it, threads of this process; either way they run on the
same machine as the server and take some of its CPU, so the ratio is a lower bound. Prints requests/s, p50 and p95 latency, errors, the server's resident memory at the
start and the end, and the ratio of the server's throughput to ``tympan predict``'s.

    python benchmarks/serve.py [--clients 32] [--seconds 60] [--client wrk|python] [--model FILE] [--json FILE]

Targets (issue 16): no errors, memory flat, server throughput at least 0.8 of tympan predict's.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import tympan
from tympan.audio import load as decode
from tympan.predict import predict_files

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SECONDS = 30.0  # the allocator's pools fill for about that long under this load, then memory is flat
REFERENCE_PASSES = 5


def demo_model(path: Path) -> Path:
    if not path.exists():
        subprocess.run([sys.executable, "-m", "tympan", "demo", "--out", str(path.parent)], check=True)
    return path


def one_second_clips(fsdd: Path, sr: int, n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for wav in sorted((fsdd / "recordings").glob("*.wav"))[:n]:
        y = decode(wav, sr=sr)[0][:sr]
        path = folder / wav.name
        sf.write(path, np.pad(y, (0, sr - len(y))), sr, subtype="PCM_16")
        clips.append(path)
    return clips


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def multipart(path: Path, model: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def client(port: int, bodies, until: float, latencies: list, errors: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while time.monotonic() < until:
        body, kind = bodies[rng.integers(len(bodies))]
        start = time.perf_counter()
        try:
            connection.request("POST", "/api/predict", body, {"Content-Type": kind})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                errors.append(f"{response.status}: {answer[:200]!r}")
                continue
        except (OSError, http.client.HTTPException) as error:
            errors.append(repr(error))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        latencies.append(time.perf_counter() - start)
    connection.close()


def load(port: int, bodies, clients: int, seconds: float, latencies: list, errors: list) -> float:
    """``clients`` threads posting for ``seconds``; the seconds it took."""
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(port, bodies, until, latencies, errors, seed))
               for seed in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def watch(pid: int, memory: list, seconds: float) -> None:
    """The server's resident memory every 5 s while the load runs."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(5)
        memory.append(resident_mb(pid))


WRK_SCRIPT = r"""
local bodies, kinds, n = {}, {}, 0
for line in io.lines("%(index)s") do
  local path, kind = line:match("([^\t]+)\t(.+)")
  local f = io.open(path, "rb"); n = n + 1; bodies[n] = f:read("*a"); kinds[n] = kind; f:close()
end
local i = 0
request = function()
  i = i %% n + 1
  return wrk.format("POST", "/api/predict", {["Content-Type"] = kinds[i]}, bodies[i])
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("WRK %%d %%d %%f %%f %%f\n", summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3))
end
"""


def load_with_wrk(port: int, bodies, clients: int, seconds: float, folder: Path) -> dict:
    """The same load from wrk (C, one thread per core), which leaves the server more of the CPU than
    Python client threads do: ``{"requests", "errors", "seconds", "p50_ms", "p95_ms"}``."""
    lines = []
    for n, (body, kind) in enumerate(bodies):
        path = folder / f"body-{n}.bin"
        path.write_bytes(body)
        lines.append(f"{path}\t{kind}")
    (folder / "bodies.tsv").write_text("\n".join(lines) + "\n")
    (folder / "post.lua").write_text(WRK_SCRIPT % {"index": folder / "bodies.tsv"})
    run = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "120s", "-s",
                          str(folder / "post.lua"), f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
    line = next((l for l in run.stdout.splitlines() if l.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{run.stdout}\n{run.stderr}")
    requests, errors, elapsed, p50, p95 = line.split()[1:]
    return {"requests": int(requests), "errors": int(errors), "seconds": float(elapsed), "p50_ms": float(p50),
            "p95_ms": float(p95)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--model", type=Path, default=ROOT / "tympan-demo" / "model.tympan")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load (default: %(default)s)")
    parser.add_argument("--clips", type=int, default=200, help="distinct clips (default: %(default)s)")
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="the load: wrk (apt-get install wrk), or Python threads in this process, which take "
                             "CPU from the server on a small machine (default: wrk when installed)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    use_wrk = args.client == "wrk"
    torch.set_num_threads(2)
    model_path = demo_model(args.model)
    model = tympan.load_model(model_path)
    with tempfile.TemporaryDirectory(prefix="tympan-bench-serve-") as folder:
        folder = Path(folder)
        clips = one_second_clips(args.data, model.sr, args.clips, folder / "clips")
        (folder / "models").mkdir()
        (folder / "models" / "demo.tympan").symlink_to(model_path.resolve())

        predict_files(model, clips[:8])  # warm-up
        passes = []
        for _ in range(REFERENCE_PASSES):  # a pass takes a second: the median of a few steadies it
            start = time.perf_counter()
            predict_files(model, clips)
            passes.append(len(clips) / (time.perf_counter() - start))
        reference = float(np.median(passes))

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "tympan", "serve", "--models", str(folder / "models"),
                                   "--port", str(port)], stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            bodies = [multipart(path, "demo") for path in clips]
            # a few seconds of the same load first: the model is loaded and the batches reach their size, so
            # the memory measured next is the server's steady state, and any growth after it a leak
            load(port, bodies, args.clients, WARM_UP_SECONDS, [], [])
            memory = [resident_mb(server.pid)]
            latencies, errors = [], []
            watcher = threading.Thread(target=watch, args=(server.pid, memory, args.seconds), daemon=True)
            watcher.start()
            if use_wrk:
                measured = load_with_wrk(port, bodies, args.clients, args.seconds, folder)
                elapsed = measured["seconds"]
                errors = [f"{measured['errors']} errors (wrk)"] if measured["errors"] else []
            else:
                elapsed = load(port, bodies, args.clients, args.seconds, latencies, errors)
            memory_start, memory_end, memory_peak = memory[0], resident_mb(server.pid), max(memory)
        finally:
            server.terminate()
            server.wait(timeout=30)

    if use_wrk:
        served, p50, p95 = measured["requests"] / elapsed, measured["p50_ms"], measured["p95_ms"]
        requests = measured["requests"]
    else:
        served, requests = len(latencies) / elapsed, len(latencies)
        p50, p95 = (np.percentile(latencies, [50, 95]) * 1000) if latencies else (float("nan"),) * 2
    result = {"client": "wrk" if use_wrk else "python threads", "clients": args.clients,
              "seconds": round(elapsed, 1), "requests": requests,
              "requests_per_second": round(served, 1), "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1),
              "errors": len(errors), "memory_start_mb": round(memory_start, 1), "memory_end_mb": round(memory_end, 1),
              "memory_peak_mb": round(memory_peak, 1), "memory_every_5s_mb": [round(m) for m in memory],
              "predict_clips_per_second": round(reference, 1), "ratio": round(served / reference, 2),
              "cpus": os.cpu_count()}
    print(f"model {model_path} ({model.sr} Hz, {model.clip_seconds:g} s clips); {len(clips)} clips of 1 s; "
          f"{os.cpu_count()} CPUs shared by server and clients")
    print(f"{'tympan predict (batched, in process)':<40}{reference:>8.1f} clips/s  (median of {REFERENCE_PASSES} passes)")
    print(f"{'tympan serve, ' + str(args.clients) + ' clients (' + result['client'] + ')':<40}{served:>8.1f} "
          f"requests/s  p50 {p50:.0f} ms, "
          f"p95 {p95:.0f} ms, errors {len(errors)}")
    print(f"server memory: {memory_start:.0f} MB at the start (after {WARM_UP_SECONDS:g} s of the same load), "
          f"{memory_end:.0f} MB at the end, {memory_peak:.0f} MB at most; every 5 s: "
          + " ".join(f"{m:.0f}" for m in memory))
    print(f"ratio serve / predict: {served / reference:.2f} (target at least 0.8)")
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
