"""Export a model to leave Python: ONNX (for onnxruntime and friends) or TorchScript (for LibTorch).

The exported graph is the whole model: a mono waveform at the model's sample rate in, ``(batch, samples)``;
class probabilities out, ``(batch, n_classes)``, or for an event detector frame probabilities
``(batch, frames, n_classes)`` (its frame length and post-processing in the metadata). The front-end (STFT, mel filters, dB, normalisation) is
inside, so a deployment has nothing to recompute. Batch and length are dynamic, except for networks that
flatten a fixed-size input and, in ONNX, networks on the raw waveform (cnn1d): their length is the clip
length. Recurrent networks (rnn, lstm, gru, crnn) export to TorchScript only.

ONNX export uses ``torch.onnx.export(dynamo=True)``, which needs the ``onnx`` and ``onnxscript`` packages;
the class names, sample rate and clip length are written into the ONNX file's metadata, and into a
``tympan.json`` extra file of a TorchScript archive.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from ..files import atomic_path
from ..nn.layers import Flatten

FORMATS = ("onnx", "torchscript")


class Probabilities(nn.Module):
    """The model and its output function: waveform in, probabilities out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.model.scores(self.model(y))


# Measured with torch 2.13 and onnxruntime 1.32 (tests/test_export.py): the ONNX exporter cannot lower
# recurrent layers (rnn, lstm, gru, crnn) and fixes a waveform network's (cnn1d) input length.
NO_ONNX = ("rnn", "lstm", "gru", "crnn")


def _fixed_length(model) -> bool:
    # PCEN's smoother runs over blocks of frames whose count a trace fixes: its exports take one length
    fixed_input = model.frontend_config["kind"] in ("waveform", "pcen")
    return fixed_input or any(isinstance(m, Flatten) for m in model.modules())


def export(model, out, format: str = "onnx") -> Path:
    """Write ``model`` (a ``Classifier``) to ``out`` as ONNX or TorchScript, atomically.

    Returns
    -------
    Path
    """
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}: choose one of {', '.join(FORMATS)}")
    kind = model.network_spec.kind
    if format == "onnx" and (kind in NO_ONNX or any(
            spec.get("kind") == "recurrent" for spec in getattr(model.network_spec, "layers", []) or []
            if isinstance(spec, dict))):
        raise ConfigError(f"a {kind} network cannot be exported to ONNX: torch's ONNX exporter cannot lower "
                          "its recurrent layers; export it with --format torchscript")
    out = Path(out)
    model = model.cpu().eval()
    wrapper = Probabilities(model).eval()
    example = torch.zeros(2, model.clip_samples)
    described = {"classes": list(model.classes), "sr": model.sr, "clip_seconds": model.clip_seconds,
                 "multi_label": model.multi_label, "input": "waveform (batch, samples), mono, at sr",
                 "output": "probabilities (batch, classes)"}
    if getattr(model, "task", "clips") == "events":  # an event detector: a score per class and frame
        described.update(output="frame probabilities (batch, frames, classes), a frame every frame_seconds",
                         frame_seconds=model.frame_seconds, postprocess=model.config()["postprocess"])
    with atomic_path(out) as tmp:
        if format == "onnx":
            fixed = _fixed_length(model)
            _onnx(wrapper, example, tmp, described, fixed, None if fixed else _shortest_input(wrapper, example))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated upstream, yet what LibTorch loads
                traced = torch.jit.trace(wrapper, example)
                torch.jit.save(traced, str(tmp), _extra_files={"tympan.json": json.dumps(described)})
    return out


def _shortest_input(wrapper, example: torch.Tensor, start: int = 2048) -> int:
    """The fewest samples the network takes, which the ONNX graph declares as its least input length: from
    ``start``, doubled until a forward pass works (pooling layers need enough frames: PANNs' CNN14 at 32 kHz
    wants 9920), then narrowed down by bisection. At most the example's length."""
    def works(n: int) -> bool:
        try:
            with torch.no_grad():
                wrapper(torch.zeros(1, n))
            return True
        except RuntimeError:
            return False

    longest, low = example.shape[1], start
    high = start
    while high < longest and not works(high):
        low, high = high, min(2 * high, longest)
    if high == start:
        return start
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if works(middle) else (middle, high)
    return high


def _onnx(wrapper, example, path: Path, described: dict, fixed: bool, shortest: int | None = None) -> None:
    import importlib.util

    try:
        import onnx
        if importlib.util.find_spec("onnxscript") is None:  # torch's ONNX exporter needs it
            raise ImportError("onnxscript")
    except ImportError:
        raise ConfigError("export to ONNX needs the onnx and onnxscript packages: pip install onnx onnxscript "
                          "(and onnxruntime to run the result)") from None
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = {0: batch} if fixed else {0: batch, 1: torch.export.Dim("samples", min=shortest, max=2**31 - 1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(wrapper, (example,), dynamo=True, dynamic_shapes={"y": shapes},
                                    input_names=["waveform"], output_names=["probabilities"], verbose=False)
    proto = program.model_proto
    for key, value in described.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save_model(proto, str(path))
