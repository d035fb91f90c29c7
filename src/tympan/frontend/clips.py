"""Clips of different lengths through one front-end, in padded batches, each result exact."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def transform_clips(layer: nn.Module, clips, batch_size: int = 128) -> list[torch.Tensor]:
    """Apply a front-end to clips of different lengths in padded batches; one exact result per clip.

    Clips are sorted by length so each batch pads little, run through ``layer`` together, and each
    result is cut back to the clip's own ``layer.n_frames(len(clip))`` frames, which zero-padding
    leaves unchanged (with ``center=True``, ``pad_mode="constant"``; a ``top_db`` floor is per example and
    padding only adds frames at the floor).

    Parameters
    ----------
    layer : nn.Module
        A Tympan front-end (``Spectrogram``, ``MelSpectrogram``, ``LogMel``, ``MFCC``, ``PCEN``).
    clips : sequence of np.ndarray or torch.Tensor
        Mono waveforms.
    batch_size : int
        Clips per batch.

    Returns
    -------
    list of torch.Tensor
        ``(bins, frames)`` per clip, in the input order.

    Examples
    --------
    >>> import numpy as np
    >>> from tympan.frontend import LogMel
    >>> out = transform_clips(LogMel(sr=8000, n_fft=256, n_mels=32), [np.zeros(800), np.ones(1600)])
    >>> [tuple(x.shape) for x in out]
    [(32, 13), (32, 26)]
    """
    clips = [torch.as_tensor(np.asarray(c, dtype=np.float32)) if not torch.is_tensor(c) else c for c in clips]
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]))
    results: list[torch.Tensor | None] = [None] * len(clips)
    for first in range(0, len(order), batch_size):
        chunk = order[first:first + batch_size]
        longest = len(clips[chunk[-1]])
        batch = torch.zeros(len(chunk), longest, dtype=clips[chunk[0]].dtype, device=clips[chunk[0]].device)
        for row, i in enumerate(chunk):
            batch[row, :len(clips[i])] = clips[i]
        out = layer(batch)
        for row, i in enumerate(chunk):
            results[i] = out[row, :, :layer.n_frames(len(clips[i]))]
    return results
