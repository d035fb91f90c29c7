"""Layers against what they are meant to compute, written out by hand."""

import pytest
import torch

from tympan.nn.layers import (AttentionPool, ContextDense, Conv2dBlock, DepthwiseSeparable, FrameDense, GlobalPool,
                               InvertedResidual, LocallyConnected, Rearrange)
from tympan.nn.network import Network
from tympan.nn.sequence import PatchEmbedding, Recurrent

torch.manual_seed(0)


def test_frame_dense_applies_the_same_weights_to_every_frame():
    layer = FrameDense((7, 5), units=3, activation="linear")
    x = torch.randn(2, 7, 5)
    expected = torch.stack([layer.linear(x[:, t]) for t in range(7)], dim=1)
    torch.testing.assert_close(layer(x), expected)


def test_context_dense_sees_the_frames_around_each_frame_with_zeros_beyond_the_ends():
    layer = ContextDense((6, 4), units=2, context=3, activation="linear")
    x = torch.randn(1, 6, 4)
    padded = torch.cat([torch.zeros(1, 1, 4), x, torch.zeros(1, 1, 4)], dim=1)
    for t in range(6):
        window = padded[:, t:t + 3].reshape(1, -1)  # frames t-1, t, t+1, in order
        torch.testing.assert_close(layer(x)[:, t], layer.linear(window))
    with pytest.raises(Exception, match="odd"):
        ContextDense((6, 4), units=2, context=4)


def test_locally_connected_units_see_only_their_region():
    layer = LocallyConnected((24,), regions=4, units=2, activation="linear")
    x = torch.randn(1, 24, requires_grad=True)
    out = layer(x)
    assert out.shape == (1, 8)
    for region in range(4):
        (grad,) = torch.autograd.grad(out[0, 2 * region], x, retain_graph=True)
        inside = torch.zeros(24, dtype=torch.bool)
        inside[6 * region:6 * region + 6] = True
        assert grad[0, ~inside].abs().sum() == 0 and grad[0, inside].abs().sum() > 0
    assert sum(p.numel() for n, p in layer.named_parameters() if n == "weight") == 4 * 2 * 6


def test_shared_locally_connected_is_a_convolution_whose_stride_is_its_width():
    layer = LocallyConnected((24,), regions=4, units=3, shared=True, activation="linear")
    x = torch.randn(2, 24)
    conv = torch.nn.functional.conv1d(x[:, None], layer.weight[0][:, None, :], layer.bias[0], stride=6)
    torch.testing.assert_close(layer(x), conv.transpose(1, 2).reshape(2, -1))


@pytest.mark.parametrize("mode", ["mean", "max", "meanmax", "stats"])
def test_global_pool_over_time_per_feature(mode):
    x = torch.randn(2, 9, 5)  # (batch, frames, features)
    expected = {"mean": x.mean(1), "max": x.amax(1), "meanmax": x.mean(1) + x.amax(1),
                "stats": torch.cat([x.mean(1), x.std(1, unbiased=False)], dim=1)}[mode]
    torch.testing.assert_close(GlobalPool((9, 5), "sequence", mode)(x), expected)
    image = torch.randn(2, 3, 4, 9)  # (batch, channels, bins, frames): frequency averaged first
    pooled = GlobalPool((3, 4, 9), "image", "max")(image)
    torch.testing.assert_close(pooled, image.mean(2).amax(-1))


def test_attention_pool_is_a_softmax_weighted_mean_over_frames():
    layer = AttentionPool((6, 4))
    x = torch.randn(2, 6, 4)
    weights = torch.softmax(x @ layer.score.weight[0], dim=1)
    torch.testing.assert_close(layer(x), (weights[..., None] * x).sum(1))
    same = x[:, :1].expand(2, 6, 4)  # identical frames: any weighting gives that frame
    torch.testing.assert_close(layer(same), x[:, 0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_last_state_is_the_final_forward_and_first_backward_output(cell):
    sequence = Recurrent((8, 5), cell=cell, hidden=4, layers=2, bidirectional=True, output="sequence")
    last = Recurrent((8, 5), cell=cell, hidden=4, layers=2, bidirectional=True, output="last")
    last.load_state_dict(sequence.state_dict())
    x = torch.randn(3, 8, 5)
    y = sequence(x)
    torch.testing.assert_close(last(x), torch.cat([y[:, -1, :4], y[:, 0, 4:]], dim=1))


def test_rearrange_between_layouts_keeps_every_value_in_place():
    image = torch.randn(2, 3, 4, 5)  # (batch, channels, bins, frames)
    to_sequence = Rearrange((3, 4, 5), "image", "sequence")
    sequence = to_sequence(image)
    assert to_sequence.out_shape == (5, 12) and sequence.shape == (2, 5, 12)
    torch.testing.assert_close(sequence[:, 2], image[..., 2].reshape(2, 12))  # frame 2: channels x bins
    with pytest.raises(Exception, match="global_pool"):
        Rearrange((5, 12), "sequence", "vector")


def test_patch_embedding_takes_clips_of_any_length():
    layer = PatchEmbedding((1, 32, 40), dim=16, patch=8)
    assert layer.out_shape == (4 * 5, 16)
    assert layer(torch.randn(2, 1, 32, 40)).shape == (2, 20, 16)
    assert layer(torch.randn(2, 1, 32, 96)).shape == (2, 4 * 12, 16)
    # the same patch content at two times differs only by the time encoding
    x = torch.zeros(1, 1, 32, 16)
    z = layer(x)
    assert not torch.allclose(z[0, 0], z[0, 1])


def test_a_depthwise_separable_layer_is_a_convolution_per_channel_then_one_across_channels():
    layer = DepthwiseSeparable((8, 10, 13), channels=16, pool=2, ceil_mode=False).eval()
    depthwise, pool, norm, act, pointwise = list(layer.block)[:5]
    assert depthwise.weight.shape == (8, 1, 3, 3) and pointwise.weight.shape == (16, 8, 1, 1)
    assert sum(p.numel() for p in layer.parameters()) == 8 * 9 + 16 * 8 + 2 * 8 + 2 * 16  # 9 C + C C' (+ norms)
    x = torch.randn(2, 8, 10, 13)
    # channel 3 out of the depthwise step depends on input channel 3 alone
    one = torch.nn.functional.conv2d(x[:, 3:4], depthwise.weight[3:4], padding=1)
    torch.testing.assert_close(depthwise(x)[:, 3:4], one)
    expected = layer.block[4:](act(norm(torch.nn.functional.avg_pool2d(depthwise(x), 2))))  # pooled before the norm
    assert layer.out_shape == (16, 5, 6) and layer(x).shape == (2, 16, 5, 6)
    torch.testing.assert_close(layer(x), expected)


def test_an_inverted_residual_adds_its_input_back_only_where_the_shape_is_kept():
    kept = InvertedResidual((8, 6, 7), channels=8, expansion=6).eval()
    assert kept.residual and kept.block[0].weight.shape == (48, 8, 1, 1) and kept.block[3].groups == 48
    with torch.no_grad():
        kept.block[-1].weight.zero_()  # the projection's batch norm outputs its shift alone...
        kept.block[-1].bias.fill_(0.5)
    x = torch.randn(2, 8, 6, 7)
    torch.testing.assert_close(kept(x), x + 0.5)  # ...and the input comes back around it
    assert kept(-x).amin() < 0  # no activation after the linear projection
    pooled = InvertedResidual((8, 6, 7), channels=8, pool=2, ceil_mode=False)
    wider = InvertedResidual((8, 6, 7), channels=16, expansion=1)
    assert not pooled.residual and pooled.out_shape == (8, 3, 3) and not wider.residual
    assert wider.block[0].groups == 8  # expansion 1: no expansion step, the depthwise convolution first


def test_a_convolution_pooled_before_its_norm_and_each_convolution_initialised_for_what_follows():
    block = Conv2dBlock((1, 8, 8), channels=4, pool=2, pool_mode="avg", pool_before_norm=True, activation="relu6")
    assert [type(m).__name__ for m in block.block] == ["Conv2d", "AvgPool2d", "BatchNorm2d", "ReLU6"]
    net = Network([{"kind": "conv2d", "channels": 8}, {"kind": "inverted_residual", "channels": 8, "expansion": 4},
                   {"kind": "global_pool"}, {"kind": "dense", "units": 2, "activation": "linear"}],
                  in_shape=(8, 8), seed=0)
    expand, depthwise, project = (m.weight for m in net.layers[1].block if isinstance(m, torch.nn.Conv2d))
    # He before ReLU6 (std sqrt(2 / fan_in)), Xavier before the linear projection (bound sqrt(6 / fan sum))
    assert 0.8 < expand.std() / (2 / 8) ** 0.5 < 1.2 and 0.8 < depthwise.std() / (2 / 9) ** 0.5 < 1.2
    assert project.abs().max() <= (6 / (32 + 8)) ** 0.5  # He-normal weights would pass that bound
