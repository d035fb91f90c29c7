"""Network kinds by name, each a dataclass of its choices that expands to a list of layer specs.

Every depth, width, kernel, activation, pooling and dropout is a field, so a spec (a dict, or YAML)
names only what differs from the defaults::

    {"kind": "cnn", "channels": [16, 32, 64], "activation": "leaky_relu", "dropout": 0.3}

``MODELS`` lists the kinds: ``perceptron``, ``mlp``, ``cnn`` (the default), ``cnn1d``, ``rnn``, ``lstm``,
``gru``, ``crnn``, ``transformer``, ``layers`` (an explicit layer list), and the pretrained families of
``tympan.nn.panns`` (``panns_cnn14``, ``panns_cnn10``, ``panns_cnn6``, ``panns_mobilenetv1``,
``panns_mobilenetv2``). Every kind ends with a linear
``output`` layer of one unit per class, whose values are the logits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import ConfigError, unknown_names
from ..registry import Registry, legacy_name_as_kind
from .network import INITS, Network

MODELS = Registry("network kind")
register = MODELS.register
DEFAULT_MODEL = "cnn"


@dataclass
class NetworkSpec:
    """What every kind shares. ``dropout`` is applied before the output layer (and inside, where noted)."""

    kind: str = DEFAULT_MODEL
    activation: str | dict = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    init: str = "auto"

    def layer_specs(self, n_classes: int) -> list[dict]:
        raise NotImplementedError

    def _head(self, n_classes: int, hidden=()) -> list[dict]:
        head = [{"kind": "dense", "units": h, "activation": self.activation, "dropout": self.dropout}
                for h in hidden]
        if self.dropout and not hidden:
            head.append({"kind": "dropout", "rate": self.dropout})
        return head + [{"kind": "dense", "units": n_classes, "activation": "linear", "name": "output"}]

    def default_frontend(self) -> dict | None:
        """The front-end this kind is built on when none is named (``None``: Tympan's default log-mel)."""
        return None

    def _pool(self, pooling: str) -> dict:
        return {"kind": "attention_pool"} if pooling == "attention" else {"kind": "global_pool", "mode": pooling}

    def to_dict(self) -> dict:
        """Every field, JSON-ready; ``network_spec(spec.to_dict())`` rebuilds the spec."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@register("perceptron")
@dataclass
class Perceptron(NetworkSpec):
    """One linear unit per class on the features pooled over time: the lecture's perceptron, trained with
    a differentiable loss (its outputs are logits, not binary steps)."""

    kind: str = "perceptron"
    pooling: str = "mean"

    def layer_specs(self, n_classes):
        return [self._pool(self.pooling), *self._head(n_classes)]


@register("mlp")
@dataclass
class MLP(NetworkSpec):
    """Dense layers. ``context=0``: on the clip's features pooled over time; ``context=1``: on each frame
    (d1), pooled after; ``context=k > 1``: the first layer sees ``k`` frames around each frame (d2)."""

    kind: str = "mlp"
    hidden: tuple = (256, 256)
    context: int = 0
    pooling: str = "mean"
    dropout: float = 0.2

    def layer_specs(self, n_classes):
        if self.context == 0:
            return [self._pool(self.pooling), *self._head(n_classes, self.hidden)]
        per_frame = [{"kind": "frame_dense", "units": h, "activation": self.activation,
                      "batch_norm": self.batch_norm} for h in self.hidden]
        if self.context > 1 and per_frame:
            per_frame[0].update(kind="context_dense", context=self.context)
        return [*per_frame, self._pool(self.pooling), *self._head(n_classes)]


@register("cnn")
@dataclass
class CNN(NetworkSpec):
    """VGG-like 2-D CNN on a spectrogram: blocks of ``convs_per_block`` convolutions (``kernel``, batch norm,
    activation) and ``pool`` max pooling, doubling channels; then global pooling and the output."""

    kind: str = "cnn"
    channels: tuple = (32, 64, 128, 256)
    kernel: int | tuple = 3
    convs_per_block: int = 1
    pool: int | tuple = 2
    pooling: str = "meanmax"
    hidden: tuple = ()
    batch_norm: bool = True
    dropout: float = 0.2

    def layer_specs(self, n_classes):
        blocks = [{"kind": "conv2d", "channels": c, "kernel": self.kernel, "convs": self.convs_per_block,
                   "pool": pool, "activation": self.activation, "batch_norm": self.batch_norm}
                  for c, pool in zip(self.channels, block_pools(self.pool, len(self.channels)))]
        return [*blocks, self._pool(self.pooling), *self._head(n_classes, self.hidden)]


@register("cnn1d")
@dataclass
class CNN1d(NetworkSpec):
    """1-D CNN on the raw waveform (as M5, Dai et al. 2017): a wide, strided first convolution learns a
    filter bank, narrower ones after it; then global pooling and the output."""

    kind: str = "cnn1d"
    channels: tuple = (32, 32, 64, 128)
    first_kernel: int = 80
    first_stride: int = 4
    kernel: int = 3
    pool: int = 4
    pooling: str = "meanmax"
    batch_norm: bool = True
    dropout: float = 0.2

    def layer_specs(self, n_classes):
        blocks = [{"kind": "conv1d", "channels": c, "kernel": self.kernel, "pool": self.pool,
                   "activation": self.activation, "batch_norm": self.batch_norm} for c in self.channels]
        if blocks:
            blocks[0].update(kernel=self.first_kernel, stride=self.first_stride)
        return [*blocks, self._pool(self.pooling), *self._head(n_classes)]

    def default_frontend(self):
        from ..defaults import SR

        return {"kind": "waveform", "sr": SR}  # it reads the waveform itself


@register("rnn", "lstm", "gru")
@dataclass
class RecurrentNet(NetworkSpec):
    """Recurrent layers over the frames (``kind`` picks the cell), pooled over time (``pooling``: ``last``
    state, ``mean``, ``max``, ``meanmax``, ``attention``). ``activation`` is a plain RNN's own (tanh or relu)."""

    kind: str = "gru"
    hidden: int = 128
    layers: int = 2
    bidirectional: bool = True
    pooling: str = "mean"
    activation: str | dict = "tanh"
    dropout: float = 0.2

    def layer_specs(self, n_classes):
        if self.activation not in ("tanh", "relu"):
            raise ConfigError(f"{self.kind}: activation={self.activation!r}; a recurrent cell takes tanh or relu")
        recurrent = {"kind": "recurrent", "cell": self.kind, "hidden": self.hidden, "layers": self.layers,
                     "bidirectional": self.bidirectional, "dropout": self.dropout}
        if self.kind == "rnn":
            recurrent["nonlinearity"] = self.activation
        if self.pooling == "last":
            return [{**recurrent, "output": "last"}, *self._head(n_classes)]
        return [recurrent, self._pool(self.pooling), *self._head(n_classes)]


@register("crnn")
@dataclass
class CRNN(NetworkSpec):
    """Convolutions find local time-frequency patterns, a recurrent layer follows them through time
    (Choi et al. 2017): conv2d blocks, then each frame's channels x bins as one vector, then GRU/LSTM.
    ``pool`` as for ``cnn``: pooling only in frequency (``[2, 1]``) keeps the frame rate, as sound event
    detection wants."""

    kind: str = "crnn"
    channels: tuple = (32, 64, 128)
    kernel: int | tuple = 3
    pool: int | tuple = 2
    cell: str = "gru"
    hidden: int = 64
    bidirectional: bool = True
    pooling: str = "mean"
    batch_norm: bool = True
    dropout: float = 0.2

    def layer_specs(self, n_classes):
        blocks = [{"kind": "conv2d", "channels": c, "kernel": self.kernel, "pool": pool,
                   "activation": self.activation, "batch_norm": self.batch_norm}
                  for c, pool in zip(self.channels, block_pools(self.pool, len(self.channels)))]
        recurrent = {"kind": "recurrent", "cell": self.cell, "hidden": self.hidden,
                     "bidirectional": self.bidirectional}
        return [*blocks, recurrent, self._pool(self.pooling), *self._head(n_classes)]


@register("transformer")
@dataclass
class TransformerNet(NetworkSpec):
    """A small AST-like encoder: spectrogram patches, ``depth`` self-attention blocks, mean or attention
    pooling over the patches."""

    kind: str = "transformer"
    dim: int = 128
    patch: int | tuple = 16
    stride: int | tuple | None = None
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    pooling: str = "mean"
    activation: str | dict = "gelu"
    dropout: float = 0.1

    def layer_specs(self, n_classes):
        return [{"kind": "patch_embedding", "dim": self.dim, "patch": self.patch, "stride": self.stride},
                {"kind": "transformer", "layers": self.depth, "heads": self.heads, "mlp_ratio": self.mlp_ratio,
                 "dropout": self.dropout, "activation": self.activation},
                self._pool(self.pooling), *self._head(n_classes)]


@register("layers")
@dataclass
class Layers(NetworkSpec):
    """An explicit list of layer specs (``layers.LAYERS``). ``activation``, ``batch_norm`` and ``dropout``
    fill in dense-like and convolution layers that do not set their own. An ``output`` layer is added
    unless ``output_layer`` is false, in which case the last layer's values are the logits."""

    kind: str = "layers"
    layers: list = field(default_factory=list)
    output_layer: bool = True

    def layer_specs(self, n_classes):
        filled = []
        for spec in self.layers:
            if not isinstance(spec, dict) or "kind" not in spec:
                raise ConfigError(f"layers: each entry needs a kind, got {spec!r}")
            spec = dict(spec)
            if spec["kind"] in ("dense", "frame_dense", "context_dense", "locally_connected", "conv1d", "conv2d"):
                spec.setdefault("activation", self.activation)
                spec.setdefault("batch_norm", self.batch_norm)
            filled.append(spec)
        if self.output_layer:
            filled += self._head(n_classes)
        return filled


# ------------------------------------------------------------------------------------------ building

TASKS = ("clips", "events")
TO_VECTOR = ("global_pool", "attention_pool", "flatten")


def block_pools(pool, n: int) -> list:
    """One pooling size per block from ``pool``: a size (an int, or ``[bins, frames]``) for every block, or a
    list of sizes, one per block.

    Examples
    --------
    >>> block_pools(2, 2), block_pools([2, 1], 2), block_pools([[2, 2], [4, 1]], 2)
    ([2, 2], [[2, 1], [2, 1]], [[2, 2], [4, 1]])
    """
    pool = list(pool) if isinstance(pool, (list, tuple)) else pool
    if isinstance(pool, list) and pool and isinstance(pool[0], (list, tuple)):
        if len(pool) != n:
            raise ConfigError(f"pool={pool}: a list of pooling sizes needs one per block ({n})")
        return [list(p) for p in pool]
    return [pool] * n


def per_frame(specs: list[dict], bins: int | None = None) -> list[dict]:
    """A clip network's layers made to give one output per frame (sound event detection): everything
    before the layer that pools time away stays, a recurrent layer gives its whole sequence, and the
    dense layers after the pooling become the same layers applied to every frame. A transformer's patches
    span all ``bins`` frequency bins, so its sequence is one of times.

    Examples
    --------
    >>> per_frame([{"kind": "global_pool"}, {"kind": "dense", "units": 3, "activation": "linear"}])
    [{'kind': 'frame_dense', 'units': 3, 'activation': 'linear'}]
    """
    cut = next((i for i, s in enumerate(specs) if s["kind"] in TO_VECTOR
                or (s["kind"] == "recurrent" and s.get("output") == "last")), None)
    if cut is None:
        raise ConfigError("task events: this network has no layer that pools time away, so its output is not "
                          "one vector per frame to begin with")
    body = [dict(s) for s in specs[:cut]]
    for spec in body:
        if spec["kind"] == "patch_embedding" and bins:
            patch = spec.get("patch", 16)
            frames = patch if isinstance(patch, int) else patch[1]
            stride = spec.get("stride")
            spec.update(patch=[bins, frames], stride=None if stride is None else
                        [bins, stride if isinstance(stride, int) else stride[1]])
    if specs[cut]["kind"] == "recurrent":
        body.append({**specs[cut], "output": "sequence"})
    head = []
    for spec in specs[cut + 1:]:
        if spec["kind"] in ("dense", "frame_dense"):
            head.append({**spec, "kind": "frame_dense"})
        elif spec["kind"] in ("dropout", "batch_norm", "activation"):
            head.append(dict(spec))
        else:
            raise ConfigError(f"task events: a {spec['kind']} layer after pooling has no per-frame form")
    return body + head


def network_spec(spec: dict | str | NetworkSpec | None = None) -> NetworkSpec:
    """A validated network spec from a kind name, a dict (``{"kind": ..., fields}``) or a spec.

    Unknown kinds and fields are ``ConfigError``s that list what is accepted.
    """
    if isinstance(spec, NetworkSpec):
        return spec
    spec = {"kind": spec} if isinstance(spec, str) else dict(spec or {})
    kind = spec.get("kind", DEFAULT_MODEL)
    cls = MODELS.get(kind)
    if isinstance(spec.get("activation"), dict):  # written as {kind: ...}, whatever older files said
        spec["activation"] = legacy_name_as_kind(spec["activation"])
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = unknown_names(spec, names)
    if unknown:
        raise ConfigError(f"network {kind}: unknown field(s) {', '.join(unknown)}; "
                          f"{kind} takes {', '.join(sorted(names))}")
    made = cls(**{k: (tuple(v) if isinstance(v, list) and k != "layers" else v) for k, v in spec.items()})
    made.kind = kind
    if made.init not in INITS:
        raise ConfigError(f"network init={made.init!r}: choose one of {', '.join(INITS)}")
    if not 0 <= made.dropout < 1:
        raise ConfigError(f"network dropout={made.dropout}: must be in [0, 1)")
    return made


def build_network(spec, in_shape: tuple, n_classes: int, seed: int | None = None, task: str = "clips") -> Network:
    """A ``Network`` for front-end output of shape ``in_shape`` and ``n_classes`` outputs: one vector of
    logits per clip, or with ``task="events"`` one per frame, ``(frames, n_classes)`` (``per_frame``).

    Examples
    --------
    >>> import torch
    >>> net = build_network({"kind": "mlp", "hidden": [32]}, in_shape=(64, 101), n_classes=5, seed=0)
    >>> net(torch.zeros(2, 64, 101)).shape
    torch.Size([2, 5])
    """
    spec = network_spec(spec)
    if n_classes < 1:
        raise ConfigError(f"n_classes={n_classes}: a classifier needs at least one class")
    if task not in TASKS:
        raise ConfigError(f"task={task!r}: choose one of {', '.join(TASKS)}")
    specs = spec.layer_specs(int(n_classes))
    if task == "events":
        specs = per_frame(specs, in_shape[0] if len(in_shape) == 2 else None)
    net = Network(specs, in_shape, init=spec.init, seed=seed, output="sequence" if task == "events" else "vector")
    if net.out_shape[-1] != n_classes:
        raise ConfigError(f"network {spec.kind}: the last layer gives {net.out_shape[-1]} values for "
                          f"{n_classes} classes")
    return net
