"""Tensor's in-place methods (add_, mul_, copy_, fill_, masked_fill_, clamp_, relu_, the random
fills normal_ / uniform_ / bernoulli_ ..., and the augmented operators += -= *= /=), each one
op's out-of-place form handed to chainrule.inplace.apply, with a direct NumPy path (ufunc out=)
where nothing is recorded."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule import ops
from chainrule.backend import xp_of
from chainrule.dtypes import can_cast, from_numpy_dtype, result_type
from chainrule.inplace import _kind, _operand, apply, setitem, write
from chainrule.tensor import Tensor


def _ufunc_fast(t: Tensor, ufunc: str, other: Any, name: str) -> Callable[[], None]:
    def fast() -> None:
        r = result_type(t, other)
        if not can_cast(r, t.array.dtype):
            raise RuntimeError(f"{name}: result type {_kind(r)} can't be cast to the desired "
                               f"output type {_kind(t.array.dtype)}")
        o = _operand(other)
        shape = np.broadcast_shapes(t.array.shape, o.shape if hasattr(o, "shape") else np.shape(o))
        if shape != t.array.shape:
            raise RuntimeError(f"{name}: output with shape {list(t.array.shape)} doesn't match "
                               f"the broadcast shape {list(shape)}")
        if not getattr(t.array.flags, "writeable", True):
            write(t, t.array)  # raises PyTorch's error for expanded views
        if isinstance(o, type(t.array)) and o is not t.array and _overlaps(t.array, o):
            raise RuntimeError(
                f"{name}: unsupported operation: some elements of the input tensor and the "
                "written-to tensor refer to a single memory location. Please clone() the "
                "tensor before performing the operation.")
        getattr(xp_of(t.array), ufunc)(t.array, o, out=t.array, casting="unsafe")
    return fast


def _overlaps(a: Any, b: Any) -> bool:
    """b shares memory with a in another layout (the same array is fine: x += x)."""
    if not xp_of(a).may_share_memory(a, b):
        return False
    same = (b.shape == a.shape and b.strides == a.strides
            and b.__array_interface__["data"][0] == a.__array_interface__["data"][0]) \
        if hasattr(b, "__array_interface__") else False
    return not same


def _scaled(other: Any, alpha: Any) -> Any:
    if alpha == 1:
        return other
    return other * alpha if isinstance(other, Tensor) else np.multiply(other, alpha)


def _old_alpha(name: str, other: Any, args: tuple) -> tuple[Any, Any]:
    """PyTorch's deprecated overload `p.add_(-lr, g)` (alpha first), still accepted with its
    warning: older tutorials update weights with `p.data.add_(-learning_rate, p.grad.data)`."""
    if len(args) != 1 or not isinstance(args[0], Tensor) or isinstance(other, Tensor):
        raise TypeError(f"{name}() takes 1 positional argument but {1 + len(args)} were given")
    import warnings

    warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor other)"
                  f"\nConsider using one of the following signatures instead:\n\t{name}(Tensor "
                  "other, *, Number alpha = 1)", UserWarning, stacklevel=3)
    return args[0], other


def add_(self: Tensor, other: Any, *args: Any, alpha: Any = 1) -> Tensor:
    if args:
        other, alpha = _old_alpha("add_", other, args)
    o = _scaled(other, alpha)
    return apply(self, "add_", lambda: ops.add(self, o), (other,),
                 _ufunc_fast(self, "add", o, "add_"))


def sub_(self: Tensor, other: Any, *args: Any, alpha: Any = 1) -> Tensor:
    if args:
        other, alpha = _old_alpha("sub_", other, args)
    o = _scaled(other, alpha)
    return apply(self, "sub_", lambda: ops.sub(self, o), (other,),
                 _ufunc_fast(self, "subtract", o, "sub_"))


def mul_(self: Tensor, other: Any) -> Tensor:
    return apply(self, "mul_", lambda: ops.mul(self, other), (other,),
                 _ufunc_fast(self, "multiply", other, "mul_"))


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    fast = _ufunc_fast(self, "true_divide", other, "div_") if rounding_mode is None and \
        self.array.dtype.kind in "fc" else None
    return apply(self, "div_", lambda: ops.div(self, other, rounding_mode=rounding_mode),
                 (other,), fast)


def _unary_inplace(name: str) -> Callable[..., Tensor]:
    fn = getattr(ops, name)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        others = tuple(a for a in args + tuple(kwargs.values()) if isinstance(a, Tensor))
        return apply(self, name + "_", lambda: fn(self, *args, **kwargs), others)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}: self <- {name}(self, ...); returns self."
    return method


def _everywhere(t: Tensor) -> Any:
    return xp_of(t.array).ones(t.array.shape, dtype=bool)


def fill_(self: Tensor, value: Any) -> Tensor:
    """Every element set to value (a number or a one-element tensor)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")

    def fast() -> None:
        write(self, _operand(value))

    return apply(self, "fill_", lambda: ops.where(_everywhere(self), _value_like(self, value),
                                                  self), (value,), fast)


def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """The elements of src (broadcast to this shape, converted to this dtype and device)."""
    s = src if isinstance(src, Tensor) else Tensor._make(np.asarray(src), None)

    def fast() -> None:
        shape = np.broadcast_shapes(self.array.shape, s.array.shape)
        if shape != self.array.shape:
            raise RuntimeError(f"copy_: the size of src {list(s.array.shape)} must broadcast "
                               f"to the size of self {list(self.array.shape)}")
        write(self, s.to(self.device).array)

    def compute() -> Tensor:
        v = ops.astype(s.to(self.device), self.array.dtype)
        return ops.where(_everywhere(self), v, self)

    return apply(self, "copy_", compute, (s,), fast)


def _bool_mask(op: str, mask: Any) -> Any:
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{from_numpy_dtype(m.dtype)}")
    return m


def _value_like(self: Tensor, value: Any) -> Tensor:
    """A number or tensor as a tensor of self's dtype (a recorded cast for a tensor)."""
    if isinstance(value, Tensor):
        return ops.astype(value, self.array.dtype)
    return Tensor._make(xp_of(self.array).asarray(value, dtype=self.array.dtype), None)


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    """Elements where mask is True set to value."""
    m = _bool_mask("masked_fill_", mask)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")

    def fast() -> None:
        shape = np.broadcast_shapes(self.array.shape, m.shape)
        if shape != self.array.shape:
            raise RuntimeError(f"masked_fill_: mask of shape {list(m.shape)} does not broadcast "
                               f"to self's shape {list(self.array.shape)}")
        xp_of(self.array).copyto(self.array, _operand(value), where=m, casting="unsafe")

    return apply(self, "masked_fill_", lambda: ops.where(m, _value_like(self, value), self),
                 (value,), fast)


masked_fill = ops.masked_fill  # the out-of-place form is an op (cr.masked_fill too)


def _random_fill(name: str, draw: Callable[..., Any]) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
        from chainrule.random import generator_of

        g = generator_of(generator)
        values = draw(g, self.array.shape, *args, **kwargs)
        if self.array.dtype.kind in "fc":
            values = values.astype(self.array.dtype, copy=False)
        v = Tensor._make(xp_of(self.array).asarray(values), None)

        def fast() -> None:
            write(self, v.array)

        return apply(self, name, lambda: ops.where(_everywhere(self), ops.astype(
            v, self.array.dtype), self), (), fast)

    method.__name__ = name
    return method


def _normal(g: Any, shape: tuple, mean: float = 0.0, std: float = 1.0) -> Any:
    return g.normal(mean, std, shape)


def _uniform(g: Any, shape: tuple, a: float = 0.0, b: float = 1.0, **kw: Any) -> Any:
    lo, hi = kw.get("from", a), kw.get("to", b)
    return g.uniform(lo, hi, shape)


def _bernoulli(g: Any, shape: tuple, p: Any = 0.5) -> Any:
    p = p.numpy() if isinstance(p, Tensor) else p
    return (g.random(shape) < p).astype(np.float64)


def _exponential(g: Any, shape: tuple, lambd: float = 1.0) -> Any:
    return g.exponential(1.0 / lambd, shape)


def _log_normal(g: Any, shape: tuple, mean: float = 1.0, std: float = 2.0) -> Any:
    return g.lognormal(mean, std, shape)


def _random_ints(g: Any, shape: tuple, a: int | None = None, b: int | None = None) -> Any:
    lo, hi = (0, a) if b is None else (a, b)
    return g.integers(lo or 0, hi if hi is not None else 2 ** 24, shape)


def _composite_inplace(name: str) -> Callable[..., Tensor]:
    """The in-place form of a composite op whose inner ops save their input for backward: it
    computes from a copy of self, so the change of self does not invalidate what they saved
    (inplace.apply rebases only the last op of the composite onto self's old value)."""
    fn = getattr(ops, name)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        others = tuple(a for a in args + tuple(kwargs.values()) if isinstance(a, Tensor))
        return apply(self, name + "_", lambda: fn(ops.clone(self), *args, **kwargs), others)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}: self <- {name}(self, ...); returns self."
    return method


def _polygamma_(self: Tensor, n: int) -> Tensor:
    """In-place polygamma: self <- polygamma(n, self); returns self."""
    return apply(self, "polygamma_", lambda: ops.polygamma(n, self))


def _bind() -> None:
    for fn in (add_, sub_, mul_, div_, fill_, zero_, copy_, masked_fill_, masked_fill):
        setattr(Tensor, fn.__name__, fn)
    Tensor.__setitem__ = setitem
    for name in ("pow", "clamp", "clip", "clamp_min", "clamp_max", "exp", "log", "log1p",
                 "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "neg", "abs", "floor",
                 "ceil", "round", "trunc", "sign", "reciprocal", "square", "rsqrt", "expm1",
                 "addcmul", "addcdiv", "lerp", "fmod", "remainder", "floor_divide", "leaky_relu",
                 "elu", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
                 "logical_and", "logical_or", "logical_not", "exp2", "log2", "log10",
                 "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin",
                 "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "atan2", "arctan2",
                 "hypot", "erf", "erfc", "erfinv", "nan_to_num", "sgn", "tril", "triu",
                 "scatter", "scatter_add", "scatter_reduce", "index_add", "index_fill",
                 "index_copy", "masked_scatter", "addmm", "addmv", "addr", "addbmm",
                 "baddbmm", "copysign", "deg2rad", "digamma", "frac", "gcd", "heaviside",
                 "lcm", "lgamma", "rad2deg", "xlogy"):
        setattr(Tensor, name + "_", _unary_inplace(name))
    for name, draw in (("normal_", _normal), ("uniform_", _uniform),
                       ("bernoulli_", _bernoulli), ("exponential_", _exponential),
                       ("log_normal_", _log_normal), ("random_", _random_ints)):
        setattr(Tensor, name, _random_fill(name, draw))
    Tensor.multiply_, Tensor.subtract_, Tensor.divide_, Tensor.true_divide_ = (
        mul_, sub_, div_, div_)
    Tensor.negative_, Tensor.absolute_, Tensor.clip_ = (
        Tensor.neg_, Tensor.abs_, Tensor.clamp_)
    Tensor.polygamma_ = _polygamma_
    for name in ("logit", "renorm", "ldexp", "sinc"):
        setattr(Tensor, name + "_", _composite_inplace(name))
    Tensor.__iadd__ = add_
    Tensor.__isub__ = sub_
    Tensor.__imul__ = mul_
    Tensor.__itruediv__ = div_
    Tensor.__ifloordiv__ = Tensor.floor_divide_
    Tensor.__imod__ = Tensor.remainder_
    Tensor.__ipow__ = Tensor.pow_
    Tensor.__iand__ = Tensor.bitwise_and_
    Tensor.__ior__ = Tensor.bitwise_or_
    Tensor.__ixor__ = Tensor.bitwise_xor_

_bind()
