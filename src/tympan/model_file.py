"""The model file: one ``.tympan`` file that holds everything a trained model needs, and no code.

A model file is a safetensors file: the weights and buffers (normalisation statistics, batch-norm running
statistics) as tensors, and in its header one JSON document (key ``"tympan"``) with the front-end's
configuration, the network spec, the class names, the sample rate and clip length the model expects, and
provenance (Tympan and torch versions, date, dataset fingerprint, metrics). Reading it parses JSON and raw
tensor bytes only, so a file can never run code, unlike a pickled checkpoint.

The JSON also carries a BLAKE2b digest of itself and of every tensor, so truncation and bit rot are
found on loading. It is an integrity check, not a signature: whoever can write the file can recompute it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

import torch

from .errors import ConfigError, ModelFileError, TympanError
from .files import atomic_path

FORMAT, VERSION = "tympan.model", 1
SUFFIX = ".tympan"
_REQUIRED = {"format": str, "version": int, "frontend": dict, "network": dict, "classes": list,
             "clip_seconds": (int, float), "multi_label": bool, "sr": int, "provenance": dict, "digest": str}
# What an event detector adds (``tympan.nn.detector``): its task, post-processing and frame length.
_OPTIONAL = {"task": str, "postprocess": dict, "frame_seconds": (int, float)}
# What other files begin with, to say what a file is when it is not a model file.
_FOREIGN = {b"PK\x03\x04": "a zip archive (a torch.save checkpoint?)", b"\x80": "a Python pickle"}


def _digest(document: dict, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps({k: v for k, v in document.items() if k != "digest"}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(model, path, provenance: dict | None = None) -> Path:
    """Write ``model`` (a ``tympan.nn.Classifier``) to ``path`` atomically: a temporary file, then a rename.

    Parameters
    ----------
    model : Classifier
    path : str or Path
        Where to write; ``.tympan`` by convention.
    provenance : dict or None
        Anything JSON-able to record with it (dataset fingerprint, metrics, training configuration).
        Tympan's and torch's versions and the date are added.

    Returns
    -------
    Path
    """
    from safetensors.torch import save

    from . import __version__

    path = Path(path)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    document = {"format": FORMAT, "version": VERSION, **model.config(),
                "provenance": {"tympan_version": __version__, "torch_version": torch.__version__,
                               "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                               **(provenance or {})}}
    try:
        json.dumps(document)
    except TypeError as error:
        raise ConfigError(f"provenance must be JSON-able: {error}") from None
    document["digest"] = _digest(document, tensors)
    # written by us rather than safetensors.save_file, which makes files private (0600) whatever the umask
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(save(tensors, metadata={"tympan": json.dumps(document)}))
        f.flush()
        os.fsync(f.fileno())
    return path


def read_model_file(path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and the tensors of a model file, checked; ``ModelFileError`` says what is wrong."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    with open(path, "rb") as f:
        start = f.read(9)
    size = path.stat().st_size
    header = int.from_bytes(start[:8], "little") if len(start) >= 8 else -1
    # A safetensors file begins with its JSON header's length, then the header's "{". Anything else is
    # named if it can be: a pickle's first byte can equal a header length's, so the "{" decides.
    if not (len(start) == 9 and start[8:9] == b"{" and 8 + header <= size):
        for magic, what in _FOREIGN.items():
            if start.startswith(magic):
                raise ModelFileError(f"{path}: this is {what}, not a Tympan model file; Tympan never unpickles "
                                     "files, since a pickle can run any code when loaded")
        raise ModelFileError(f"{path}: truncated or not a model file (its header is cut short or missing)")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as error:  # safetensors raises its own error types for every malformed case
        raise ModelFileError(f"{path}: damaged model file ({error})") from None
    if "tympan" not in metadata:
        raise ModelFileError(f"{path}: a safetensors file without Tympan's description; not a model file")
    try:
        document = json.loads(metadata["tympan"])
    except RecursionError:
        raise ModelFileError(f"{path}: damaged description (nested too deeply to be one Tympan wrote)") from None
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: damaged description ({error})") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: damaged description (not a JSON object)")
    if document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a Tympan model file (format {document.get('format')!r})")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise ModelFileError(f"{path}: model file version {document.get('version')!r} is newer than this "
                             f"Tympan reads ({VERSION}); upgrade Tympan")
    for key, kind in _REQUIRED.items():
        if key not in document:
            raise ModelFileError(f"{path}: the description lacks {key!r}")
        if not isinstance(document[key], kind) or (kind is int and isinstance(document[key], bool)):
            raise ModelFileError(f"{path}: {key!r} has the wrong type ({type(document[key]).__name__})")
    for key, kind in _OPTIONAL.items():
        if key in document and not isinstance(document[key], kind):
            raise ModelFileError(f"{path}: {key!r} has the wrong type ({type(document[key]).__name__})")
    unexpected = sorted(set(document) - set(_REQUIRED) - set(_OPTIONAL))
    if unexpected:
        raise ModelFileError(f"{path}: unexpected entries in the description: {', '.join(unexpected)}")
    return document, tensors


def load_model(path, device: str | torch.device = "cpu"):
    """A model saved by ``save_model``, ready to predict (in eval mode).

    Parameters
    ----------
    path : str or Path
    device : str or torch.device
        Where to put the weights.

    Returns
    -------
    Classifier
        With ``.classes``, ``.sr``, ``.clip_seconds``, ``.predict(path_or_waveform, sr=None)`` and
        ``.provenance``.

    Raises
    ------
    ModelFileError
        The file is missing, truncated, corrupted, tampered with (wrong shapes, missing or extra tensors,
        foreign content) or from a newer Tympan.
    """
    from .nn.classifier import Classifier

    document, tensors = read_model_file(path)
    # The description is untrusted until it matches the tensors: its network is built without memory first
    # (on the meta device), so a description asking for a billion units is refused, not allocated.
    try:
        with torch.device("meta"):
            skeleton = Classifier.from_config(document)
    except TympanError as error:
        raise ModelFileError(f"{path}: its network cannot be built: {error}") from None
    except Exception as error:  # noqa: BLE001 - a crafted description can fail anywhere in the builders
        raise ModelFileError(f"{path}: its network cannot be built from its description "
                             f"({type(error).__name__}: {error})") from None
    expected = skeleton.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: tensors do not match the network"
                             + (f"; missing: {', '.join(missing)}" if missing else "")
                             + (f"; unexpected: {', '.join(extra)}" if extra else ""))
    wrong = [f"{name} {list(tensors[name].shape)} (expected {list(t.shape)})"
             for name, t in expected.items() if tensors[name].shape != t.shape or tensors[name].dtype != t.dtype]
    if wrong:
        raise ModelFileError(f"{path}: tensors of the wrong shape or type: {'; '.join(wrong)}")
    if _digest(document, tensors) != document["digest"]:
        raise ModelFileError(f"{path}: corrupted: its contents do not match the digest written with them")
    model = Classifier.from_config(document)  # its size is now that of the tensors the file holds
    model.load_state_dict(tensors)
    model.provenance = document["provenance"]
    return model.to(device).eval()
