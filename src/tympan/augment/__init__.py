"""Data augmentation: new training examples from old ones, for when there are few of them.

Waveform augmentations take a batch ``(batch, samples)`` at sample rate ``sr``; spectrogram ones take the
front-end's output ``(batch, bins, frames)``; ``mixup`` mixes examples and their targets. Every random choice
comes from a ``torch.Generator`` the caller seeds, so a training epoch is the same run after run.
``equalize`` and ``reverb`` play a clip through another microphone and another room, for models that must
work on recordings made elsewhere.

Some augmentations change what a label may depend on: pitch shifting changes the key, time stretching the
tempo (the lecture notes warn about both). Each declares what it ``changes``, and ``build`` refuses one that
changes what a task declares it depends on.

    pipeline = build([{"kind": "noise", "p": 0.5, "snr_db": [10, 30]}, {"kind": "spec_augment"}],
                     depends_on=["key"])

The augmentations live in modules by what they change: ``waveform`` (level, noise, time shift), ``stretch``
(tempo, pitch), ``room`` (background, microphone, room), ``spectrogram`` (SpecAugment, VTLP, mixup), on ``base``
(the registry and the ``Augmentation`` class); this module builds a pipeline from specs.
"""

from __future__ import annotations

import numpy as np

from ..defaults import SR
from ..errors import ConfigError
from ..registry import legacy_name_as_kind
from .base import AUGMENTATIONS, Augmentation, register

# Registration order is the order of AUGMENTATIONS, which the help, the error for an unknown kind and the
# plots follow: these four imports stay in pipeline order, not sorted.
from .waveform import Gain, Noise, TimeShift  # isort: skip
from .stretch import PitchShift, TimeStretch, phase_vocoder, pitch_shift  # isort: skip
from .room import Background, Equalize, Reverb, room_impulse_response  # isort: skip
from .spectrogram import VTLP, SpecAugment, mixup  # isort: skip

__all__ = ["AUGMENTATIONS", "Augmentation", "Background", "Equalize", "Gain", "Noise", "PitchShift", "Reverb",
           "SpecAugment", "TimeShift", "TimeStretch", "VTLP", "build", "mixup", "phase_vocoder", "pitch_shift",
           "register", "room_impulse_response"]


def _recordings(folder, sr: int) -> list[np.ndarray]:
    from pathlib import Path

    from ..audio import is_audio_path, load

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_audio_path(p))
    if not files:
        raise ConfigError(f"augmentation background: no audio files in {folder}")
    return [load(path, sr=sr)[0] for path in files]


def build(specs, depends_on=(), sr: int | None = None) -> list[Augmentation]:
    """Augmentations from specs ``[{"kind": ..., "p": ..., params}]``, refusing any that changes what the
    task's labels depend on (``depends_on``, e.g. ``["key", "tempo"]``). ``background`` takes ``folder``
    (recordings decoded at ``sr``) or ``recordings`` (arrays). A spec keyed by ``name``, as files written
    before ``kind`` say, is read the same."""
    pipeline = []
    for spec in specs or []:
        spec = legacy_name_as_kind(spec)
        kind = spec.pop("kind", None)
        cls = AUGMENTATIONS.get(kind)
        if kind == "background" and "folder" in spec:
            spec["recordings"] = _recordings(spec.pop("folder"), sr or SR)
        broken = sorted(set(cls.changes) & set(depends_on))
        if broken:
            raise ConfigError(f"augmentation {kind} changes the {', '.join(broken)}, which this task's labels "
                              f"depend on (data.depends_on): it would teach the model wrong labels; remove it")
        try:
            pipeline.append(cls(**spec))
        except TypeError as error:
            raise ConfigError(f"augmentation {kind}: {error}") from None
    return pipeline
