"""Front-ends as torch layers: waveform in, time-frequency representation out.

``Spectrogram`` -> ``MelSpectrogram`` -> ``LogMel`` -> ``MFCC``, each the one before plus one step, so a
model can start with any of them and a saved model takes a waveform (kapre's lesson: no train/serve skew).
Parameter names, defaults and output layout follow librosa, and so do the numbers: tests compare each
layer with ``librosa.stft`` / ``feature.melspectrogram`` / ``power_to_db`` / ``feature.mfcc``.

For robustness to new microphones, rooms and speakers: ``PCEN`` (per-channel energy normalisation, as
``librosa.pcen``) is a front-end of its own, and ``LogMel``, ``MFCC`` and ``PCEN`` take
``per_recording="mean"`` (cepstral mean normalisation) or ``"mean_std"`` (and variance), statistics per bin
over each recording's own frames, so zero padding does not change them.

A ``(batch, samples)`` input gives ``(batch, bins, frames)``; a 1-D input gives ``(bins, frames)``.
Zero-padding a clip at its end does not change its first ``n_frames(len(clip))`` frames
(``center=True`` pads with zeros anyway), which is how clips of different lengths share one batch.

The layers live in modules by what they hold: ``filters`` (mel scale, mel filters, DCT basis), ``spectral``
(``Spectrogram``, ``MelSpectrogram``), ``normalize`` (per-recording statistics), ``logmel``, ``cepstral``
(``MFCC``), ``pcen``, ``waveform`` and ``clips`` (``transform_clips``); this module picks one by name.
"""

from __future__ import annotations

import torch

from ..defaults import SR, spectral_params
from ..errors import ConfigError, unknown_names
from ..registry import Registry
from .cepstral import MFCC
from .clips import transform_clips
from .filters import dct_matrix, hz_to_mel, mel_filterbank, mel_frequencies, mel_to_hz
from .logmel import LogMel, power_to_db
from .normalize import PER_RECORDING, STD_FLOOR, normalize_per_recording, recorded_frames, silent_frames
from .pcen import PCEN
from .spectral import MelSpectrogram, Spectrogram
from .waveform import Waveform

__all__ = ["DEFAULT_FRONTEND", "FRONTENDS", "MFCC", "PCEN", "PER_RECORDING", "STD_FLOOR", "LogMel",
           "MelSpectrogram", "Spectrogram", "Waveform", "build_frontend", "resolve_frontend", "dct_matrix", "hz_to_mel",
           "mel_filterbank", "mel_frequencies", "mel_to_hz", "normalize_per_recording", "power_to_db",
           "recorded_frames", "silent_frames", "transform_clips"]


# The representations a model can start from, by the name a spec gives them. ``stft`` is the magnitude
# (``power=1``), as in the lecture notes; ``mel`` is mel power, ``logmel`` its dB, ``mfcc`` its cepstrum,
# ``pcen`` mel magnitudes with per-channel energy normalisation in place of the logarithm.
FRONTENDS = Registry("frontend kind")
FRONTENDS.add("waveform", Waveform)
FRONTENDS.add("stft", Spectrogram)
FRONTENDS.add("mel", MelSpectrogram)
FRONTENDS.add("logmel", LogMel)
FRONTENDS.add("mfcc", MFCC)
FRONTENDS.add("pcen", PCEN)
DEFAULT_FRONTEND = {"kind": "logmel", "sr": SR, **spectral_params(SR)}


def _defaults(cls) -> dict:
    import inspect

    params = inspect.signature(cls).parameters
    found = {name: p.default for name, p in params.items()
             if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty}
    if cls is MFCC:  # its **logmel are LogMel's
        found.update({k: v for k, v in _defaults(LogMel).items() if k != "sr"})
    return found


def resolve_frontend(config: dict | None = None) -> tuple[type, dict]:
    """The front-end class a spec names and the spec with every default filled in, checked without
    building the layer (a configuration is checked when it is read, before any data is).

    Examples
    --------
    >>> resolve_frontend({"kind": "logmel"})[1]["sr"]
    16000
    """
    config = dict(DEFAULT_FRONTEND if config is None else config)
    kind = config.pop("kind", DEFAULT_FRONTEND["kind"])
    cls = FRONTENDS.get(kind)
    accepted = _defaults(cls)
    if cls is Spectrogram:
        accepted = {**accepted, "sr": DEFAULT_FRONTEND["sr"], "power": 1.0}
    unknown = unknown_names(config, accepted)
    if unknown:
        raise ConfigError(f"frontend {kind}: unknown option(s) {', '.join(unknown)}; "
                          f"it takes {', '.join(sorted(accepted))}")
    # the library's defaults, not the layer's (librosa's 22,050 Hz and 2048-sample windows): a spec that
    # names only its kind gets the grid every other default in Tympan uses
    config = {k: v for k, v in config.items() if v is not None}
    config.setdefault("sr", SR)
    if isinstance(config["sr"], bool) or not isinstance(config["sr"], (int, float)) or config["sr"] <= 0:
        raise ConfigError(f"frontend sr={config['sr']!r}: the sample rate must be a positive number of Hz")
    grid = spectral_params(int(config["sr"]))
    config.update({k: v for k, v in grid.items() if k in accepted and k not in config})
    return cls, {"kind": kind, **accepted, **config}


def build_frontend(config: dict | None = None) -> tuple[torch.nn.Module, dict]:
    """A front-end layer from its configuration, and the configuration with every default filled in.

    Parameters
    ----------
    config : dict or None
        ``{"kind": "waveform" | "stft" | "mel" | "logmel" | "mfcc" | "pcen", "sr": ..., **layer parameters}``;
        ``None`` is ``DEFAULT_FRONTEND`` (log-mel at 16 kHz, 32 ms windows, 10 ms hops, 64 bands).
        ``sr`` is the sample rate the model takes, recorded with every front-end. What the spec leaves out
        (or sets to ``None``) of ``sr``, ``n_fft``, ``hop_length`` and ``n_mels`` comes from
        ``tympan.defaults`` (16 kHz and ``defaults.spectral_params(sr)``), the rest from the layer's own defaults
        (librosa's), so a model file records every value.

    Returns
    -------
    layer : nn.Module
        With ``.sr`` and ``.n_frames(n_samples)``.
    resolved : dict
        Enough to rebuild the same layer, as stored in a model file.

    Examples
    --------
    >>> layer, resolved = build_frontend({"kind": "mfcc", "sr": 8000, "n_fft": 256, "n_mfcc": 13})
    >>> resolved["n_mels"], resolved["hop_length"], layer(torch.zeros(8000)).shape
    (40, 80, torch.Size([13, 101]))
    >>> build_frontend({"kind": "logmel"})[1] == {**DEFAULT_FRONTEND, **build_frontend()[1]}
    True
    """
    cls, resolved = resolve_frontend(config)
    params = {k: v for k, v in resolved.items() if k != "kind"}
    if cls is Spectrogram:
        sr = params.pop("sr")
        layer = Spectrogram(**params)
        layer.sr = int(sr)
    else:
        layer = cls(**params)
    return layer, resolved
