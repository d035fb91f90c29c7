"""``tympan datasets inspect`` and ``datasets demo``: read and check datasets, synthesise the demo one."""

from __future__ import annotations

from ..defaults import SR
from .common import (EXIT_BAD_INPUTS, EXIT_OK, add_command, add_json, add_layout, add_workers, emit,
                     parse_options)


def add(commands) -> None:
    parser = add_command(commands, "datasets", "read and check datasets",
                         "Read datasets in their own layouts and check them.")
    actions = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    add_inspect(actions)
    add_make_demo(actions)


def add_inspect(actions) -> None:
    from ..data.layouts import LAYOUTS

    parser = add_command(actions, "inspect", "classes, counts, splits, groups, durations, bad files",
                         "Summarise a dataset: classes, counts per class and split, folds, groups, durations, "
                         "sample rates, channels, and every bad file with its reason (exit code 1 if any).\n\n"
                         "Layouts: " + ", ".join(LAYOUTS))
    parser.add_argument("path", help="dataset folder, or a CSV file of path,label rows")
    add_layout(parser)
    parser.add_argument("--quick", action="store_true",
                        help="read headers only (fast), instead of decoding every file to find corruption")
    parser.add_argument("--strict", action="store_true", help="any bad file is an error (exit code 2)")
    add_workers(parser, "parallel readers")
    add_json(parser)
    parser.set_defaults(run=run_inspect)


def run_inspect(args) -> int:
    from ..data.inspect import format_report, inspect
    from ..data.layouts import build

    manifest = build(args.path, layout=args.layout, **parse_options(args.option))
    report = inspect(manifest, decode=not args.quick, workers=args.workers, progress=not args.json,
                     strict=args.strict)
    emit(args, report, format_report(report))
    return EXIT_BAD_INPUTS if report["bad"] else EXIT_OK


def add_make_demo(actions) -> None:
    parser = add_command(actions, "demo", "synthesise the embedded demo dataset",
                         "Write the embedded demo dataset (synthesised music and soundscape sounds, a folder per "
                         "class). Deterministic for a seed; an existing complete copy is reused.")
    parser.add_argument("--out", required=True, help="folder to create")
    parser.add_argument("--n-per-class", type=int, default=100, help="clips per class")
    parser.add_argument("--sr", type=int, default=SR,
                        help="sample rate in Hz (default: %(default)s, tympan.defaults.SR)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it holds something else")
    add_json(parser)
    parser.set_defaults(run=run_make_demo)


def run_make_demo(args) -> int:
    from ..data.synthetic import make_demo

    root = make_demo(args.out, n_per_class=args.n_per_class, sr=args.sr, seed=args.seed,
                     overwrite=args.overwrite, progress=not args.json)
    emit(args, {"out": str(root)}, f"demo dataset in {root}")
    return EXIT_OK
