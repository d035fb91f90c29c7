"""``tympan show``, ``summary`` and ``import``: look at a recording, the activations, augmentations or a
network; bring in a network pretrained elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from ..defaults import DISPLAY
from .common import EXIT_OK, add_command, add_json, emit


def add_show(commands) -> None:
    parser = add_command(
        commands, "show", "draw a recording (waveform, spectrogram, log-mel, MFCC) or the activations",
        "Draw waveform, spectrogram, log-mel and MFCC of one recording into a PNG, with time in seconds and "
        "frequency in Hz.\n\n"
        "`tympan show activations` draws every activation function and its derivative instead (default --out "
        "activations.png); `tympan show augment FILE --out DIR` writes FILE through each augmentation, as WAVs "
        "and a before/after log-mel figure.")
    parser.add_argument("file", help="the recording (WAV, FLAC, Ogg, MP3, AIFF, AU), or the word activations, or "
                                     "the word augment followed by a recording")
    parser.add_argument("recording", nargs="?", default=None,
                        help="with `show augment`: the recording to augment; --out is then a folder (default "
                             "augment/) for one WAV per augmentation and augmentations.png, before and after")
    parser.add_argument("--seed", type=int, default=0, help="with `show augment`: the augmentations' seed")
    parser.add_argument("--out", help="PNG to write (default: FILE's name with .png, in the current folder)")
    parser.add_argument("--sr", type=int, default=None, help="resample to this rate in Hz (default: the file's)")
    parser.add_argument("--offset", type=float, default=0.0, help="start this many seconds into the file")
    parser.add_argument("--duration", type=float, default=None,
                        help="draw at most this many seconds (default: to the end)")
    parser.add_argument("--n-fft", type=int, default=DISPLAY["n_fft"], help="FFT size in samples")
    parser.add_argument("--hop-length", type=int, default=DISPLAY["hop_length"], help="samples between frames")
    parser.add_argument("--n-mels", type=int, default=DISPLAY["n_mels"], help="mel bands")
    parser.add_argument("--n-mfcc", type=int, default=DISPLAY["n_mfcc"], help="MFCC coefficients")
    add_json(parser)
    parser.set_defaults(run=run_show)


def _show_activations(args) -> int:
    from ..display import plot_activations, save_figure

    out = Path(args.out or "activations.png")
    save_figure(plot_activations(), out)
    emit(args, {"out": str(out)}, f"wrote {out}")
    return EXIT_OK


def _show_augmentations(args) -> int:
    from ..audio import load
    from ..display import plot_augmentations

    y, sr = load(args.recording, sr=args.sr, offset=args.offset, duration=args.duration)
    written = plot_augmentations(y, sr, Path(args.out or "augment"), seed=args.seed)
    emit(args, {"out": [str(p) for p in written]}, "\n".join(f"wrote {p}" for p in written))
    return EXIT_OK


def run_show(args) -> int:
    from ..audio import load
    from ..display import plot_recording, save_figure

    # the words activations and augment, unless a file of that name is there
    if args.file == "activations" and not Path(args.file).exists():
        return _show_activations(args)
    if args.file == "augment" and args.recording and not Path(args.file).exists():
        return _show_augmentations(args)
    y, sr = load(args.file, sr=args.sr, offset=args.offset, duration=args.duration)
    out = Path(args.out) if args.out else Path(Path(args.file).stem + ".png")
    fig = plot_recording(y, sr, title=f"{Path(args.file).name}  ({sr} Hz, {len(y) / sr:.2f} s)",
                         n_fft=args.n_fft, hop_length=args.hop_length, n_mels=args.n_mels, n_mfcc=args.n_mfcc)
    save_figure(fig, out)
    emit(args, {"file": str(args.file), "out": str(out), "sr": sr, "seconds": round(len(y) / sr, 3)},
         f"wrote {out}")
    return EXIT_OK


def add_summary(commands) -> None:
    from ..nn import MODELS

    parser = add_command(
        commands, "summary", "a network's layers: output shapes, weights, biases, MACs",
        "Per layer: output shape (without the batch axis), weights, biases and multiply-accumulates for one "
        "clip; then the totals. A weight is any parameter that is not a bias (including batch-norm scales and "
        "embeddings).\n\n"
        "Each TARGET is a model file (.tympan), a spec file (YAML or JSON: frontend, network, n_classes or "
        "classes, clip_seconds; a YAML file may hold several specs separated by ---, e.g. "
        "examples/lecture_weights.yaml), or a network kind with its defaults: " + ", ".join(MODELS) + ".")
    parser.add_argument("targets", nargs="+", metavar="SPEC|MODEL", help="what to summarise")
    parser.add_argument("--input-seconds", type=float, default=None,
                        help="clip length to count for (default: the spec's or model's clip_seconds, else 1)")
    parser.add_argument("--classes", type=int, default=10,
                        help="number of classes, for a spec or kind that does not name its classes")
    add_json(parser)
    parser.set_defaults(run=run_summary)


def run_summary(args) -> int:
    from ..nn.summary import format_summary, summary
    from ..nn.targets import named_models

    reports = [summary(model, args.input_seconds, name=label) for target in args.targets
               for label, model in named_models(target, n_classes=args.classes, input_seconds=args.input_seconds)]
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        print("\n\n".join(format_summary(r) for r in reports))
    return EXIT_OK


def add_import(commands) -> None:
    from ..nn.panns import CLIP_SECONDS, PANNS_ARCHS

    parser = add_command(
        commands, "import", "a network pretrained elsewhere as a model file (PANNs' AudioSet checkpoints)",
        "Write a published checkpoint as a .tympan model with its front-end and class names, for predict, embed, "
        "export, serve and transfer learning (--init-from).\n\n"
        "`tympan import panns CHECKPOINT --out model.tympan`: a PANNs checkpoint (Kong et al. 2020, e.g. "
        "Cnn14_mAP=0.431.pth from the PANNs' Zenodo record 3987831; download it yourself) with the 527 AudioSet "
        "classes. It is read with torch.load(weights_only=True) only: a checkpoint that needs code to load is "
        "refused. Every tensor's name and shape is checked against --arch.")
    parser.add_argument("source", choices=["panns"], help="where the checkpoint comes from")
    parser.add_argument("checkpoint", help="the checkpoint file (.pth)")
    parser.add_argument("--out", required=True, help="the model file to write (.tympan)")
    parser.add_argument("--arch", default="cnn14", choices=list(PANNS_ARCHS),
                        help="the checkpoint's network (MobileNetV1_mAP=0.389.pth: mobilenetv1); "
                             "cnn14_decisionlevelmax gives an events model")
    parser.add_argument("--sr", type=int, default=None,
                        help="the sample rate it was trained at: 32000, or 16000 / 8000 for the _16k / _8k "
                             "checkpoints (default: read from the checkpoint's STFT, else 32000)")
    parser.add_argument("--clip-seconds", type=float, default=CLIP_SECONDS,
                        help="seconds scored at once; longer recordings are windowed (AudioSet's clips are 10 s)")
    add_json(parser)
    parser.set_defaults(run=run_import)


def run_import(args) -> int:
    from ..nn.pretrained import import_panns

    model = import_panns(args.checkpoint, args.out, arch=args.arch, sr=args.sr, clip_seconds=args.clip_seconds)
    parameters = sum(p.numel() for p in model.parameters())
    emit(args, {"out": str(args.out), "architecture": args.arch, "sr": model.sr, "classes": len(model.classes),
                "task": model.task, "parameters": parameters, "embedding_size": model.network.embedding_size},
         f"wrote {args.out}: PANNs {args.arch} at {model.sr} Hz, {len(model.classes)} AudioSet classes, "
         f"{parameters:,} parameters, {model.network.embedding_size}-value embeddings")
    return EXIT_OK
