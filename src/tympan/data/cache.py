"""Decode once: decoded, resampled audio kept on disk, keyed by file content and sample rate.

Decoding Ogg or MP3 and resampling cost far more than reading a float32 array, so every recording is
decoded once per sample rate; later epochs and later runs read the ``.npy`` (memory-mapped, so a segment
of an hour-long file reads only its pages). The key is a hash of the file's bytes: editing a file gives
it a new key, and a renamed or copied file keeps its entry. Hashing is remembered per
(path, size, mtime) in a small SQLite index so an unchanged dataset is not re-read to be hashed.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio import BROKEN_LINK, PERMISSION_DENIED, info, load, stream
from ..defaults import default_workers
from ..errors import AudioError, ConfigError
from .manifest import BadFile, Item

# Bump when decoding or resampling changes, so old entries are not mistaken for new ones.
CACHE_VERSION = 1
_HASH_CHUNK = 1 << 20
# A recording longer than this is decoded a block at a time straight into its cache entry, and read back
# memory-mapped: a ten-hour field recording in a training set costs disk, not gigabytes of memory.
STREAM_SECONDS = 600.0
_STREAM_BLOCK_SECONDS = 60.0
# np.load parses each header with ast.literal_eval, and CPython 3.11's AST builder can fail spuriously when
# threads do that at once ("SystemError: AST constructor recursion depth mismatch", python/cpython#106905,
# seen here in benchmarks/fsdd.py). Opening is quick next to decoding, so it is done one thread at a time.
_OPEN = threading.Lock()


def default_cache_dir() -> Path:
    """``$TYMPAN_CACHE``, else ``$XDG_CACHE_HOME/tympan``, else ``~/.cache/tympan``."""
    if os.environ.get("TYMPAN_CACHE"):
        return Path(os.environ["TYMPAN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tympan"


class AudioCache:
    """Decoded mono audio on disk.

    Parameters
    ----------
    root : str or Path or None
        Cache folder; ``None`` for ``default_cache_dir()``.

    Raises
    ------
    ConfigError
        If the folder cannot be created or its index written (a file in the way, no permission).

    Examples
    --------
    >>> import soundfile, numpy as np, tempfile
    >>> soundfile.write("/tmp/c.wav", np.zeros(16000, "float32"), 16000)
    >>> cache = AudioCache(tempfile.mkdtemp())
    >>> cache.load("/tmp/c.wav", sr=8000).shape
    (8000,)
    """

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.audio_dir = self.root / f"audio-v{CACHE_VERSION}"
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        self.unwritable = ""  # why the cache cannot be written, once a write failed
        try:
            self.audio_dir.mkdir(parents=True, exist_ok=True)
            # Create the index once, here: switching to WAL ignores the busy timeout, so threads that each
            # tried it on a new database would fail with "database is locked".
            with sqlite3.connect(self.root / "index.sqlite", timeout=60) as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
                                   "mtime_ns INTEGER, digest TEXT)")
            connection.close()
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(f"cache folder {self.root}: cannot keep decoded audio there ({error}); set "
                              "TYMPAN_CACHE to a writable folder") from None

    def _index(self) -> sqlite3.Connection:
        # One connection per thread (and so per process): SQLite connections must not be shared.
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.root / "index.sqlite", timeout=60)
            self._local.connection = connection
        return connection

    def digest(self, path) -> str:
        """Hash of the file's bytes (BLAKE2b, 128 bits), remembered while size and mtime stay the same."""
        path = os.path.abspath(path)
        try:
            stat = os.stat(path)
        except OSError:
            if os.path.islink(path):
                raise AudioError(path, BROKEN_LINK) from None
            raise AudioError(path, "file not found") from None
        index = self._index()
        row = index.execute("SELECT size, mtime_ns, digest FROM files WHERE path = ?", (path,)).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return row[2]
        hasher = hashlib.blake2b(digest_size=16)
        try:
            with open(path, "rb") as f:
                while chunk := f.read(_HASH_CHUNK):
                    hasher.update(chunk)
        except PermissionError:
            raise AudioError(path, PERMISSION_DENIED) from None
        except OSError as error:  # a folder where a file was listed, a disk that fails
            raise AudioError(path, f"cannot read it ({error.strerror or error})") from None
        digest = hasher.hexdigest()
        try:
            with index:
                index.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                              (path, stat.st_size, stat.st_mtime_ns, digest))
        except sqlite3.OperationalError as error:  # a full disk: the digest is right, only not remembered
            self._unwritable(str(error))
        return digest

    def entry(self, path, sr: int) -> Path:
        """Where the decoded audio of ``path`` at ``sr`` lives."""
        digest = self.digest(path)
        return self.audio_dir / digest[:2] / f"{digest}-{int(sr)}.npy"

    def load(self, path, sr: int, start: float | None = None, end: float | None = None) -> np.ndarray:
        """Mono float32 audio of ``path`` at ``sr`` (a segment in seconds if given), decoding only once.

        Raises
        ------
        AudioError
            If the file cannot be decoded (nothing is cached for it then).
        """
        entry = self.entry(path, sr)
        try:
            with _OPEN:
                y = np.load(entry, mmap_mode="r")
            self.hits += 1
        except (OSError, ValueError):
            y = self._decode(path, sr, entry)
            self.misses += 1
        if start is None and end is None:
            return y
        return _segment(path, y, sr, start, end)

    def _decode(self, path, sr: int, entry: Path) -> np.ndarray:
        """Decode ``path`` at ``sr`` and keep it at ``entry``: whole for a usual recording, block by block
        for a long one (then returned memory-mapped; held in memory only if the cache cannot be written)."""
        if info(path).duration > STREAM_SECONDS and self._stream(path, sr, entry):
            with _OPEN:
                return np.load(entry, mmap_mode="r")
        y, _ = load(path, sr=sr)
        self._store(entry, y)
        return y

    def _stream(self, path, sr: int, entry: Path) -> bool:
        """Write the decoded audio to ``entry`` a block at a time (the ``.npy`` header's length is written
        last); whether it could be written. A bad recording raises ``AudioError`` and leaves nothing."""
        tmp = entry.with_name(f"{entry.stem}.tmp-{os.getpid()}-{threading.get_ident()}.npy")
        header = {"descr": "<f4", "fortran_order": False, "shape": (0,)}
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.lib.format.write_array_header_1_0(f, header)
                data_start, n = f.tell(), 0
                for block in stream(path, sr=sr, block_seconds=_STREAM_BLOCK_SECONDS):
                    f.write(block.astype("<f4", copy=False).tobytes())
                    n += len(block)
                f.seek(0)
                # headers are padded to 64 bytes, so a length of any size takes the same room as 0
                np.lib.format.write_array_header_1_0(f, {**header, "shape": (n,)})
                if f.tell() != data_start:
                    raise OSError(f"the .npy header of {entry.name} changed size")
            os.replace(tmp, entry)
            return True
        except OSError as error:
            tmp.unlink(missing_ok=True)
            self._unwritable(f"{error.strerror or error}")
            return False
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _store(self, entry: Path, y: np.ndarray) -> None:
        """Keep ``y`` for next time, atomically: a concurrent reader sees the whole array or none. A cache that
        cannot be written (a full disk, no permission) is said once and then done without: it only saves
        time, so the run goes on."""
        tmp = entry.with_name(f"{entry.stem}.tmp-{os.getpid()}-{threading.get_ident()}.npy")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, y)
            os.replace(tmp, entry)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            self._unwritable(f"{error.strerror or error}")

    def _unwritable(self, why: str) -> None:
        if not self.unwritable:
            self.unwritable = why
            warnings.warn(f"the decode cache {self.root} cannot be written ({why}): going on without it, "
                          "decoding each recording when it is needed (TYMPAN_CACHE chooses another place)",
                          stacklevel=3)

    def load_items(self, items: list[Item], sr: int, workers: int | None = None,
                   progress: bool = False) -> tuple[list[np.ndarray | None], list[BadFile]]:
        """Decode (or read from the cache) every item, in parallel; bad files are reported, not raised.

        Returns
        -------
        audio : list of np.ndarray or None
            One array per item, ``None`` where decoding failed.
        bad : list of BadFile
            The failures with their reasons.
        """
        def one(item: Item):
            try:
                return self.load(item.path, sr, item.start, item.end), None
            except AudioError as error:
                return None, BadFile(item.path, error.reason)

        workers = workers or default_workers()
        # Threads suffice: libsndfile, soxr and file reads release the GIL.
        with ThreadPoolExecutor(workers) as pool:
            results = list(tqdm(pool.map(one, items), total=len(items), desc=f"decoding at {sr} Hz",
                                unit="file", disable=not (progress and sys.stderr.isatty()), leave=False))
        bad = [b for _, b in results if b is not None]
        return [y for y, _ in results], bad


def _segment(path, y: np.ndarray, sr: int, start: float | None, end: float | None) -> np.ndarray:
    first = int(round((start or 0.0) * sr))
    last = len(y) if end is None else int(round(end * sr))
    if not 0 <= first < last or first >= len(y):
        raise AudioError(path, f"segment {start}-{end} s lies outside the recording "
                               f"({len(y) / sr:.2f} s long)")
    return np.asarray(y[first:min(last, len(y))])
