"""More of PyTorch's activations: hardtanh, relu6, threshold, hardshrink, softshrink, hardsigmoid,
hardswish, silu, mish, selu, celu, softsign, tanhshrink, glu, prelu and softmin.

The piecewise ones are fused (one pass forward, a constant mask in backward) and put a zero
gradient at each kink exactly where PyTorch does (hardtanh and relu6 at both bounds, threshold at
the threshold, the shrinks on the closed interval [-lambd, lambd], hardsigmoid and hardswish at
-3). silu, mish, selu, celu and prelu are fused as PyTorch's kernels are and save what those
save; softsign, tanhshrink, glu and softmin are composites of existing ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.dtypes import type_name
from chainrule.operands import as_operand
from chainrule.ops.activation import Sigmoid, sigmoid, softplus, tanh
from chainrule.ops.elementwise import Scale, abs, clamp_max, exp, where
from chainrule.ops.shape import narrow
from chainrule.ops.softmax import implicit_softmax_dim
from chainrule.ops.softmax import softmax as _softmax
from chainrule.tensor import Tensor, _dim

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _float_only(input: Any, kernel: str) -> Tensor:
    """The input as a Tensor; integer and bool ones raise PyTorch's error for a float kernel."""
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{type_name(x.array.dtype).removesuffix('Tensor')}'; "
                                  "convert first: x.float()")
    return x


def _mask(m: Any, x: Any) -> Any:
    return m.astype(x.dtype, copy=False)


# -- piecewise-linear functions ------------------------------------------------------------------
class Hardtanh(Function):
    """clamp(x, min_val, max_val); gradient 1 strictly inside, 0 at and beyond the bounds."""

    saves = "0"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        t = x.dtype.type  # bounds in the input's dtype, as PyTorch converts its scalars
        return xp_of(x).minimum(xp_of(x).maximum(x, t(self.lo)), t(self.hi))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        t = x.dtype.type
        return Scale(_mask((x > t(self.lo)) & (x < t(self.hi)), x))(gy)


class Threshold(Function):
    """x where x > threshold, else value; gradient 0 where x <= threshold."""

    saves = "0"

    def __init__(self, threshold: float, value: float) -> None:
        self.threshold, self.value = threshold, value

    def forward(self, x: Any) -> Any:
        t = x.dtype.type
        return xp_of(x).where(x <= t(self.threshold), t(self.value), x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(_mask(x > x.dtype.type(self.threshold), x))(gy)


class Hardshrink(Function):
    """x where |x| > lambd, else 0 (the closed interval [-lambd, lambd] is zeroed)."""

    saves = "0"

    def __init__(self, lambd: float) -> None:
        self.lambd = lambd

    def _inside(self, x: Any) -> Any:
        lam = x.dtype.type(self.lambd)
        return (x >= -lam) & (x <= lam)

    def forward(self, x: Any) -> Any:
        return xp_of(x).where(self._inside(x), x.dtype.type(0), x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(_mask(~self._inside(x), x))(gy)


class Softshrink(Hardshrink):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (inclusive)."""

    def forward(self, x: Any) -> Any:
        xp, lam = xp_of(x), x.dtype.type(self.lambd)
        return xp.where(x > lam, x - lam, xp.where(x < -lam, x + lam, x * 0))  # x * 0: NaN stays


class Hardsigmoid(Function):
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3)."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        xp, t = xp_of(x), x.dtype.type
        return xp.minimum(xp.maximum(x + t(3), t(0)), t(6)) / t(6)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(_mask((x > -3) & (x < 3), x) / x.dtype.type(6))(gy)


class Hardswish(Function):
    """x * relu6(x + 3) / 6; gradient 0 up to -3 (inclusive), x / 3 + 1/2 below 3, 1 from 3."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        xp, t = xp_of(x), x.dtype.type
        return x * xp.minimum(xp.maximum(x + t(3), t(0)), t(6)) / t(6)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        a = x.array
        middle = (a > -3) & (a < 3)
        return where(middle, gy * (x / 3.0 + 0.5), Scale(_mask(a >= 3, a))(gy))


# -- smooth functions (fused as PyTorch's kernels: one node, the input saved) -------------------
class Silu(Function):
    """x * sigmoid(x); backward: s * (1 + x * (1 - s)) with s = sigmoid(x)."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        return x * Sigmoid().forward(x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        s = sigmoid(x)
        return gy * (s * (x * (1.0 - s) + 1.0))


class Mish(Function):
    """x * tanh(softplus(x)); backward: t + x * sigmoid(x) * (1 - t^2), t = tanh(softplus(x))."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        return (x * xp.tanh(xp.logaddexp(0, x))).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        t = tanh(softplus(x))
        return gy * (t + x * sigmoid(x) * (1.0 - t * t))


class ScaledElu(Function):
    """PyTorch's elu(x, alpha, scale, input_scale), the kernel under selu and celu:
    scale * x for x > 0, else alpha * scale * (exp(input_scale * x) - 1)."""

    saves = "0"

    def __init__(self, alpha: float, scale: float, input_scale: float) -> None:
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        neg = xp.expm1(xp.minimum(x, 0) * self.input_scale) * (self.alpha * self.scale)
        return xp.where(x > 0, x * self.scale, neg).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return EluGrad(self.alpha, self.scale, self.input_scale)(gy, self.inputs[0])


class EluGrad(Function):
    """gy * elu'(x) in one pass; its own x-derivative is taken only where x < 0, as PyTorch's
    elu double backward does (so the second derivative at the kink 0 is 0 there too)."""

    saves = "inputs"

    def __init__(self, alpha: float, scale: float, input_scale: float) -> None:
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, gy: Any, x: Any) -> Any:
        xp = xp_of(x)
        c = self.alpha * self.scale * self.input_scale
        d = xp.where(x > 0, self.scale, xp.exp(xp.minimum(x, 0) * self.input_scale) * c)
        return (gy * d).astype(x.dtype, copy=False)

    def backward(self, g: Tensor) -> tuple:
        gy, x = self.inputs
        n = self.needs_input_grad
        k = (self.alpha, self.scale, self.input_scale)
        ggy = EluGrad(*k)(g, x) if n[0] else None
        gx = None
        if n[1]:
            c = self.alpha * self.scale * self.input_scale * self.input_scale
            e = exp(clamp_max(x, 0.0) * self.input_scale) * c  # clamped: no overflow off-branch
            gx = Scale(_mask(x.array < 0, x.array))(g * gy * e)
        return ggy, gx


class Prelu(Function):
    """x where x > 0, else w * x (w broadcast to x). Fused: one node that keeps x and w, as
    PyTorch's; the gradient of w is summed over the broadcast dims by the walk."""

    saves = "inputs"

    def forward(self, x: Any, w: Any) -> Any:
        return xp_of(x).where(x > 0, x, w * x)

    def backward(self, gy: Tensor) -> tuple:
        x, w = self.inputs
        n = self.needs_input_grad
        pos = x.array > 0
        gx = where(pos, gy, gy * w) if n[0] else None
        gw = Scale(_mask(~pos, x.array))(gy * x) if n[1] else None
        return gx, gw


# -- the public functions ------------------------------------------------------------------------
def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clamp(x, min_val, max_val) (F.hardtanh); the gradient is 0 at the bounds, as PyTorch's."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = as_operand(input)
    if x.array.dtype.kind == "b":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    return Hardtanh(min_val, max_val)(x)


def relu6(input: Any) -> Tensor:
    """min(max(x, 0), 6) (F.relu6): hardtanh(x, 0, 6), gradient 0 at 0 and at 6."""
    return hardtanh(input, 0.0, 6.0)


def threshold(input: Any, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else value (torch.threshold, F.threshold)."""
    return Threshold(threshold, value)(as_operand(input))


def hardshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (torch.hardshrink, F.hardshrink)."""
    return Hardshrink(lambd)(_float_only(input, "hardshrink_cpu"))


def softshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0 (F.softshrink); lambd >= 0."""
    x = _float_only(input, "softshrink_check")
    if not lambd >= 0:
        dt = x.array.dtype
        raise RuntimeError(f"lambda must be in range [0, {float(np.finfo(dt).max):g}]"
                           f" for input dtype {type_name(dt).removesuffix('Tensor')}, but "
                           f"found {float(lambd):g}")
    return Softshrink(lambd)(x)


def hardsigmoid(input: Any) -> Tensor:
    """relu6(x + 3) / 6 (F.hardsigmoid)."""
    return Hardsigmoid()(_float_only(input, "hardsigmoid_cpu"))


def hardswish(input: Any) -> Tensor:
    """x * relu6(x + 3) / 6 (F.hardswish)."""
    return Hardswish()(_float_only(input, "hardswish_cpu"))


def silu(input: Any) -> Tensor:
    """x * sigmoid(x), the swish (F.silu)."""
    return Silu()(_float_only(input, "silu_cpu"))


def mish(input: Any) -> Tensor:
    """x * tanh(softplus(x)) (F.mish)."""
    return Mish()(_float_only(input, "mish_cpu"))


def selu(input: Any) -> Tensor:
    """scale * elu(x, alpha) with PyTorch's constants alpha = 1.6733, scale = 1.0507
    (torch.selu, F.selu)."""
    return ScaledElu(SELU_ALPHA, SELU_SCALE, 1.0)(_float_only(input, "elu_cpu"))


def celu(input: Any, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (torch.celu, F.celu); alpha != 0."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return ScaledElu(alpha, 1.0, 1.0 / alpha)(_float_only(input, "elu_cpu"))


def softsign(input: Any) -> Tensor:
    """x / (1 + |x|) (F.softsign; a composite, as in PyTorch)."""
    x = as_operand(input)
    return x / (abs(x) + 1)


def tanhshrink(input: Any) -> Tensor:
    """x - tanh(x) (F.tanhshrink; a composite, as in PyTorch)."""
    x = as_operand(input)
    return x - tanh(x)


def glu(input: Any, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the first and second halves of the input along dim
    (F.glu): (*, 2n, *) -> (*, n, *)."""
    x = as_operand(input)
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    x = _float_only(x, "glu_cpu")
    d = _dim(dim, x.ndim, "glu")
    n = x.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    return narrow(x, d, 0, n // 2) * sigmoid(narrow(x, d, n // 2, n // 2))


def prelu(input: Any, weight: Any) -> Tensor:
    """x where x > 0, else weight * x (torch.prelu, F.prelu): weight has one element, or one per
    channel, the input's dim 1 (its only dim counts as one channel for 1-D input)."""
    x, w = as_operand(input), as_operand(weight)
    if x.array.dtype != w.array.dtype:
        kinds = (type_name(t.array.dtype).removesuffix("Tensor") for t in (x, w))
        raise RuntimeError("prelu: Type promoting not supported. Got {} and {}".format(*kinds))
    if w.numel() != 1:
        if x.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = x.shape[1] if x.ndim > 1 else 1
        if channels != w.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {w.numel()} and channel size = {channels}.")
    if w.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {w.ndim}")
    if x.ndim >= 2:
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    elif w.ndim > x.ndim:
        w = w.reshape(())  # one weight against a 0-d input keeps the output 0-d
    return Prelu()(x, w)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """softmax(-x) along dim (F.softmin); without dim, PyTorch's deprecated implicit choice,
    with its warning."""
    x = as_operand(input)
    d = implicit_softmax_dim("softmin", x.ndim) if dim is None else dim
    return _softmax(-x, d, dtype)
