"""The ``tympan`` command: a thin layer that parses options and calls the Python API.

Exit codes: 0 success; 1 the job finished but some inputs were bad (they are listed); 2 the job could not
run (bad option, unreadable dataset or file: the message says which and why); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import ConfigError, TympanError

EXIT_OK, EXIT_BAD_INPUTS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_DEMO_DIR = "tympan-demo"


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default, keep hand-made line breaks in descriptions."""


def _parse_options(pairs: list[str]) -> dict:
    """``["subset=esc10", "label_column=tags"]`` -> keyword options for a dataset layout."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE, e.g. --option subset=esc10")
        options[key.strip()] = value.strip()
    return options


# --------------------------------------------------------------------------------------------- show


def cmd_show(args) -> int:
    from .audio import load
    from .display import plot_activations, plot_recording, save_figure

    if args.file == "activations" and not Path(args.file).exists():
        out = Path(args.out or "activations.png")
        save_figure(plot_activations(), out)
        _emit(args, {"out": str(out)}, f"wrote {out}")
        return EXIT_OK
    if args.file == "augment" and args.recording and not Path(args.file).exists():
        from .display import plot_augmentations

        y, sr = load(args.recording, sr=args.sr, offset=args.offset, duration=args.duration)
        written = plot_augmentations(y, sr, Path(args.out or "augment"), seed=args.seed)
        _emit(args, {"out": [str(p) for p in written]}, "\n".join(f"wrote {p}" for p in written))
        return EXIT_OK
    y, sr = load(args.file, sr=args.sr, offset=args.offset, duration=args.duration)
    out = Path(args.out) if args.out else Path(Path(args.file).stem + ".png")
    fig = plot_recording(y, sr, title=f"{Path(args.file).name}  ({sr} Hz, {len(y) / sr:.2f} s)",
                         n_fft=args.n_fft, hop_length=args.hop_length, n_mels=args.n_mels, n_mfcc=args.n_mfcc)
    save_figure(fig, out)
    _emit(args, {"file": str(args.file), "out": str(out), "sr": sr, "seconds": round(len(y) / sr, 3)},
          f"wrote {out}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------ summary


def _summary_targets(target: str, args) -> list[tuple[str, object]]:
    """(label, Classifier) for a model file, a spec file (one per YAML document) or a network kind."""
    from .config import read_documents
    from .model_file import SUFFIX, load_model
    from .nn import MODELS
    from .nn.classifier import Classifier

    path = Path(target)
    if path.suffix == SUFFIX or (path.is_file() and path.suffix not in (".yaml", ".yml", ".json")):
        return [(target, load_model(path))]
    if path.is_file():
        documents = read_documents(path)
        found = []
        for number, doc in enumerate(documents, 1):
            label = doc.get("name") or (target if len(documents) == 1 else f"{target} #{number}")
            if args.input_seconds is not None and "clip_seconds" not in doc:
                doc = {**doc, "clip_seconds": args.input_seconds}
            try:
                found.append((label, Classifier.from_spec(doc, n_classes=args.classes)))
            except TympanError as error:
                raise ConfigError(f"{target}: {label}: {error}") from None
        return found
    if target in MODELS:
        seconds = args.input_seconds or 1.0
        frontend = {"kind": "waveform", "sr": 16000} if target == "cnn1d" else None
        return [(target, Classifier(frontend, target, [f"class_{i}" for i in range(args.classes)], seconds))]
    raise ConfigError(f"{target}: no such file, and not a network kind ({', '.join(MODELS)})")


def cmd_summary(args) -> int:
    from .nn.summary import format_summary, summary

    reports = [summary(model, args.input_seconds, name=label)
               for target in args.targets for label, model in _summary_targets(target, args)]
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        print("\n\n".join(format_summary(r) for r in reports))
    return EXIT_OK


# ----------------------------------------------------------------------------------------- datasets


def cmd_inspect(args) -> int:
    from .data.inspect import format_report, inspect
    from .data.layouts import build

    manifest = build(args.path, layout=args.layout, **_parse_options(args.option))
    report = inspect(manifest, decode=not args.quick, workers=args.workers, progress=not args.json,
                     strict=args.strict)
    _emit(args, report, format_report(report))
    return EXIT_BAD_INPUTS if report["bad"] else EXIT_OK


def cmd_make_demo(args) -> int:
    from .data.synthetic import make_demo

    root = make_demo(args.out, n_per_class=args.n_per_class, sr=args.sr, seed=args.seed,
                     overwrite=args.overwrite, progress=not args.json)
    _emit(args, {"out": str(root)}, f"demo dataset in {root}")
    return EXIT_OK


def _run_summary(result: dict, out: Path) -> str:
    lines = []
    for split in ("val", "test"):
        m = result.get(split)
        if m:
            headline = (f"mAP {m['mAP']:.4f}" if "mAP" in m else
                        f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}")
            lines.append(f"{split}: {headline} (n={m['n']})")
    cv = result.get("cross_validation")
    if cv and "accuracy" in cv:
        lines.append(f"cross-validation over {len(result['folds'])} folds: accuracy "
                     f"{cv['accuracy']['mean']:.4f} +- {cv['accuracy']['std']:.4f}")
    per_group = result.get("per_group") or (result.get("test") or {}).get("per_group")
    if per_group:
        name = (result.get("evaluation") or {}).get("group_name", "group")
        shown = ", ".join(f"{g} {row['accuracy']:.3f}" for g, row in list(per_group.items())[:12])
        more = f", ... ({len(per_group)} in all, in the report)" if len(per_group) > 12 else ""
        lines.append(f"test accuracy per {name}: {shown}{more}")
    note = (result.get("evaluation") or {}).get("note")
    if note:
        lines.append(f"note: {note}")
    head = result.get("head")
    if head:
        lines.append(f"{head['classifier']} head (C={head['C']:g}) on {head['examples']} embeddings of "
                     f"{head['embedding_size']} values, fitted in {result['train_seconds']:.1f} s")
    else:
        refit = result.get("refit")
        again = f", then {refit['epochs']} on training and validation together" if refit else ""
        lines.append(f"{result['epochs']} epochs (best {result['best_epoch']}){again} in "
                     f"{result['train_seconds']:.1f} s")
    if result["bad_files"]:
        lines.append(f"{len(result['bad_files'])} bad file(s) skipped, listed in the report:")
        lines += [f"  {b['path']}: {b['reason']}" for b in result["bad_files"][:10]]
    lines += [f"model:  {out / 'model.tympan'}", f"report: {out / 'report' / 'report.html'}"]
    return "\n".join(lines)


def cmd_train(args) -> int:
    from .data.cache import AudioCache
    from .device import Parallel
    from .train.run import train

    sets = [*args.set, *([f"train.device={args.device}"] if args.device else []),
            *([f"transfer.init_from={json.dumps(args.init_from)}"] if args.init_from else []),
            *([f"transfer.freeze={args.freeze}"] if args.freeze else []),
            *([f"transfer.head={args.head}"] if args.head else [])]
    parallel = Parallel.from_environment()  # under torchrun, this process among the others
    result = train(args.data, args.out, layout=args.layout, config_file=args.config, model=args.model,
                   sets=sets, options=_parse_options(args.option), resume=args.resume, folds=args.folds,
                   progress=not args.json, parallel=parallel, cache=AudioCache())
    if parallel.writes:
        _emit(args, result, _run_summary(result, Path(args.out)))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def cmd_baseline(args) -> int:
    from .train.baseline import baseline

    result = baseline(args.data, args.out, layout=args.layout, classifier=args.classifier, config_file=args.config,
                      sets=args.set, options=_parse_options(args.option), n_mfcc=args.n_mfcc, progress=not args.json)
    b = result["baseline"]
    chosen = ", ".join(f"{k.rpartition('__')[2]}={v}" for k, v in b["chosen"].items())
    text = _run_summary(result, Path(args.out)).replace(
        "0 epochs (best 0)", f"{b['classifier']} on {b['n_features']} MFCC statistics ({chosen})")
    _emit(args, result, "\n".join(line for line in text.splitlines() if not line.startswith("model:")))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def cmd_compare(args) -> int:
    from .train.compare import FRACTIONS, compare, table

    approaches = [a for part in args.recipes for a in part.split(",") if a.strip()]
    fractions = None
    if args.learning_curve is not None:
        try:
            fractions = [float(f) for f in args.learning_curve.split(",")] if args.learning_curve else FRACTIONS
        except ValueError:
            raise ConfigError(f"--learning-curve {args.learning_curve!r}: expected fractions such as "
                              "0.1,0.25,0.5,1") from None
    result = compare(args.data, args.out, approaches, layout=args.layout, options=_parse_options(args.option),
                     sets=args.set, fractions=fractions, progress=not args.json)
    files = "".join(f"\n{name}: {path}" for name, path in result["files"].items())
    _emit(args, result, table(result) + files)
    return EXIT_BAD_INPUTS if result["failed"] else EXIT_OK


def cmd_evaluate(args) -> int:
    from .train.run import evaluate

    result = evaluate(args.model, args.data, layout=args.layout, split=args.split,
                      options=_parse_options(args.option), workers=args.workers, progress=not args.json)
    m = result[args.split]
    text = (f"{args.split}: " + (f"mAP {m['mAP']:.4f}" if "mAP" in m else
                                 f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}") + f" (n={m['n']})")
    if result.get("note"):
        text += f"\nnote: {result['note']}"
    _emit(args, result, text)
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def cmd_predict(args) -> int:
    import csv
    import io

    from .files import write_text
    from .model_file import load_model
    from .predict import predict_files, rows

    from .device import pick_device

    model = load_model(args.model, device=pick_device(args.device))
    threshold = args.threshold
    if args.class_threshold:
        threshold = {}
        for pair in args.class_threshold:
            label, sep, value = pair.rpartition("=")
            if not sep or label not in model.classes:
                raise ConfigError(f"--class-threshold {pair!r}: expected LABEL=VALUE with a label of the model "
                                  f"({', '.join(model.classes)})")
            threshold[label] = float(value)
        threshold = {c: threshold.get(c, args.threshold) for c in model.classes}
    report = predict_files(model, args.paths, top=args.top_k, window_seconds=args.window, hop_seconds=args.hop,
                           threshold=threshold, smooth=args.smooth, min_duration=args.min_duration,
                           batch_size=args.batch_size, progress=not args.json, per_window=args.per_window)
    if args.plot is not None:
        from .display import plot_timeline, save_figure

        for item in report["files"]:
            if item["duration"] > (args.window or model.clip_seconds):
                out = Path(args.plot) / f"{Path(item['file']).stem}.timeline.png"
                item["plot"] = str(save_figure(plot_timeline(item["file"], item["events"], sr=model.sr), out))
    if args.csv:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["file", "start", "end", "label", "score"])
        writer.writeheader()
        writer.writerows(rows(report))
        write_text(args.csv, text.getvalue())
    lines = []
    for item in report["files"]:
        best = ", ".join(f"{t['label']} {t['score']:.3f}" for t in item["top"])
        lines.append(f"{item['file']} ({item['duration']:.2f} s): {best}"
                     + "".join(f"\n  note: {n}" for n in item["notes"]))
        lines += [f"  {e['start']:9.2f} - {e['end']:9.2f} s  {e['label']} ({e['score']:.3f})" for e in item["events"]]
        lines += [f"  plot: {item['plot']}"] if "plot" in item else []
    lines += [f"bad: {b['path']}: {b['reason']}" for b in report["bad"]]
    _emit(args, report, "\n".join(lines))
    return EXIT_BAD_INPUTS if report["bad"] else EXIT_OK


def cmd_embed(args) -> int:
    from .model_file import load_model
    from .device import pick_device
    from .predict.embed import embed_files, write_embeddings

    model = load_model(args.model, device=pick_device(args.device))
    matrix, files, bad = embed_files(model, args.paths, window_seconds=args.window, hop_seconds=args.hop,
                                     batch_size=args.batch_size, progress=not args.json)
    written = write_embeddings(args.out, matrix, files) if files else []
    report = {"schema": "tympan.embed/1", "model": str(args.model), "embedding_size": int(matrix.shape[1]),
              "files": files, "written": [str(p) for p in written], "bad": bad}
    lines = [f"{len(files)} file(s) -> {matrix.shape[1]} values each: "
             f"{', '.join(map(str, written)) or 'nothing written'}"]
    lines += [f"bad: {b['path']}: {b['reason']}" for b in bad]
    _emit(args, report, "\n".join(lines))
    return EXIT_BAD_INPUTS if bad else EXIT_OK


def cmd_export(args) -> int:
    from .predict.export import export
    from .model_file import load_model

    out = export(load_model(args.model), args.out, args.format)
    _emit(args, {"model": str(args.model), "format": args.format, "out": str(out)}, f"wrote {out}")
    return EXIT_OK


def cmd_demo(args) -> int:
    """Tympan's main job on the embedded data: synthesise it, train the demo recipe, report."""
    from .data.synthetic import make_demo
    from .train.config import recipe_path
    from .train.run import train

    out = Path(args.out)
    root = make_demo(out / "data", seed=args.seed, progress=not args.json)
    result = train(root, out, layout="folder", config_file=recipe_path("demo"), sets=args.set,
                   progress=not args.json)
    _emit(args, result, _run_summary(result, out))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def cmd_lab(args) -> int:
    """A lesson of the lecture notes as an experiment: its verdict and numbers, its figure in --out."""
    from .lab import LESSONS, run

    if args.list:
        _emit(args, {name: description for name, (description, _) in LESSONS.items()},
              "\n".join(f"{name:<16} {description}" for name, (description, _) in LESSONS.items()))
        return EXIT_OK
    if args.name is None:
        raise ConfigError(f"name a lesson: tympan lab NAME, with NAME one of {', '.join(LESSONS)} "
                          "(tympan lab --list describes them)")
    result = run(args.name, Path(args.out or Path("lab") / args.name), args.seed)
    held = "the claim held" if result["holds"] else "the claim did NOT hold"
    _emit(args, result, f"{args.name}: {result['verdict']}\n{held} (seed {result['seed']}, {result['seconds']:.1f} s); "
                        f"figure: {result['plot']}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------- parser


def _emit(args, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


def _add_layout(parser, layouts) -> None:
    parser.add_argument("--layout", default="auto", choices=["auto", *layouts],
                        help="how the dataset is organised; auto detects it")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="layout option, repeatable: e.g. subset=esc10 (ESC-50), label_column=tags, "
                             "label_separator=| (CSV)")


def _add_dataset_run(parser, out_help: str, set_help: str) -> None:
    """--data, --out, --layout, --option and --set: what every command that runs on a dataset takes."""
    from .data.layouts import LAYOUTS

    parser.add_argument("--data", required=True, help="dataset folder, or a CSV file of path,label rows")
    parser.add_argument("--out", required=True, help=out_help)
    _add_layout(parser, LAYOUTS)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=set_help)


def build_parser() -> argparse.ArgumentParser:
    from .data.layouts import LAYOUTS
    from .nn import MODELS

    parser = argparse.ArgumentParser(
        prog="tympan", formatter_class=_Formatter,
        description="Deep learning for audio - music and soundscapes - on PyTorch.\n\n"
                    "Exit codes: 0 success; 1 finished, but some inputs were bad (listed); "
                    "2 could not run; 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"tympan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", formatter_class=_Formatter,
                               help="the main job on the embedded demo data (no download)",
                               description="Synthesise the embedded demo dataset into OUT/data, train the demo "
                                           "recipe (recipes/demo.yaml) on it and write OUT/model.tympan and "
                                           "OUT/report/, as `tympan train` does. Under 2 minutes on 2 CPU cores.")
    demo.add_argument("--out", default=DEFAULT_DEMO_DIR, help="folder for the demo's data and results")
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthesised data")
    demo.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override the demo recipe, repeatable: e.g. --set train.epochs=5")
    _add_json(demo)
    demo.set_defaults(run=cmd_demo)

    train = commands.add_parser(
        "train", formatter_class=_Formatter, help="train a model on labelled recordings and report on it",
        description="Read a dataset, split it (official splits and folds kept), train, choose the best epoch "
                    "on validation, and score it on test. Writes OUT/model.tympan, OUT/checkpoints/, "
                    "OUT/log.jsonl and OUT/report/ (metrics.json, curves.png, confusion.png, report.html).\n\n"
                    "Configuration: the recipe of the detected layout (recipes/), or --config FILE; then "
                    "--model; then each --set. Sections: data, frontend, network, train (see "
                    "tympan.train.config). Bad files are listed and skipped (exit code 1) unless "
                    "--set data.strict=true.\n\nData-parallel: torchrun --nproc-per-node N -m tympan train ...")
    _add_dataset_run(train, "folder for the model, checkpoints and report",
                     "override one setting, repeatable: e.g. --set train.epochs=20 --set network.channels=[16,32]")
    train.add_argument("--config", default=None, help="a YAML/JSON configuration file instead of the recipe")
    train.add_argument("--model", default=None, choices=list(MODELS),
                       help="network kind, with its defaults (default: the recipe's)")
    train.add_argument("--device", default=None,
                       help="cpu, cuda, cuda:N or auto (CUDA when present); the same as --set train.device=... "
                            "(default: the configuration's, auto)")
    train.add_argument("--init-from", default=None, metavar="MODEL|random:SPEC",
                       help="transfer learning: start from a model file trained on another task (its front-end "
                            "and network; a new output layer for these classes), or from an untrained network, "
                            "random:KIND or random:{kind: cnn, ...}, as a fixed feature extractor "
                            "(default: none, train from scratch)")
    train.add_argument("--freeze", default=None, choices=["backbone", "none"],
                       help="with --init-from: train the output layer only (backbone) or everything (none) "
                            "(default: none for a model file, backbone for random:)")
    train.add_argument("--head", default=None, choices=["network", "logistic", "svm"],
                       help="with --init-from: train the output layer by gradient descent (network), or fit "
                            "logistic regression or a linear SVM on the frozen embeddings, stored as the output "
                            "layer (default: network)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    train.add_argument("--folds", nargs="?", const="auto", default=None, metavar="official|groups|K|auto",
                       help="cross-validate, mean and std in the report: each official fold as test in turn "
                            "(official), one group out per fold (groups: a speaker, a source recording...), or K "
                            "folds of whole groups; alone, --folds means auto: official folds if the dataset has "
                            "them, else groups (default: no cross-validation)")
    _add_json(train)
    train.set_defaults(run=cmd_train)

    base = commands.add_parser(
        "baseline", formatter_class=_Formatter, help="the conventional baseline: MFCC statistics + SVM, RF or k-NN",
        description="MFCCs with deltas and delta-deltas, summarised by mean and standard deviation over time, "
                    "into a scikit-learn classifier whose hyper-parameters are chosen by a small cross-validated "
                    "grid on the training split only (grouped by speaker or source when the dataset has groups). "
                    "Same splits (the dataset's recipe), metrics and report as `tympan train`: OUT/report/.")
    _add_dataset_run(base, "folder for the report",
                     "override one setting, repeatable: e.g. --set data.test_fraction=0.3")
    base.add_argument("--classifier", default="svm", choices=["svm", "rf", "knn"],
                      help="RBF support vector machine, random forest, or k nearest neighbours")
    base.add_argument("--n-mfcc", type=int, default=20, help="MFCCs per frame (the features are 6 times as many)")
    base.add_argument("--config", default=None, help="a configuration file instead of the recipe (its data "
                                                     "section and the front-end's sr, n_fft, hop_length, n_mels)")
    _add_json(base)
    base.set_defaults(run=cmd_baseline)

    comp = commands.add_parser(
        "compare", formatter_class=_Formatter, help="several approaches on the same split: one table and chart",
        description="Split the dataset once (OUT/split.csv) and run each approach on it: the conventional "
                    "baseline, the dataset's recipe, or any configuration file (with augmentation, fine-tuning "
                    "from another model, random-weights features...). Prints test accuracy, macro-F1, "
                    "validation accuracy and training seconds; writes OUT/compare.json and OUT/compare.png. "
                    "With --learning-curve, the same at fractions of the training data, and "
                    "OUT/learning_curve.png. A failing approach is reported and the others run (exit code 1).")
    _add_dataset_run(comp, "folder for the runs, the table and the charts",
                     "override a setting in every approach, repeatable: e.g. --set train.epochs=10")
    comp.add_argument("--recipes", required=True, action="append", metavar="A,B,...",
                      help="approaches, comma-separated (repeatable): baseline, baseline:rf, baseline:knn, auto "
                           "(the dataset's recipe), a recipe name, or a configuration file; LABEL=SPEC names one")
    comp.add_argument("--learning-curve", nargs="?", const="", default=None, metavar="FRACTIONS",
                      help="also train on these shares of the training data (default when given without a "
                           "value: 0.1,0.25,0.5,1); validation and test stay whole")
    _add_json(comp)
    comp.set_defaults(run=cmd_compare)

    evaluate = commands.add_parser(
        "evaluate", formatter_class=_Formatter, help="score a saved model on a dataset with the same labels",
        description="Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a saved model "
                    "on a dataset. --split test/val/train take the dataset's split as training made it.")
    evaluate.add_argument("--model", required=True, help="the model file (.tympan)")
    evaluate.add_argument("--data", required=True, help="dataset folder or CSV file")
    _add_layout(evaluate, LAYOUTS)
    evaluate.add_argument("--split", default="test", choices=["test", "val", "train", "all"], help="which items")
    evaluate.add_argument("--workers", type=int, default=None, help="parallel decoders (default: cores, at most 8)")
    _add_json(evaluate)
    evaluate.set_defaults(run=cmd_evaluate)

    show = commands.add_parser("show", formatter_class=_Formatter,
                               help="draw a recording (waveform, spectrogram, log-mel, MFCC) or the activations",
                               description="Draw waveform, spectrogram, log-mel and MFCC of one recording "
                                           "into a PNG, with time in seconds and frequency in Hz.\n\n"
                                           "`tympan show activations` draws every activation function and "
                                           "its derivative instead (default --out activations.png); "
                                           "`tympan show augment FILE --out DIR` writes FILE through each "
                                           "augmentation, as WAVs and a before/after log-mel figure.")
    show.add_argument("file", help="the recording (WAV, FLAC, Ogg, MP3, AIFF, AU), or the word activations, or "
                                   "the word augment followed by a recording")
    show.add_argument("recording", nargs="?", default=None,
                      help="with `show augment`: the recording to augment; --out is then a folder (default "
                           "augment/) for one WAV per augmentation and augmentations.png, before and after")
    show.add_argument("--seed", type=int, default=0, help="with `show augment`: the augmentations' seed")
    show.add_argument("--out", help="PNG to write (default: FILE's name with .png, in the current folder)")
    show.add_argument("--sr", type=int, default=None, help="resample to this rate in Hz (default: the file's)")
    show.add_argument("--offset", type=float, default=0.0, help="start this many seconds into the file")
    show.add_argument("--duration", type=float, default=None, help="draw at most this many seconds")
    show.add_argument("--n-fft", type=int, default=2048, help="FFT size in samples")
    show.add_argument("--hop-length", type=int, default=512, help="samples between frames")
    show.add_argument("--n-mels", type=int, default=128, help="mel bands")
    show.add_argument("--n-mfcc", type=int, default=20, help="MFCC coefficients")
    _add_json(show)
    show.set_defaults(run=cmd_show)

    predict = commands.add_parser(
        "predict", formatter_class=_Formatter, help="label recordings: clips, folders, globs, long recordings",
        description="Score every recording with a saved model: the top labels of each file and, for a "
                    "recording longer than a window, a timeline of events (start, end, label, score). "
                    "Decoding, front-end and network run block by block, so memory stays bounded whatever "
                    "the length. Unreadable files are listed with their reasons (exit code 1); the rest "
                    "are processed.")
    predict.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (recursive) or glob patterns")
    predict.add_argument("--model", required=True, help="the model file (.tympan)")
    predict.add_argument("--top-k", type=int, default=3, help="labels to show per file")
    predict.add_argument("--window", type=float, default=None,
                         help="window length in seconds (default: the model's clip length)")
    predict.add_argument("--hop", type=float, default=None, help="seconds between windows (default: half a window)")
    predict.add_argument("--threshold", type=float, default=0.5,
                         help="smoothed score an event must reach; for a multi-label model, also the score a "
                              "file's label must reach")
    predict.add_argument("--class-threshold", action="append", default=[], metavar="LABEL=VALUE",
                         help="a threshold for one class, repeatable (the others keep --threshold)")
    predict.add_argument("--per-window", action="store_true",
                         help="with --json, also each window's scores for recordings longer than a window")
    predict.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when present)")
    predict.add_argument("--smooth", type=int, default=3, help="windows in the moving average of the scores")
    predict.add_argument("--min-duration", type=float, default=0.0, help="drop events shorter than this (s)")
    predict.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    predict.add_argument("--plot", nargs="?", const=".", default=None, metavar="DIR",
                         help="write DIR/<name>.timeline.png per long recording: its log-mel spectrogram with "
                              "the labelled events under it (DIR defaults to the current folder)")
    predict.add_argument("--csv", default=None, metavar="FILE",
                         help="also write rows file,start,end,label,score (events; a clip's best label)")
    _add_json(predict)
    predict.set_defaults(run=cmd_predict)

    embed = commands.add_parser(
        "embed", formatter_class=_Formatter, help="the penultimate-layer embedding of each file, from any model",
        description="What a model's output layer sees, for every file: the learned representation, as features "
                    "for another classifier, clustering or plots. A recording longer than the model's clip is "
                    "cut into windows and their embeddings averaged. Bad files are listed (exit code 1) and "
                    "the rest written.")
    embed.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (recursive) or glob patterns")
    embed.add_argument("--model", required=True, help="the model file (.tympan)")
    embed.add_argument("--out", required=True, metavar="FILE.npy|FILE.csv",
                       help="a .npy matrix (one row per file; the file names in FILE.files.txt) or a .csv "
                            "(path, then one column per value)")
    embed.add_argument("--window", type=float, default=None, help="window length in seconds (default: the "
                                                                  "model's clip length)")
    embed.add_argument("--hop", type=float, default=None, help="seconds between windows (default: half a window)")
    embed.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    embed.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when present)")
    _add_json(embed)
    embed.set_defaults(run=cmd_embed)

    export = commands.add_parser(
        "export", formatter_class=_Formatter, help="export a model to ONNX or TorchScript, front-end included",
        description="Write the whole model as one graph: a mono waveform at the model's sample rate in, "
                    "(batch, samples); class probabilities out. Batch and length are dynamic, except for "
                    "networks that flatten, and cnn1d in ONNX. Recurrent networks (rnn, lstm, gru, crnn) "
                    "export to TorchScript only. Class names, sample rate and clip length travel in the "
                    "file's metadata. ONNX needs the onnx and onnxscript packages.")
    export.add_argument("--model", required=True, help="the model file (.tympan)")
    export.add_argument("--format", default="onnx", choices=["onnx", "torchscript"], help="what to write")
    export.add_argument("--out", required=True, help="the file to write (.onnx, or .pt for TorchScript)")
    _add_json(export)
    export.set_defaults(run=cmd_export)

    summary = commands.add_parser(
        "summary", formatter_class=_Formatter, help="a network's layers: output shapes, weights, biases, MACs",
        description="Per layer: output shape (without the batch axis), weights, biases and multiply-"
                    "accumulates for one clip; then the totals. A weight is any parameter that is not a bias "
                    "(including batch-norm scales and embeddings).\n\n"
                    "Each TARGET is a model file (.tympan), a spec file (YAML or JSON: frontend, network, "
                    "n_classes or classes, clip_seconds; a YAML file may hold several specs separated by "
                    "---, e.g. examples/lecture_weights.yaml), or a network kind with its defaults: "
                    + ", ".join(MODELS) + ".")
    summary.add_argument("targets", nargs="+", metavar="SPEC|MODEL", help="what to summarise")
    summary.add_argument("--input-seconds", type=float, default=None,
                         help="clip length to count for (default: the spec's or model's clip_seconds, else 1)")
    summary.add_argument("--classes", type=int, default=10,
                         help="number of classes, for a spec or kind that does not name its classes")
    _add_json(summary)
    summary.set_defaults(run=cmd_summary)

    lab = commands.add_parser(
        "lab", formatter_class=_Formatter, help="the lecture notes' claims as experiments, with numbers and a figure",
        description="Run one lesson of the lecture notes as an experiment: it trains real networks with "
                    "Tympan's own layers, losses, optimisers and training step (the audio lessons on the demo "
                    "data), prints a verdict with its numbers and whether the claim held in this run, and "
                    "writes its figure to OUT/NAME.png. Each lesson runs in under 2 minutes on 2 CPU cores.\n\n"
                    "tympan lab --list names the lessons, one line each.")
    lab.add_argument("name", nargs="?", default=None, metavar="NAME", help="the lesson to run")
    lab.add_argument("--list", action="store_true", help="name every lesson with one line each, and stop")
    lab.add_argument("--out", default=None, metavar="DIR", help="folder for the figure (default: lab/NAME)")
    lab.add_argument("--seed", type=int, default=0, help="seed of the data, initial weights and batch order")
    _add_json(lab)
    lab.set_defaults(run=cmd_lab)

    datasets = commands.add_parser("datasets", formatter_class=_Formatter, help="read and check datasets",
                                   description="Read datasets in their own layouts and check them.")
    datasets_commands = datasets.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    inspect = datasets_commands.add_parser(
        "inspect", formatter_class=_Formatter, help="classes, counts, splits, groups, durations, bad files",
        description="Summarise a dataset: classes, counts per class and split, folds, groups, durations, "
                    "sample rates, channels, and every bad file with its reason (exit code 1 if any).\n\n"
                    "Layouts: " + ", ".join(LAYOUTS))
    inspect.add_argument("path", help="dataset folder, or a CSV file of path,label rows")
    _add_layout(inspect, LAYOUTS)
    inspect.add_argument("--quick", action="store_true",
                         help="read headers only (fast), instead of decoding every file to find corruption")
    inspect.add_argument("--strict", action="store_true", help="any bad file is an error (exit code 2)")
    inspect.add_argument("--workers", type=int, default=None, help="parallel readers (default: cores, at most 8)")
    _add_json(inspect)
    inspect.set_defaults(run=cmd_inspect)

    make = datasets_commands.add_parser(
        "demo", formatter_class=_Formatter, help="synthesise the embedded demo dataset",
        description="Write the embedded demo dataset (synthesised music and soundscape sounds, a folder per "
                    "class). Deterministic for a seed; an existing complete copy is reused.")
    make.add_argument("--out", required=True, help="folder to create")
    make.add_argument("--n-per-class", type=int, default=100, help="clips per class")
    make.add_argument("--sr", type=int, default=16000, help="sample rate in Hz")
    make.add_argument("--seed", type=int, default=0, help="random seed")
    make.add_argument("--overwrite", action="store_true", help="replace OUT if it holds something else")
    _add_json(make)
    make.set_defaults(run=cmd_make_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
