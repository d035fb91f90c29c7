"""Activation functions by kind: the nonlinearity after a layer, and the derivative training sees.

Each is an ``nn.Module`` in the ``ACTIVATIONS`` registry (adding one: a class and ``@register("kind")``);
``get`` builds it from ``"leaky_relu"`` or ``{kind: leaky_relu, slope: 0.1}``, and ``get(f.config())`` rebuilds
it. ``init`` is ``"he"`` for the ReLU family, which zeroes about half its inputs and so needs twice the weight
variance to keep the signal's scale, ``"xavier"`` for the others. ``curves`` samples each and its derivative.

Examples
--------
>>> f = get({"kind": "leaky_relu", "slope": 0.1})
>>> f(torch.tensor([-2.0, 3.0]))
tensor([-0.2000,  3.0000])
>>> f.config(), f.init
({'kind': 'leaky_relu', 'slope': 0.1}, 'he')
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import Registry, legacy_name_as_kind

ACTIVATIONS = Registry("activation")
register = ACTIVATIONS.register
names = ACTIVATIONS.names
INITS = ("he", "xavier")


def _parameters(cls) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _number(activation: str, param: str, value, positive: bool = False) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or (positive and value <= 0)):
        raise ConfigError(f"activation {activation!r}: {param}={value!r} is invalid; "
                          f"{param} must be {'a number > 0' if positive else 'a finite number'}")
    return float(value)


def get(kind, **params) -> nn.Module:
    """The activation ``kind``, built with ``params``.

    Parameters
    ----------
    kind : str, dict or nn.Module
        A kind from ``names()``; a dict ``{"kind": ..., **params}`` as ``config()`` gives (or, from older
        files, ``{"name": ...}``), whose parameters ``**params`` override; or a module, returned as is.

    Examples
    --------
    >>> get("softplus", beta=2.0)
    Softplus(beta=2.0)
    >>> get({"kind": "elu", "alpha": 0.5}, alpha=2)
    ELU(alpha=2.0)
    """
    if isinstance(kind, nn.Module):
        if params:
            raise ConfigError(f"activation {kind!r} is already built and takes no parameters {sorted(params)}: "
                              f"give its kind instead, e.g. {{'kind': 'leaky_relu', 'slope': 0.1}}")
        return kind
    if isinstance(kind, dict):
        spec = legacy_name_as_kind(kind)
        if "kind" not in spec:
            raise ConfigError(f"activation {kind!r}: a dict needs a 'kind' key, e.g. {{'kind': 'leaky_relu'}}")
        kind = spec.pop("kind")
        params = {**spec, **params}
    cls = ACTIVATIONS.get(kind)
    accepted = _parameters(cls)
    for key in params:
        if key not in accepted:
            raise ConfigError(f"activation {kind!r} has no parameter {key!r}: it accepts "
                              f"{', '.join(accepted) if accepted else 'no parameters'}")
    return cls(**params)


class ActivationFunction(nn.Module):
    """What every activation shares: its registered ``kind``, its ``init`` and its ``config()``.

    One without parameters sets ``forward`` to the torch built-in itself: ``staticmethod(torch.tanh)``.
    """

    kind: str  # set by ``register``
    init: str  # "he" or "xavier", read by the network builder to initialise the layer before this one
    elementwise = True  # False for functions of a whole vector (softmax)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A forgotten ``init`` would silently give the wrong weight scale: fail when the module is imported.
        if getattr(cls, "init", None) not in INITS:
            raise TypeError(f"activation {cls.__name__}: set the class attribute init to one of {INITS}")

    def __init__(self):
        super().__init__()

    def config(self) -> dict:
        """``{"kind": ..., **params}`` as plain JSON; ``get(self.config())`` builds the same activation."""
        return {"kind": self.kind, **{p: getattr(self, p) for p in _parameters(type(self))}}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")


@register("linear")
class Identity(ActivationFunction):
    """Linear (identity) activation, f(x) = x: the layer stays linear, as a regression output should."""

    init = "xavier"

    def forward(self, x):
        return x


class _StepFunction(torch.autograd.Function):
    """The binary step with its backward written out: exact zeros, or the surrogate asked for."""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.surrogate == "sigmoid":
            grad = grad * torch.sigmoid(x) * torch.sigmoid(-x)  # s(x) (1 - s(x))
        elif ctx.surrogate is None:
            # The true derivative, 0 wherever it exists; zeros, not None, so upstream grads are 0, not missing.
            grad = torch.zeros_like(grad)
        return grad, None  # "identity": straight through


@register("step")
class Step(ActivationFunction):
    """Binary step, f(x) = 1 if x > 0 else 0 (so step(0) = 0), the perceptron's activation.

    As the lecture notes define it (Pardo: f(x) = 1 if 0 < sum_i w_i x_i, else 0), a unit fires only where
    its weighted sum is above the threshold, not on it.

    Gradient descent cannot train a network of steps. The derivative is 0 for every x != 0 and undefined at
    x = 0, and by the chain rule it is a factor of every weight's gradient: a small change of a weight changes
    no output, and no error signal reaches the weights to say which unit caused an error or how it should
    change, the "assignment of error" problem. The ways around it are the perceptron learning rule, which
    updates one layer from the error itself rather than from a derivative, and surrogate gradients, which
    keep the step going forward and use another derivative going back.

    By default the backward is honest: exact zeros, so ``loss.backward()`` runs and every upstream gradient
    is 0. ``surrogate`` replaces the derivative in backward only: ``"sigmoid"`` uses s(x)(1 - s(x)), a
    smooth bump around the threshold; ``"identity"`` passes the gradient through (the straight-through
    estimator).

    Parameters
    ----------
    surrogate : {None, "sigmoid", "identity"}
        The derivative used in backward; None is the true one, 0.

    Examples
    --------
    >>> x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> Step()(x).tolist()
    [0.0, 0.0, 1.0]
    >>> Step()(x).sum().backward(); x.grad
    tensor([0., 0., 0.])
    >>> x.grad = None; Step(surrogate="identity")(x).sum().backward(); x.grad
    tensor([1., 1., 1.])
    """

    init = "xavier"
    surrogates = (None, "sigmoid", "identity")

    def __init__(self, surrogate: str | None = None):
        super().__init__()
        if surrogate not in self.surrogates:
            raise ConfigError(f"activation 'step': surrogate={surrogate!r} is invalid; choose None (the true, "
                              f"zero gradient), 'sigmoid' or 'identity' (straight-through)")
        self.surrogate = surrogate

    def forward(self, x):
        return _StepFunction.apply(x, self.surrogate)


@register("sigmoid")
class Sigmoid(ActivationFunction):
    """Logistic sigmoid, s(x) = 1 / (1 + e^-x), range (0, 1); derivative s(x)(1 - s(x)), at most 1/4."""
    init, forward = "xavier", staticmethod(torch.sigmoid)


@register("tanh")
class Tanh(ActivationFunction):
    """Hyperbolic tangent, range (-1, 1), a zero-centred sigmoid (2 s(2x) - 1); derivative 1 - tanh(x)^2."""
    init, forward = "xavier", staticmethod(torch.tanh)


@register("arctan")
class Arctan(ActivationFunction):
    """Arctangent, range (-pi/2, pi/2); derivative 1 / (1 + x^2), which fades polynomially, not exponentially."""
    init, forward = "xavier", staticmethod(torch.atan)


@register("relu")
class ReLU(ActivationFunction):
    """Rectified linear unit, max(0, x); derivative 0 for x < 0 and 1 for x > 0 (autograd takes 0 at 0)."""
    init, forward = "he", staticmethod(torch.relu)


@register("relu6")
class ReLU6(ActivationFunction):
    """min(max(0, x), 6): a ReLU capped at 6, as MobileNetV2 uses; derivative 1 on (0, 6), 0 elsewhere."""
    init, forward = "he", staticmethod(F.relu6)


@register("leaky_relu")
class LeakyReLU(ActivationFunction):
    """x for x >= 0, ``slope * x`` below, so an off unit still passes a gradient; any finite slope (-1 gives |x|)."""

    init = "he"

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = _number("leaky_relu", "slope", slope)

    def forward(self, x):
        return F.leaky_relu(x, self.slope)


@register("softplus")
class Softplus(ActivationFunction):
    """A smooth ReLU, log(1 + e^(beta x)) / beta, derivative sigmoid(beta x); ``beta > 0`` sets the bend."""

    init = "he"

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = _number("softplus", "beta", beta, positive=True)

    def forward(self, x):
        return F.softplus(x, beta=self.beta)


@register("softmax")
class Softmax(ActivationFunction):
    """exp(x_i) / sum_j exp(x_j) along ``dim``, summing to 1; Jacobian diag(p) - p p^T.

    A classifier's loss wants the raw scores: ``cross_entropy`` takes a log-softmax that cannot underflow.
    """

    init, elementwise = "xavier", False

    def __init__(self, dim: int = -1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise ConfigError(f"activation 'softmax': dim={dim!r} is invalid; dim must be an integer axis, e.g. -1")
        self.dim = int(dim)

    def forward(self, x):
        return torch.softmax(x, dim=self.dim)


@register("elu")
class ELU(ActivationFunction):
    """Exponential linear unit: x for x > 0, alpha (e^x - 1) below, so negative outputs level off at -alpha."""

    init = "he"

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = _number("elu", "alpha", alpha)

    def forward(self, x):
        return F.elu(x, alpha=self.alpha)


@register("gelu")
class GELU(ActivationFunction):
    """Gaussian error linear unit, x Phi(x) with Phi the standard normal CDF (the exact, erf form)."""
    init, forward = "he", staticmethod(F.gelu)


@register("silu")
class SiLU(ActivationFunction):
    """Sigmoid linear unit (swish), x s(x); derivative s(x)(1 + x (1 - s(x)))."""
    init, forward = "he", staticmethod(F.silu)


def curves(names: list[str] | None = None, x=None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each activation and its derivative on a grid, the derivative by autograd: the one training uses.

    ``softmax`` maps vectors to vectors: its curve is the first output of softmax([x, 0]), the two-class
    softmax, which equals sigmoid(x), and its derivative with respect to x.

    Parameters
    ----------
    names : list of str, optional
        Registered kinds; default all of them.
    x : array-like, optional
        The points; default ``np.linspace(-4, 4, 801)``.

    Returns
    -------
    dict
        ``{name: (x, y, dy)}``, float64 NumPy arrays.

    Examples
    --------
    >>> x, y, dy = curves(["sigmoid"], x=[0.0])["sigmoid"]
    >>> float(y[0]), float(dy[0])
    (0.5, 0.25)
    """
    grid = np.linspace(-4, 4, 801) if x is None else np.asarray(x, dtype=np.float64)
    result = {}
    for name in ACTIVATIONS if names is None else names:
        f = get(name)
        t = torch.tensor(grid, dtype=torch.float64, requires_grad=True)
        y = f(t) if f.elementwise else f(torch.stack([t, torch.zeros_like(t)], dim=-1))[..., 0]
        # Each y_i depends on x_i alone, so the gradient of the sum is the derivative at every point.
        (dy,) = torch.autograd.grad(y.sum(), t)
        result[name] = (grid.copy(), y.detach().numpy(), dy.numpy())
    return result
