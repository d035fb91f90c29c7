"""``tympan predict``, ``embed`` and ``export``: a saved model on new audio, or written for other tools."""

from __future__ import annotations

from ..defaults import BATCH_SIZE, MIN_DURATION, SMOOTH, THRESHOLD, TOP_K
from .common import EXIT_BAD_INPUTS, EXIT_OK, add_command, add_json, emit


def _add_model_and_windows(parser) -> None:
    """PATH..., --model, --window and --hop: what predict and embed both take."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (recursive) or glob patterns")
    parser.add_argument("--model", required=True, help="the model file (.tympan)")
    parser.add_argument("--window", type=float, default=None,
                        help="window length in seconds (default: the model's clip length)")
    parser.add_argument("--hop", type=float, default=None, help="seconds between windows (default: half a window)")


def _add_device_and_batch(parser) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when present)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="windows per forward pass")


def add_predict(commands) -> None:
    parser = add_command(
        commands, "predict", "label recordings: clips, folders, globs, long recordings",
        "Score every recording with a saved model: the top labels of each file and, for a recording longer "
        "than a window, a timeline of events (start, end, label, score). Decoding, front-end and network run "
        "block by block, so memory stays bounded whatever the length. Unreadable files are listed with their "
        "reasons (exit code 1); the rest are processed.")
    _add_model_and_windows(parser)
    parser.add_argument("--top-k", type=int, default=TOP_K, help="labels to show per file")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="smoothed score an event must reach; for a multi-label model, also the score a "
                             "file's label must reach")
    parser.add_argument("--class-threshold", action="append", default=[], metavar="LABEL=VALUE",
                        help="a threshold for one class, repeatable (the others keep --threshold)")
    parser.add_argument("--per-window", action="store_true",
                        help="with --json, also each window's scores for recordings longer than a window")
    parser.add_argument("--smooth", type=int, default=SMOOTH, help="windows in the moving average of the scores")
    parser.add_argument("--min-duration", type=float, default=MIN_DURATION, help="drop events shorter than this (s)")
    _add_device_and_batch(parser)
    parser.add_argument("--plot", nargs="?", const=".", default=None, metavar="DIR",
                        help="write DIR/<name>.timeline.png per long recording: its log-mel spectrogram with "
                             "the labelled events under it (DIR defaults to the current folder; default: no "
                             "figures)")
    parser.add_argument("--csv", default=None, metavar="FILE",
                        help="also write rows file,start,end,label,score (events; a clip's best label) "
                             "(default: no CSV)")
    add_json(parser)
    parser.set_defaults(run=run_predict)


def run_predict(args) -> int:
    from ..device import pick_device
    from ..model_file import load_model
    from ..predict import class_thresholds, format_predictions, plot_timelines, predict_files, write_csv

    model = load_model(args.model, device=pick_device(args.device))
    threshold = class_thresholds(model.classes, args.class_threshold, default=args.threshold)
    report = predict_files(model, args.paths, top=args.top_k, window_seconds=args.window, hop_seconds=args.hop,
                           threshold=threshold, smooth=args.smooth, min_duration=args.min_duration,
                           batch_size=args.batch_size, progress=not args.json, per_window=args.per_window)
    if args.plot is not None:
        plot_timelines(model, report, args.plot, window_seconds=args.window)
    if args.csv:
        write_csv(report, args.csv)
    emit(args, report, format_predictions(report))
    return EXIT_BAD_INPUTS if report["bad"] else EXIT_OK


def add_embed(commands) -> None:
    parser = add_command(
        commands, "embed", "the penultimate-layer embedding of each file, from any model",
        "What a model's output layer sees, for every file: the learned representation, as features for another "
        "classifier, clustering or plots. A recording longer than the model's clip is cut into windows and "
        "their embeddings averaged. Bad files are listed (exit code 1) and the rest written.")
    _add_model_and_windows(parser)
    parser.add_argument("--out", required=True, metavar="FILE.npy|FILE.csv",
                        help="a .npy matrix (one row per file; the file names in FILE.files.txt) or a .csv "
                             "(path, then one column per value)")
    _add_device_and_batch(parser)
    add_json(parser)
    parser.set_defaults(run=run_embed)


def run_embed(args) -> int:
    from ..predict import embed_to_file, format_embedding

    report = embed_to_file(args.model, args.paths, args.out, device=args.device, window_seconds=args.window,
                           hop_seconds=args.hop, batch_size=args.batch_size, progress=not args.json)
    emit(args, report, format_embedding(report))
    return EXIT_BAD_INPUTS if report["bad"] else EXIT_OK


def add_export(commands) -> None:
    parser = add_command(
        commands, "export", "export a model to ONNX or TorchScript, front-end included",
        "Write the whole model as one graph: a mono waveform at the model's sample rate in, (batch, samples); "
        "class probabilities out. Batch and length are dynamic, except for networks that flatten, and cnn1d in "
        "ONNX. Recurrent networks (rnn, lstm, gru, crnn) export to TorchScript only. Class names, sample rate "
        "and clip length travel in the file's metadata. ONNX needs the onnx and onnxscript packages.")
    parser.add_argument("--model", required=True, help="the model file (.tympan)")
    parser.add_argument("--format", default="onnx", choices=["onnx", "torchscript"], help="what to write")
    parser.add_argument("--out", required=True, help="the file to write (.onnx, or .pt for TorchScript)")
    add_json(parser)
    parser.set_defaults(run=run_export)


def run_export(args) -> int:
    from ..model_file import load_model
    from ..predict import export

    out = export(load_model(args.model), args.out, args.format)
    emit(args, {"model": str(args.model), "format": args.format, "out": str(out)}, f"wrote {out}")
    return EXIT_OK
