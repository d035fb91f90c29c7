"""Tympan's main job: labelled recordings in; a model file and an honest report out.

``train`` reads the dataset in its layout, splits it (official splits and folds kept), resolves the
configuration (recipe, file, options, then what adapts to the data), decodes the audio once, sets the
normalisation statistics from the training split, runs the loop (``loop.fit``), scores the best epoch on
validation and test, and writes ``model.tympan``, ``report/`` and ``log.jsonl``. ``--folds`` repeats it
with each official fold as the test fold and reports the mean and standard deviation.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path


from ..data.cache import AudioCache
from ..defaults import TEST_FRACTION, VAL_FRACTION
from ..device import Parallel
from ..data.layouts import build, detect
from ..data.splits import assign_splits, describe, group_folds
from ..errors import ConfigError, DatasetError
from ..files import atomic_path
from ..model_file import save_model
from ..nn.classifier import Classifier
from ..nn.detector import EventDetector, PostProcess
from .config import Config, adapt_to_data, load_config
from .events import event_sets, plot_timelines, tune_postprocess
from .data import fingerprint, load_clipset, load_splits, normalisation_statistics, scan_headers
from .loop import evaluate_clips, fit
from .metrics import summarize_folds
from .report import write_report
from .transfer import fit_head, start_from


@dataclasses.dataclass(frozen=True)
class Context:
    """What a training job is given by its entry point instead of finding it in globals: the processes it
    runs among, the audio cache, whether to resume and whether to show progress."""

    parallel: Parallel = Parallel()
    cache: AudioCache | None = None
    resume: bool = False
    progress: bool = True

    @property
    def shows(self) -> bool:
        return self.progress and self.parallel.writes


def prepare(data, layout: str = "auto", config_file=None, model: str | None = None, sets=(),
            options: dict | None = None):
    """The dataset's manifest (with splits) and the resolved configuration, before any audio is decoded."""
    if config_file is None and layout == "auto":  # the recipe of the layout found in the data
        layout = detect(data)
    config = load_config(layout, config_file, model, sets)
    layout = config.data.layout if layout == "auto" else layout
    manifest = build(data, layout=layout, **{**config.data.options, **(options or {})})
    return manifest, config


def training_split(manifest, config: Config, test_fold=None):
    """What every learner needs before decoding audio: the manifest split as ``config.data`` says (``test_fold``,
    when given, instead of ``data.test_fold``), ``config`` adapted to the training recordings' headers
    (``adapt_to_data``), and whether the task is multi-label. An empty training split is a ``DatasetError``."""
    d = config.data
    split = assign_splits(manifest, d.val_fraction, d.test_fraction,
                          test_fold if test_fold is not None else d.test_fold,
                          seed=config.train.seed)
    train_items = split.subset("train")
    if len(train_items) == 0:
        raise DatasetError(f"{manifest.root}: no training items after splitting")
    config = adapt_to_data(config, *scan_headers(train_items, d.workers))
    multi_label = manifest.multilabel if config.data.multi_label is None else config.data.multi_label
    return split, config, multi_label


def train(data, out, layout: str = "auto", config_file=None, model: str | None = None, sets=(),
          options: dict | None = None, resume: bool = False, folds=False, progress: bool = True,
          parallel: Parallel | None = None, cache: AudioCache | None = None) -> dict:
    """Train, evaluate and write everything into ``out``; returns the ``metrics.json`` content.

    Parameters
    ----------
    data : str or Path
        A dataset folder or CSV file.
    out : str or Path
        The run folder: ``model.tympan``, ``checkpoints/``, ``report/``, ``log.jsonl``.
    layout, options
        How to read the dataset (``tympan.data.layouts``); ``auto`` detects it.
    config_file, model, sets
        ``--config FILE``, ``--model KIND``, ``--set section.key=value`` (``config.load_config``).
    resume : bool
        Continue an interrupted run from its last checkpoint.
    folds : bool, str or int
        Cross-validate: ``"official"`` (or True) over the dataset's official folds; ``"groups"``, leave one
        group (speaker, source...) out per fold; an integer k, k folds of whole groups; ``"auto"``, official
        folds when the dataset has them, else one group out (up to 10 groups) or 5 group folds.
    progress : bool
        Progress bars and a line per epoch on a terminal.
    parallel : Parallel or None
        The data-parallel processes; None: from ``torchrun``'s environment (``Parallel.from_environment``).
    cache : AudioCache or None
        Where decoded audio is kept; None: ``AudioCache()``, the default folder.
    """
    out = Path(out)
    context = Context(parallel or Parallel.from_environment(), cache or AudioCache(), resume, progress)
    manifest, config = prepare(data, layout, config_file, model, sets, options)
    if folds:
        manifest = folded(manifest, folds, config.train.seed)
        fold_ids = sorted(manifest.folds())
        per_fold = []
        for fold in fold_ids:
            result = _train_split(manifest, config, out / "folds" / f"fold_{fold}", context, test_fold=fold,
                                  data=data)
            per_fold.append({"fold": fold, "test": result["test"], "val": result["val"]})
        # The last fold as test is the dataset's default split: that run's model is the run's model.
        result["folds"] = per_fold
        result["cross_validation"] = summarize_folds([f["test"] for f in per_fold])
        # every recording is tested once across the folds: the per-group table covers every group
        by_group = {g: row for f in per_fold if f["test"] for g, row in (f["test"].get("per_group") or {}).items()}
        if by_group:
            result["per_group"] = dict(sorted(by_group.items(), key=lambda kv: str(kv[0])))
        if context.parallel.writes:
            with atomic_path(out / "model.tympan") as tmp:
                shutil.copyfile(out / "folds" / f"fold_{fold_ids[-1]}" / "model.tympan", tmp)
            write_report(out / "report", result)
        return result
    return _train_split(manifest, config, out, context, data=data)


def folded(manifest, folds, seed: int = 0):
    """The manifest with the folds ``--folds`` asks for (see ``train``)."""
    official = manifest.folds()
    mode = "official" if folds is True else folds
    if mode == "auto":
        mode = "official" if len(official) >= 3 else "groups" if len(manifest.groups()) <= 10 else 5
    if mode == "official":
        if len(official) < 3:
            raise DatasetError(f"{manifest.root}: --folds official needs a dataset with official folds (ESC-50, "
                               f"UrbanSound8K); this one has {len(official)}. --folds groups leaves one "
                               f"{manifest.group_name} out per fold")
        return manifest
    if mode == "groups":
        return group_folds(manifest, None, seed)
    try:
        return group_folds(manifest, int(mode), seed)
    except ValueError:
        raise ConfigError(f"--folds {folds!r}: choose official, groups, auto or a number of group folds") from None


def _train_split(manifest, config: Config, out: Path, context: Context, test_fold=None, data=None) -> dict:
    d = config.data
    split, config, multi_label = training_split(manifest, config, test_fold)
    config = _task_settings(config, manifest, multi_label)
    multi_label = multi_label or config.data.task == "events"
    config = dataclasses.replace(config, augment=_in_dataset(config.augment, manifest.root))
    if not config.transfer.init_from and config.transfer.head != "network":
        raise ConfigError(f"transfer.head={config.transfer.head} fits a classifier on a network's embeddings: "
                          "name the network with --init-from MODEL.tympan or --init-from random:KIND")

    def start(config):
        if config.transfer.init_from:  # another task's network, or a random one, as the start
            model, config = start_from(config, manifest.classes, multi_label, seed=config.train.seed)
        elif config.data.task == "events":
            model = EventDetector(config.frontend, config.network, manifest.classes, config.data.clip_seconds,
                                  seed=config.train.seed)
        else:
            model = Classifier(config.frontend, config.network, manifest.classes, config.data.clip_seconds,
                               multi_label, seed=config.train.seed)
        if config.data.task == "events":
            model.postprocess = postprocess_of(config, manifest.classes)
        return model, config

    model, config = start(config)
    clips, bad = load_splits(split, model.sr, multi_label, context.cache, d.workers, d.strict, context.shows)
    if config.data.task == "events":
        clips = event_sets(clips, split, model)
    model.normalize.set_statistics(*normalisation_statistics(model, clips["train"]))

    training = config.train
    if config.transfer.head != "network":  # a scikit-learn classifier on the embeddings, as the output layer
        history = fit_head(model, clips["train"], config)
    else:
        history = fit(model, clips["train"], clips["val"], config, out, context.resume, context.progress,
                      context.parallel)
    tuned = None
    if config.data.task == "events" and config.postprocess.tune and len(clips["val"]):
        model.postprocess, tuned = tune_postprocess(model, clips["val"])
    val = evaluate_clips(model, clips["val"], manifest.classes, multi_label, training.loss, training.label_smoothing)
    if training.refit and len(clips["val"]) and config.transfer.head == "network":
        post = getattr(model, "postprocess", None)
        model, history = _refit(start, clips["train"] + clips["val"], config, history, out, context)
        if post is not None:  # chosen on validation, which the refit model has learnt from
            model.postprocess = post
    result = {"schema": "tympan.train.metrics/1", "classes": list(manifest.classes), "val": val,
              **({"tuned": tuned} if tuned else {}),
              "test": evaluate_clips(model, clips["test"], manifest.classes, multi_label, training.loss,
                                     training.label_smoothing),
              **history, "config": config.to_dict(), "evaluation": describe(split),
              "dataset": {"path": str(data if data is not None else manifest.root), "layout": manifest.layout,
                          "n_items": len(manifest), "splits": split.split_sizes(),
                          "groups": manifest.group_name if manifest.has_groups else None,
                          "fingerprint": fingerprint(split)},
              "bad_files": [{"path": b.path, "reason": b.reason} for b in bad]}
    if context.parallel.writes:
        model.cpu()
        save_model(model, out / "model.tympan", provenance={
            "dataset": result["dataset"],
            "metrics": {"val": _headline(result["val"]), "test": _headline(result["test"])},
            "config": result["config"], "best_epoch": result["best_epoch"]})
        shown = clips["test"] if len(clips["test"]) else clips["val"]
        figures = plot_timelines(model, shown, out / "report") if config.data.task == "events" else None
        write_report(out / "report", result, figures)
    return result


def postprocess_of(config: Config, classes) -> PostProcess:
    """The ``postprocess`` section as an events model's ``PostProcess``, its values checked now."""
    post = PostProcess(**config.postprocess.settings())
    for name in config.postprocess.settings():
        post.per_class(name, len(classes))
    post.low_thresholds(len(classes))
    return post


def _task_settings(config: Config, manifest, multi_label: bool) -> Config:
    """The loss and monitor the task needs: binary cross-entropy for multi-label data and for events (per
    frame); mAP for tagging, the event-based F-score for events, unless chosen otherwise (an events monitor
    on clips, as the events recipe with ``data.task=clips`` has, becomes mAP or accuracy)."""
    task, training = config.data.task, config.train
    if task not in ("clips", "events"):
        raise ConfigError(f"data.task={task!r}: choose clips or events")
    if task == "events" and not manifest.has_events:
        raise DatasetError(f"{manifest.root}: data.task=events needs recordings annotated with events in time "
                           "(the events layout: DCASE annotation files); this dataset has a label per clip")
    if task == "events" and config.transfer.head != "network":
        raise ConfigError(f"transfer.head={config.transfer.head} fits a classifier on clip embeddings; task events "
                          "trains its per-frame output layer (transfer.head=network)")
    if task == "events" and training.mixup:
        raise ConfigError("train.mixup mixes clip labels; it has no meaning for events in time (task events)")
    if not multi_label and task == "clips" and training.loss == "cross_entropy" and manifest.multilabel:
        raise ConfigError("this dataset is multi-label: set data.multi_label=true and "
                          "train.loss=binary_cross_entropy")
    if (multi_label or task == "events") and training.loss == "cross_entropy":
        training = dataclasses.replace(training, loss="binary_cross_entropy")
    if training.monitor == "macro_f1" and (multi_label or task == "events"):
        training = dataclasses.replace(training, monitor="event_f1" if task == "events" else "mAP")
    if task == "clips" and training.monitor.startswith(("event_", "segment_", "psds")):  # the events recipe's
        training = dataclasses.replace(training, monitor="mAP" if multi_label else "accuracy")
    return dataclasses.replace(config, train=training)


def _refit(start, clips, config: Config, history: dict, out: Path, context: Context) -> tuple[Classifier, dict]:
    """A fresh model (``start(config)``, as the first run began) trained on ``clips``, training and validation
    together, for the best epoch's number of epochs: validation held out whole groups to choose it, and now
    those groups teach the model too."""
    epochs = max(1, history["best_epoch"])
    refit_config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs,
                                                                         early_stopping=0))
    model, _ = start(config)
    model.normalize.set_statistics(*normalisation_statistics(model, clips))
    empty = type(clips)([], clips.targets[:0], [], [])
    refit = fit(model, clips, empty, refit_config, out / "refit", context.resume, context.progress, context.parallel)
    return model, {**history, "refit": {"epochs": refit["epochs"], "train_seconds": refit["train_seconds"],
                                        "examples": len(clips)},
                   "train_seconds": history["train_seconds"] + refit["train_seconds"]}


def _in_dataset(augment: list, root) -> list:
    """``{data}`` in an augmentation's ``folder`` is the dataset's folder: a recipe can name the background
    recordings a dataset ships (Speech Commands' ``{data}/_background_noise_``)."""
    folder = Path(root) if Path(root).is_dir() else Path(root).parent
    return [{**spec, "folder": spec["folder"].replace("{data}", str(folder))}
            if isinstance(spec.get("folder"), str) else spec for spec in augment]


def _headline(metrics: dict | None) -> dict | None:
    if metrics is None:
        return None
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def evaluate(model_path, data, layout: str = "auto", split: str = "test", options: dict | None = None,
             workers: int | None = None, progress: bool = True, cache: AudioCache | None = None,
             tune: bool = False) -> dict:
    """Score a saved model on a dataset with the same labels: ``{split: metrics}``.

    ``split`` is ``test``, ``val``, ``train`` (as the dataset's split, made as training made it) or ``all``.
    Classes the model does not know are an error that names them; classes it knows but the data lacks
    are reported with support 0. An event detector is scored on its events (``events.evaluate_events``);
    with ``tune``, its post-processing is first tuned per class on the validation split
    (``events.tune_postprocess``) and written into the model file, and ``"tuned"`` says what was chosen.
    """
    from ..model_file import load_model

    model = load_model(model_path)
    manifest = build(data, layout=layout, **(options or {}))
    unknown = sorted({label for item in manifest.items for label in item.labels} - set(model.classes))
    if unknown:
        raise DatasetError(f"{data}: label(s) the model was not trained on: {', '.join(unknown)} "
                           f"(it knows {', '.join(model.classes)})")
    note, split_manifest = None, None
    if split != "all" or tune:
        trained = model.provenance.get("config", {}).get("data", {})
        training = model.provenance.get("config", {}).get("train", {})
        split_manifest = assign_splits(manifest, trained.get("val_fraction", VAL_FRACTION),
                                       trained.get("test_fraction", TEST_FRACTION),
                                       trained.get("test_fold"), seed=training.get("seed", 0))
        note = describe(split_manifest)["note"] if split == "test" else None
        if split == "val" and training.get("refit"):
            note = ("this model was trained again on the validation recordings once they had chosen its epoch "
                    "(train.refit): this score is on recordings it has learnt from; the report keeps the score "
                    "of the run that had not")
    if split != "all":
        manifest = split_manifest.subset(split)
        if len(manifest) == 0:
            raise DatasetError(f"{data}: the {split} split is empty")
    cache = cache or AudioCache()
    tuned = _tuned(model, model_path, split_manifest, cache, workers, progress) if tune else None
    clips, bad = load_clipset(manifest, model.classes, model.sr, model.multi_label, cache, workers, progress)
    if getattr(model, "task", "clips") == "events":
        clips = event_sets({split: clips}, manifest, model)[split]
    metrics = evaluate_clips(model, clips, model.classes, model.multi_label)
    metrics.pop("loss", None)
    return {split: metrics, "note": note, "bad_files": [{"path": b.path, "reason": b.reason} for b in bad],
            **({"tuned": tuned} if tuned else {})}


def _tuned(model, model_path, split_manifest, cache, workers, progress) -> dict:
    """Tune an event detector's post-processing on the validation split and save it in its model file."""
    if getattr(model, "task", "clips") != "events":
        raise ConfigError("--tune tunes an event detector's post-processing; this model labels clips")
    val = split_manifest.subset("val")
    if len(val) == 0:
        raise DatasetError("--tune needs validation recordings; this dataset's split has none")
    clips, _ = load_clipset(val, model.classes, model.sr, True, cache, workers, progress)
    model.postprocess, chosen = tune_postprocess(model, event_sets({"val": clips}, val, model)["val"])
    save_model(model, model_path, provenance=model.provenance)
    return chosen
