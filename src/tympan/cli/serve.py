"""``tympan serve``: the REST API over a folder of models (``tympan.serve``)."""

from __future__ import annotations

import os
import sys

from ..errors import ConfigError
from .common import EXIT_OK, add_command

LOCAL = ("127.0.0.1", "localhost", "::1")


def add(commands) -> None:
    parser = add_command(
        commands, "serve", "serve the models of a folder over HTTP: a REST API with its documentation",
        "Serve the .tympan files of --models by name: GET /api/health, GET /api/models, POST /api/predict "
        "(multipart: the recording in `file`, the model's name in `model`, and tympan predict's options as "
        "fields, e.g. top_k, threshold, window, hop), with OpenAPI documentation at /docs. It prints the "
        "address to open and stops on Ctrl-C.\n\n"
        "Safe by default: it listens on 127.0.0.1 only; another --host prints a warning and should come with a "
        "--token (or TYMPAN_TOKEN), which every request must then carry (Authorization: Bearer TOKEN, or "
        "?token=TOKEN). No request can name a path: models are chosen by name.")
    parser.add_argument("--models", default="models", help="folder of .tympan model files (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but 127.0.0.1 opens the server to other machines "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    parser.add_argument("--token", default=None,
                        help="a secret every request must carry (default: the TYMPAN_TOKEN environment variable, "
                             "else none)")
    parser.add_argument("--max-upload-mb", type=float, default=None,
                        help="largest recording accepted, in MB (default: 200)")
    parser.set_defaults(run=run_serve)


def run_serve(args) -> int:
    try:
        import uvicorn

        from ..serve import create_app
        from ..serve.api import MAX_UPLOAD_MB
    except ImportError as error:
        raise ConfigError(f"tympan serve needs FastAPI and uvicorn ({error.name} is missing): "
                          "pip install 'tympan[serve]'") from None
    if not os.path.isdir(args.models):
        raise ConfigError(f"--models {args.models}: no such folder (put .tympan model files in one)")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: choose a port from 1 to 65535")
    cap = MAX_UPLOAD_MB if args.max_upload_mb is None else args.max_upload_mb
    if cap <= 0:
        raise ConfigError(f"--max-upload-mb {args.max_upload_mb:g}: must be more than 0")
    token = args.token or os.environ.get("TYMPAN_TOKEN") or None
    if args.host not in LOCAL:
        print(f"tympan serve: warning: listening on {args.host} lets other machines reach this server"
              + ("" if token else "; give it a --token"), file=sys.stderr)
    app = create_app(args.models, token=token, max_upload_mb=cap)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Tympan serves {len(app.state.shelf.names())} model(s) from {args.models} at http://{host}:{args.port}/ "
          f"(API documentation: /docs); Ctrl-C stops it", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
