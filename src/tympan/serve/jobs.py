"""The server's work queue: a bounded pool of workers, a bounded queue before it, a time limit on each job.

Predictions run here, never in the web server's own threads, so a burst of uploads cannot exhaust it: when
the workers are busy and the queue is full, ``submit`` raises ``Busy`` (the API answers 503 with
``Retry-After``). Short clips for the same model can be batched (``submit_batched``): those that wait while
the workers are busy are scored together in one forward pass, as ``tympan predict`` scores many files, so
a server under load does not pay a network pass per request; an idle server still answers at once. A job past its time limit is stopped at its next progress report (``Job.report``, called
after each decoded block), and a cancelled one likewise. Finished jobs keep their results for ``keep_seconds``
so a page can fetch and download them, then are forgotten.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class Stopped(Exception):
    """A job went past its time limit, or was cancelled."""


@dataclass
class Job:
    id: str
    name: str  # the upload's name, for messages
    time_limit: float
    status: str = "queued"  # queued, running, done, failed
    progress: float = 0.0  # 0 to 1
    result: dict | None = None
    error: str | None = None
    code: int = 0  # the HTTP status of a failure
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    _waiters: list = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    async def until_done(self, timeout: float) -> bool:
        """Wait, without holding a thread, until the job ends or ``timeout`` s pass; whether it ended."""
        loop = asyncio.get_running_loop()
        ended = loop.create_future()

        def wake():  # from the worker's thread
            try:
                loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))
            except RuntimeError:  # the server stopped and its loop with it: nobody waits any more
                pass

        with self._lock:
            if self.done.is_set():
                return True
            self._waiters.append(wake)
        try:
            await asyncio.wait_for(ended, timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _ended(self) -> None:
        with self._lock:
            self.done.set()
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    def report(self, fraction: float) -> None:
        """Progress so far (0 to 1); stops the job when its time is up or it was cancelled."""
        self.progress = max(self.progress, min(1.0, float(fraction)))
        if self.cancelled.is_set():
            raise Stopped(f"{self.name}: cancelled")
        if self.started is not None and time.monotonic() - self.started > self.time_limit:
            raise Stopped(f"{self.name}: stopped after this server's time limit of {self.time_limit:g} s "
                          "(tympan serve --time-limit)")

    def describe(self) -> dict:
        """What ``GET /api/jobs/{id}`` answers, without the result."""
        now = time.monotonic()
        return {"id": self.id, "file": self.name, "status": self.status, "progress": round(self.progress, 3),
                "error": self.error, "seconds": round((self.finished or now) - (self.started or now), 3)}


class Jobs:
    """``workers`` jobs at a time, at most ``queue`` more waiting, each stopped after ``time_limit`` s."""

    def __init__(self, workers: int = 2, queue: int = 64, time_limit: float = 600.0, keep_seconds: float = 900.0,
                 max_batch: int = 64):
        self.workers, self.queue, self.time_limit, self.keep_seconds = workers, queue, time_limit, keep_seconds
        self.max_batch = max_batch
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tympan-job")
        self._jobs: dict[str, Job] = {}
        self._batches: dict = {}  # key -> [(job, item, cleanup)] waiting for a worker
        self._lock = threading.Lock()

    def submit(self, name: str, work, cleanup=None) -> Job:
        """Queue ``work(job) -> dict``; ``cleanup()`` runs after it whatever happens. Raises ``Busy``."""
        job = self._new(name)
        self._pool.submit(self._run, job, work, cleanup)
        return job

    def submit_batched(self, key, name: str, item, work, cleanup=None) -> Job:
        """Queue ``item`` to be processed with the others of the same ``key`` waiting when a worker is free:
        ``work([item, ...])`` returns one result per item, a dict or an exception. Raises ``Busy``."""
        job = self._new(name)
        with self._lock:
            waiting = self._batches.setdefault(key, [])
            waiting.append((job, item, cleanup))
            first = len(waiting) == 1
        if first:  # one scheduled run per key collects whatever waits when it starts
            self._pool.submit(self._run_batch, key, work)
        return job

    def _new(self, name: str) -> Job:
        with self._lock:
            self._forget_old()
            waiting = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if waiting >= self.workers + self.queue:
                raise Busy(f"this server is busy: {self.workers} job(s) running and {self.queue} waiting")
            job = Job(uuid.uuid4().hex, name, self.time_limit)
            self._jobs[job.id] = job
        return job

    def _run_batch(self, key, work) -> None:
        with self._lock:
            taken = self._batches[key][:self.max_batch]
            rest = self._batches[key] = self._batches[key][self.max_batch:]
        if rest:
            self._pool.submit(self._run_batch, key, work)
        started = time.monotonic()
        for job, _, _ in taken:
            job.status, job.started = "running", started
        try:
            results = work([item for _, item, _ in taken])
        except Exception as error:  # noqa: BLE001 - reported to every client of the batch
            results = [error] * len(taken)
        for (job, _, cleanup), result in zip(taken, results):
            _finish(job, result, cleanup)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a job whose client has its answer (a synchronous prediction): nothing is kept of it."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def cancel(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        if job is not None:
            job.cancelled.set()
        return job

    def retry_after(self) -> int:
        """Seconds a refused client should wait: about one job's time."""
        with self._lock:
            took = [j.finished - j.started for j in self._jobs.values() if j.finished and j.started]
        return max(1, round(sum(took) / len(took))) if took else 2

    def shutdown(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancelled.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, work, cleanup) -> None:
        job.status, job.started = "running", time.monotonic()
        try:
            job.report(0.0)
            outcome = work(job)
        except Exception as error:  # noqa: BLE001 - a job's failure is reported to its client, the server goes on
            outcome = error
        _finish(job, outcome, cleanup)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key in [k for k, j in self._jobs.items() if j.finished and now - j.finished > self.keep_seconds]:
            del self._jobs[key]


def _finish(job: Job, outcome, cleanup) -> None:
    """Record a job's result, or its failure with the HTTP status it deserves; clean up; wake its waiter."""
    if isinstance(outcome, Stopped):
        job.status, job.error, job.code = "failed", str(outcome), 504
    elif isinstance(outcome, JobError):
        job.status, job.error, job.code = "failed", str(outcome), outcome.code
    elif isinstance(outcome, Exception):
        job.status, job.error, job.code = "failed", f"{job.name}: {type(outcome).__name__}: {outcome}", 500
    else:
        job.status, job.progress, job.result = "done", 1.0, outcome
    job.finished = time.monotonic()
    if cleanup is not None:
        cleanup()
    job._ended()


class JobError(Exception):
    """A failure the client caused (a bad recording, an option out of range), with its HTTP status."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code
