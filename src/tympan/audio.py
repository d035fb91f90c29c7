"""Decoding recordings: ``load``, ``info`` and ``stream``, with errors that name the file.

Decoding is libsndfile's (through soundfile: WAV, FLAC, Ogg/Vorbis, Ogg/Opus, MP3, AIFF, AU, ...),
resampling is soxr's at the quality librosa uses by default (``soxr_hq``), so ``load(path, sr)``
returns the same samples as ``librosa.load(path, sr=sr)``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

# Extensions people try that libsndfile cannot read, so the message can say so instead of "not audio".
_UNSUPPORTED = {".m4a", ".aac", ".mp4", ".wma", ".webm", ".mkv", ".amr", ".ape", ".alac", ".ra"}
# MP3 frame counts come from the Xing header or an estimate, so allow one MPEG frame of slack.
_MP3_SLACK = 1152
RESAMPLE_QUALITY = "HQ"
# A header's length and sample rate are untrusted: frames are read at most this many at a time, so memory
# follows the samples a file really holds, never the number it announces (4 GB behind an empty body).
READ_FRAMES = 1 << 20
BROKEN_LINK = "a symbolic link that leads nowhere (a loop, or its target is missing)"
PERMISSION_DENIED = "permission denied: this user may not read it (see its permissions, or its folder's)"


@dataclass(frozen=True)
class AudioInfo:
    """What the header of a recording says, read without decoding the audio."""

    path: str
    sr: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sr


def _open(path) -> sf.SoundFile:
    """Open ``path`` for reading, turning every way it can fail into an ``AudioError``."""
    path = Path(path)
    try:
        if not path.exists():
            if path.is_symlink():
                raise AudioError(path, BROKEN_LINK)
            raise AudioError(path, "file not found")
        if path.is_dir():
            os.listdir(path)  # a folder that cannot be listed is named so (a scan hands it over to be reported)
            raise AudioError(path, "is a folder, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(path, "empty file (0 bytes)")
    except PermissionError:
        raise AudioError(path, PERMISSION_DENIED) from None
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        message = str(error).split(": ", 1)[-1] if ": " in str(error) else str(error)
        if not _readable(path):  # libsndfile says only "System error"
            raise AudioError(path, PERMISSION_DENIED) from None
        if path.suffix.lower() in _UNSUPPORTED:
            raise AudioError(
                path,
                f"unsupported format '{path.suffix}': Tympan reads WAV, FLAC, Ogg (Vorbis/Opus), MP3, "
                "AIFF and AU; convert it first (e.g. ffmpeg -i in.m4a out.flac)",
            ) from None
        if "not recognised" in message or "not recognized" in message:
            raise AudioError(path, "not an audio file (libsndfile does not recognise its format)") from None
        raise AudioError(path, f"corrupt or truncated: {message}") from None
    log = f.extra_info or ""
    shortfall = re.search(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)", log)
    if shortfall:
        f.close()
        raise AudioError(
            path,
            f"truncated: the header announces {shortfall.group(1)} bytes of audio, the file holds "
            f"{shortfall.group(2)}",
        )
    if "ended unexpectedly" in log:
        f.close()
        raise AudioError(path, "truncated: the Ogg stream ends without its last page")
    if f.frames <= 0:
        f.close()
        raise AudioError(path, "no audio samples (zero length)")
    return f


def _readable(path: Path) -> bool:
    try:
        open(path, "rb").close()
        return True
    except PermissionError:
        return False
    except OSError:
        return True  # unreadable for another reason, which libsndfile's message tells


def info(path) -> AudioInfo:
    """Read sample rate, channels and length of a recording from its header, without decoding.

    Parameters
    ----------
    path : str or Path
        The recording.

    Returns
    -------
    AudioInfo
        ``sr``, ``channels``, ``frames``, ``duration`` (seconds), ``format`` and ``subtype``.

    Raises
    ------
    AudioError
        If the file is missing, empty, not audio, truncated or has no samples.

    Examples
    --------
    >>> import tympan, soundfile, numpy as np
    >>> soundfile.write("/tmp/tone.wav", np.zeros(8000, "float32"), 8000)
    >>> tympan.audio.info("/tmp/tone.wav").duration
    1.0
    """
    with _open(path) as f:
        return AudioInfo(str(path), int(f.samplerate), int(f.channels), int(f.frames), f.format, f.subtype)


def _check_finite(path, y: np.ndarray, where: str = "") -> None:
    if not np.isfinite(y).all():
        bad = int(y.size - np.isfinite(y).sum())
        raise AudioError(path, f"{bad} non-finite samples (NaN or inf){where}")


def _check_complete(path, f: sf.SoundFile, decoded: int, expected: int) -> None:
    slack = _MP3_SLACK if f.format == "MPEG" else 0
    if decoded + slack < expected:
        raise AudioError(path, f"truncated or corrupt: decoded {decoded} of {expected} samples")


def _to_mono(y: np.ndarray) -> np.ndarray:
    # Mean, not sum, as librosa.to_mono does: loudness does not depend on the channel count.
    return y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]


def resample(y: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    """Resample along the last axis with soxr (librosa's ``soxr_hq``), fixing the length as librosa does.

    Parameters
    ----------
    y : np.ndarray
        Audio, shape ``(samples,)`` or ``(channels, samples)``.
    orig_sr, sr : int
        Sample rates in Hz, before and after.

    Returns
    -------
    np.ndarray
        float32 audio with ``ceil(samples * sr / orig_sr)`` samples.
    """
    if orig_sr == sr:
        return y
    n_out = int(math.ceil(y.shape[-1] * sr / orig_sr))
    # soxr wants (frames, channels); librosa's layout is (channels, frames).
    y_hat = soxr.resample(y.T, orig_sr, sr, quality=RESAMPLE_QUALITY).T
    if y_hat.shape[-1] < n_out:
        pad = [(0, 0)] * (y_hat.ndim - 1) + [(0, n_out - y_hat.shape[-1])]
        y_hat = np.pad(y_hat, pad)
    return np.ascontiguousarray(y_hat[..., :n_out], dtype=np.float32)


def load(path, sr: int | None = None, mono: bool = True, offset: float = 0.0,
         duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a recording to float32, optionally mixed to mono and resampled.

    Parameters
    ----------
    path : str or Path
        Any format libsndfile reads: WAV (any bit depth), FLAC, Ogg/Vorbis, Ogg/Opus, MP3, AIFF, AU.
    sr : int or None
        Target sample rate in Hz; ``None`` keeps the file's own rate.
    mono : bool
        Mix all channels down to one (their mean).
    offset : float
        Start reading this many seconds into the file.
    duration : float or None
        Read at most this many seconds.

    Returns
    -------
    y : np.ndarray
        float32, shape ``(samples,)`` if mono, else ``(channels, samples)``.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        Naming the file and the reason: missing, not audio, unsupported format, corrupt or
        truncated, empty, or NaN/inf samples.

    Examples
    --------
    >>> import tympan, soundfile, numpy as np
    >>> soundfile.write("/tmp/stereo.wav", np.zeros((4410, 2), "float32"), 44100)
    >>> y, sr = tympan.load("/tmp/stereo.wav", sr=22050)
    >>> y.shape, y.dtype, sr
    ((2205,), dtype('float32'), 22050)
    """
    with _open(path) as f:
        native_sr = int(f.samplerate)
        start = min(int(round(offset * native_sr)), f.frames)
        expected = f.frames - start
        if duration is not None:
            expected = min(expected, int(round(duration * native_sr)))
        try:
            if start:
                f.seek(start)
            y = _read(f, expected)
        # ValueError: soundfile's count of frames left went negative, the decoder past what the header said
        except (sf.LibsndfileError, RuntimeError, ValueError) as error:
            raise AudioError(path, f"corrupt: decoding failed ({error})") from None
        _check_complete(path, f, len(y), expected)
    if len(y) == 0:
        raise AudioError(path, f"no audio samples after offset {offset} s")
    _check_finite(path, y)
    y = _to_mono(y) if mono else np.ascontiguousarray(y.T)
    if sr is not None and sr != native_sr:
        if sr <= 0:
            raise AudioError(path, f"cannot resample to sr={sr}: the sample rate must be positive")
        y = resample(y, native_sr, sr)
    return y, (sr or native_sr)


def stream(path, sr: int | None = None, block_seconds: float = 10.0,
           mono: bool = True) -> Iterator[np.ndarray]:
    """Yield consecutive blocks of a recording, decoding and resampling as it goes.

    Memory stays bounded by the block size whatever the file's length, so hours-long field
    recordings can be processed. Every block but the last holds exactly
    ``round(block_seconds * sr)`` samples, and their concatenation equals ``load(path, sr)``
    up to resampler edge effects (none when no resampling is needed).

    Parameters
    ----------
    path : str or Path
        The recording.
    sr : int or None
        Target sample rate in Hz; ``None`` keeps the file's own.
    block_seconds : float
        Length of each block in seconds.
    mono : bool
        Mix down to one channel.

    Yields
    ------
    np.ndarray
        float32 blocks, ``(samples,)`` if mono else ``(channels, samples)``.

    Raises
    ------
    AudioError
        As ``load``; a corruption found mid-file is raised when the decoder reaches it.

    Examples
    --------
    >>> import tympan, soundfile, numpy as np
    >>> soundfile.write("/tmp/long.wav", np.zeros(25000, "float32"), 8000)
    >>> [len(b) for b in tympan.audio.stream("/tmp/long.wav", block_seconds=1.0)]
    [8000, 8000, 8000, 1000]
    """
    if block_seconds <= 0:
        raise AudioError(path, f"block_seconds must be positive, got {block_seconds}")
    with _open(path) as f:
        native_sr = int(f.samplerate)
        out_sr = sr or native_sr
        chunks = _decode_chunks(path, f, max(1, min(READ_FRAMES, int(round(block_seconds * native_sr)))), mono)
        if out_sr != native_sr:
            chunks = _resample_chunks(chunks, native_sr, out_sr, 1 if mono else int(f.channels))
        for block in _reblock(chunks, max(1, int(round(block_seconds * out_sr)))):
            yield np.ascontiguousarray(block[:, 0] if mono else block.T)


def _read(f: sf.SoundFile, frames: int) -> np.ndarray:
    """``frames`` frames (fewer if the file holds fewer), ``(frames, channels)`` float32, read in pieces of
    at most ``READ_FRAMES``."""
    parts = []
    while frames > 0:
        part = f.read(min(frames, READ_FRAMES), dtype="float32", always_2d=True)
        if not len(part):
            break
        parts.append(part)
        frames -= len(part)
    return np.concatenate(parts) if len(parts) != 1 else parts[0] if parts else \
        np.zeros((0, f.channels), dtype=np.float32)


def _decode_chunks(path, f: sf.SoundFile, read_size: int, mono: bool) -> Iterator[tuple[np.ndarray, bool]]:
    """``(chunk, last)`` pairs: ``(frames, channels)`` float32 reads of ``read_size`` frames, mixed down if
    ``mono``; a corruption is raised where the decoder meets it, a missing end after the last chunk."""
    decoded, last = 0, False
    while not last:
        try:
            chunk = f.read(read_size, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as error:
            raise AudioError(path, f"corrupt: decoding failed after {decoded} samples ({error})") from None
        decoded += len(chunk)
        last = len(chunk) < read_size or decoded >= f.frames
        _check_finite(path, chunk, f" near {decoded / f.samplerate:.1f} s")
        yield (chunk.mean(axis=1, keepdims=True) if mono and chunk.shape[1] > 1 else chunk), last
    _check_complete(path, f, decoded, f.frames)


def _resample_chunks(chunks, orig_sr: int, sr: int, channels: int) -> Iterator[tuple[np.ndarray, bool]]:
    """The ``(chunk, last)`` pairs resampled by one soxr stream, so no chunk boundary is heard."""
    resampler = soxr.ResampleStream(orig_sr, sr, channels, dtype="float32", quality=RESAMPLE_QUALITY)
    for chunk, last in chunks:
        yield resampler.resample_chunk(chunk, last=last), last


def _reblock(chunks, block: int) -> Iterator[np.ndarray]:
    """The ``(chunk, last)`` pairs' frames regrouped into blocks of ``block`` frames; the final one may be
    shorter."""
    pending: list[np.ndarray] = []
    n_pending = 0
    for chunk, last in chunks:
        pending.append(chunk)
        n_pending += len(chunk)
        while n_pending >= block or (last and n_pending):
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            out, rest = joined[:block], joined[block:]
            pending, n_pending = ([rest], len(rest)) if len(rest) else ([], 0)
            yield out


def supported_extensions() -> tuple[str, ...]:
    """File extensions Tympan treats as audio when it scans folders (lower case, with the dot)."""
    return (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".snd", ".w64", ".caf")


def is_audio_path(path) -> bool:
    """True if the file's extension is one Tympan decodes or one it should report as unsupported."""
    suffix = os.path.splitext(str(path))[1].lower()
    return suffix in supported_extensions() or suffix in _UNSUPPORTED
