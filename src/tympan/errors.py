"""Errors that speak the user's language: each names the file or option and what was wrong."""


class TympanError(Exception):
    """Base of every error Tympan raises on purpose; the CLI prints these without a traceback."""


class AudioError(TympanError):
    """A recording cannot be used: missing, not audio, corrupt or truncated, empty, or non-finite.

    ``path`` is the file and ``reason`` the short cause, so batch jobs can report both. ``path`` is
    ``None`` for audio passed as samples (an array), which has no file to name; the reason then says
    which argument was wrong.
    """

    def __init__(self, path, reason):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(reason if self.path is None else f"{self.path}: {reason}")


class DatasetError(TympanError):
    """A dataset folder or its metadata cannot be read as the layout asked for."""


class ConfigError(TympanError):
    """An option or configuration value is invalid."""


class ModelFileError(TympanError):
    """A model file is missing, damaged or of an unknown version."""


class OutputError(TympanError):
    """A result cannot be written where it was asked for: the folder is a file, not writable, or full."""


class TrainingError(TympanError):
    """Training cannot go on: the loss became NaN or infinite (the weights with it)."""


def unknown_names(given, accepted) -> list[str]:
    """The keys of ``given`` that ``accepted`` lacks, as sorted text: a YAML key may be anything (a bare
    ``?`` is a key ``None``, ``1`` a number), and an error naming them must not fail on it.

    Examples
    --------
    >>> unknown_names({"n_fft": 512, None: 1, 3: 2}, ["n_fft"])
    ['3', 'None']
    """
    return sorted(str(key) for key in given if key not in accepted)
