"""``tympan lab``: a lesson of the lecture notes as an experiment, its verdict and numbers, its figure."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .common import EXIT_OK, add_command, add_json, emit


def add(commands) -> None:
    parser = add_command(
        commands, "lab", "the lecture notes' claims as experiments, with numbers and a figure",
        "Run one lesson of the lecture notes as an experiment: it trains real networks with Tympan's own layers, "
        "losses, optimisers and training step (the audio lessons on the demo data), prints a verdict with its "
        "numbers and whether the claim held in this run, and writes its figure to OUT/NAME.png. Each lesson "
        "runs in under 2 minutes on 2 CPU cores.\n\n"
        "tympan lab --list names the lessons, one line each.")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME", help="the lesson to run")
    parser.add_argument("--list", action="store_true", help="name every lesson with one line each, and stop")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for the figure (default: lab/NAME)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, initial weights and batch order")
    add_json(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..lab import LESSONS, run as run_lesson

    if args.list:
        emit(args, {name: description for name, (description, _) in LESSONS.items()},
             "\n".join(f"{name:<16} {description}" for name, (description, _) in LESSONS.items()))
        return EXIT_OK
    if args.name is None:
        raise ConfigError(f"name a lesson: tympan lab NAME, with NAME one of {', '.join(LESSONS)} "
                          "(tympan lab --list describes them)")
    result = run_lesson(args.name, Path(args.out or Path("lab") / args.name), args.seed)
    held = "the claim held" if result["holds"] else "the claim did NOT hold"
    emit(args, result, f"{args.name}: {result['verdict']}\n{held} (seed {result['seed']}, {result['seconds']:.1f} s); "
                       f"figure: {result['plot']}")
    return EXIT_OK
