"""Parameter initialisation, in place on a tensor's array, with PyTorch's names and formulas.

Every function fills `tensor.array` without recording a graph, returns the tensor, and draws from
the library's default generator (seed it with cr.manual_seed) unless `generator=` is given.
Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.random import generator_of
from chainrule.tensor import Tensor

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")
_GAINS = ("linear", "conv*", "conv_transpose*", "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2)
    for relu, sqrt(2 / (1 + a^2)) for leaky_relu with slope a (default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; "
                     f"known: {', '.join(_GAINS)}")


def _fans(tensor: Tensor, who: str) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ShapeError(
            f"{who}: fan in and fan out cannot be computed for a tensor of shape {tensor.shape}; "
            "it needs at least 2 dimensions (out_features, in_features, ...)"
        )
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write values into tensor.array in place (keeping its dtype and array module)."""
    with no_grad():
        a = tensor.array
        a[...] = xp_of(a).asarray(values, dtype=a.dtype) if xp_of(a) is not np else values
    tensor._bump()  # an in-place change, as PyTorch's init functions make: seen by autograd
    return tensor


def _rng(generator: Any) -> np.random.Generator:
    return generator_of(generator)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with val."""
    return _fill(tensor, val)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:
    """Samples from U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: the lower bound a={a} is greater than the upper bound b={b}")
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Samples from N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return _fill(tensor, _rng(generator).uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return _fill(tensor, _rng(generator).normal(0.0, std, tensor.shape))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, who: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, who)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(max(fan, 1))  # fan 0: an empty tensor


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(
    nonlinearity, a) and fan the fan_in or fan_out (mode)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(tensor, _rng(generator).uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(tensor, _rng(generator).normal(0.0, std, tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: np.random.Generator | None = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times gain, for the tensor viewed as
    (shape[0], prod(shape[1:])); rows or columns, whichever are fewer, are orthonormal."""
    if tensor.ndim < 2:
        raise ShapeError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique, so q is uniformly distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: np.random.Generator | None = None) -> Tensor:
    """Samples from N(mean, std^2) truncated to [a, b] (a and b are values, not numbers of
    std), drawn as PyTorch draws them: uniform in the CDF's range, mapped back through erfinv."""
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    from chainrule.ops.special import _erfinv

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    u = _rng(generator).uniform(2 * lo - 1, 2 * hi - 1, tensor.shape)
    values = _erfinv(u) * (std * math.sqrt(2.0)) + mean
    return _fill(tensor, np.clip(values, a, b))


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix, for a 2-D tensor (ones on the diagonal of a non-square one)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """A convolution weight (out, in, *kernel), 3-5 dims, that passes its input through: in each
    of `groups` groups, output channel d takes input channel d at the kernel's centre."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got "
                         f"shape {tuple(tensor.shape)}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 must be divisible by groups, got {tensor.shape[0]} "
                         f"and groups={groups}")
    per_group = tensor.shape[0] // groups
    values = np.zeros(tuple(tensor.shape))
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + centre] = 1.0
    return _fill(tensor, values)
