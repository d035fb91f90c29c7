"""The layers a network spec names, each built from the shape it receives.

A layer sees one of four layouts (shapes without the batch axis):

- ``wave``: ``(channels, samples)``, a waveform or the output of 1-D convolutions;
- ``image``: ``(channels, bins, frames)``, a spectrogram or the output of 2-D convolutions;
- ``sequence``: ``(frames, features)``, one vector per frame (dense per frame, recurrent, transformer);
- ``vector``: ``(features,)``, one vector per clip (dense, output).

Every class takes ``in_shape`` first and sets ``out_shape`` and ``out_layout``, so the network can
chain them and the summary can print them. ``Rearrange`` moves between layouts; the network inserts
it where a layer needs another layout. Going to ``vector`` always takes an explicit step (a pooling
layer, ``flatten``, or a recurrent layer's last state), since it decides what a clip-level model sees.

The layers live in modules by what they do: ``dense``, ``convolution`` (with local pooling), ``separable``
(MobileNets' depthwise-separable convolutions and inverted residuals), ``pooling`` (to
one vector per clip, or per frame) and ``per_value`` (dropout, batch norm, activation), on ``base`` (the
``LAYERS`` registry and ``Rearrange``); ``tympan.nn.sequence`` adds the recurrent and transformer layers.
"""

# Registration order is the order of LAYERS, which the errors list: these imports stay in this order.
from .base import LAYERS, Rearrange, register  # isort: skip
from .dense import ContextDense, Dense, FrameDense, LocallyConnected  # isort: skip
from .convolution import AvgPool, Conv1dBlock, Conv2dBlock, MaxPool  # isort: skip
from .separable import DepthwiseSeparable, InvertedResidual  # isort: skip
from .pooling import AttentionPool, Flatten, FramePool, FrequencyPool, GlobalPool  # isort: skip
from .per_value import Activation, BatchNorm, Dropout  # isort: skip

__all__ = ["LAYERS", "Activation", "AttentionPool", "AvgPool", "BatchNorm", "ContextDense", "Conv1dBlock",
           "Conv2dBlock", "Dense", "DepthwiseSeparable", "Dropout", "Flatten", "FrameDense", "FramePool",
           "FrequencyPool", "GlobalPool", "InvertedResidual", "LocallyConnected", "MaxPool", "Rearrange", "register"]
