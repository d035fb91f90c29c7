"""``tympan datasets inspect``, ``synth`` and ``demo``: read and check datasets, make soundscapes of clips,
synthesise the demo one."""

from __future__ import annotations

from ..defaults import SR
from ..errors import ConfigError
from .common import (EXIT_BAD_INPUTS, EXIT_OK, add_command, add_json, add_layout, add_workers, emit,
                     parse_options)


def add(commands) -> None:
    parser = add_command(commands, "datasets", "read and check datasets",
                         "Read datasets in their own layouts and check them.")
    actions = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    add_inspect(actions)
    add_synth(actions)
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


def _pair(text: str, what: str, kind=float) -> tuple:
    try:
        values = tuple(kind(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise ConfigError(f"--{what} {text!r}: give two numbers separated by a comma (lowest,highest), or one")
    return values


def add_synth(actions) -> None:
    from ..data.soundscapes import SynthConfig

    defaults = SynthConfig()
    parser = add_command(actions, "synth", "soundscapes with annotated events from a labelled clip dataset",
                         "Place clips of a labelled clip dataset (any layout) at random times over background "
                         "recordings or coloured noise, at random SNRs, and write OUT/audio/<split>/*.wav, "
                         "OUT/metadata/<split>.tsv (DCASE annotations of each clip's audible part) and "
                         "OUT/synth.json (parameters, and the source clip of every event). The clips are split "
                         "first (the dataset's official split, else by group: speaker, source), so no source "
                         "clip is in two splits, nor any group unless the official split shares them (FSDD's "
                         "test takes are of its training speakers: synth.json and the report say so); "
                         "backgrounds are cut in time likewise.")
    parser.add_argument("--events", required=True, metavar="DATA", help="the clip dataset: a folder or CSV file")
    parser.add_argument("--out", required=True, help="folder to create (it appears whole or not at all)")
    parser.add_argument("--background", default=None, metavar="DIR",
                        help="folder of background recordings (default: white to brown noise)")
    parser.add_argument("--n", type=int, default=defaults.n, help="soundscapes in all (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=defaults.seconds,
                        help="length of each soundscape (default: %(default)s)")
    parser.add_argument("--snr", default="{:g},{:g}".format(*defaults.snr),
                        help="event-to-background SNR range in dB (default: %(default)s)")
    parser.add_argument("--max-polyphony", type=int, default=defaults.max_polyphony,
                        help="most events sounding at once (default: %(default)s)")
    parser.add_argument("--events-per-soundscape", default="{},{}".format(*defaults.events),
                        help="fewest,most events in a soundscape (default: %(default)s)")
    parser.add_argument("--sr", type=int, default=defaults.sr, help="sample rate in Hz (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    add_layout(parser)
    add_json(parser)
    parser.set_defaults(run=run_synth)


def run_synth(args) -> int:
    from ..data.layouts import build
    from ..data.soundscapes import SynthConfig, synthesize

    config = SynthConfig(n=args.n, seconds=args.seconds, snr=_pair(args.snr, "snr"),
                         max_polyphony=args.max_polyphony, events=_pair(args.events_per_soundscape,
                                                                        "events-per-soundscape", int),
                         sr=args.sr, seed=args.seed)
    clips = build(args.events, layout=args.layout, **parse_options(args.option))
    summary = synthesize(clips, args.out, args.background, config, overwrite=args.overwrite, progress=not args.json)
    lines = [f"{sum(summary['soundscapes'].values())} soundscapes in {summary['out']}: "
             + ", ".join(f"{split} {n} ({summary['events'][split]} events)" for split, n in summary["soundscapes"].items())]
    lines += [f"  left out {b['path']}: {b['reason']}" for b in summary["bad"]]
    emit(args, summary, "\n".join(lines))
    return EXIT_BAD_INPUTS if summary["bad"] else EXIT_OK


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
    parser.add_argument("--soundscapes", action="store_true",
                        help="write strongly-labelled soundscapes of the demo classes instead (OUT/clips, the clips; "
                             "OUT/soundscapes, the events layout)")
    add_json(parser)
    parser.set_defaults(run=run_make_demo)


def run_make_demo(args) -> int:
    from ..data.soundscapes import make_demo_soundscapes
    from ..data.synthetic import make_demo

    if args.soundscapes:
        root = make_demo_soundscapes(args.out, sr=args.sr, seed=args.seed, progress=not args.json)
    else:
        root = make_demo(args.out, n_per_class=args.n_per_class, sr=args.sr, seed=args.seed,
                         overwrite=args.overwrite, progress=not args.json)
    emit(args, {"out": str(root)}, f"demo dataset in {root}")
    return EXIT_OK
