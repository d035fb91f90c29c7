"""Activations against closed forms written here in NumPy: values, derivatives, the step's honest gradient."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from tympan.errors import ConfigError
from tympan.nn.activations import ACTIVATIONS, curves, get, names

# Away from 0, where step, relu and leaky_relu have their kinks; wide enough to reach the saturated tails.
X = np.concatenate([np.linspace(-6.0, -0.05, 60), np.linspace(0.05, 6.0, 60)])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_erf = np.vectorize(math.erf)


def _phi(x):  # standard normal density
    return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _Phi(x):  # standard normal CDF
    return 0.5 * (1.0 + _erf(x / math.sqrt(2)))


# (name, params, f, f') with f and f' closed forms, independent of torch.
ELEMENTWISE = [
    ("linear", {}, lambda x: x, lambda x: np.ones_like(x)),
    ("step", {}, lambda x: (x > 0).astype(float), lambda x: np.zeros_like(x)),
    ("sigmoid", {}, _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    ("tanh", {}, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("arctan", {}, np.arctan, lambda x: 1 / (1 + x ** 2)),
    ("relu", {}, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    ("relu6", {}, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(float)),
    ("leaky_relu", {}, lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    ("leaky_relu", {"slope": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1.0, 0.2)),
    ("leaky_relu", {"slope": -1.0}, np.abs, np.sign),
    ("softplus", {}, lambda x: np.log1p(np.exp(x)), _sigmoid),
    ("softplus", {"beta": 2.5}, lambda x: np.log1p(np.exp(2.5 * x)) / 2.5, lambda x: _sigmoid(2.5 * x)),
    ("elu", {}, lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda x: np.where(x > 0, 1.0, np.exp(x))),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
     lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(x))),
    ("gelu", {}, lambda x: x * _Phi(x), lambda x: _Phi(x) + x * _phi(x)),
    ("silu", {}, lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
]
VECTOR = ["softmax"]  # tested by test_softmax_values_and_jacobian


def test_every_activation_has_a_closed_form_test():
    tested = {name for name, *_ in ELEMENTWISE} | set(VECTOR)
    assert tested == set(ACTIVATIONS), f"activations without a test: {set(ACTIVATIONS) - tested}"
    assert names() == list(ACTIVATIONS)
    assert len(names()) == 13


@pytest.mark.parametrize("name, params, f, df", ELEMENTWISE, ids=lambda v: v if isinstance(v, str) else None)
def test_values_and_derivatives(name, params, f, df):
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = get(name, **params)(x)
    assert y.dtype == torch.float64 and y.shape == x.shape
    (dy,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(y.detach().numpy(), f(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dy.numpy(), df(X), rtol=1e-6, atol=1e-6)


def test_softmax_values_and_jacobian():
    v = np.array([0.3, -1.2, 2.0, 0.5])
    p = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
    f = get("softmax")
    x = torch.tensor(v, dtype=torch.float64)
    np.testing.assert_allclose(f(x).numpy(), p, rtol=1e-6, atol=1e-12)
    jacobian = torch.autograd.functional.jacobian(f, x).numpy()
    np.testing.assert_allclose(jacobian, np.diag(p) - np.outer(p, p), atol=1e-9)
    # dim picks the axis that sums to 1.
    batch = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    np.testing.assert_allclose(get("softmax", dim=0)(batch).sum(0).numpy(), [1.0, 1.0])
    np.testing.assert_allclose(get("softmax", dim=0)(batch)[:, 0].numpy(), [_sigmoid(-2.0), _sigmoid(2.0)])


def test_special_values():
    zero = torch.zeros(1, dtype=torch.float64)
    # The lecture notes' step: 1 only where the weighted sum is above 0 (Pardo: f(x) = 1 if 0 < sum w_i x_i).
    assert get("step")(zero).item() == 0.0
    assert get("step")(torch.tensor([-0.0])).item() == 0.0
    assert get("step")(torch.tensor([1e-6])).item() == 1.0
    assert get("step")(torch.tensor([-1.0])).item() == 0.0
    assert get("step")(torch.tensor([1e-300], dtype=torch.float64)).item() == 1.0
    assert get("step")(torch.tensor([-1e-300], dtype=torch.float64)).item() == 0.0
    assert get("step")(torch.tensor([0.5], dtype=torch.float32)).dtype == torch.float32
    assert get("arctan")(torch.tensor([1e12], dtype=torch.float64)).item() == pytest.approx(math.pi / 2)
    assert get("sigmoid")(zero).item() == 0.5


def test_step_gradient_is_exactly_zero_upstream():
    torch.manual_seed(0)
    linear = nn.Linear(3, 4).double()
    net = nn.Sequential(linear, get("step"))
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    loss = ((net(x) - torch.rand(8, 4, dtype=torch.float64)) ** 2).sum()
    loss.backward()
    # Zeros, not None: backward ran, and the weights got the true gradient, which is nothing.
    assert linear.weight.grad is not None and torch.equal(linear.weight.grad, torch.zeros(4, 3, dtype=torch.float64))
    assert torch.equal(linear.bias.grad, torch.zeros(4, dtype=torch.float64))
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("surrogate, derivative", [
    ("sigmoid", lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    ("identity", lambda x: np.ones_like(x)),
    (None, lambda x: np.zeros_like(x)),
])
def test_step_surrogates(surrogate, derivative):
    points = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    upstream = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
    x = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    y = get("step", surrogate=surrogate)(x)
    np.testing.assert_array_equal(y.detach().numpy(), [0, 0, 0, 1, 1])  # the forward never changes
    y.backward(torch.tensor(upstream, dtype=torch.float64))
    np.testing.assert_allclose(x.grad.numpy(), upstream * derivative(points), rtol=1e-12, atol=1e-15)


def test_get_with_dict_params_and_module():
    assert get("leaky_relu", slope=0.1).slope == 0.1
    spec = {"kind": "leaky_relu", "slope": 0.1}
    assert get(spec).slope == 0.1
    assert get(spec, slope=0.3).slope == 0.3  # explicit parameters override the dict's
    assert spec == {"kind": "leaky_relu", "slope": 0.1}  # and the dict is left as it was
    assert get({"kind": "tanh"}).config() == {"kind": "tanh"}
    module = get("elu", alpha=2.0)
    assert get(module) is module
    custom = nn.Hardtanh()
    assert get(custom) is custom
    assert get("step").surrogate is None and get("softplus").beta == 1.0 and get("softmax").dim == -1


@pytest.mark.parametrize("spec", [*names(), {"kind": "leaky_relu", "slope": -0.3}, {"kind": "softplus", "beta": 3},
                                  {"kind": "softmax", "dim": 0}, {"kind": "elu", "alpha": 0.25},
                                  {"kind": "step", "surrogate": "sigmoid"}], ids=str)
def test_config_round_trip(spec):
    f = get(spec)
    config = json.loads(json.dumps(f.config()))
    g = get(config)
    assert type(g) is type(f) and g.config() == f.config() == config
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.equal(f(x), g(x))


def test_legacy_name_key_still_reads():
    # Model and configuration files written before ``kind`` key activations by ``name``: they still load.
    spec = {"name": "leaky_relu", "slope": 0.1}
    assert get(spec).config() == {"kind": "leaky_relu", "slope": 0.1}
    assert spec == {"name": "leaky_relu", "slope": 0.1}
    with pytest.raises(ConfigError, match="no parameter 'name'"):  # both keys: name is no parameter
        get({"kind": "tanh", "name": "relu"})


def test_init_and_repr():
    he = {"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "softplus"}
    assert {name for name, cls in ACTIVATIONS.items() if cls.init == "he"} == he
    assert {name for name, cls in ACTIVATIONS.items() if cls.init == "xavier"} == set(ACTIVATIONS) - he
    assert "slope=0.1" in repr(get("leaky_relu", slope=0.1))
    assert "surrogate='identity'" in repr(get("step", surrogate="identity"))
    assert "dim=1" in repr(get("softmax", dim=1))


def test_unknown_name():
    with pytest.raises(ConfigError, match="relux") as error:
        get("relux")
    assert "leaky_relu" in str(error.value) and "silu" in str(error.value)  # lists the valid names
    with pytest.raises(ConfigError, match="kind"):
        get({"slope": 0.1})
    with pytest.raises(ConfigError):
        get(3)
    with pytest.raises(ConfigError, match="alpha"):
        get(get("elu"), alpha=2.0)


@pytest.mark.parametrize("name, params, words", [
    ("relu", {"slope": 0.1}, ["'relu'", "slope", "no parameters"]),
    ("leaky_relu", {"slop": 0.1}, ["'leaky_relu'", "slop", "accepts slope"]),
    ("leaky_relu", {"slope": float("nan")}, ["leaky_relu", "slope", "finite"]),
    ("leaky_relu", {"slope": "steep"}, ["leaky_relu", "slope"]),
    ("softplus", {"beta": 0}, ["softplus", "beta", "> 0"]),
    ("softplus", {"beta": -1.0}, ["softplus", "beta"]),
    ("elu", {"alpha": float("inf")}, ["elu", "alpha"]),
    ("softmax", {"dim": 1.5}, ["softmax", "dim"]),
    ("step", {"surrogate": "tanh"}, ["step", "surrogate", "identity"]),
])
def test_bad_parameters(name, params, words):
    with pytest.raises(ConfigError) as error:
        get(name, **params)
    for word in words:
        assert word in str(error.value)


def test_curves():
    data = curves()
    assert list(data) == names()
    x, y, dy = data["sigmoid"]
    assert x.shape == y.shape == dy.shape == (801,) and x[0] == -4 and x[-1] == 4
    np.testing.assert_allclose(dy, _sigmoid(x) * (1 - _sigmoid(x)), atol=1e-12)
    assert not data["step"][2].any()  # the honest derivative: zero everywhere
    # Two-class softmax, first output: equal to the sigmoid, and so is its derivative.
    np.testing.assert_allclose(data["softmax"][1], data["sigmoid"][1], atol=1e-12)
    np.testing.assert_allclose(data["softmax"][2], data["sigmoid"][2], atol=1e-12)
    xs, ys, dys = curves(["tanh"], x=[0.0, 1.0])["tanh"]
    np.testing.assert_allclose(ys, np.tanh([0.0, 1.0]))
    np.testing.assert_allclose(dys, 1 - np.tanh([0.0, 1.0]) ** 2)


def test_plot_activations(tmp_path):
    from tympan.display import plot_activations, save_figure

    fig = plot_activations()
    assert len(fig.axes) >= 12
    assert [ax.get_title() for ax in fig.axes] == names()
    assert fig.axes[0].get_legend() is not None
    assert any("undefined" in text.get_text() for text in fig.axes[names().index("step")].texts)
    out = save_figure(fig, tmp_path / "activations.png")
    assert out.stat().st_size > 1000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
