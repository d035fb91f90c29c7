"""The PANNs (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
Recognition") in Tympan's own layers: one parameterised network kind per family instead of a class per
variant, and their front-end as a front-end configuration, so their published AudioSet checkpoints become
ordinary Tympan models (``tympan.nn.pretrained.import_panns``).

A PANN is a log-mel spectrogram (32 ms Hann windows, 10 ms hops, centred with reflected edges, 64 Slaney
mel bands from 50 Hz, power in dB without a floor), a batch norm per mel band (``bn0``), blocks of 3x3
(CNN14, CNN10) or 5x5 (CNN6) convolutions with batch norm and ReLU, each block average-pooled 2x2 (dropping
a left-over frame or bin) and dropped out at 0.2; then the mean over frequency, the max plus the mean over
time, dropout 0.5, a dense ReLU layer (``fc1``, whose output is the embedding) and the output layer of one
sigmoid per AudioSet class. The MobileNets (``panns_mobilenetv1``, ``panns_mobilenetv2``) have the same
ends around a MobileNet body (``tympan.nn.layers.separable``): a 3x3 convolution to 32 channels, then
depthwise-separable layers (V1, ReLU) or inverted residuals (V2, ReLU6, no dropout before ``fc1``), each
average-pooled 2x2 where MobileNet strides, before its batch norm, and no dropout between them. The 16 kHz
and 8 kHz variants are the same networks on ``panns_frontend(sr)``. The decision-level variant
(``frame_smoothing``, PANNs' ``Cnn14_DecisionLevelMax``) smooths the frames (max plus mean over 3) and, as an
events model, classifies each frame: its clip score is the highest frame's.

Examples
--------
>>> import torch
>>> from tympan.nn.models import build_network
>>> net = build_network("panns_cnn6", in_shape=(64, 101), n_classes=3, seed=0)
>>> net(torch.zeros(2, 64, 101)).shape, net.embedding_size
(torch.Size([2, 3]), 512)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..defaults import spectral_params
from ..errors import ConfigError
from .layers import InvertedResidual
from .models import NetworkSpec, build_network, register

# family -> (channels per block, kernel, convolutions per block, pooling per block, embedding size)
ARCHITECTURES = {
    "panns_cnn14": ((64, 128, 256, 512, 1024, 2048), 3, 2, (2, 2, 2, 2, 2, 1), 2048),
    "panns_cnn10": ((64, 128, 256, 512), 3, 2, (2, 2, 2, 2), 512),
    "panns_cnn6": ((64, 128, 256, 512), 5, 1, (2, 2, 2, 2), 512),
}
# MobileNetV1 (Howard et al. 2017) as PANNs lay it out: (channels, pooling) of each depthwise-separable layer
MOBILENET_V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))
# MobileNetV2 (Sandler et al. 2018, table 2) as PANNs lay it out: (expansion, channels, layers, pooling of
# the first) per stage of inverted residuals, then a 1x1 convolution to 1280 channels
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 2), (6, 160, 3, 1),
                (6, 320, 1, 1))
MOBILENETS = {"panns_mobilenetv1": 1024, "panns_mobilenetv2": 1024}  # family -> embedding size
STEM_CHANNELS, MOBILENET_V2_TOP = 32, 1280
N_MELS, FMIN, FMAX = 64, 50.0, 14000.0
# the published checkpoints, as ``tympan import panns --arch`` names them -> (network kind, decision level):
# Cnn14, Cnn10, Cnn6, MobileNetV1, MobileNetV2 (16 and 8 kHz variants are the same networks: --sr) and
# Cnn14_DecisionLevelMax, whose tensors are Cnn14's
PANNS_ARCHS = {"cnn14": ("panns_cnn14", False), "cnn10": ("panns_cnn10", False), "cnn6": ("panns_cnn6", False),
               "mobilenetv1": ("panns_mobilenetv1", False), "mobilenetv2": ("panns_mobilenetv2", False),
               "cnn14_decisionlevelmax": ("panns_cnn14", True)}
CLIP_SECONDS = 10.0  # AudioSet's clips, which the PANNs were trained on


def panns_frontend(sr: int = 32000) -> dict:
    """The front-end the PANNs were trained with, at ``sr`` Hz (32 kHz; 16 and 8 kHz for their variants).

    Examples
    --------
    >>> f = panns_frontend(16000)
    >>> f["n_fft"], f["hop_length"], f["fmax"], f["pad_mode"], f["top_db"]
    (512, 160, 8000.0, 'reflect', None)
    """
    if isinstance(sr, bool) or not isinstance(sr, int) or sr <= 2 * FMIN:
        raise ConfigError(f"sr={sr!r}: a PANNs front-end needs a sample rate in Hz (32000, 16000 or 8000)")
    grid = spectral_params(sr)  # 32 ms windows, 10 ms hops: Tympan's grid is the PANNs'
    return {"kind": "logmel", "sr": sr, "n_fft": grid["n_fft"], "hop_length": grid["hop_length"],
            "win_length": grid["n_fft"], "window": "hann", "center": True, "pad_mode": "reflect",
            "n_mels": N_MELS, "fmin": FMIN, "fmax": min(FMAX, sr / 2), "htk": False, "norm": "slaney",
            "ref": 1.0, "amin": 1e-10, "top_db": None, "per_recording": None}


@dataclass
class _PANN(NetworkSpec):
    """What every PANN shares: ``bn0`` on the mel bands, the pooling over frequency and then time, ``fc1``
    (the embedding) and the output layer; ``dropout`` before (except MobileNetV2) and after ``fc1``;
    ``frame_smoothing`` makes the decision-level variant."""

    dropout: float = 0.5
    frame_smoothing: bool = False

    def _body(self) -> list[dict]:
        raise NotImplementedError

    def layer_specs(self, n_classes):
        if self.activation != "relu":
            raise ConfigError(f"{self.kind}: activation={self.activation!r}; a PANN's activations are its own "
                              "(relu, and relu6 inside MobileNetV2)")
        # on the frames, bins as features: a batch norm per mel band, as PANNs' bn0
        specs = [{"kind": "batch_norm", "name": "bn0"}, *self._body(), {"kind": "frequency_pool"}]
        if self.frame_smoothing:
            specs.append({"kind": "frame_pool", "size": 3, "mode": "meanmax"})
        specs.append({"kind": "global_pool", "mode": "max" if self.frame_smoothing else "meanmax"})
        if self.kind != "panns_mobilenetv2":  # PANNs' MobileNetV2 has this dropout commented out
            specs.append({"kind": "dropout", "rate": self.dropout})
        embedding = MOBILENETS.get(self.kind) or ARCHITECTURES[self.kind][-1]
        return specs + [{"kind": "dense", "name": "fc1", "units": embedding, "activation": "relu",
                         "dropout": self.dropout},
                        {"kind": "dense", "units": n_classes, "activation": "linear", "name": "output"}]

    def default_frontend(self) -> dict:
        return panns_frontend()


@register(*ARCHITECTURES)
@dataclass
class PANNs(_PANN):
    """A PANNs CNN (``panns_cnn14``, ``panns_cnn10``, ``panns_cnn6``), its layers named as in PANNs'
    checkpoints (``bn0``, ``conv_block1``..., ``fc1``; ``fc_audioset`` is ``output``). ``block_dropout`` is
    after each convolution block."""

    kind: str = "panns_cnn14"
    block_dropout: float = 0.2

    def _body(self):
        channels, kernel, convs, pools, _ = ARCHITECTURES[self.kind]
        return [{"kind": "conv2d", "name": f"conv_block{i}", "channels": c, "kernel": kernel, "convs": convs,
                 "pool": pool, "pool_mode": "avg", "ceil_mode": False, "activation": "relu", "batch_norm": True,
                 "dropout": self.block_dropout} for i, (c, pool) in enumerate(zip(channels, pools), 1)]


@register(*MOBILENETS)
@dataclass
class PANNsMobileNet(_PANN):
    """A PANNs MobileNet (``panns_mobilenetv1``, ``panns_mobilenetv2``), its layers named as the modules of
    PANNs' ``features`` (``features_0`` is ``features.0``...), then ``fc1`` and ``output``."""

    kind: str = "panns_mobilenetv1"

    def _body(self):
        v2 = self.kind == "panns_mobilenetv2"
        activation = "relu6" if v2 else "relu"
        layers = [{"kind": "conv2d", "channels": STEM_CHANNELS, "kernel": 3, "pool": 2, "pool_mode": "avg",
                   "pool_before_norm": True, "activation": activation}]
        if v2:
            layers += [{"kind": "inverted_residual", "channels": c, "expansion": t, "pool": pool if n == 0 else 1}
                       for t, c, repeats, pool in MOBILENET_V2 for n in range(repeats)]
            layers.append({"kind": "conv2d", "channels": MOBILENET_V2_TOP, "kernel": 1, "pool": 1,
                           "activation": activation})
        else:
            layers += [{"kind": "depthwise_separable", "channels": c, "pool": pool} for c, pool in MOBILENET_V1]
        return [{**layer, "name": f"features_{i}", "ceil_mode": False, "activation": activation}
                for i, layer in enumerate(layers)]


def checkpoint_names(spec: _PANN) -> dict[str, tuple[str, bool]]:
    """PANNs' name of each tensor of the network -> ``(Tympan's name in a Classifier, transposed)``: the
    convolutions' kernels are ``(time, frequency)`` in PANNs and ``(bins, frames)`` here. ``bn0``'s running
    statistics are not in this table: they become the model's normalisation (``tympan.nn.pretrained``)."""
    batch_norm = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    names = {f"bn0.{p}": (f"network.layers.bn0.norm.{p}", False) for p in ("weight", "bias")}
    if isinstance(spec, PANNsMobileNet):
        # the same modules in the same order (tympan.nn.layers.separable): PANNs' features.i.j (features.i.conv.j
        # in MobileNetV2's inverted residuals) is features_i.block.j here, a 4-d weight a convolution's
        network = build_network(spec, (N_MELS, 101), 1)
        for name, tensor in network.state_dict().items():
            if name.startswith("layers.features_"):
                i, inner = name[len("layers.features_"):].split(".block.")
                inverted = isinstance(getattr(network.layers, f"features_{i}"), InvertedResidual)
                names[f"features.{i}.{'conv.' if inverted else ''}{inner}"] = (f"network.{name}", tensor.ndim == 4)
    else:
        channels, _, convs, _, _ = ARCHITECTURES[spec.kind]
        for block in range(1, len(channels) + 1):
            for n in range(convs):  # in a block's Sequential: convolution, batch norm, activation, per convolution
                ours = f"network.layers.conv_block{block}.block"
                names[f"conv_block{block}.conv{n + 1}.weight"] = (f"{ours}.{3 * n}.weight", True)
                names.update({f"conv_block{block}.bn{n + 1}.{p}": (f"{ours}.{3 * n + 1}.{p}", False)
                              for p in batch_norm})
    for theirs, ours in (("fc1", "fc1"), ("fc_audioset", "output")):
        names.update({f"{theirs}.{p}": (f"network.layers.{ours}.linear.{p}", False) for p in ("weight", "bias")})
    return names
