"""A network as a list of layer specs, built in order, each layer fitted to the shape the one before gives.

``Network(layer_specs, in_shape)`` takes front-end output, ``(batch, bins, frames)`` or ``(batch, samples)``
for a waveform, and returns logits ``(batch, n_classes)``. Weights start random (He for the ReLU family,
Xavier otherwise) with zero biases, as the lecture notes prescribe; ``init="random-frozen"`` keeps them
random for good: every layer but the output is frozen, so the network is a fixed random feature extractor.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict

import torch
from torch import nn

from ..errors import ConfigError, unknown_names
from . import activations
from .layers import LAYERS, DepthwiseSeparable, InvertedResidual, LocallyConnected, Rearrange
from .layers.convolution import _ConvBlock
from .layers.dense import _Units
from .sequence import Recurrent, Transformer

INITS = ("auto", "he", "xavier", "random-frozen")


def _check_params(kind: str, cls, params: dict, where: str) -> None:
    signature = inspect.signature(cls.__init__).parameters
    accepted = [name for name in signature if name not in ("self", "in_shape", "layout")]
    if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
        return
    unknown = unknown_names(params, accepted)
    if unknown:
        raise ConfigError(f"{where} ({kind}): unknown option(s) {', '.join(unknown)}; "
                          f"{kind} takes {', '.join(accepted)}")


class Network(nn.Module):
    """Layers from specs, in order.

    Parameters
    ----------
    layer_specs : list of dict
        ``[{"kind": "conv2d", "channels": 32}, ..., {"kind": "dense", "units": 10, "activation": "linear",
        "name": "output"}]``; kinds are ``layers.LAYERS``. The last must give one vector per clip.
    in_shape : tuple
        Front-end output for one clip: ``(bins, frames)``, or ``(samples,)`` for a waveform. Frames only
        matter to layers that need a fixed size (``flatten``); others take any length.
    init : {"auto", "he", "xavier", "random-frozen"}
        Weight initialisation; biases always start at zero.
    seed : int or None
        Seed of the initial weights, without touching the global random state.
    output : {"vector", "sequence"}
        One vector of logits per clip, or one per frame, ``(batch, frames, n_classes)`` (event detection).

    Examples
    --------
    >>> net = Network([{"kind": "global_pool"}, {"kind": "dense", "units": 3, "activation": "linear"}],
    ...               in_shape=(40, 100))
    >>> net(torch.zeros(2, 40, 100)).shape
    torch.Size([2, 3])
    """

    def __init__(self, layer_specs: list[dict], in_shape: tuple, init: str = "auto", seed: int | None = None,
                 output: str = "vector"):
        super().__init__()
        if init not in INITS:
            raise ConfigError(f"init={init!r}: choose one of {', '.join(INITS)}")
        if not layer_specs:
            raise ConfigError("a network needs at least one layer")
        self.in_shape, self.init, self.output = tuple(int(n) for n in in_shape), init, output
        shape, layout = self._input_view(layer_specs[0])
        self.input_layout = layout
        built: OrderedDict[str, nn.Module] = OrderedDict()
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            for number, spec in enumerate(layer_specs, 1):
                spec = dict(spec)
                kind, name = spec.pop("kind", None), spec.pop("name", None)
                cls = LAYERS.get(kind, option=f"layer {number}: kind")
                _check_params(kind, cls, spec, f"layer {number}")
                if layout not in cls.accepts:
                    step = Rearrange(shape, layout, cls.accepts[0])
                    built[self._unique(f"to_{cls.accepts[0]}", built)] = step
                    shape, layout = step.out_shape, step.out_layout
                if len(cls.accepts) > 1:
                    spec["layout"] = layout
                try:
                    layer = cls(shape, **spec)
                except ConfigError as error:
                    raise ConfigError(f"layer {number} ({kind}): {error}") from None
                except (TypeError, ValueError, RuntimeError) as error:
                    raise ConfigError(f"layer {number} ({kind}) on input {list(shape)}: {error}") from None
                built[self._unique(name or kind, built)] = layer
                self.embedding_shape = shape  # the input of the last layer, so far
                shape, layout = layer.out_shape, layer.out_layout
            if layout != output:
                raise ConfigError(f"the last layer gives a {layout} {list(shape)}, not one vector per "
                                  f"{'frame' if output == 'sequence' else 'clip'}: end with a "
                                  f"{'frame_dense' if output == 'sequence' else 'pooling, flatten or dense'} layer")
            self.layers = nn.Sequential(built)
            self.out_shape = shape
            initialise(self, "auto" if init == "random-frozen" else init)
        if init == "random-frozen":
            for layer in self.frozen_layers():
                layer.requires_grad_(False)

    def _input_view(self, first: dict) -> tuple[tuple, str]:
        """Present the front-end output in the layout the first layer prefers."""
        if len(self.in_shape) == 1:
            return (1, self.in_shape[0]), "wave"
        kind = first.get("kind")
        bins, frames = self.in_shape
        if kind in LAYERS and LAYERS[kind].accepts[0] == "image":
            return (1, bins, frames), "image"
        return (frames, bins), "sequence"

    @staticmethod
    def _unique(name: str, taken) -> str:
        if name not in taken:
            return name
        n = 2
        while f"{name}_{n}" in taken:
            n += 1
        return f"{name}_{n}"

    def frozen_layers(self) -> list[nn.Module]:
        """Every layer but the last (the output) with ``init="random-frozen"`` or after
        ``freeze_backbone()``; otherwise none."""
        return list(self.layers)[:-1] if self.init == "random-frozen" or self.backbone_frozen else []

    backbone_frozen = False

    def freeze_backbone(self) -> None:
        """Train the output layer only: the rest keeps its weights (transfer learning with a frozen
        backbone), and its dropout and batch norm stay in evaluation mode."""
        self.backbone_frozen = True
        for layer in self.frozen_layers():
            layer.requires_grad_(False)
        self.train(self.training)

    @property
    def embedding_size(self) -> int:
        """Values per clip (per frame, for a network that keeps time) given to the output layer: the length
        of ``embed``'s vectors."""
        if self.output == "sequence" and len(self.embedding_shape) == 2:
            return int(self.embedding_shape[1])
        if len(self.embedding_shape) != 1:
            raise ConfigError(f"the output layer takes a {list(self.embedding_shape)} input, not one vector "
                              "per clip: this network has no embedding to reuse")
        return int(self.embedding_shape[0])

    def train(self, mode: bool = True):
        super().train(mode)
        for layer in self.frozen_layers():  # a fixed feature extractor: no dropout, no batch-norm updates
            layer.eval()
        return self

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1) if self.input_layout in ("wave", "image") else x.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self._view(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """What the output layer sees, ``(batch, embedding_size)``: the penultimate layer's output, the
        network's learned representation of a clip (transfer learning's features)."""
        return self.layers[:-1](self._view(x))


# ----------------------------------------------------------------------------------- initialisation


def _weighted(layer: nn.Module):
    """``(module, activation after it or None)`` for each part of a layer that has weights."""
    if isinstance(layer, _Units):
        yield (layer if isinstance(layer, LocallyConnected) else layer.linear), layer.activation
    elif isinstance(layer, (_ConvBlock, DepthwiseSeparable, InvertedResidual)):
        # each convolution with the activation after it; none (Xavier) for a linear one, as a projection
        convolution, steps = (nn.Conv1d, nn.Conv2d), list(layer.block)
        for i, m in enumerate(steps):
            if isinstance(m, convolution):
                act = next((s for s in steps[i + 1:]
                            if isinstance(s, (*convolution, activations.ActivationFunction))), None)
                yield m, act if isinstance(act, activations.ActivationFunction) else None
    elif isinstance(layer, Transformer):
        for block in layer.blocks:
            yield block.attention.qkv, None
            yield block.attention.out, None
            yield block.mlp[0], block.mlp[1]
            yield block.mlp[2], None
    elif isinstance(layer, Recurrent):
        yield layer.rnn, None
    else:
        yield from ((m, None) for m in layer.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))


def _init_weight(w: torch.Tensor, scheme: str, act) -> None:
    config = act.config() if act is not None else {"kind": "linear"}
    if scheme == "he":
        slope = config.get("slope", 0.0) if config["kind"] == "leaky_relu" else 0.0
        nn.init.kaiming_normal_(w, a=slope, nonlinearity="leaky_relu" if slope else "relu")
    else:
        kind = config["kind"]
        gain = nn.init.calculate_gain(kind) if kind in ("sigmoid", "tanh") else 1.0
        nn.init.xavier_uniform_(w, gain=gain)


def initialise(network: Network, init: str = "auto") -> None:
    """Random weights, zero biases. ``auto``: He before a ReLU-family activation, Xavier otherwise."""
    for layer in network.layers:
        for module, act in _weighted(layer):
            scheme = init if init != "auto" else getattr(act, "init", "xavier")
            for name, p in module.named_parameters(recurse=False):
                if "bias" in name:
                    nn.init.zeros_(p)
                elif isinstance(module, LocallyConnected):
                    for w in p:  # each region on its own: its fan-in is the region's width
                        _init_weight(w, scheme, act)
                elif isinstance(module, nn.RNNBase) and module.mode == "RNN_RELU" and init == "auto":
                    _init_weight(p, "he", None)
                else:
                    _init_weight(p, scheme, act)
