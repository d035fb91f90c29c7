"""Writing files so that nothing the user had is lost or half-written: a temporary file, then a rename."""

from __future__ import annotations

import os
import shutil
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
        try:
            yield tmp
        except OSError as error:  # a full disk or a quota while writing: said, and the old file kept
            raise OutputError(f"{path}: cannot write it ({error.strerror or error}); the file that was there, if "
                              "any, is unchanged") from None
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


def remove(path) -> None:
    """Delete a file, link or folder tree, if there is one."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path):
    """A temporary folder beside ``path`` to fill; it replaces ``path`` (an empty folder, or what the
    caller chose to overwrite) when the block ends, and is removed if the block raises, so ``path``
    appears whole or not at all.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "set"
    >>> with atomic_folder(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("one")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        remove(tmp)
        tmp.mkdir(parents=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot write beside it ({error.strerror or error}); choose another place") from None
    try:
        yield tmp
        aside = path.with_name(f"{path.name}.old-{os.getpid()}")
        if path.exists() or path.is_symlink():
            os.replace(path, aside)
        try:
            os.replace(tmp, path)
        except OSError as error:
            if aside.exists() and not path.exists():
                os.replace(aside, path)  # put back what was there
            raise OutputError(f"{path}: cannot put the new folder in place ({error.strerror or error})") from None
        remove(aside)
    finally:
        remove(tmp)  # only still there if something failed
