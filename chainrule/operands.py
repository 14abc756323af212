"""Op inputs as Tensors: constants wrapped in the dtype of the tensor they meet, operands
promoted by PyTorch's rules, and views marked as views of their base."""

from __future__ import annotations

from typing import Any, Callable

from chainrule.backend import on_device_of, to_array, xp_of
from chainrule.dtypes import is_floating, result_type, scalar_dtype
from chainrule.tensor import _PY_SCALARS, Tensor
from chainrule.versions import _Version


def _shape_arg(args: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3)) (and a Size, or a 0-d int tensor per size)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _constant(value: Any, dtype: Any, like: Any) -> Any:
    """A non-Tensor operand as an array of `dtype`, in the array module of `like`."""
    if isinstance(value, _PY_SCALARS):
        return xp_of(like).asarray(value, dtype=dtype)
    return on_device_of(to_array(value, dtype), like)  # a NumPy scalar or array: like's device


def as_operands(inputs: tuple) -> tuple[Tensor, ...]:
    """Inputs of an op as Tensors; constants (scalars, lists, arrays) become non-grad tensors of
    the dtype of the tensor they meet (floats keep a float tensor's dtype)."""
    for v in inputs:
        if not isinstance(v, Tensor):
            break
    else:
        return inputs
    like = None
    for v in inputs:
        if isinstance(v, Tensor):
            if like is None or (not is_floating(like.array.dtype) and is_floating(v.array.dtype)):
                like = v
    out = []
    for v in inputs:
        if isinstance(v, Tensor):
            out.append(v)
            continue
        if like is None:
            arr = to_array(v)
        elif isinstance(v, _PY_SCALARS):
            ld = like.array.dtype
            dt = ld if result_type(like, v) == ld else scalar_dtype(v)
            arr = _constant(v, dt, like.array)
        else:
            arr = on_device_of(to_array(v), like.array)
        out.append(Tensor._make(arr, None))
    return tuple(out)


def as_operand(value: Any) -> Tensor:
    """One op input as a Tensor (the common case, a Tensor already, costs one isinstance)."""
    return value if isinstance(value, Tensor) else Tensor._make(to_array(value), None)


def promoted(*inputs: Any) -> tuple[Tensor, ...]:
    """Operands of an elementwise op as Tensors of one dtype, chosen by PyTorch's promotion
    rules (a float tensor with an int tensor or a Python number keeps its dtype; 0-d tensors
    promote like numbers). A cast of a tensor that requires grad is recorded."""
    if len(inputs) == 2:
        a, b = inputs
        if type(a) is Tensor:
            if type(b) is Tensor:
                if a.array.dtype is b.array.dtype:
                    return inputs
            elif type(b) is float or type(b) is int:  # the common x * 2.0, x + 1
                d = a.array.dtype
                if d.kind in "fc":
                    return a, Tensor._make(xp_of(a.array).asarray(b, dtype=d), None)
        elif type(b) is Tensor and (type(a) is float or type(a) is int):
            d = b.array.dtype
            if d.kind in "fc":
                return Tensor._make(xp_of(b.array).asarray(a, dtype=d), None), b
    r = result_type(*inputs)
    like = next((v.array for v in inputs if isinstance(v, Tensor)), None)
    out = []
    for v in inputs:
        if isinstance(v, Tensor):
            out.append(v if v.array.dtype == r else _astype(v, r))
        else:
            out.append(Tensor._make(_constant(v, r, like) if like is not None
                                    else to_array(v, r), None))
    return tuple(out)


def as_view(out: Tensor, base: Tensor, replay: Callable[[Tensor], Tensor]) -> Tensor:
    """Mark `out` as a view of `base`: it shares base's version counter (an in-place change
    through either is seen by both) and remembers how to remake itself from base, so an
    in-place change of the view can be recorded as a change of base (PyTorch's CopySlices)."""
    if out is base:
        return out
    vc = base._vc
    if vc is None:
        vc = base._vc = _Version()
    out._vc = vc
    out._view = (base, replay)
    return out


def as_tensor(value: Any, dtype: Any = None) -> Tensor:
    if isinstance(value, Tensor):
        return value if dtype is None or value.dtype == dtype else value.to(dtype)
    return Tensor._make(to_array(value, dtype), None)


def _astype(x: Tensor, dtype: Any) -> Tensor:
    from chainrule.ops.elementwise import astype

    return astype(x, dtype)
