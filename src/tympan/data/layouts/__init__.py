"""Reading datasets in their own on-disk layouts into a ``Manifest``, without decoding any audio.

Each layout is one function registered with ``@layout("name", expects=...)``; ``build`` runs it (``detect``
guesses which). Metadata problems (a listed file missing, a name that does not parse, an empty label, a bad
fold) become ``manifest.bad`` entries while the good rows load; only unreadable metadata raises
``DatasetError``. Decoding is checked later (``tympan inspect``), so an undecodable ``.wav`` is still an item.

The layouts live in ``generic`` (a folder per class, a CSV file) and ``datasets`` (the standard datasets), on
``base`` (the ``LAYOUTS`` registry, the ``@layout`` decorator, scanning folders and reading tables).
"""

from __future__ import annotations

from ...errors import DatasetError
from ..manifest import Manifest
from .base import LAYOUTS, _class_dirs, _existing, layout

# Registration order is the order of LAYOUTS, which the help and the errors list: generic layouts first.
from .generic import csv_file, folder, group_matcher  # isort: skip
from .events import events, looks_like_events  # isort: skip
from .datasets import (ESC50_META, SC_LISTS, SC_NOISE, US8K_META, _looks_like_fsdd, _looks_like_gtzan,  # isort: skip
                       esc50, fsdd, gtzan, speech_commands, urbansound8k)

__all__ = ["LAYOUTS", "build", "csv_file", "detect", "esc50", "events", "folder", "fsdd", "group_matcher", "gtzan", "layout",
           "speech_commands", "urbansound8k"]


def detect(path) -> str:
    """The key of ``LAYOUTS`` that ``path`` (a dataset folder or CSV file) is in, from the files it holds.

    Checked in order: a CSV file; ESC-50's and UrbanSound8K's metadata; Speech Commands' lists or noise
    folder; DCASE annotation files (events in time); GTZAN's folders and names; FSDD's names; any class folders. ``DatasetError`` if ``path`` is
    missing or nothing fits, listing what each layout expects.

    Examples
    --------
    >>> import tempfile
    >>> from tympan.data.synthetic import make_demo
    >>> detect(make_demo(tempfile.mkdtemp(), n_per_class=2, overwrite=True))
    'folder'
    """
    path = _existing(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
    elif (path / ESC50_META).is_file():
        return "esc50"
    elif (path / US8K_META).is_file():
        return "urbansound8k"
    elif any((path / name).exists() for name in (*SC_LISTS, SC_NOISE)):
        return "speech_commands"
    elif looks_like_events(path):
        return "events"
    elif _looks_like_gtzan(path):
        return "gtzan"
    elif _looks_like_fsdd(path):
        return "fsdd"
    elif _class_dirs(path, recursive=True):
        return "folder"
    known = "\n".join(f"  {name}: {builder.expects}" for name, builder in LAYOUTS.items())
    raise DatasetError(f"{path}: cannot tell which dataset layout this is. Known layouts:\n{known}\n"
                       "Pass layout=... (--layout) to choose one explicitly.")


def build(path, layout: str = "auto", **options) -> Manifest:
    """Read a dataset from its own layout into a ``Manifest``, without decoding audio.

    Parameters
    ----------
    path : str or Path
        The dataset's folder, or a CSV file for the ``csv`` layout.
    layout : str
        A key of ``LAYOUTS`` (folder, csv, events, fsdd, esc50, urbansound8k, gtzan, speech_commands), or "auto".
    **options
        The layout's own options, e.g. ``subset="esc10"`` for ESC-50, ``label_column="tags"`` for CSV.

    Returns
    -------
    Manifest
        Items with absolute paths in sorted, deterministic order; metadata problems in ``bad``.

    Raises
    ------
    DatasetError
        If ``path`` is missing, no layout fits it (``"auto"``) or the metadata is unreadable.
    ConfigError
        If the layout is unknown, or an option is not one the layout has, or has a bad value.

    Examples
    --------
    >>> import tempfile
    >>> from tympan.data.synthetic import make_demo
    >>> manifest = build(make_demo(tempfile.mkdtemp(), n_per_class=2, overwrite=True))
    >>> manifest.layout, len(manifest), manifest.classes[:2]
    ('folder', 20, ['birdsong', 'chord_major'])
    """
    if layout == "auto":
        layout = detect(path)
    return LAYOUTS.get(layout)(path, **options)
