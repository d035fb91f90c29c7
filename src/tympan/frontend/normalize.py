"""Per-recording normalisation: cepstral mean (and variance) normalisation over a recording's own frames, which
takes out a fixed microphone or room response. The frames after a recording's last non-zero sample (padding)
and digital silence do not count, so zero padding changes nothing."""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .spectral import Spectrogram


PER_RECORDING = ("mean", "mean_std")
# The smallest standard deviation divided by, in the feature's units (dB for log-mel). A bin that sits at
# the floor in every frame has a std of float rounding (~1e-5 dB); dividing by that would turn rounding
# into unit-size noise, while 0.01 dB is far below anything audible, so such a bin stays near 0.
STD_FLOOR = 1e-2


def _check_per_recording(per_recording) -> None:
    if per_recording is not None and per_recording not in PER_RECORDING:
        raise ConfigError(f"per_recording={per_recording!r}: choose None, 'mean' or 'mean_std'")


def recorded_frames(y: torch.Tensor, spectrogram: Spectrogram, n_frames: int) -> torch.Tensor:
    """Which of ``n_frames`` frames a waveform gives before its trailing zeros, ``(..., 1, n_frames)`` bool.

    True for frame ``t < spectrogram.n_frames(k)``, ``k`` one past the last non-zero sample: exactly the
    frames the recording gives alone, however many zeros pad it (frames after them see its tail too).
    """
    nonzero = y != 0
    from_end = torch.argmax(nonzero.flip(-1).to(torch.uint8), dim=-1)  # first non-zero from the end
    length = (y.shape[-1] - from_end) * nonzero.any(-1).to(from_end.dtype)  # 0 for all zeros
    if spectrogram.center:
        own = 1 + length // spectrogram.hop_length
    else:
        own = 1 + torch.clamp(length - spectrogram.n_fft, min=0) // spectrogram.hop_length
    t = torch.arange(n_frames, device=y.device)
    return (t < own[..., None])[..., None, :]


def silent_frames(S: torch.Tensor) -> torch.Tensor:
    """Frames where every bin equals the example's minimum, ``(..., 1, frames)`` bool.

    Digital silence (zero padding included) gives exactly the floor in every bin: ``amin`` or ``top_db``
    below the peak in dB, 0 in a (mel) spectrogram or in PCEN.

    Examples
    --------
    >>> silent_frames(torch.tensor([[-80.0, -3.0, -80.0], [-80.0, -80.0, -80.0]])).tolist()  # (bins, frames)
    [[True, False, True]]
    """
    return (S == S.amin(dim=(-2, -1), keepdim=True)).all(dim=-2, keepdim=True)


def _statistics_frames(S: torch.Tensor, recorded: torch.Tensor) -> torch.Tensor:
    """The recorded frames that are not silent; all recorded frames of an example that is silent throughout."""
    frames = recorded & ~silent_frames(S)
    return frames | (recorded & ~frames.any(dim=-1, keepdim=True))


def normalize_per_recording(X: torch.Tensor, per_recording: str, frames: torch.Tensor) -> torch.Tensor:
    """Subtract each bin's mean over an example's ``frames`` (``"mean"``), and divide by its standard
    deviation (``"mean_std"``, floored at ``STD_FLOOR``); frames outside ``frames`` become 0.

    Parameters
    ----------
    X : torch.Tensor
        ``(..., bins, frames)`` features.
    per_recording : {"mean", "mean_std"}
        Cepstral mean normalisation, or mean and variance normalisation (population std).
    frames : torch.Tensor
        ``(..., 1, frames)`` bool, the frames the statistics come from.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 3.0, -80.0]])
    >>> normalize_per_recording(X, "mean_std", torch.tensor([[True, True, False]])).tolist()
    [[-1.0, 1.0, 0.0]]
    """
    count = frames.sum(dim=-1, keepdim=True).to(X.dtype)
    mean = X.masked_fill(~frames, 0.0).sum(dim=-1, keepdim=True) / count
    # Masked frames (padding, digital silence) carry no information, and 0 is the normalised mean: they
    # read as "nothing here" to the network and as no change to a later dataset normalisation.
    centred = (X - mean).masked_fill(~frames, 0.0)
    if per_recording == "mean":
        return centred
    variance = centred.square().sum(dim=-1, keepdim=True) / count
    return centred / torch.sqrt(torch.clamp(variance, min=STD_FLOOR ** 2))  # clamp first: finite gradients
