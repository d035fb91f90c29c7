"""The training report: every file written, self-contained HTML, user text escaped, missing parts tolerated."""

import json

import matplotlib.image
import numpy as np
import pytest

from tympan.train.metrics import classification_metrics, summarize_folds
from tympan.train.report import plot_confusion, plot_curves, write_report

from conftest import assert_report_shows_metrics

CLASSES = ["dog", "<script>alert(1)</script>", "rain & wind"]


def scored(seed, n=30, accuracy=0.8):
    """Metrics of a fake model that is right about ``accuracy`` of the time."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 3, n)
    predicted = np.where(rng.random(n) < accuracy, targets, rng.integers(0, 3, n))
    scores = rng.random((n, 3)) * 0.3
    scores[np.arange(n), predicted] = 1.0
    return classification_metrics(targets, scores / scores.sum(axis=1, keepdims=True), CLASSES)


@pytest.fixture
def result():
    history = [{"epoch": e, "train_loss": 1.2 / e, "train_accuracy": 1 - 0.5 / e, "val_loss": 1.3 / e + 0.01 * e,
                "val_accuracy": 0.9 - 0.4 / e, "val_macro_f1": 0.85 - 0.4 / e, "learning_rate": 1e-3,
                "seconds": 2.9} for e in range(1, 13)]
    folds = [{"fold": k, "test": scored(10 + k)} for k in range(3)]
    return {"schema": "tympan.train.metrics/1", "classes": CLASSES, "test": scored(0), "val": scored(1),
            "epochs": 12, "best_epoch": 9, "train_seconds": 34.5, "history": history,
            "config": {"data": {"path": "/data/<birds>", "clip_seconds": 2.0}, "train": {"epochs": 12}},
            "dataset": {"path": "/data/<birds>", "layout": "folders", "n_items": 120,
                        "splits": {"train": 90, "val": 30, "test": 30}, "fingerprint": "abc123"},
            "bad_files": [{"path": "/data/<birds>/bad.wav", "reason": "not audio"},
                          {"path": "/data/empty.wav", "reason": "empty"}],
            "folds": folds, "cross_validation": summarize_folds([f["test"] for f in folds])}


def test_writes_every_file(tmp_path, result):
    out = tmp_path / "report"
    paths = write_report(out, result)
    assert set(paths) == {"metrics", "curves", "confusion", "report"}
    names = {"metrics.json", "curves.png", "confusion.png", "report.html"}
    assert {p.name for p in paths.values()} == names
    assert {p.name for p in out.iterdir()} == names  # no temporary file left behind


def test_metrics_json_round_trips(tmp_path, result):
    paths = write_report(tmp_path, result)
    saved = json.loads(paths["metrics"].read_text())
    assert saved == json.loads(json.dumps(result))
    for key in ("accuracy", "macro_f1", "n"):
        assert saved["test"][key] == result["test"][key]
    assert saved["val"]["accuracy"] == result["val"]["accuracy"]
    assert saved["epochs"] == 12 and saved["train_seconds"] == 34.5 and saved["config"] == result["config"]


def test_html_shows_the_numbers_of_metrics_json(tmp_path, result):
    result["test"]["per_group"] = {"ann": {"accuracy": 0.8125, "n": 16}, "<bob>": {"accuracy": 2 / 3, "n": 14}}
    result["evaluation"] = {"group_name": "speaker", "test": "new", "val": "new", "note": None}
    paths = write_report(tmp_path, result)
    metrics = json.loads(paths["metrics"].read_text())
    tables = assert_report_shows_metrics(paths["report"].read_text(encoding="utf-8"), metrics)
    assert {"Headline", "Per class (test)", "Per class (val)", "Test accuracy per speaker",
            "Cross-validation"} <= set(tables)
    assert tables["Test accuracy per speaker"][1:] == [["ann", "0.812", "16"], ["<bob>", "0.667", "14"]]
    # a report whose page disagreed with its metrics would be caught
    metrics["test"]["per_class"]["dog"]["recall"] += 0.01
    with pytest.raises(AssertionError, match="test dog recall"):
        assert_report_shows_metrics(paths["report"].read_text(encoding="utf-8"), metrics)


def test_figures_draw_the_numbers_of_metrics_json(result):
    """The learning curves plot each epoch's values, and the confusion matrix's cells hold its counts."""
    curves = plot_curves(result["history"], result["best_epoch"])
    drawn = {line.get_label(): line for ax in curves.axes for line in ax.get_lines()}
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_macro_f1"):
        line = drawn[key.replace("_", " ")]
        assert list(line.get_xdata()) == [row["epoch"] for row in result["history"]]
        np.testing.assert_allclose(line.get_ydata(), [row[key] for row in result["history"]])
    assert list(drawn["best epoch 9"].get_xdata()) == [9, 9]
    confusion = result["test"]["confusion"]
    figure = plot_confusion(confusion, CLASSES, "test")
    counts = [[None] * len(CLASSES) for _ in CLASSES]
    for text in figure.axes[0].texts:
        row, column = round(text.get_position()[1]), round(text.get_position()[0])
        counts[row][column] = int(text.get_text())
    assert counts == confusion
    image = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(image.sum(axis=1), 1.0)  # each true class's row, as fractions of that class
    np.testing.assert_allclose(np.diag(image), [result["test"]["per_class"][c]["recall"] for c in CLASSES])


def test_pngs_are_images(tmp_path, result):
    paths = write_report(tmp_path, result)
    for kind in ("curves", "confusion"):
        image = matplotlib.image.imread(paths[kind])
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_html_is_self_contained_and_escaped(tmp_path, result):
    text = write_report(tmp_path, result)["report"].read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "rain &amp; wind" in text and "/data/&lt;birds&gt;/bad.wav" in text
    assert text.count("data:image/png;base64,") == 2
    assert 'src="http' not in text and "<link" not in text
    assert "not audio" in text and "empty" in text
    assert f"{result['test']['accuracy']:.3f}" in text and f"{result['val']['macro_f1']:.3f}" in text
    assert "±" in text and "abc123" in text and "clip_seconds" in text


def test_confusion_falls_back_to_val(tmp_path, result):
    result["test"] = None
    paths = write_report(tmp_path, result)
    assert "confusion" in paths
    assert "val confusion" in paths["report"].read_text(encoding="utf-8")


def test_minimal_result(tmp_path):
    result = {"classes": CLASSES, "test": scored(0), "val": None, "history": [], "bad_files": []}
    paths = write_report(tmp_path / "new" / "folder", result)
    assert set(paths) == {"metrics", "confusion", "report"}
    assert json.loads(paths["metrics"].read_text())["val"] is None
    text = paths["report"].read_text(encoding="utf-8")
    assert "<p>none</p>" in text and "<script>" not in text


def test_empty_result(tmp_path):
    paths = write_report(tmp_path, {})
    assert set(paths) == {"metrics", "report"}
    assert "No evaluation split" in paths["report"].read_text(encoding="utf-8")


def test_history_with_gaps(tmp_path):
    # Training without a val split: only train series, and one epoch missing its accuracy.
    history = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.4}, {"epoch": 2, "train_loss": 0.6},
               {"epoch": 3, "train_loss": 0.5, "train_accuracy": 0.7, "val_loss": None}]
    paths = write_report(tmp_path, {"history": history, "epochs": 3, "best_epoch": None})
    assert matplotlib.image.imread(paths["curves"]).ndim == 3


def test_multi_label(tmp_path):
    classes = ["cost $5", "bird"]
    metrics = classification_metrics([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.3, 0.8], [0.6, 0.4]], classes,
                                     multi_label=True)
    paths = write_report(tmp_path, {"classes": classes, "test": metrics, "val": None})
    assert "confusion" not in paths  # no single confusion matrix for multi-label
    text = paths["report"].read_text(encoding="utf-8")
    assert "<th>AP</th>" in text and "cost $5" in text


def test_confusion_with_dollar_class_names(tmp_path):
    metrics = classification_metrics([0, 1], np.eye(2), ["$5", "$10 note$"])
    paths = write_report(tmp_path, {"classes": ["$5", "$10 note$"], "test": metrics})
    assert matplotlib.image.imread(paths["confusion"]).ndim == 3


def test_many_classes(tmp_path):
    classes = [f"class {i}" for i in range(40)]
    targets = np.arange(200) % 40
    metrics = classification_metrics(targets, np.eye(40)[(targets + (targets % 3 == 0)) % 40], classes)
    paths = write_report(tmp_path, {"classes": classes, "test": metrics})
    assert matplotlib.image.imread(paths["confusion"]).ndim == 3
