"""Layers against what they are meant to compute, written out by hand."""

import pytest
import torch

from tympan.nn.layers import AttentionPool, ContextDense, FrameDense, GlobalPool, LocallyConnected, Rearrange
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
