"""What users pick by name: activations, layers, network kinds, losses, augmentations, dataset layouts, lessons.

Each is a ``Registry``; adding an entry is the thing itself and one line above it, ``@ACTIVATIONS.register("relu")``.
A registry lists its names in the order they were added (the order of ``--help`` and of every error), and
looking up a name it does not hold is a ``ConfigError`` that lists the names it does.
"""

from __future__ import annotations

from .errors import ConfigError


class Registry:
    """Things of one sort, by name, in the order they were added.

    A class registered under one name learns it as its ``kind`` (the key its specs and ``config()`` use),
    unless the class sets its own: one class registered under several names, as ``rnn``, ``lstm`` and
    ``gru`` are, keeps the ``kind`` it is built with.

    Parameters
    ----------
    holds : str
        What it holds, in the singular, for its errors: ``"activation"``.

    Examples
    --------
    >>> SHAPES = Registry("shape")
    >>> @SHAPES.register("square")
    ... class Square:
    ...     pass
    >>> SHAPES["square"].kind, "circle" in SHAPES, SHAPES.names()
    ('square', False, ['square'])
    >>> SHAPES.get("circle")
    Traceback (most recent call last):
    tympan.errors.ConfigError: shape='circle' is unknown: choose one of square
    """

    def __init__(self, holds: str):
        self.holds = holds
        self._entries: dict = {}

    def register(self, *names: str):
        """A decorator that adds what it decorates under each of ``names``."""
        def add(thing):
            for name in names:
                self.add(name, thing)
            if isinstance(thing, type) and len(names) == 1 and "kind" not in vars(thing):
                thing.kind = names[0]
            return thing
        return add

    def add(self, name: str, thing):
        """Add ``thing`` under ``name``; a name taken twice is a mistake in the code, not in a config."""
        if name in self._entries:
            raise TypeError(f"{self.holds} {name!r} is registered twice")
        self._entries[name] = thing
        return thing

    def get(self, kind, *, option: str | None = None):
        """What is registered as ``kind``; ``option`` names the setting for the error (``train.loss``)."""
        if not isinstance(kind, str) or kind not in self._entries:
            raise ConfigError(f"{option or self.holds}={kind!r} is unknown: choose one of {', '.join(self)}")
        return self._entries[kind]

    __getitem__ = get

    def names(self) -> list[str]:
        """The registered names, in the order they were added."""
        return list(self._entries)

    def items(self):
        return self._entries.items()

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.holds!r}: {', '.join(self)})"


def legacy_name_as_kind(spec: dict) -> dict:
    """``spec`` with a legacy ``name`` key read as its ``kind``.

    Activation and augmentation specs were keyed by ``name`` (``{name: noise, p: 0.5}``) while layers,
    networks and front-ends used ``kind``; all now use ``kind``. Configuration and model files written before
    still say ``name``, and must still load. Only for those two specs: in a layer spec, ``name`` is the
    layer's own name (``output``), not its kind.

    Examples
    --------
    >>> legacy_name_as_kind({"name": "leaky_relu", "slope": 0.1})
    {'kind': 'leaky_relu', 'slope': 0.1}
    """
    if "name" in spec and "kind" not in spec:
        return {"kind": spec["name"], **{key: value for key, value in spec.items() if key != "name"}}
    return dict(spec)
