"""Prediction, the last stage: a trained model on new audio.

- ``files``: files, folders and globs in any format; clips share batches, long recordings are windowed;
- ``windows``: a recording's window scores in bounded memory, and the timeline of events they make;
- ``embed``: what the output layer sees, as a matrix for other tools;
- ``export``: the whole model, front-end included, as ONNX or TorchScript;
- ``report``: a prediction as text, CSV and timeline figures; an embedding file with its report.
"""

from .embed import embed_files, write_embeddings
from .export import export
from .files import class_thresholds, find_audio, labels_of, predict_files, rows, top_k
from .report import embed_to_file, format_embedding, format_predictions, plot_timelines, write_csv
from .windows import WindowScores, events, score_windows, timeline

__all__ = ["WindowScores", "class_thresholds", "embed_files", "embed_to_file", "events", "export", "find_audio",
           "format_embedding", "format_predictions", "labels_of", "plot_timelines", "predict_files", "rows",
           "score_windows", "timeline", "top_k", "write_csv", "write_embeddings"]
