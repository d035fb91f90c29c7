"""Errors that speak the user's language: each names the file or option and what was wrong."""


class TympanError(Exception):
    """Base of every error Tympan raises on purpose; the CLI prints these without a traceback."""


class AudioError(TympanError):
    """A recording cannot be used: missing, not audio, corrupt or truncated, empty, or non-finite.

    ``path`` is the file and ``reason`` the short cause, so batch jobs can report both.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(TympanError):
    """A dataset folder or its metadata cannot be read as the layout asked for."""


class ConfigError(TympanError):
    """An option or configuration value is invalid."""


class ModelFileError(TympanError):
    """A model file is missing, damaged or of an unknown version."""
