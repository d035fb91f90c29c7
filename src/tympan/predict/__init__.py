"""Prediction, the last stage: a trained model on new audio.

- ``files``: files, folders and globs in any format; clips share batches, long recordings are windowed;
- ``windows``: a recording's window scores in bounded memory, and the timeline of events they make;
- ``embed``: what the output layer sees, as a matrix for other tools;
- ``export``: the whole model, front-end included, as ONNX or TorchScript.
"""

from .embed import embed_files, write_embeddings
from .export import export
from .files import find_audio, labels_of, predict_files, rows, top_k
from .windows import WindowScores, events, score_windows, timeline

__all__ = ["WindowScores", "embed_files", "events", "export", "find_audio", "labels_of", "predict_files", "rows",
           "score_windows", "timeline", "top_k", "write_embeddings"]
