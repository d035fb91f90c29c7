"""The playground of ``tympan serve`` over HTTP: sessions that train a small network on the server, each in
its own thread, and stream what the page draws with server-sent events.

``POST /api/playground/sessions`` starts a session (paused) from a configuration, ``GET
.../sessions/{id}/stream`` streams it (an ``event: layout`` with the points and the network's shape after
every rebuild, an ``event: snapshot`` after every step or a few times a second while playing, ``event:
end`` when the session ends), ``POST .../{id}/control`` plays, pauses, steps an epoch or resets, ``PUT
.../{id}`` changes the configuration (a learning rate, batch size or regularisation mid-run; anything
else rebuilds the network), ``POST .../{id}/close`` (what a closing page sends by ``sendBeacon``) and
``DELETE .../{id}`` end it. ``GET /api/playground/options`` lists the choices and limits, ``GET
/api/playground/presets`` the lessons of ``tympan lab`` set up as presets.

Safe by default: at most ``max_sessions`` sessions at once (then 503 with ``Retry-After``), networks of at
most 6 hidden layers of 8 units, at most ``max_epochs`` epochs per session, and a session ends when its page
closes (its stream closed for ``grace_seconds``) or nobody has asked for it for ``idle_seconds``.
Training runs in the session's thread, never in the server's event loop.
"""

import asyncio
import json
import threading
import time
import uuid

# FastAPI reads the endpoints' annotations at run time: no ``from __future__ import annotations`` here
from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import StreamingResponse

from ..errors import ConfigError
from . import playground_engine as engine
from .playground_data import DATASETS, FEATURES
from .playground_presets import describe as describe_presets

EPOCHS_PER_SECOND = 60  # the pace of playing, as the playground animates an epoch a frame
SNAPSHOT_SECONDS = 0.1  # while playing, a snapshot at most this often
POLL_SECONDS = 0.05  # how often a stream looks for a new snapshot
KEEP_ALIVE_SECONDS = 15


class Session:
    """One page's network: a ``Trainer``, its thread, and the latest layout and snapshot as SSE text.

    The trainer is touched under ``lock`` only; the thread plays while ``playing`` and ends with the
    session. ``streams`` counts the open event streams; ``seen`` is the last request's time.
    """

    def __init__(self, trainer: engine.Trainer, max_epochs: int):
        self.id = uuid.uuid4().hex
        self.trainer, self.max_epochs = trainer, max_epochs
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.playing, self.ended, self.reason = False, False, ""
        self.trained = 0  # epochs trained in this session, every run together: the cap counts these
        self.notice = ""
        self.streams, self.stream_closed, self.seen = 0, None, time.monotonic()
        self.revision, self.sequence = 0, 0
        self.layout_event = self.snapshot_event = ""
        with self.lock:
            self._publish(layout=True)
        self.thread = threading.Thread(target=self._play, name=f"playground-{self.id[:8]}", daemon=True)

    # ---- what the page sees

    def _publish(self, layout: bool = False) -> None:
        """Make the layout (when ``layout``) and the snapshot the streams send next; call under ``lock``."""
        # each event is in place before the number that announces it: the streams read them without the lock
        if layout:
            self.layout_event = _event("layout", {**self.trainer.layout(), "revision": self.revision + 1})
            self.revision += 1
        snapshot = {**self.trainer.snapshot(), "playing": self.playing, "trained": self.trained,
                    "max_epochs": self.max_epochs, "notice": self.notice, "revision": self.revision}
        self.snapshot_event = _event("snapshot", snapshot)
        self.sequence += 1

    def describe(self) -> dict:
        with self.lock:
            return {"id": self.id, "config": self.trainer.config.to_dict(), "epoch": self.trainer.epoch,
                    "playing": self.playing, "trained": self.trained, "max_epochs": self.max_epochs,
                    "notice": self.notice, "streams": self.streams}

    # ---- what the page asks

    def control(self, action: str) -> None:
        """``play``, ``pause``, ``step`` (one epoch) or ``reset`` (new initial weights from the seed)."""
        with self.lock:
            self.notice = ""
            if action in ("play", "step") and self.trained >= self.max_epochs:
                raise HTTPException(409, f"this session has trained its {self.max_epochs} epochs, the server's "
                                         "cap: reload the page for a new session")
            if action == "play":
                self.playing = True
            elif action == "pause":
                self.playing = False
            elif action == "step":
                self.playing = False
                self._train_epoch()
            elif action == "reset":
                self.playing = False
                self.trainer.rebuild()
            else:
                raise HTTPException(422, f"action={action!r} is unknown: choose play, pause, step or reset")
            self._publish(layout=action == "reset")
        self.wake.set()

    def change(self, values: dict) -> bool:
        """Change the configuration (``PlaygroundConfig`` fields); True when the network was rebuilt."""
        with self.lock:
            rebuilt = self.trainer.change(values)
            if rebuilt:
                self.playing, self.notice = False, ""
            self._publish(layout=rebuilt)
            return rebuilt

    # ---- the thread

    def _train_epoch(self) -> None:
        self.trainer.train_epochs(1)
        self.trained += 1
        stop_at = self.trainer.config.stop_at
        if stop_at is not None and self.trainer.epoch == stop_at:
            self.playing = False
            self.notice = f"stopped at epoch {stop_at}, the lesson's length: press play to go on"
        if self.trained >= self.max_epochs:
            self.playing = False
            self.notice = f"this session has trained its {self.max_epochs} epochs, the server's cap"

    def _play(self) -> None:
        published = 0.0
        while not self.ended:
            if not self.playing:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            started = time.monotonic()
            with self.lock:
                if self.playing:  # a pause may have come while this thread waited for the lock
                    self._train_epoch()
                    if not self.playing or started - published >= SNAPSHOT_SECONDS:
                        self._publish()
                        published = started
            # at most EPOCHS_PER_SECOND; and a pause with the lock free, however long the epoch took, or a
            # request waiting for it could lose every race to this thread
            time.sleep(max(0.002, 1 / EPOCHS_PER_SECOND - (time.monotonic() - started)))

    def end(self, reason: str) -> None:
        self.ended, self.reason = True, reason
        self.wake.set()


class Sessions:
    """The live sessions, at most ``max_sessions``; one that nobody asks for is ended (see the module)."""

    def __init__(self, max_sessions: int, max_epochs: int, idle_seconds: float, grace_seconds: float):
        self.max_sessions, self.max_epochs = max_sessions, max_epochs
        self.idle_seconds, self.grace_seconds = idle_seconds, grace_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._janitor = None

    def create(self, values: dict) -> Session:
        self.sweep()
        self._refuse_when_full()
        trainer = engine.Trainer(engine.PlaygroundConfig().replace(values))
        with self._lock:
            self._refuse_when_full()  # again: another may have taken the last place while this one was built
            session = Session(trainer, self.max_epochs)
            self._sessions[session.id] = session
            if self._janitor is None:
                self._janitor = threading.Thread(target=self._sweep_forever, name="playground-janitor", daemon=True)
                self._janitor.start()
        session.thread.start()
        return session

    def _refuse_when_full(self) -> None:
        if len(self._sessions) >= self.max_sessions:
            raise HTTPException(503, f"the playground has its {self.max_sessions} sessions running, this "
                                     "server's limit: close another playground page, or try again in a minute",
                                headers={"Retry-After": str(int(self.grace_seconds) + 5)})

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise HTTPException(404, f"no playground session {session_id!r}: it ended (its page closed, or it "
                                     f"was idle for {self.idle_seconds:g} s); start a new one")
        session.seen = time.monotonic()
        return session

    def end(self, session_id: str, reason: str) -> bool:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.end(reason)
        return session is not None

    def __len__(self) -> int:
        return len(self._sessions)

    def sweep(self) -> None:
        """End the sessions whose stream closed ``grace_seconds`` ago, or unasked for ``idle_seconds``."""
        now = time.monotonic()
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            if s.streams:
                continue
            if s.stream_closed is not None and now - max(s.stream_closed, s.seen) > self.grace_seconds:
                self.end(s.id, "its page closed")
            elif now - s.seen > self.idle_seconds:
                self.end(s.id, f"nobody asked for it for {self.idle_seconds:g} s")

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(min(1.0, self.grace_seconds / 2))
            self.sweep()


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def router(max_sessions: int = 4, max_epochs: int = 20_000, idle_seconds: float = 60.0,
           grace_seconds: float = 10.0) -> APIRouter:
    """The playground's endpoints, under ``/api/playground``, over their own ``Sessions``.

    Parameters
    ----------
    max_sessions : int
        Sessions at once; one more is refused (503, ``Retry-After``).
    max_epochs : int
        Epochs a session may train, all its runs together.
    idle_seconds, grace_seconds : float
        A session without an open stream ends after ``idle_seconds`` without a request, or
        ``grace_seconds`` after its last stream closed (its page went away).
    """
    sessions = Sessions(max_sessions, max_epochs, idle_seconds, grace_seconds)
    api = APIRouter(prefix="/api/playground", tags=["playground"])
    api.sessions = sessions  # for tests and the curious: the router's own state, not a global

    @api.get("/options", summary="The playground's choices (data sets, inputs, activations, losses, "
                                 "optimisers) and limits")
    def options() -> dict:
        return {"data": [{"name": n, "title": d.title, "description": d.description, "lesson": d.lesson}
                         for n, d in DATASETS.items()],
                "inputs": [{"name": n, "label": label} for n, (label, _) in FEATURES.items()],
                "activations": list(engine.ACTIVATIONS), "losses": list(engine.LOSSES),
                "optimizers": list(engine.OPTIMIZERS), "regularizations": list(engine.REGULARIZATIONS),
                "live": list(engine.PlaygroundConfig.LIVE), "default": engine.PlaygroundConfig().to_dict(),
                "limits": {"hidden_layers": engine.MAX_LAYERS, "units": engine.MAX_UNITS,
                           "learning_rate": engine.MAX_LEARNING_RATE, "batch_size": engine.MAX_BATCH,
                           "max_sessions": max_sessions, "max_epochs": max_epochs,
                           "idle_seconds": idle_seconds, "grace_seconds": grace_seconds}}

    @api.get("/presets", summary="The lessons of `tympan lab` as presets: each one's configuration and the "
                                 "lesson's numbers it reproduces")
    def presets() -> list[dict]:
        return describe_presets()

    @api.post("/sessions", status_code=201, summary="Start a session (paused) from a configuration; "
                                                    "503 with Retry-After when the server has its sessions")
    def create(values: dict = Body({}, description="PlaygroundConfig fields; the others keep their defaults "
                                                   "(GET /api/playground/options)",
                                    examples=[{"data": "circles", "hidden": [4, 2], "activation": "tanh"}])) -> dict:
        try:
            session = sessions.create(values)
        except ConfigError as error:
            raise HTTPException(422, str(error)) from None
        return session.describe()

    @api.get("/sessions", summary="How many sessions run, and how many this server allows")
    def count() -> dict:
        sessions.sweep()
        return {"sessions": len(sessions), "max_sessions": max_sessions}

    @api.get("/sessions/{session_id}", summary="A session's configuration and state")
    def describe(session_id: str) -> dict:
        return sessions.get(session_id).describe()

    @api.put("/sessions/{session_id}", summary="Change a session's configuration: learning rate, batch size "
                                               "and regularisation apply mid-run, other fields rebuild")
    def change(session_id: str, values: dict = Body(..., description="the PlaygroundConfig fields to change",
                                                     examples=[{"learning_rate": 0.1}])) -> dict:
        session = sessions.get(session_id)
        try:
            rebuilt = session.change(values)
        except ConfigError as error:
            raise HTTPException(422, str(error)) from None
        return {**session.describe(), "rebuilt": rebuilt}

    @api.post("/sessions/{session_id}/control", summary="play, pause, step (one epoch) or reset")
    def control(session_id: str, command: dict = Body(..., examples=[{"action": "play"}])) -> dict:
        session = sessions.get(session_id)
        session.control(command.get("action") if isinstance(command, dict) else None)
        return session.describe()

    @api.get("/sessions/{session_id}/stream", summary="Server-sent events: `layout` after each rebuild, "
                                                      "`snapshot` as it trains, `end` when the session ends")
    async def stream(session_id: str, request: Request) -> StreamingResponse:
        session = sessions.get(session_id)
        return StreamingResponse(_events(session, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.post("/sessions/{session_id}/close", summary="End a session (a closing page sends this by sendBeacon)")
    def close(session_id: str) -> dict:
        sessions.get(session_id)
        sessions.end(session_id, "its page closed it")
        return {"id": session_id, "ended": True}

    @api.delete("/sessions/{session_id}", summary="End a session")
    def delete(session_id: str) -> dict:
        return close(session_id)

    return api


async def _events(session: Session, request: Request):
    """The session's layout and snapshots as they change, until it ends or the page goes."""
    session.streams += 1
    revision = sequence = -1
    last = time.monotonic()
    try:
        while not session.ended and not await request.is_disconnected():
            if session.revision != revision:
                revision, sequence = session.revision, -1  # then this revision's snapshot, even if sent before
                yield session.layout_event
            if session.sequence != sequence:
                sequence = session.sequence
                yield session.snapshot_event
                last = time.monotonic()
            elif time.monotonic() - last > KEEP_ALIVE_SECONDS:
                yield ": still here\n\n"  # a comment line: keeps proxies from closing a quiet stream
                last = time.monotonic()
            session.seen = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
        if session.ended:
            yield _event("end", {"reason": session.reason})
    finally:
        session.streams -= 1
        session.stream_closed = time.monotonic()
