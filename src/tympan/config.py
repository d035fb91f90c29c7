"""Reading configuration and spec files: YAML (one or several documents) or JSON, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ConfigError


def read_documents(path) -> list[dict]:
    """Every document in a YAML or JSON file, each a mapping.

    A YAML file may hold several documents separated by ``---`` (e.g. networks to compare).

    Raises
    ------
    ConfigError
        Naming the file and what is wrong with it.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error})") from None
    try:
        documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    documents = [d for d in documents if d is not None]
    if not documents:
        raise ConfigError(f"{path}: empty")
    for number, document in enumerate(documents, 1):
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: document {number} is a {type(document).__name__}, expected a mapping "
                              "of keys to values")
    return documents
