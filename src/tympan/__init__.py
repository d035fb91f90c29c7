"""Tympan: deep learning for audio - music and soundscapes - on PyTorch."""

from . import audio, frontend
from .audio import info, load, stream
from .errors import AudioError, ConfigError, DatasetError, ModelFileError, OutputError, TympanError
from .model_file import load_model, save_model

__version__ = "0.1.0"

__all__ = [
    "AudioError", "ConfigError", "DatasetError", "ModelFileError", "OutputError", "TympanError",
    "audio", "frontend", "info", "load", "load_model", "save_model", "stream", "__version__",
]
