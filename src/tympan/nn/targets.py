"""What a name on the command line means as networks: a model file, a spec file (one network per YAML
document), or a network kind with its defaults. ``tympan summary`` takes any of the three.
"""

from __future__ import annotations

from pathlib import Path

from ..config import read_documents
from ..errors import ConfigError, TympanError
from ..model_file import SUFFIX, load_model
from .classifier import Classifier
from .models import MODELS, network_spec

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def _from_spec_file(target: str, n_classes: int, input_seconds: float | None) -> list[tuple[str, Classifier]]:
    documents = read_documents(Path(target))
    found = []
    for number, doc in enumerate(documents, 1):
        label = doc.get("name") or (target if len(documents) == 1 else f"{target} #{number}")
        if input_seconds is not None and "clip_seconds" not in doc:
            doc = {**doc, "clip_seconds": input_seconds}
        try:
            found.append((label, Classifier.from_spec(doc, n_classes=n_classes)))
        except TympanError as error:
            raise ConfigError(f"{target}: {label}: {error}") from None
    return found


def named_models(target, n_classes: int = 10, input_seconds: float | None = None) -> list[tuple[str, Classifier]]:
    """The networks ``target`` names, each with a label for its summary.

    Parameters
    ----------
    target : str or Path
        A model file (``.tympan``, or any file that is not YAML or JSON), a spec file (YAML or JSON; a
        YAML file may hold several specs separated by ``---``), or a network kind of ``MODELS``.
    n_classes : int
        The number of classes of a spec or kind that does not name its classes.
    input_seconds : float or None
        The clip length of a spec without ``clip_seconds``, or of a kind (None: 1 second).

    Returns
    -------
    list of (str, Classifier)
        A spec's label is its ``name``, else the file (with ``#N`` for the N-th of several specs).

    Raises
    ------
    ConfigError
        If ``target`` is neither a file nor a network kind, or a spec in it is wrong.

    Examples
    --------
    >>> [(label, model.clip_seconds) for label, model in named_models("cnn", n_classes=3, input_seconds=0.5)]
    [('cnn', 0.5)]
    """
    path = Path(target)
    if path.suffix == SUFFIX or (path.is_file() and path.suffix not in SPEC_SUFFIXES):
        return [(str(target), load_model(path))]
    if path.is_file():
        return _from_spec_file(str(target), n_classes, input_seconds)
    if target in MODELS:
        # a 1-D CNN reads the waveform itself, a PANN its own log-mel; the rest the default log-mel front-end
        frontend = network_spec(target).default_frontend()
        classes = [f"class_{i}" for i in range(n_classes)]
        return [(target, Classifier(frontend, target, classes, input_seconds or 1.0))]
    raise ConfigError(f"{target}: no such file, and not a network kind ({', '.join(MODELS)})")


__all__ = ["named_models"]
