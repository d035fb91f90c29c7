"""The ``tympan`` command: a thin layer that parses options and calls the Python API.

One module per command or group of commands; each command is a function that adds its parser
(``add_<name>(commands)``) and one that runs it (``run_<name>(args) -> int``) by calling the API. A stage
of the pipeline is imported inside the run function, so ``tympan --help`` stays fast.

Exit codes: 0 success; 1 the job finished but some inputs were bad (they are listed); 2 the job could not
run (bad option, unreadable dataset or file: the message says which and why); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import TympanError
from . import datasets, demo, lab, models, predict, serve, train
from .common import EXIT_BAD_INPUTS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Formatter

# in the order `tympan --help` lists them
COMMANDS = [demo.add, train.add_train, train.add_baseline, train.add_compare, train.add_evaluate, models.add_show,
            predict.add_predict, predict.add_embed, predict.add_export, models.add_summary, models.add_import, lab.add,
            datasets.add, serve.add]


def build_parser() -> argparse.ArgumentParser:
    """The ``tympan`` parser: its own options, then each command's."""
    parser = argparse.ArgumentParser(
        prog="tympan", formatter_class=Formatter,
        description="Deep learning for audio - music and soundscapes - on PyTorch.\n\n"
                    "Exit codes: 0 success; 1 finished, but some inputs were bad (listed); "
                    "2 could not run; 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"tympan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``tympan`` with ``argv`` (default: the process's arguments); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TympanError as error:
        print(f"tympan: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tympan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head`: stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


__all__ = ["EXIT_BAD_INPUTS", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main"]
