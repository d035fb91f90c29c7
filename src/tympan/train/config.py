"""The run's configuration: typed sections with one source of defaults, recipes, files and ``--set``.

A configuration has seven sections: ``data`` (how to read and split the recordings), ``frontend`` (the
representation), ``network`` (the spec, ``tympan.nn.models``), ``train`` (loss, optimiser, schedule...),
``augment`` (a list of augmentations, ``tympan.augment``), ``transfer`` (starting from another network) and
``postprocess`` (an events model's frame scores to events, and whether to tune that on validation).
It is resolved in this order, each step overriding the one before:

1. the defaults below;
2. a recipe (``tympan/recipes/<layout>.yaml``, for the detected dataset layout) or the ``--config`` file;
3. ``--model KIND`` (replaces the network spec by that kind's defaults);
4. ``--set section.key=value`` (values parsed as YAML: ``3``, ``0.5``, ``true``, ``[32, 64]``);
5. what adapts to the data: ``null`` sample rate, FFT size, hop, mel bands and clip length are chosen from
   the training recordings.

The resolved configuration is written into the report and the model file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..config import read_documents
from ..defaults import SR, TEST_FRACTION, VAL_FRACTION, spectral_params
from ..errors import ConfigError, unknown_names

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@dataclass
class DataConfig:
    """How recordings are read and split. ``clip_seconds: null`` adapts to the durations of the data.
    ``depends_on`` names what the labels depend on (``key``, ``pitch``, ``tempo``...), so augmentations that
    change it are refused. ``task``: ``clips`` (a label per clip) or ``events`` (what sounds when, from
    strongly-labelled recordings: ``tympan.nn.detector``)."""

    task: str = "clips"
    layout: str = "auto"
    options: dict = field(default_factory=dict)
    clip_seconds: float | None = None
    val_fraction: float = VAL_FRACTION
    test_fraction: float = TEST_FRACTION
    test_fold: int | None = None
    multi_label: bool | None = None
    depends_on: list = field(default_factory=list)
    workers: int | None = None
    strict: bool = False


@dataclass
class TrainConfig:
    """The training loop's choices.

    ``batch_size`` 0 is full-batch gradient descent, 1 stochastic, anything else mini-batch. ``loss``:
    ``cross_entropy`` (softmax), ``binary_cross_entropy`` (a sigmoid per class), ``sse`` (sum of squared
    errors of the output probabilities) or ``mse``. ``optimizer``: ``sgd`` (with ``momentum``,
    ``nesterov``), ``adam``, ``adamw``. ``schedule``: ``constant``, ``step`` (times ``gamma`` every
    ``step_epochs``), ``cosine``, ``plateau`` (times ``gamma`` after ``plateau_patience`` epochs without
    progress); ``warmup_epochs`` ramps the rate up linearly first. ``early_stopping`` is a patience in
    epochs on the validation ``monitor`` (0: off); the best epoch's weights are kept either way.
    ``refit``: once validation (held out by group when groups are known) has chosen the best epoch,
    train afresh on training and validation together for that many epochs; the model keeps the
    validation recordings' sources, and the report keeps the validation score of the first run.
    """

    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 30
    schedule: str = "cosine"
    warmup_epochs: int = 0
    step_epochs: int = 10
    gamma: float = 0.1
    plateau_patience: int = 3
    clip_grad_norm: float | None = None
    precise_bn: bool = True
    early_stopping: int = 10
    monitor: str = "macro_f1"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    cpu_bf16: bool = False
    tensorboard: bool = False
    mixup: float = 0.0
    refit: bool = False


@dataclass
class TransferConfig:
    """Start from another network (``tympan.transfer``).

    ``init_from``: a model file trained on another task (its front-end and network are reused, the output
    layer replaced for this task's classes), or ``random:<spec>`` (a network spec, e.g. ``random:cnn`` or
    ``random:{kind: cnn, channels: [32, 64]}``) for an untrained network used as a fixed feature
    extractor. ``freeze``: ``backbone`` trains the output layer only, ``none`` fine-tunes everything;
    ``null`` means ``none`` for a model file and ``backbone`` for a random network. ``head``: ``network``
    trains the output layer by gradient descent; ``logistic`` or ``svm`` fits scikit-learn's logistic
    regression or linear SVM on the frozen embeddings and stores its coefficients as the output layer.
    """

    init_from: str | None = None
    freeze: str | None = None
    head: str = "network"


@dataclass
class PostprocessConfig:
    """How an events model turns frame scores into events (``tympan.nn.detector.PostProcess``, kept in the
    model file): ``threshold``, ``low_threshold`` (hysteresis), ``median_seconds``, ``min_gap``,
    ``min_duration``, each one number or a list with one per class, ``null`` for PostProcess's default.
    ``tune``: after training, choose each class's thresholds and median filter for its best event-based
    F-score on the validation recordings (as ``tympan evaluate --tune`` does), before the test set is
    scored."""

    threshold: float | list | None = None
    median_seconds: float | list | None = None
    min_gap: float | list | None = None
    min_duration: float | list | None = None
    low_threshold: float | list | None = None
    tune: bool = False

    def settings(self) -> dict:
        """The values given, as ``PostProcess`` takes them."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "tune" and v is not None}


@dataclass
class Config:
    """A whole run. ``frontend`` and ``network`` are specs whose fields depend on their ``kind``: typed by
    the front-end layer's parameters (``tympan.frontend.resolve_frontend``) and by the network kind's
    dataclass (``tympan.nn.models``), and checked against them when the configuration is read."""

    data: DataConfig = field(default_factory=DataConfig)
    frontend: dict = field(default_factory=lambda: {"kind": "logmel", "sr": None, "n_fft": None,
                                                    "hop_length": None, "n_mels": None})
    network: dict = field(default_factory=lambda: {"kind": "cnn"})
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: list = field(default_factory=list)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = {"data": DataConfig, "train": TrainConfig, "transfer": TransferConfig, "postprocess": PostprocessConfig}


def _merge(config: Config, overrides: dict, where: str) -> Config:
    unknown = unknown_names(overrides, {"data", "frontend", "network", "train", "augment", "transfer", "postprocess"})
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; sections are data, frontend, "
                          "network, train, augment, transfer, postprocess")
    values = config.to_dict()
    for section, settings in overrides.items():
        if section == "augment":  # a list of augmentation specs (tympan.augment), replaced as a whole
            if not isinstance(settings, list) or not all(isinstance(a, dict) for a in settings):
                raise ConfigError(f"{where}: augment must be a list of augmentations, e.g. "
                                  "[{kind: noise, p: 0.5, snr_db: [10, 30]}]")
            values["augment"] = settings
            continue
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: section {section} must be a mapping of keys to values")
        if section in SECTIONS:
            names = {f.name for f in dataclasses.fields(SECTIONS[section])}
            bad = unknown_names(settings, names)
            if bad:
                raise ConfigError(f"{where}: unknown {section} option(s) {', '.join(bad)}; {section} takes "
                                  f"{', '.join(sorted(names))}")
            values[section].update({name: _typed(section, name, value, where) for name, value in settings.items()})
        elif settings.get("__replace__"):
            values[section] = {k: v for k, v in settings.items() if k != "__replace__"}
        elif section == "network" and "kind" in settings and settings["kind"] != values["network"].get("kind"):
            values["network"] = dict(settings)  # another kind: the old kind's fields do not apply
        else:
            values[section].update(settings)
    return Config(DataConfig(**values["data"]), values["frontend"], values["network"], TrainConfig(**values["train"]),
                  values["augment"], TransferConfig(**values["transfer"]), PostprocessConfig(**values["postprocess"]))


def _typed(section: str, name: str, value, where: str):
    """``value`` as the option's declared type: a number written as YAML reads as a string (``1e-4``, which
    YAML 1.1 does not take for a float) is read as the number it is; a value of the wrong kind is refused
    here, with the option's name, not deep inside training."""
    declared = {f.name: f.type for f in dataclasses.fields(SECTIONS[section])}[name]
    kinds = {part.strip() for part in str(declared).split("|")}
    if value is None:
        if "None" in kinds:
            return None
    elif isinstance(value, bool):
        if "bool" in kinds or not kinds & {"int", "float"}:
            return value
    elif "float" in kinds and isinstance(value, (int, float)):
        return float(value) if not isinstance(value, int) or "int" not in kinds else value
    elif "int" in kinds and isinstance(value, int):
        return value
    elif isinstance(value, str) and kinds & {"int", "float"}:
        try:
            number = float(value)
        except ValueError:
            if "str" in kinds:
                return value
        else:
            if "int" in kinds and number.is_integer() and "float" not in kinds:
                return int(number)
            if "float" in kinds:
                return number
    elif not kinds & {"int", "float", "bool"} or kinds & {"list", "dict", "str"}:
        return value  # strings, lists and mappings: checked where they are used, by name
    raise ConfigError(f"{where}: {section}.{name}={value!r}: expected {declared.replace('|', 'or')}")


def parse_set(pairs: list[str]) -> dict:
    """``["train.epochs=5", "network.channels=[16, 32]"]`` -> ``{"train": {"epochs": 5}, ...}``.

    ``frontend={...}`` or ``network={...}`` (a YAML mapping) replaces that whole section.
    """
    import yaml

    overrides: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        section, dot, name = key.strip().partition(".")
        try:
            if key.strip() == "transfer.init_from" and not text.strip().startswith(("'", '"')):
                value = text.strip() or None  # a path or random:{kind: ...}, taken as written
            else:
                value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {pair!r}: cannot read the value ({error})") from None
        if sep and not dot and section in ("frontend", "network") and isinstance(value, dict):
            overrides[section] = {**value, "__replace__": True}
            continue
        if sep and not dot and section == "augment":
            overrides["augment"] = value if value is not None else []
            continue
        if not sep or not dot or not name:
            raise ConfigError(f"--set {pair!r}: expected SECTION.KEY=VALUE (e.g. --set train.epochs=20), or "
                              "frontend={...} / network={...} to replace a whole section")
        current = overrides.setdefault(section, {})
        if not isinstance(current, dict):  # augment=[...] earlier: a list, which has no keys to set
            raise ConfigError(f"--set {pair!r}: {section} is a list, set as a whole (--set {section}=[...]); "
                              f"it has no {name!r} to set")
        current[name] = value
    return overrides


def recipe_path(layout: str) -> Path:
    """The recipe file for a dataset layout; ``default.yaml`` for layouts without their own."""
    path = RECIPES / f"{layout}.yaml"
    return path if path.is_file() else RECIPES / "default.yaml"


def load_config(layout: str, config_file=None, model: str | None = None, sets: list[str] = ()) -> Config:
    """Resolve a configuration (steps 1-4 of the module docstring; the data adapts it later)."""
    source = Path(config_file) if config_file else recipe_path(layout)
    documents = read_documents(source)
    if len(documents) != 1:
        raise ConfigError(f"{source}: a configuration file holds one document, found {len(documents)}")
    config = _merge(Config(), _relative_to(documents[0], source.parent), str(source))
    if model:
        config = _merge(config, {"network": {"kind": model}}, "--model")
    config = _merge(config, parse_set(list(sets)), "--set")
    check_specs(config)
    return config


def check_specs(config: Config) -> None:
    """Refuse an unknown front-end or network kind or option now, not after the data is read."""
    from ..frontend import resolve_frontend
    from ..nn.models import network_spec

    resolve_frontend(config.frontend)
    network_spec(config.network)


def _relative_to(document: dict, folder: Path) -> dict:
    """A configuration file's relative paths (``transfer.init_from``, a background folder) are relative to
    the file, so a recipe and the model or recordings beside it move together; a folder starting with
    ``{data}`` is in the dataset's folder (``run._in_dataset``)."""
    import copy

    document = copy.deepcopy(document)
    transfer = document.get("transfer")
    if isinstance(transfer, dict) and isinstance(transfer.get("init_from"), str) \
            and not transfer["init_from"].startswith("random:"):
        transfer["init_from"] = str(folder / Path(transfer["init_from"]).expanduser())
    for spec in document.get("augment") or []:
        if isinstance(spec, dict) and isinstance(spec.get("folder"), str) and "{data}" not in spec["folder"]:
            spec["folder"] = str(folder / Path(spec["folder"]).expanduser())
    return document


def adapt_to_data(config: Config, sample_rates: list[int], durations: list[float]) -> Config:
    """Fill the ``null`` entries from the training recordings' sample rates and durations.

    The sample rate is ``defaults.SR`` (16 kHz), or the data's own when lower (no made-up bandwidth); the
    FFT size, hop and mel bands are ``defaults.spectral_params`` at that rate (32 ms windows, 10 ms hops);
    clips as long as 90% of the recordings, between 0.5 and 10 s, so most clips are seen whole.
    """
    import numpy as np

    frontend = dict(config.frontend)
    if frontend.get("sr") is None:
        frontend["sr"] = min(SR, int(np.median(sample_rates)) if sample_rates else SR)
    sr = int(frontend["sr"])
    if frontend.get("kind") in ("stft", "mel", "logmel", "mfcc", "pcen"):
        for key, value in spectral_params(sr).items():
            if frontend.get(key) is None and not (key == "n_mels" and frontend.get("kind") == "stft"):
                frontend[key] = value
    for key in [k for k, v in frontend.items() if v is None and k in ("n_fft", "hop_length", "n_mels")]:
        frontend.pop(key)  # a null the kind does not use
    data = config.data
    if data.clip_seconds is None:
        seconds = float(np.percentile(durations, 90)) if durations else 1.0
        data = dataclasses.replace(data, clip_seconds=round(min(10.0, max(0.5, seconds)), 2))
    return dataclasses.replace(config, frontend=frontend, data=data)
