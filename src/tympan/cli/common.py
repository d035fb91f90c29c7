"""What every command shares: exit codes, the help formatter, ``--json`` and the dataset options.

Nothing here imports a stage of the pipeline at start-up, so ``tympan --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json

from ..defaults import default_workers
from ..errors import ConfigError

EXIT_OK, EXIT_BAD_INPUTS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default, keep hand-made line breaks in descriptions.

    A help that says its default in words is left as it is; an option without a default (required, a
    flag, a repeatable one, or None) gets no ``(default: None)``. An option whose default belongs to a
    stage (``quote_default``) has it quoted from there, when help is printed.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        describe = getattr(action, "describe_default", None)
        if describe is not None:
            return f"{text} (default: {describe()})"
        if "(default" in text or action.required or _no_default(action.default):
            return text
        return super()._get_help_string(action)


def _no_default(value) -> bool:
    """None, a flag's False, a repeatable option's []: nothing to show (0 and 0.0 are shown)."""
    return value is None or value is False or value == [] or value == argparse.SUPPRESS


def quote_default(action: argparse.Action, describe) -> argparse.Action:
    """Let --help quote ``describe()`` as ``action``'s default: for a default held by a stage that is too
    heavy to import at start-up (the configuration's, the comparison's fractions)."""
    action.describe_default = describe
    return action


def configured(key: str) -> str:
    """The default of the configuration's ``section.name`` (``train.device``), for --help: what an option
    left unset leaves to the recipe or ``--config`` file, which may override it."""
    from ..train.config import Config

    section, _, name = key.partition(".")
    return f"the configuration's {key}, {getattr(getattr(Config(), section), name)} unless the recipe sets it"


def add_command(commands, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A subcommand's parser, with the shared formatter."""
    return commands.add_parser(name, formatter_class=Formatter, help=help, description=description)


def parse_options(pairs: list[str]) -> dict:
    """``["subset=esc10", "label_column=tags"]`` -> keyword options for a dataset layout."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE, e.g. --option subset=esc10")
        options[key.strip()] = value.strip()
    return options


def emit(args, data: dict, text: str) -> None:
    """Print ``data`` as JSON with --json, else ``text``."""
    print(json.dumps(data, indent=2) if args.json else text)


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


def add_workers(parser, what: str) -> None:
    parser.add_argument("--workers", type=int, default=None,
                        help=f"{what} (default: {default_workers()} on this machine, from "
                             "tympan.defaults.default_workers)")


def add_layout(parser) -> None:
    """--layout and --option: how a dataset is organised."""
    from ..data.layouts import LAYOUTS

    parser.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS],
                        help="how the dataset is organised; auto detects it")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="layout option, repeatable: e.g. subset=esc10 (ESC-50), label_column=tags, "
                             "label_separator=| (CSV)")


def add_dataset_run(parser, out_help: str, set_help: str) -> None:
    """--data, --out, --layout, --option and --set: what every command that runs on a dataset takes."""
    parser.add_argument("--data", required=True, help="dataset folder, or a CSV file of path,label rows")
    parser.add_argument("--out", required=True, help=out_help)
    add_layout(parser)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=set_help)
