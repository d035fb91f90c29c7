"""Network kinds from specs: forward and backward on CPU, initialisation, freezing, seeds and spec errors."""

import math

import pytest
import torch

from tympan.errors import ConfigError
from tympan.frontend import build_frontend
from tympan.nn import MODELS, build_network, network_spec
from tympan.nn.classifier import Classifier

SR = 8000
LOGMEL = {"kind": "logmel", "sr": SR, "n_fft": 256, "hop_length": 80, "n_mels": 40}


def _frontend_for(kind):
    return {"kind": "waveform", "sr": SR} if kind == "cnn1d" else LOGMEL


def test_every_model_kind_is_tested():
    assert set(MODELS) == {"perceptron", "mlp", "cnn", "cnn1d", "rnn", "lstm", "gru", "crnn", "transformer",
                           "layers", *PANNS}


# the PANNs' sizes are fixed by their published checkpoints, too large for a blink: tests/test_panns.py runs them
PANNS = {"panns_cnn14", "panns_cnn10", "panns_cnn6", "panns_mobilenetv1", "panns_mobilenetv2"}


SMALL = {  # default kinds, made small enough to run in a blink; every field still exercised
    "perceptron": {"kind": "perceptron"},
    "mlp": {"kind": "mlp", "hidden": [32, 16]},
    "cnn": {"kind": "cnn", "channels": [8, 16]},
    "cnn1d": {"kind": "cnn1d", "channels": [8, 8, 16]},
    "rnn": {"kind": "rnn", "hidden": 16},
    "lstm": {"kind": "lstm", "hidden": 16},
    "gru": {"kind": "gru", "hidden": 16},
    "crnn": {"kind": "crnn", "channels": [8, 16], "hidden": 16},
    "transformer": {"kind": "transformer", "dim": 32, "patch": 8, "depth": 2},
    "layers": {"kind": "layers", "layers": [{"kind": "conv2d", "channels": 4}, {"kind": "global_pool"}]},
}


@pytest.mark.parametrize("kind", sorted(set(MODELS) - PANNS))
@pytest.mark.parametrize("seconds", [0.5, 1.3])
def test_every_kind_runs_forward_and_backward_with_gradients_on_every_parameter(kind, seconds):
    model = Classifier(_frontend_for(kind), SMALL[kind], classes=list("abcd"), clip_seconds=0.5, seed=0)
    model.train()
    y = torch.randn(3, round(seconds * SR))  # any length: global pooling gives one vector per clip
    logits = model(y)
    assert logits.shape == (3, 4) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{kind}: no gradient reaches {name}"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{kind}: zero gradient at {name}"


@pytest.mark.parametrize("kind", ["mlp", "cnn", "gru", "transformer"])
def test_default_sizes_of_each_kind_also_run(kind):
    net = build_network(kind, in_shape=(64, 101), n_classes=10, seed=0)
    assert net(torch.randn(2, 64, 101)).shape == (2, 10)


@pytest.mark.parametrize("frontend", ["stft", "mel", "logmel", "mfcc"])
def test_every_spectral_frontend_feeds_a_network(frontend):
    config = {"kind": frontend, "sr": SR, "n_fft": 256, "hop_length": 128}
    model = Classifier(config, {"kind": "mlp", "hidden": [8]}, classes=["a", "b"], seed=0)
    assert model(torch.randn(2, SR)).shape == (2, 2)


@pytest.mark.parametrize("spec, names", [
    ({"kind": "mlp", "hidden": [8], "context": 0}, ["global_pool", "dense", "output"]),
    ({"kind": "mlp", "hidden": [8], "context": 1}, ["frame_dense", "global_pool", "dropout", "output"]),
    ({"kind": "mlp", "hidden": [8, 4], "context": 5}, ["context_dense", "frame_dense", "global_pool", "dropout",
                                                        "output"]),
    ({"kind": "gru", "hidden": 8, "pooling": "last"}, ["recurrent", "dropout", "output"]),
    ({"kind": "lstm", "hidden": 8, "pooling": "attention"}, ["recurrent", "attention_pool", "dropout", "output"]),
])
def test_spec_fields_choose_the_layers(spec, names):
    net = build_network(spec, in_shape=(20, 30), n_classes=3, seed=0)
    assert list(net.layers._modules) == names
    assert net(torch.randn(2, 20, 30)).shape == (2, 3)


def test_initialisation_is_random_weights_and_zero_biases():
    relu = build_network({"kind": "mlp", "hidden": [512], "activation": "relu", "dropout": 0}, (400, 10), 3, seed=0)
    tanh = build_network({"kind": "mlp", "hidden": [512], "activation": "tanh", "dropout": 0}, (400, 10), 3, seed=0)
    for net in (relu, tanh):
        for name, p in net.named_parameters():
            if "bias" in name:
                assert torch.count_nonzero(p) == 0, name
            else:
                assert p.std() > 0, name
    # He for ReLU: normal with std sqrt(2 / fan_in)
    assert relu.layers.dense.linear.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    # Xavier for tanh: uniform within gain * sqrt(6 / (fan_in + fan_out)), gain 5/3
    bound = 5 / 3 * math.sqrt(6 / (400 + 512))
    w = tanh.layers.dense.linear.weight
    assert w.abs().max().item() <= bound and w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    # the output layer is linear: Xavier with gain 1
    out = relu.layers.output.linear.weight
    assert out.abs().max().item() <= math.sqrt(6 / (512 + 3))


def test_the_same_seed_builds_the_same_network_and_leaves_the_global_state_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network("cnn", (40, 50), 5, seed=7)
    assert torch.rand(1) == before  # building with a seed did not consume the global generator
    b = build_network("cnn", (40, 50), 5, seed=7)
    c = build_network("cnn", (40, 50), 5, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_random_frozen_trains_only_the_output_layer():
    model = Classifier(LOGMEL, {"kind": "cnn", "channels": [8, 16], "init": "random-frozen"}, list("abc"), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["network.layers.output.linear.weight", "network.layers.output.linear.bias"]
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    for _ in range(3):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.randn(4, SR)), torch.tensor([0, 1, 2, 0])).backward()
        optimiser.step()
    after = model.state_dict()
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    # batch-norm running statistics stay as built too: the extractor is fixed
    assert changed == ["network.layers.output.linear.bias", "network.layers.output.linear.weight"]


def test_spec_round_trips_through_its_dict():
    spec = network_spec({"kind": "crnn", "channels": [4, 8], "cell": "lstm", "activation": "elu"})
    again = network_spec(spec.to_dict())
    assert again == spec and again.to_dict()["channels"] == [4, 8]


def test_an_activation_written_with_the_legacy_name_key_is_read_and_written_as_kind():
    # Model files written before ``kind`` say {name: leaky_relu}: the network is the same, its spec says kind.
    legacy = {"kind": "mlp", "hidden": [8], "activation": {"name": "leaky_relu", "slope": 0.1}}
    spec = network_spec(legacy)
    assert spec.to_dict()["activation"] == {"kind": "leaky_relu", "slope": 0.1}
    assert legacy["activation"] == {"name": "leaky_relu", "slope": 0.1}  # the caller's dict is left as it was
    x = torch.randn(2, 40, 26)
    old, new = (build_network(s, in_shape=(40, 26), n_classes=3, seed=0).eval()
                for s in (legacy, {**legacy, "activation": {"kind": "leaky_relu", "slope": 0.1}}))
    assert torch.equal(old(x), new(x))


def test_an_activation_layer_takes_its_activation_and_keeps_its_own_name():
    net = build_network({"kind": "layers", "layers": [
        {"kind": "global_pool"}, {"kind": "dense", "units": 4, "activation": "linear"},
        {"kind": "activation", "activation": "leaky_relu", "slope": 0.5, "name": "bend"}]},
        in_shape=(40, 26), n_classes=3, seed=0)
    bend = net.layers.bend.function
    assert bend.config() == {"kind": "leaky_relu", "slope": 0.5}


@pytest.mark.parametrize("spec, message", [
    ({"kind": "resnet"}, "network kind='resnet'"),
    ({"kind": "cnn", "chanels": [8]}, "unknown field(s) chanels"),
    ({"kind": "cnn", "init": "orthogonal"}, "init='orthogonal'"),
    ({"kind": "cnn", "dropout": 1.5}, "dropout=1.5"),
    ({"kind": "mlp", "activation": "swishy"}, "swishy"),
    ({"kind": "mlp", "pooling": "median"}, "mode='median'"),
    ({"kind": "gru", "activation": "relu6"}, "activation='relu6'"),
    ({"kind": "layers", "layers": [{"kind": "dense", "units": 4}]}, "global_pool, attention_pool or flatten"),
    ({"kind": "layers", "layers": [{"kind": "conv2d", "channel": 4}, {"kind": "global_pool"}]},
     "unknown option(s) channel"),
    ({"kind": "layers", "layers": [{"kind": "flatten"}, {"kind": "locally_connected", "regions": 7}]},
     "do not split into regions=7"),
    ({"kind": "transformer", "dim": 30, "heads": 4}, "not divisible by heads=4"),
    ({"kind": "transformer", "patch": 64}, "larger than the input"),
])
def test_bad_specs_are_config_errors_that_name_the_problem(spec, message):
    with pytest.raises(ConfigError) as error:
        build_network(spec, in_shape=(40, 26), n_classes=3)
    assert message in str(error.value)


def test_a_network_that_flattens_refuses_clips_of_another_length():
    spec = {"kind": "layers", "layers": [{"kind": "flatten"}, {"kind": "dense", "units": 8}]}
    model = Classifier(LOGMEL, spec, classes=["a", "b"], clip_seconds=1.0)
    assert model(torch.zeros(2, SR)).shape == (2, 2)
    with pytest.raises(ConfigError, match="clips of the length it was built for"):
        model(torch.zeros(2, SR // 2))


def test_the_frontend_registry_refuses_unknown_options():
    with pytest.raises(ConfigError, match="unknown option"):
        build_frontend({"kind": "logmel", "n_mfcc": 13})
    with pytest.raises(ConfigError, match="kind='cqt'"):
        build_frontend({"kind": "cqt"})
