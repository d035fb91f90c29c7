"""Pretrained networks from the field as Tympan models: the PANNs' published AudioSet checkpoints.

``import_panns`` reads a PANNs checkpoint (a torch pickle, read with ``torch.load(weights_only=True)`` only:
a file that needs code to load is refused, and nothing in it runs), checks every tensor's name and shape
against the architecture, and writes a ``.tympan`` model: PANNs' front-end (``tympan.nn.panns``), its
weights, and the 527 AudioSet classes, so ``predict``, ``embed``, ``export``, ``serve`` and transfer
learning (``--init-from``) take it as any model.

The class names are the AudioSet ontology's display names (Gemmeke et al. 2017, Google, CC BY 4.0), in the
order of PANNs' ``class_labels_indices.csv``, shipped as ``tympan/nn/audioset_labels.csv``.

PANNs' ``bn0`` (a batch norm per mel band) becomes two steps: its running mean and variance are the model's
normalisation statistics, and the network's ``bn0`` layer keeps its scale and shift on standardised input.
The two give the same numbers as PANNs, and a transfer run, which sets the normalisation from its own data,
then feeds the pretrained layers what they expect.
"""

from __future__ import annotations

import csv
import hashlib
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, ModelFileError
from ..model_file import save_model
from .classifier import Classifier
from .detector import EventDetector
from .models import network_spec
from .panns import CLIP_SECONDS, PANNS_ARCHS, checkpoint_names, panns_frontend

AUDIOSET_LABELS = Path(__file__).parent / "audioset_labels.csv"
# their front-end's fixed tensors (the STFT as a convolution, the mel filters), checked and not imported
STFT, MEL = "spectrogram_extractor.stft.conv_real.weight", "logmel_extractor.melW"
FRONTEND_TENSORS = (STFT, "spectrogram_extractor.stft.conv_imag.weight", MEL)


def audioset_classes() -> list[str]:
    """The 527 AudioSet class names, in the order of the PANNs' outputs.

    Examples
    --------
    >>> names = audioset_classes()
    >>> len(names), names[0], names[-1]
    (527, 'Speech', 'Field recording')
    """
    with open(AUDIOSET_LABELS, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [row["display_name"] for row in sorted(rows, key=lambda row: int(row["index"]))]


def _numpy_globals() -> list:
    """What a training checkpoint may hold besides tensors (PANNs' training script saves its sampler's state
    beside the weights): NumPy arrays, their dtypes and scalars, under NumPy 2's and NumPy 1's module names.
    The weights-only unpickler rebuilds these, and refuses anything else that is not a tensor or a plain
    container."""
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1
        from numpy.core import multiarray
    dtypes = {type(np.dtype(code)) for code in np.typecodes["AllInteger"] + np.typecodes["AllFloat"] + "?"}
    return [np.ndarray, np.dtype, *dtypes, multiarray._reconstruct, multiarray.scalar,
            (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            (multiarray.scalar, "numpy.core.multiarray.scalar")]


def read_checkpoint(path) -> dict[str, torch.Tensor]:
    """The tensors of a torch checkpoint: ``{"model": state_dict, ...}`` (as PANNs publish them) or a bare
    state dict, loaded with ``weights_only=True``.

    Raises
    ------
    ModelFileError
        The file is missing, damaged, not a checkpoint of tensors, or needs code to load (a pickle that
        would run something: refused before anything in it runs).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such checkpoint")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = f"it calls {found.group(1)}" if found else "it holds objects that only code can rebuild"
        raise ModelFileError(f"{path}: refused: loading this checkpoint would run code ({what}); Tympan reads "
                             "checkpoints of tensors only (torch.load with weights_only=True), and ran nothing "
                             "in it") from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as error:
        raise ModelFileError(f"{path}: damaged or not a torch checkpoint ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else 'no data'})") from None
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(t) for t in state.values()):
        raise ModelFileError(f"{path}: neither a state dict (names to tensors) nor a checkpoint holding one "
                             "under 'model'")
    if all(name.startswith("module.") for name in state):  # saved from torch.nn.DataParallel
        state = {name[len("module."):]: t for name, t in state.items()}
    return state


def _checkpoint_sr(state: dict, path) -> int:
    """The sample rate a checkpoint's STFT was built for: 32 ms windows, as every PANN has."""
    if STFT not in state:
        return 32000
    n_fft = state[STFT].shape[-1]
    sr = round(n_fft / 0.032)
    if state[STFT].ndim != 3 or sr not in (8000, 16000, 32000):
        raise ModelFileError(f"{path}: its STFT has {n_fft}-sample windows, not those of a PANN at 8, 16 or "
                             "32 kHz")
    return sr


def _check_frontend(state: dict, frontend: dict, path) -> None:
    """The checkpoint's mel filters against the front-end's: a wrong --sr or a PANN with other mel bands
    (Cnn14_mel32, _mel128) is named rather than imported into a model that would hear it wrong."""
    from ..frontend import mel_filterbank

    if MEL not in state:
        return
    ours = mel_filterbank(frontend["sr"], frontend["n_fft"], frontend["n_mels"], frontend["fmin"], frontend["fmax"]).T
    theirs = state[MEL].double().numpy()
    if theirs.shape != ours.shape or not np.allclose(theirs, ours, rtol=1e-4, atol=1e-7):
        raise ModelFileError(f"{path}: its mel filters {list(theirs.shape)} are not those of a PANN at "
                             f"{frontend['sr']} Hz with {frontend['n_mels']} bands from {frontend['fmin']:g} to "
                             f"{frontend['fmax']:g} Hz; check --sr, or this PANN's front-end is not one Tympan "
                             "imports")


def _matched(state: dict, names: dict, arch: str, path) -> None:
    """Every tensor the architecture needs, of its shape, and nothing else: the first difference is the error."""
    expected = {**names, "bn0.running_mean": None, "bn0.running_var": None, "bn0.num_batches_tracked": None}
    for name in expected:
        if name not in state:
            raise ModelFileError(f"{path}: not a PANNs {arch} checkpoint: it lacks {name} (another architecture? "
                                 f"--arch takes {', '.join(PANNS_ARCHS)})")
    for name in state:
        if name not in expected and name not in FRONTEND_TENSORS:
            raise ModelFileError(f"{path}: not a PANNs {arch} checkpoint: it has {name}, which {arch} has not "
                                 f"(another architecture? --arch takes {', '.join(PANNS_ARCHS)})")


def _weights(model: Classifier, state: dict, names: dict, arch: str, path) -> dict[str, torch.Tensor]:
    """The model's state dict with the checkpoint's tensors in place, each checked for its shape."""
    ours = model.state_dict()
    for theirs, (name, transposed) in names.items():
        expected = ours[name].transpose(2, 3) if transposed else ours[name]  # in PANNs' layout
        if state[theirs].shape != expected.shape:
            raise ModelFileError(f"{path}: not a PANNs {arch} checkpoint: {theirs} has shape "
                                 f"{list(state[theirs].shape)}, {arch} has {list(expected.shape)}")
        tensor = state[theirs].transpose(2, 3) if transposed else state[theirs]
        ours[name] = tensor.to(ours[name].dtype).contiguous()
    # bn0: PANNs' statistics standardise the mel bands (the model's normalisation); bn0 then sees mean 0
    # and variance 1 (1 - eps, with its eps added back), and keeps its scale and shift
    norm = model.network.layers.bn0.norm
    mean, var = state["bn0.running_mean"].double(), state["bn0.running_var"].double()
    if mean.shape != (norm.num_features,) or var.shape != mean.shape or not (var >= 0).all():
        raise ModelFileError(f"{path}: not a PANNs {arch} checkpoint: bn0's running statistics are "
                             f"{list(mean.shape)} and {list(var.shape)}, {arch} has [{norm.num_features}]")
    ours["normalize.mean"] = mean.float().reshape(ours["normalize.mean"].shape)
    ours["normalize.std"] = torch.sqrt(var + norm.eps).float().reshape(ours["normalize.std"].shape)
    ours["network.layers.bn0.norm.running_mean"] = torch.zeros(norm.num_features)
    ours["network.layers.bn0.norm.running_var"] = torch.full((norm.num_features,), 1.0 - norm.eps)
    ours["network.layers.bn0.norm.num_batches_tracked"] = state["bn0.num_batches_tracked"].to(torch.long).reshape(())
    return ours


def _md5(path: Path) -> str:
    """As Zenodo lists its files' checksums, so a user can compare."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def read_panns(path, arch: str = "cnn14", sr: int | None = None, clip_seconds: float = CLIP_SECONDS) -> Classifier:
    """A PANNs checkpoint as a Tympan model, in memory (``import_panns`` writes it to a file).

    Parameters
    ----------
    path : str or Path
        The checkpoint, e.g. ``Cnn14_mAP=0.431.pth`` (``{"model": state_dict, ...}``) or a bare state dict.
    arch : str
        ``cnn14``, ``cnn10``, ``cnn6``, ``mobilenetv1``, ``mobilenetv2`` (a clip model: 527 sigmoid scores per
        clip) or ``cnn14_decisionlevelmax`` (an events model: scores per 0.32-s frame, the clip's score its best
        frame's).
    sr : int or None
        The sample rate the network was trained at (32000; 16000 and 8000 for the ``_16k`` and ``_8k``
        variants); ``None`` reads it from the checkpoint's STFT, else 32000.
    clip_seconds : float
        The clip length the model scores at once (AudioSet's 10 s); longer recordings are windowed.

    Returns
    -------
    Classifier
        In evaluation mode; an ``EventDetector`` for the decision-level variant.

    Raises
    ------
    ModelFileError
        The checkpoint is refused (it needs code to load), damaged, or its tensors are not the
        architecture's (the first missing, extra or wrongly shaped tensor is named).
    """
    path = Path(path)
    key = str(arch).lower()
    if key not in PANNS_ARCHS:
        raise ConfigError(f"--arch {arch}: choose one of {', '.join(PANNS_ARCHS)}")
    kind, decision_level = PANNS_ARCHS[key]
    state = read_checkpoint(path)
    sr = _checkpoint_sr(state, path) if sr is None else int(sr)
    frontend = panns_frontend(sr)
    _check_frontend(state, frontend, path)
    spec = network_spec({"kind": kind, "frame_smoothing": decision_level})
    names = checkpoint_names(spec)
    _matched(state, names, key, path)
    Model = EventDetector if decision_level else Classifier
    model = Model(frontend, spec, audioset_classes(), clip_seconds, True)
    model.load_state_dict(_weights(model, state, names, key, path))
    return model.eval()


def import_panns(path, out, arch: str = "cnn14", sr: int | None = None,
                 clip_seconds: float = CLIP_SECONDS) -> Classifier:
    """Write a PANNs checkpoint as a Tympan model file (a temporary file, then a rename): ``read_panns``,
    then ``save_model``, with the checkpoint's name and MD5 (as Zenodo lists it) in the provenance.

    With a checkpoint downloaded from the PANNs' Zenodo record (no test may download it, so this is not a
    doctest): ``import_panns("Cnn14_mAP=0.431.pth", "cnn14.tympan").predict("dog.wav")`` gives the 527
    AudioSet scores of ``dog.wav``; ``tests/test_panns.py`` runs it on checkpoints of random weights.
    """
    path = Path(path)
    model = read_panns(path, arch, sr, clip_seconds)
    save_model(model, out, provenance={"imported": {
        "from": "PANNs (Kong et al. 2020), AudioSet", "checkpoint": path.name, "md5": _md5(path),
        "architecture": str(arch).lower(), "labels": "AudioSet ontology display names, CC BY 4.0"}})
    return model


__all__ = ["PANNS_ARCHS", "audioset_classes", "import_panns", "read_checkpoint", "read_panns"]
