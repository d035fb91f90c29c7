"""``tympan train``, ``baseline``, ``compare`` and ``evaluate``: runs on a dataset, and their scores."""

from __future__ import annotations

import json

from ..defaults import N_MFCC
from ..errors import ConfigError
from .common import (EXIT_BAD_INPUTS, EXIT_OK, add_command, add_dataset_run, add_json, add_layout, add_workers,
                     configured, emit, parse_options, quote_default)


def add_train(commands) -> None:
    from ..nn import MODELS

    parser = add_command(
        commands, "train", "train a model on labelled recordings and report on it",
        "Read a dataset, split it (official splits and folds kept), train, choose the best epoch on validation, "
        "and score it on test. Writes OUT/model.tympan, OUT/checkpoints/, OUT/log.jsonl and OUT/report/ "
        "(metrics.json, curves.png, confusion.png, report.html).\n\n"
        "Configuration: the recipe of the detected layout (recipes/), or --config FILE; then --model; then each "
        "--set. Sections: data, frontend, network, train, augment, transfer, and postprocess for events models "
        "(threshold, low_threshold, median_seconds, min_gap, min_duration, tune; see tympan.train.config). Bad "
        "files are listed and skipped (exit code 1) unless --set data.strict=true.\n\n"
        "Data-parallel: torchrun --nproc-per-node N -m tympan train ...")
    add_dataset_run(parser, "folder for the model, checkpoints and report",
                    "override one setting, repeatable: e.g. --set train.epochs=20 --set network.channels=[16,32]")
    parser.add_argument("--config", default=None,
                        help="a YAML/JSON configuration file instead of the recipe (default: the recipe of the "
                             "dataset's layout)")
    quote_default(parser.add_argument("--task", default=None, choices=["clips", "events"],
                                      help="clips: a label per clip; events: what sounds when, from recordings "
                                           "annotated with events in time (the events layout); the same as --set "
                                           "data.task=..."), lambda: configured("data.task"))
    parser.add_argument("--model", default=None, choices=list(MODELS),
                        help="network kind, with its defaults (default: the recipe's)")
    quote_default(parser.add_argument("--device", default=None,
                                      help="cpu, cuda, cuda:N or auto (CUDA when present); the same as --set "
                                           "train.device=..."), lambda: configured("train.device"))
    parser.add_argument("--init-from", default=None, metavar="MODEL|random:SPEC",
                        help="transfer learning: start from a model file trained on another task (its front-end "
                             "and network; a new output layer for these classes), or from an untrained network, "
                             "random:KIND or random:{kind: cnn, ...}, as a fixed feature extractor "
                             "(default: none, train from scratch)")
    parser.add_argument("--freeze", default=None, choices=["backbone", "none"],
                        help="with --init-from: train the output layer only (backbone) or everything (none) "
                             "(default: none for a model file, backbone for random:)")
    quote_default(parser.add_argument("--head", default=None, choices=["network", "logistic", "svm"],
                                      help="with --init-from: train the output layer by gradient descent "
                                           "(network), or fit logistic regression or a linear SVM on the frozen "
                                           "embeddings, stored as the output layer"),
                  lambda: configured("transfer.head"))
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    parser.add_argument("--folds", nargs="?", const="auto", default=None, metavar="official|groups|K|auto",
                        help="cross-validate, mean and std in the report: each official fold as test in turn "
                             "(official), one group out per fold (groups: a speaker, a source recording...), or K "
                             "folds of whole groups; alone, --folds means auto: official folds if the dataset has "
                             "them, else groups (default: no cross-validation)")
    add_json(parser)
    parser.set_defaults(run=run_train)


def _sets(args) -> list[str]:
    """--task, --set, then the options that are short for one: --device, --init-from, --freeze, --head."""
    return [*([f"data.task={args.task}"] if getattr(args, "task", None) else []), *args.set,
            *([f"train.device={args.device}"] if args.device else []),
            *([f"transfer.init_from={json.dumps(args.init_from)}"] if args.init_from else []),
            *([f"transfer.freeze={args.freeze}"] if args.freeze else []),
            *([f"transfer.head={args.head}"] if args.head else [])]


def run_train(args) -> int:
    from ..data.cache import AudioCache
    from ..device import Parallel
    from ..train import format_run, train

    parallel = Parallel.from_environment()  # under torchrun, this process among the others
    result = train(args.data, args.out, layout=args.layout, config_file=args.config, model=args.model,
                   sets=_sets(args), options=parse_options(args.option), resume=args.resume, folds=args.folds,
                   progress=not args.json, parallel=parallel, cache=AudioCache())
    if parallel.writes:
        emit(args, result, format_run(result, args.out))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def add_baseline(commands) -> None:
    parser = add_command(
        commands, "baseline", "the conventional baseline: MFCC statistics + SVM, RF or k-NN",
        "MFCCs with deltas and delta-deltas, summarised by mean and standard deviation over time, into a "
        "scikit-learn classifier whose hyper-parameters are chosen by a small cross-validated grid on the "
        "training split only (grouped by speaker or source when the dataset has groups). Same splits (the "
        "dataset's recipe), metrics and report as `tympan train`: OUT/report/.")
    add_dataset_run(parser, "folder for the report",
                    "override one setting, repeatable: e.g. --set data.test_fraction=0.3")
    parser.add_argument("--classifier", default="svm", choices=["svm", "rf", "knn"],
                        help="RBF support vector machine, random forest, or k nearest neighbours")
    parser.add_argument("--n-mfcc", type=int, default=N_MFCC,
                        help="MFCCs per frame (the features are 6 times as many)")
    parser.add_argument("--config", default=None,
                        help="a configuration file instead of the recipe (its data section and the front-end's sr, "
                             "n_fft, hop_length, n_mels) (default: the recipe of the dataset's layout)")
    add_json(parser)
    parser.set_defaults(run=run_baseline)


def run_baseline(args) -> int:
    from ..train import baseline, format_run

    result = baseline(args.data, args.out, layout=args.layout, classifier=args.classifier, config_file=args.config,
                      sets=args.set, options=parse_options(args.option), n_mfcc=args.n_mfcc, progress=not args.json)
    emit(args, result, format_run(result, args.out))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK


def _fractions() -> str:
    from ..train.compare import FRACTIONS

    return ",".join(f"{f:g}" for f in FRACTIONS)


def add_compare(commands) -> None:
    parser = add_command(
        commands, "compare", "several approaches on the same split: one table and chart",
        "Split the dataset once (OUT/split.csv) and run each approach on it: the conventional baseline, the "
        "dataset's recipe, or any configuration file (with augmentation, fine-tuning from another model, "
        "random-weights features...). Prints test accuracy, macro-F1, validation accuracy and training seconds; "
        "writes OUT/compare.json and OUT/compare.png. With --learning-curve, the same at fractions of the "
        "training data, and OUT/learning_curve.png. A failing approach is reported and the others run (exit "
        "code 1).")
    add_dataset_run(parser, "folder for the runs, the table and the charts",
                    "override a setting in every approach, repeatable: e.g. --set train.epochs=10")
    parser.add_argument("--recipes", required=True, action="append", metavar="A,B,...",
                        help="approaches, comma-separated (repeatable): baseline, baseline:rf, baseline:knn, auto "
                             "(the dataset's recipe), a recipe name, or a configuration file; LABEL=SPEC names one")
    quote_default(parser.add_argument("--learning-curve", nargs="?", const="", default=None, metavar="FRACTIONS",
                                      help="also train on these shares of the training data; validation and test "
                                           "stay whole"),
                  lambda: f"no learning curve; given without a value: {_fractions()}")
    add_json(parser)
    parser.set_defaults(run=run_compare)


def _parse_fractions(text: str | None):
    """--learning-curve: None (not given), the default fractions (given alone), or those it lists."""
    from ..train.compare import FRACTIONS

    if text is None:
        return None
    try:
        return [float(f) for f in text.split(",")] if text else FRACTIONS
    except ValueError:
        raise ConfigError(f"--learning-curve {text!r}: expected fractions such as {_fractions()}") from None


def run_compare(args) -> int:
    from ..train import compare, format_comparison

    approaches = [a for part in args.recipes for a in part.split(",") if a.strip()]
    result = compare(args.data, args.out, approaches, layout=args.layout, options=parse_options(args.option),
                     sets=args.set, fractions=_parse_fractions(args.learning_curve), progress=not args.json)
    emit(args, result, format_comparison(result))
    return EXIT_BAD_INPUTS if result["failed"] else EXIT_OK


def add_evaluate(commands) -> None:
    parser = add_command(
        commands, "evaluate", "score a saved model on a dataset with the same labels",
        "Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a saved model on a dataset; "
        "for an event detector on annotated recordings, the DCASE scores: event-based (200 ms onset collar, "
        "offset collar the larger of 200 ms and 20% of the event) and segment-based (1 s) F-score, precision, "
        "recall and error rate, micro and per class. --split test/val/train take the dataset's split as "
        "training made it.")
    parser.add_argument("--model", required=True, help="the model file (.tympan)")
    parser.add_argument("--data", required=True, help="dataset folder or CSV file")
    add_layout(parser)
    parser.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                        help="which items (default: %(default)s)")
    parser.add_argument("--tune", action="store_true",
                        help="an event detector: first tune each class's thresholds (one, or two with "
                             "hysteresis) and median filter for the best event-based F-score on the validation "
                             "split, and write them into the model file (default: use the model file's "
                             "post-processing)")
    add_workers(parser, "parallel decoders")
    add_json(parser)
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
    from ..train import evaluate, format_evaluation

    result = evaluate(args.model, args.data, layout=args.layout, split=args.split,
                      options=parse_options(args.option), workers=args.workers, progress=not args.json,
                      tune=args.tune)
    emit(args, result, format_evaluation(result, args.split))
    return EXIT_BAD_INPUTS if result["bad_files"] else EXIT_OK
