"""The REST API of ``tympan serve``: the models a folder holds, predictions on uploaded recordings, and runs.

``GET /api/health``, ``GET /api/models``, ``POST /api/predict`` (multipart: the recording in ``file``, a
model's name in ``model``, and ``tympan predict``'s options as fields), ``POST /api/jobs`` and
``GET /api/jobs/{id}`` (the same, with progress and a view for the analysis page), ``GET /api/runs``;
FastAPI writes the OpenAPI description (``/openapi.json``) and its documentation page (``/docs``).

Safe by default: a model is chosen by its name among the ``.tympan`` files of the models folder, never by a
path; an upload past the size cap is refused while it is received (``UploadCap``), one past the duration
cap before it is decoded; predictions go through a bounded pool and queue (``jobs``: 503 with Retry-After
when full) with a time limit each; with a token, every request must carry it (``Authorization: Bearer T``,
or ``?token=T`` for a page's links).
"""

import asyncio
import hmac
import json
import shutil
import tempfile
import threading
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import NamedTuple

# FastAPI reads the endpoints' annotations at run time: they must be real objects, so no
# ``from __future__ import annotations`` here, and FastAPI's names at module level
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response

from .. import __version__
from ..audio import is_audio_path
from ..defaults import BATCH_SIZE, MIN_DURATION, SMOOTH, THRESHOLD, TOP_K
from ..errors import TympanError
from ..model_file import SUFFIX, load_model, read_model_file
from .jobs import Busy, Job, JobError, Jobs
from .runs import REPORT, describe_run, find_runs

MAX_UPLOAD_MB = 100.0
MAX_SECONDS = 4 * 3600.0  # decoded: four hours of field recording
TIME_LIMIT = 600.0  # per request, seconds
FORM_OVERHEAD = 64_000  # the form's other fields and boundaries, beside the recording
CHUNK = 1 << 20
SMALL_UPLOAD = 1 << 20  # bytes: minutes of compressed audio, seconds of WAV


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
        """The model called ``name``; ``KeyError`` if the folder has none of that name. A loaded model is
        kept as long as its file is there (the folder is not listed on every request)."""
        loaded = self._loaded.get(name)
        if loaded is not None and loaded[0].is_file():
            return loaded[1]
        path = self.names().get(name)
        if path is None:
            raise KeyError(name)
        with self._lock:
            if name not in self._loaded or self._loaded[name][0] != path:
                self._loaded[name] = (path, load_model(path))
            return self._loaded[name][1]


class Limits(NamedTuple):
    """What one server accepts: upload size, decoded duration, work at once, time per request."""

    max_upload_mb: float = MAX_UPLOAD_MB
    max_seconds: float = MAX_SECONDS
    workers: int = 2
    queue: int = 64
    time_limit: float = TIME_LIMIT
    sessions: int = 4  # playground sessions at once


async def predict_options(
        top_k: int = Form(TOP_K, description="labels to give per file"),
        threshold: float = Form(THRESHOLD, description="score a window needs to be an event"),
        window: float | None = Form(None, description="window length in s (default: the model's clip)"),
        hop: float | None = Form(None, description="seconds between windows (default: half a window)"),
        smooth: int = Form(SMOOTH, description="windows in the moving average of the scores"),
        min_duration: float = Form(MIN_DURATION, description="drop events shorter than this (s)")) -> dict:
    """``tympan predict``'s options as form fields, shared by ``/api/predict`` and ``/api/jobs``, as
    ``predict_files`` takes them (async only so FastAPI calls it in place, not through a thread pool)."""
    return {"top": top_k, "threshold": threshold, "window_seconds": window, "hop_seconds": hop, "smooth": smooth,
            "min_duration": min_duration}


def create_app(models, token: str | None = None, limits: Limits = Limits(), runs=None):
    """The FastAPI application serving the models of the folder ``models`` (and the runs under ``runs``,
    by default the same folder)."""
    from . import playground
    from .pages import add_pages

    shelf = ModelShelf(models)
    jobs = Jobs(limits.workers, limits.queue, limits.time_limit)
    runs_folder = Path(models if runs is None else runs)
    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.shutdown()  # running jobs stop at their next block; Ctrl-C does not wait for an hour's work

    app = FastAPI(title="Tympan", version=__version__, lifespan=lifespan,
                  description="Deep learning for audio: the models of a folder, predictions on recordings, "
                              "the training runs, and the playground of the lecture notes.")
    app.state.shelf, app.state.jobs = shelf, jobs
    app.add_middleware(UploadCap, max_upload_mb=limits.max_upload_mb)
    if token:
        app.middleware("http")(_token_guard(token))

    @app.exception_handler(RequestValidationError)
    async def readable(request: Request, error: RequestValidationError):
        """A request's bad fields in one sentence that names each, as every other error here speaks."""
        parts = [f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'query', 'path')) or 'request'}: "
                 f"{e['msg']}" for e in error.errors()]
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    @app.get("/api/health", summary="Whether the server runs, its version and how many models it has")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "models": len(shelf.names())}

    @app.get("/api/models", summary="The models: name, classes, sample rate, clip length, task and metrics")
    def list_models() -> list[dict]:
        return shelf.describe()

    @app.post("/api/predict", summary="Predict on one uploaded recording, as `tympan predict --json` does")
    async def predict(file: UploadFile = File(..., description="the recording (WAV, FLAC, Ogg, MP3, AIFF, AU)"),
                      model: str = Form(..., description="a model's name, as GET /api/models lists it"),
                      options: dict = Depends(predict_options),
                      per_window: bool = Form(False, description="add each window's scores")) -> dict:
        # async, so a request waiting for its prediction holds no thread, and the handoffs to a thread pool
        # that a plain function costs per request (a third of the server's own time under load) are spared
        options = {**options, "per_window": per_window}
        submit = partial(_submit, file, model, options, lambda chosen, path, name, job: _predict(
            chosen, path, name, options, job, limits.max_seconds),
            batch=lambda chosen, items: _predict_clips(chosen, items, options))
        # a clip's upload is saved at once; a large one is written from a thread, not the event loop
        job = submit() if (file.size or 0) <= SMALL_UPLOAD else await run_in_threadpool(submit)
        try:
            ended = await job.until_done(limits.time_limit + 5)
        except asyncio.CancelledError:  # the client left: its work stops at the next block
            job.cancelled.set()
            raise
        finally:
            jobs.forget(job.id)  # nothing is kept of a prediction answered (or abandoned) at once
        if not ended:
            job.cancelled.set()
        if job.status == "failed":
            raise HTTPException(job.code or 500, job.error)
        if job.status != "done":
            raise HTTPException(504, f"{job.name}: not done within this server's time limit of "
                                     f"{limits.time_limit:g} s (tympan serve --time-limit)")
        return Response(json.dumps({**job.result, "model": model}), media_type="application/json")

    @app.post("/api/jobs", status_code=202,
              summary="Start the analysis of an uploaded recording (predict's report and a view to draw)",
              description="Takes the fields of POST /api/predict. The analysis runs in the server's queue; "
                          "GET /api/jobs/{id} tells its progress and, when done, gives its result.")
    def start_job(file: UploadFile = File(..., description="the recording"),
                  model: str = Form(..., description="a model's name, as GET /api/models lists it"),
                  options: dict = Depends(predict_options)) -> dict:
        from .analysis import analyse

        def work(chosen, path, name, job):
            try:
                result = analyse(chosen, path, name, options, job.report, limits.max_seconds)
            except TympanError as error:
                raise JobError(f"{name}: {getattr(error, 'reason', error)}") from None
            result["report"]["model"] = model
            return result

        return _submit(file, model, options, work).describe()

    @app.get("/api/jobs/{job_id}", summary="A job's progress, and its result once done")
    def get_job(job_id: str) -> dict:
        job = _job(job_id)
        return {**job.describe(), **({"result": job.result} if job.status == "done" else {})}

    @app.delete("/api/jobs/{job_id}", summary="Cancel a job (it stops at its next block)")
    def cancel_job(job_id: str) -> dict:
        _job(job_id).cancelled.set()
        return _job(job_id).describe()

    @app.get("/api/jobs/{job_id}/predictions.{kind}", summary="A finished job's predictions, as predict writes "
             "them: `json` (predict --json) or `csv` (predict --csv)")
    def download(job_id: str, kind: str):
        from ..predict.report import write_csv

        job = _job(job_id)
        if job.status != "done":
            raise HTTPException(409, f"job {job_id} is {job.status}, not done")
        if kind not in ("json", "csv"):
            raise HTTPException(404, f"predictions come as .json or .csv, not .{kind}")
        stem = Path(job.name).stem
        report = job.result["report"]
        if kind == "json":
            return Response(json.dumps(report, indent=2), media_type="application/json",
                            headers={"Content-Disposition": f'attachment; filename="{stem}.json"'})
        with tempfile.TemporaryDirectory(prefix="tympan-csv-") as folder:
            suffix = ".tsv" if report.get("task") == "events" else ".csv"
            text = write_csv(report, Path(folder) / f"predictions{suffix}").read_text()
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{stem}{suffix}"'})

    @app.get("/api/runs", summary="The training runs under the runs folder, with their test metrics")
    def list_runs() -> list[dict]:
        return [describe_run(name, path) for name, path in find_runs(runs_folder).items()]

    @app.get("/runs/{name:path}/report.html", include_in_schema=False)
    def run_report(name: str):
        path = find_runs(runs_folder).get(name)  # by name among the runs found, never a path from the request
        if path is None or not (path / REPORT).is_file():
            raise HTTPException(404, f"no run named {name!r} with a report; GET /api/runs lists them")
        return FileResponse(path / REPORT, media_type="text/html")

    def _job(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept {jobs.keep_seconds:g} s)")
        return job

    def _submit(file: UploadFile, model: str, options: dict, work, batch=None) -> Job:
        """Check the request, save the upload under the cap, and queue ``work(model, path, name, job)``, or,
        for a clip no longer than the model's and ``batch`` given, ``batch(model, [(path, name), ...])`` with
        the other clips waiting for the same model and options; the upload's temporary folder goes when the
        job ends, however it ends."""
        _check_options(options)
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
        folder = tempfile.mkdtemp(prefix="tympan-upload-")
        try:
            path = Path(folder) / f"upload{suffix}"
            _save_capped(file, path, limits.max_upload_mb, name)
            cleanup = lambda: shutil.rmtree(folder, ignore_errors=True)  # noqa: E731
            if batch is not None and _one_clip(chosen, path, options):
                key = (model, tuple(sorted(options.items())))
                return jobs.submit_batched(key, name, (path, name), lambda items: batch(chosen, items), cleanup)
            return jobs.submit(name, lambda job: work(chosen, path, name, job), cleanup=cleanup)
        except Busy as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(503, f"{error}; try again shortly",
                                headers={"Retry-After": str(jobs.retry_after())}) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    app.include_router(playground.router(max_sessions=limits.sessions))
    add_pages(app)
    return app


def _predict(model, path: Path, name: str, options: dict, job: Job, max_seconds: float) -> dict:
    """``predict_files`` on one upload, stopped past the duration cap or the time limit."""
    from ..predict import predict_files
    from .analysis import checked_duration, renamed

    duration = max(checked_duration(path, name, max_seconds), 1e-9)
    decoded = [0]

    def on_block(block):
        decoded[0] += len(block)
        job.report(decoded[0] / model.sr / duration)

    try:
        report = predict_files(model, [path], workers=1, on_block=on_block, batch_size=BATCH_SIZE, **options)
    except TympanError as error:
        raise JobError(f"{name}: {getattr(error, 'reason', error)}") from None
    if report["bad"]:
        raise JobError(f"{name}: {report['bad'][0]['reason']}")
    return renamed(report, name)


def _one_clip(model, path: Path, options: dict) -> bool:
    """Whether ``path`` is one clip of a clip model (by its header), which ``predict_files`` scores in
    shared batches."""
    from ..audio import info

    if getattr(model, "task", "clips") != "clips" or options.get("window_seconds") is not None:
        return False
    try:
        return info(path).duration <= model.clip_seconds
    except TympanError:
        return False  # the one-by-one path reports what is wrong with it


def _predict_clips(model, items: list[tuple[Path, str]], options: dict) -> list:
    """Each clip's own predict report (or its ``JobError``), from one ``predict_files`` over them all."""
    from ..predict import predict_files
    from .analysis import renamed

    report = predict_files(model, [path for path, _ in items], batch_size=BATCH_SIZE, **options)
    found = {item["file"]: item for item in report["files"]}
    bad = {entry["path"]: entry["reason"] for entry in report["bad"]}
    results = []
    for path, name in items:
        if str(path) in found:
            results.append(renamed({**report, "files": [found[str(path)]], "bad": []}, name))
        else:
            results.append(JobError(f"{name}: {bad.get(str(path), 'not predicted')}"))
    return results


def _check_options(options: dict) -> None:
    """predict's options, refused with a message naming the field (422) when out of range."""
    problems = []
    if options["top"] < 1:
        problems.append(f"top_k={options['top']}: give at least 1")
    if not 0 <= options["threshold"] <= 1:
        problems.append(f"threshold={options['threshold']:g}: a score between 0 and 1")
    for field in ("window_seconds", "hop_seconds"):
        if options[field] is not None and not options[field] > 0:
            problems.append(f"{field.split('_')[0]}={options[field]:g}: a positive number of seconds")
    if options["smooth"] < 1:
        problems.append(f"smooth={options['smooth']}: at least 1 window")
    if options["min_duration"] < 0:
        problems.append(f"min_duration={options['min_duration']:g}: not negative")
    if problems:
        raise HTTPException(422, "; ".join(problems))


class UploadCap:
    """Refuse a request body past ``max_upload_mb`` while it is received: at once from its announced length,
    else as soon as the bytes received pass the cap (a chunked upload without a length), with a 413 and the
    application told the client left; nothing past the cap is read or spooled to disk."""

    def __init__(self, app, max_upload_mb: float):
        self.app, self.max_upload_mb = app, max_upload_mb
        self.limit = max_upload_mb * 1e6 + FORM_OVERHEAD

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        received, refused, started = 0, False, False

        async def counted():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            nonlocal started
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise  # a real failure; a refused upload's abandoned parse is not one

    async def _refuse(self, send):
        body = json.dumps({"detail": f"the request is larger than this server's upload cap of "
                                     f"{self.max_upload_mb:g} MB (tympan serve --max-upload-mb)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _token_guard(token: str):
    async def require_token(request: Request, call_next):
        # the pages' scripts and styles hold no data, and a <script src> cannot carry the token
        if not request.url.path.startswith("/static/"):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
                or request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"detail": "this server needs its token: Authorization: Bearer TOKEN, "
                                               "or ?token=TOKEN"}, status_code=401)
        return await call_next(request)
    return require_token


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
