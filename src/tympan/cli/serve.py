"""``tympan serve``: the pages and the REST API over a folder of models and runs (``tympan.serve``)."""

from __future__ import annotations

import os
import sys

from ..errors import ConfigError
from .common import EXIT_OK, add_command

LOCAL = ("127.0.0.1", "localhost", "::1")


def add(commands) -> None:
    parser = add_command(
        commands, "serve", "Tympan on the web: the analysis page, the playground, the runs, and a REST API",
        "Three pages and an API, all from the package (nothing is loaded from the internet): / analyses a "
        "recording you drop, pick or record with a model of --models (labels, waveform, log-mel, scores over "
        "time, events, playback); /playground trains small networks live, as the lecture notes' playground; "
        "/runs compares the training runs under --runs and opens their reports. The REST API serves the "
        ".tympan files of --models by name: GET /api/health, GET /api/models, POST /api/predict (multipart: "
        "the recording in `file`, the model's name in `model`, and tympan predict's options as fields, e.g. "
        "top_k, threshold, window, hop), POST /api/jobs (the same with progress), GET /api/runs; its "
        "documentation is at /docs. It prints the address to open and stops on Ctrl-C.\n\n"
        "Safe by default: it listens on 127.0.0.1 only; another --host prints a warning and should come with a "
        "--token (or TYMPAN_TOKEN), which every request must then carry (Authorization: Bearer TOKEN, or "
        "?token=TOKEN). No request can name a path: models and runs are chosen by name. Uploads are capped in "
        "size and decoded duration; predictions run --workers at a time with --queue more waiting (503 with "
        "Retry-After beyond), each stopped after --time-limit.")
    parser.add_argument("--models", default="models", help="folder of .tympan model files (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but 127.0.0.1 opens the server to other machines "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    parser.add_argument("--token", default=None,
                        help="a secret every request must carry (default: the TYMPAN_TOKEN environment variable, "
                             "else none)")
    parser.add_argument("--runs", default=None,
                        help="folder of training runs (tympan train --out) for the runs page (default: --models)")
    parser.add_argument("--max-upload-mb", type=float, default=None,
                        help="largest upload accepted, in MB, refused while it arrives (default: 100)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="longest recording accepted, in decoded seconds (default: 14400, four hours)")
    parser.add_argument("--workers", type=int, default=None,
                        help="predictions running at once (default: 2)")
    parser.add_argument("--queue", type=int, default=None,
                        help="predictions waiting beyond those; more get 503 (default: 64)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds a prediction may take before it is stopped (default: 600)")
    parser.add_argument("--max-sessions", type=int, default=None,
                        help="playground sessions at once; more get 503 (default: 4)")
    parser.set_defaults(run=run_serve)


def run_serve(args) -> int:
    try:
        import uvicorn

        from ..serve import create_app
        from ..serve.api import Limits
    except ImportError as error:
        raise ConfigError(f"tympan serve needs FastAPI and uvicorn ({error.name} is missing): "
                          "pip install 'tympan[serve]'") from None
    if not os.path.isdir(args.models):
        raise ConfigError(f"--models {args.models}: no such folder (put .tympan model files in one)")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: choose a port from 1 to 65535")
    if args.runs is not None and not os.path.isdir(args.runs):
        raise ConfigError(f"--runs {args.runs}: no such folder (tympan train --out writes run folders)")
    limits = Limits()
    chosen = {"max_upload_mb": args.max_upload_mb, "max_seconds": args.max_seconds, "workers": args.workers,
              "queue": args.queue, "time_limit": args.time_limit, "sessions": args.max_sessions}
    for field, value in chosen.items():
        if value is None:
            continue
        if not (value > 0 or (field == "queue" and value == 0)):
            raise ConfigError(f"--{field.replace('_', '-')} {value:g}: must be more than 0")
        limits = limits._replace(**{field: value})
    token = args.token or os.environ.get("TYMPAN_TOKEN") or None
    if args.host not in LOCAL:
        print(f"tympan serve: warning: listening on {args.host} lets other machines reach this server"
              + ("" if token else "; give it a --token"), file=sys.stderr)
    app = create_app(args.models, token=token, limits=limits, runs=args.runs)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Tympan serves {len(app.state.shelf.names())} model(s) from {args.models}: open "
          f"http://{host}:{args.port}/{'?token=' + token if token else ''} (pages: / analysis, /playground, /runs; "
          f"API documentation: /docs); Ctrl-C stops it", file=sys.stderr, flush=True)
    # open event streams (the playground's) would hold Ctrl-C up: they get 3 s to close
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=3)
    return EXIT_OK
