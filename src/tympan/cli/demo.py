"""``tympan demo``: the main job on the embedded demo data, no download."""

from __future__ import annotations

from pathlib import Path

from .common import EXIT_BAD_INPUTS, EXIT_OK, add_command, add_json, emit

DEFAULT_DEMO_DIR = "tympan-demo"
# the events recipe shortened to a few minutes on 2 CPU cores: 16 epochs of 5-s crops
DEMO_EVENTS = ["train.epochs=16", "data.clip_seconds=5"]


def add(commands) -> None:
    parser = add_command(commands, "demo", "the main job on the embedded demo data (no download)",
                         "Synthesise the embedded demo dataset into OUT/data, train the demo recipe "
                         "(recipes/demo.yaml) on it and write OUT/model.tympan and OUT/report/, as `tympan train` "
                         "does. Under 2 minutes on 2 CPU cores.")
    parser.add_argument("--out", default=DEFAULT_DEMO_DIR, help="folder for the demo's data and results")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthesised data (default: %(default)s)")
    parser.add_argument("--task", default="clips", choices=["clips", "events"],
                        help="clips: label demo clips (recipes/demo.yaml); events: detect the demo sounds in time "
                             "in synthesised soundscapes (recipes/events.yaml), ending with a timeline figure "
                             "(default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override the demo recipe, repeatable: e.g. --set train.epochs=5")
    add_json(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    """Synthesise the demo data (or reuse it), train the demo recipe on it, report."""
    from ..data.soundscapes import make_demo_soundscapes
    from ..data.synthetic import make_demo
    from ..train import format_run, train
    from ..train.config import recipe_path

    out = Path(args.out)
    if args.task == "events":
        root = make_demo_soundscapes(out / "data", seed=args.seed, progress=not args.json)
        result = train(root, out, layout="events", config_file=recipe_path("events"),
                       sets=[*DEMO_EVENTS, *args.set], progress=not args.json)
    else:
        root = make_demo(out / "data", seed=args.seed, progress=not args.json)
        result = train(root, out, layout="folder", config_file=recipe_path("demo"), sets=args.set,
                       progress=not args.json)
    emit(args, result, format_run(result, out))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK
