"""The REST API of ``tympan serve``: the models a folder holds, and predictions on uploaded recordings.

``GET /api/health``, ``GET /api/models`` and ``POST /api/predict`` (multipart: the recording in ``file``, a
model's name in ``model``, and ``tympan predict``'s options as fields); FastAPI writes the OpenAPI
description (``/openapi.json``) and its documentation page (``/docs``) from these.

Safe by default: a model is chosen by its name among the ``.tympan`` files of the models folder, never by a
path; a request whose announced length passes the upload cap is refused before its body is read (one
without a length is spooled to disk by the form parser, then refused); with a token, every request must
carry it (``Authorization: Bearer T``, or ``?token=T`` for a page's links).
"""

import hmac
import tempfile
import threading
from pathlib import Path

# FastAPI reads the endpoints' annotations at run time: they must be real objects, so no
# ``from __future__ import annotations`` here, and FastAPI's names at module level
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from .. import __version__
from ..audio import is_audio_path
from ..defaults import BATCH_SIZE, MIN_DURATION, SMOOTH, THRESHOLD, TOP_K
from ..errors import TympanError
from ..model_file import SUFFIX, load_model, read_model_file

MAX_UPLOAD_MB = 200.0
FORM_OVERHEAD = 64_000  # the form's other fields and boundaries, beside the recording
CHUNK = 1 << 20


class ModelShelf:
    """The ``.tympan`` files of one folder by name (the file name without its suffix), loaded on first use
    and kept; the folder is read again when a name is not found, so a model copied in later appears."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._loaded = {}
        self._lock = threading.Lock()

    def names(self) -> dict[str, Path]:
        if not self.folder.is_dir():
            return {}
        return {p.name[:-len(SUFFIX)]: p for p in sorted(self.folder.glob(f"*{SUFFIX}")) if p.is_file()}

    def describe(self) -> list[dict]:
        """Name, classes, sample rate, clip length, task and recorded metrics of every readable model."""
        described = []
        for name, path in self.names().items():
            try:
                document, _ = read_model_file(path)
            except TympanError as error:
                described.append({"name": name, "error": str(error)})
                continue
            provenance = document.get("provenance", {})
            described.append({"name": name, "classes": document["classes"], "sr": document["sr"],
                              "clip_seconds": document["clip_seconds"], "task": document.get("task", "clips"),
                              "multi_label": document["multi_label"], "metrics": provenance.get("metrics")})
        return described

    def get(self, name: str):
        """The model called ``name``; ``KeyError`` if the folder has none of that name."""
        path = self.names().get(name)
        if path is None:
            raise KeyError(name)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load_model(path)
            return self._loaded[name]


def create_app(models, token: str | None = None, max_upload_mb: float = MAX_UPLOAD_MB):
    """The FastAPI application serving the models of the folder ``models``."""
    shelf = ModelShelf(models)
    app = FastAPI(title="Tympan", version=__version__,
                  description="Deep learning for audio: the models of a folder, and predictions on recordings.")
    app.state.shelf = shelf

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_upload_mb * 1e6 + FORM_OVERHEAD:
            return JSONResponse({"detail": f"the request is larger than this server's upload cap of "
                                           f"{max_upload_mb:g} MB (tympan serve --max-upload-mb)"}, status_code=413)
        return await call_next(request)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
                or request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"detail": "this server needs its token: Authorization: Bearer TOKEN, "
                                               "or ?token=TOKEN"}, status_code=401)
        return await call_next(request)

    @app.get("/api/health", summary="Whether the server runs, its version and how many models it has")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "models": len(shelf.names())}

    @app.get("/api/models", summary="The models: name, classes, sample rate, clip length, task and metrics")
    def list_models() -> list[dict]:
        return shelf.describe()

    @app.post("/api/predict", summary="Predict on one uploaded recording, as `tympan predict --json` does")
    def predict(file: UploadFile = File(..., description="the recording (WAV, FLAC, Ogg, MP3, AIFF, AU)"),
                model: str = Form(..., description="a model's name, as GET /api/models lists it"),
                top_k: int = Form(TOP_K, description="labels to give per file"),
                threshold: float = Form(THRESHOLD, description="score a window needs to be an event"),
                window: float | None = Form(None, description="window length in s (default: the model's clip)"),
                hop: float | None = Form(None, description="seconds between windows (default: half a window)"),
                smooth: int = Form(SMOOTH, description="windows in the moving average of the scores"),
                min_duration: float = Form(MIN_DURATION, description="drop events shorter than this (s)"),
                per_window: bool = Form(False, description="add each window's scores")) -> dict:
        from ..predict import predict_files

        try:
            chosen = shelf.get(model)
        except KeyError:
            raise HTTPException(404, f"no model named {model!r}; GET /api/models lists them") from None
        except TympanError as error:
            raise HTTPException(500, f"model {model!r} cannot be loaded: {error}") from None
        name = Path(file.filename or "upload").name
        suffix = Path(name).suffix.lower()
        if not is_audio_path(Path(name)):
            raise HTTPException(415, f"{name}: not a recording Tympan reads (its extension {suffix or 'is missing'})")
        with tempfile.TemporaryDirectory(prefix="tympan-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            _save_capped(file, path, max_upload_mb, name)
            try:
                report = predict_files(chosen, [path], top=top_k, window_seconds=window, hop_seconds=hop,
                                       threshold=threshold, smooth=smooth, min_duration=min_duration,
                                       batch_size=BATCH_SIZE, per_window=per_window)
            except TympanError as error:
                raise HTTPException(422, f"{name}: {error}") from None
        if report["bad"]:
            raise HTTPException(422, f"{name}: {report['bad'][0]['reason']}")
        for item in report["files"]:
            item["file"] = name  # the upload's own name, not the server's temporary path
        return {**report, "model": model}

    return app


def _save_capped(upload, path: Path, max_upload_mb: float, name: str) -> None:
    """Copy an upload to ``path`` in chunks, refusing it (413) once it passes the cap."""
    limit, written = int(max_upload_mb * 1e6), 0
    with open(path, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise HTTPException(413, f"{name}: larger than this server's upload cap of {max_upload_mb:g} MB "
                                         "(tympan serve --max-upload-mb)")
            out.write(chunk)
