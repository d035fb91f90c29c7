"""Fuzz targets: each takes the fuzzer's bytes and feeds them to one entry point of Tympan.

The promise checked: the only exceptions that leave an entry point are Tympan's own errors (``TympanError``:
``AudioError``, ``DatasetError``, ``ConfigError``, ``ModelFileError``), each with a message; the server
answers a bad upload with a 4xx status, never a 500. Anything else is a bug: the fuzzer stops and keeps the
input in ``fuzz/crashes/TARGET/``, and ``tests/test_fuzz.py`` replays every kept input from then on.

``TARGETS`` maps a name to ``(function, seeds)``: ``seeds()`` gives real inputs to start from (files of
``../shared/data``), which the fuzzer mutates.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from tympan.errors import TympanError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".au")
WORK = Path(tempfile.mkdtemp(prefix="tympan-fuzz-"))


def _expected(error: BaseException) -> bool:
    return isinstance(error, TympanError) and bool(str(error).strip())


def _file(data: bytes, suffix: str) -> Path:
    path = WORK / f"input{suffix}"
    path.write_bytes(data)
    return path


def audio(data: bytes) -> None:
    """``info``, ``load`` (resampled) and ``stream`` on the bytes as a recording; the first byte picks the
    extension, so every decoder's path is reached."""
    from tympan.audio import info, load, stream

    if not data:
        data = b"\0"
    path = _file(data[1:], AUDIO_SUFFIXES[data[0] % len(AUDIO_SUFFIXES)])
    for call in (lambda: info(path), lambda: load(path, sr=8000),
                 lambda: sum(len(b) for b in stream(path, sr=16000, block_seconds=0.5))):
        try:
            call()
        except TympanError as error:
            if not _expected(error):
                raise


def _audio_seeds() -> list[bytes]:
    # short files: every execution decodes the whole input, and the fuzzer wants thousands of them
    found = sorted((SHARED / "fsdd" / "recordings").glob("*.wav"))[:4]
    seeds = [bytes([AUDIO_SUFFIXES.index(p.suffix)]) + p.read_bytes() for p in found]
    import soundfile as sf

    for suffix, fmt in ((".flac", "FLAC"), (".ogg", "OGG"), (".aiff", "AIFF"), (".au", "AU")):
        y, sr = sf.read(found[0], dtype="float32")
        out = WORK / f"seed{suffix}"
        sf.write(out, y[:4000], sr, format=fmt)
        seeds.append(bytes([AUDIO_SUFFIXES.index(suffix)]) + out.read_bytes())
    return seeds


LAYOUT_FILES = {  # layout -> the metadata file the fuzzer writes
    "csv": "data.csv", "events": "annotations.tsv", "esc50": "meta/esc50.csv",
    "urbansound8k": "metadata/UrbanSound8K.csv", "speech_commands": "validation_list.txt",
}


def layouts(data: bytes) -> None:
    """Every layout's metadata parsing on the bytes as its metadata file (the first byte picks the layout)."""
    from tympan.data.layouts import build

    if not data:
        data = b"\0"
    layout = list(LAYOUT_FILES)[data[0] % len(LAYOUT_FILES)]
    folder = WORK / f"dataset-{uuid.uuid4().hex[:8]}"
    meta = folder / LAYOUT_FILES[layout]
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_bytes(data[1:])
    (folder / "a.wav").write_bytes(b"")  # a file the metadata may name
    try:
        build(meta if layout == "csv" else folder, layout=layout)
    except TympanError as error:
        if not _expected(error):
            raise
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _layout_seeds() -> list[bytes]:
    seeds = [bytes([0]) + b"path,label,split\na.wav,dog,train\nb.wav,cat,test\n",
             bytes([1]) + b"filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.0\tdog\na.wav\t\t\t\n",
             bytes([2]) + b"filename,fold,target,category,esc10,src_file,take\na.wav,1,0,dog,True,100,A\n",
             bytes([3]) + b"slice_file_name,fsID,start,end,salience,fold,classID,class\na.wav,1,0,4,1,1,3,dog_bark\n",
             bytes([4]) + b"yes/a.wav\n"]
    return seeds


def config(data: bytes) -> None:
    """A configuration file (YAML) and ``--set`` pairs from the bytes, resolved as ``tympan train`` does."""
    from tympan.train.config import load_config

    text = data.decode("utf-8", "replace")
    head, _, tail = text.partition("\n--set\n")
    path = _file(head.encode(), ".yaml")
    try:
        load_config("csv", config_file=path, sets=[line for line in tail.splitlines() if line])
    except TympanError as error:
        if not _expected(error):
            raise


def _config_seeds() -> list[bytes]:
    recipes = sorted((ROOT / "src" / "tympan" / "recipes").glob("*.yaml"))
    return [p.read_bytes() + b"\n--set\ntrain.epochs=3\nnetwork={kind: cnn, channels: [8]}\n" for p in recipes[:4]]


def model_file(data: bytes) -> None:
    """The bytes as a ``.tympan`` file: read and loaded, never unpickled, refused with ``ModelFileError``."""
    from tympan.model_file import load_model

    path = _file(data, ".tympan")
    try:
        load_model(path)
    except TympanError as error:
        if not _expected(error):
            raise


def _model_seeds() -> list[bytes]:
    from tympan.model_file import save_model
    from tympan.nn.classifier import Classifier

    path = WORK / "seed.tympan"
    save_model(Classifier({"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16},
                          {"kind": "perceptron"}, ["a", "b"], 0.5, seed=0), path)
    return [path.read_bytes()]


_APP = None


def upload(data: bytes) -> None:
    """The bytes posted to the real ``tympan serve`` application (in process, over ASGI) as an upload to
    ``POST /api/predict``; the first byte picks the file name's extension. Any 5xx answer is a bug."""
    global _APP
    if _APP is None:
        from tympan.serve.api import Limits, create_app

        models = WORK / "models"
        models.mkdir(exist_ok=True)
        (models / "m.tympan").write_bytes(_model_seeds()[0])
        _APP = create_app(models, limits=Limits(max_upload_mb=1.0, max_seconds=60.0, time_limit=30.0))
    if not data:
        data = b"\0"
    name = f"upload{(*AUDIO_SUFFIXES, '.txt', '')[data[0] % (len(AUDIO_SUFFIXES) + 2)]}"
    boundary = "fuzzboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nm\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n').encode() \
        + data[1:] + f"\r\n--{boundary}--\r\n".encode()
    status = asyncio.run(_post(_APP, "/api/predict", body, f"multipart/form-data; boundary={boundary}"))
    if status >= 500:
        raise AssertionError(f"the server answered {status} to an upload")


async def _post(app, path: str, body: bytes, content_type: str) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                         (b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent, answer = False, {}

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    await app(scope, receive, send)
    return answer.get("status", 0)


def _upload_seeds() -> list[bytes]:
    return [bytes([0]) + p.read_bytes() for p in sorted((SHARED / "fsdd" / "recordings").glob("*.wav"))[:2]]


TARGETS = {
    "audio": (audio, _audio_seeds),
    "layouts": (layouts, _layout_seeds),
    "config": (config, _config_seeds),
    "model_file": (model_file, _model_seeds),
    "upload": (upload, _upload_seeds),
}


def replay(target: str, data: bytes) -> None:
    """Run one input through a target (the regression tests' entry)."""
    TARGETS[target][0](data)


if __name__ == "__main__":
    print(json.dumps(sorted(TARGETS)))
