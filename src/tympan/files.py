"""Writing files so that nothing the user had is lost or half-written: a temporary file, then a rename."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


@contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` to write to; moved onto ``path`` when the block ends, removed if
    it raises. It keeps ``path``'s suffix, for writers that choose a format by it (matplotlib, soundfile).

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("whole or nothing")
    >>> target.read_text()
    'whole or nothing'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: a file is in the way of the folder {path.parent}; choose another place") from None
    except OSError as error:  # no permission, a read-only or full disk
        raise OutputError(f"{path}: cannot write here ({error.strerror or error}); choose another place") from None
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{threading.get_ident()}{path.suffix}")
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise OutputError(f"{path}: cannot write it ({error.strerror or error}); the file that was there, if "
                              "any, is unchanged") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
