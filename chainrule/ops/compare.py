"""Comparisons, logical and bitwise ops, and the tests of values (isnan, allclose, equal).
None of them is differentiable: they give bool (or integer) tensors.

Operands are promoted as in PyTorch before comparing (an int tensor compared with 0.5
compares as floats).
"""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.operands import as_operand, promoted
from chainrule.ops.elementwise import _bcast
from chainrule.tensor import Tensor


def _binary(ufunc_name: str, doc: str, needs_int: bool = False) -> Any:
    def op(input: Any, other: Any) -> Tensor:
        a, b = promoted(input, other)
        if needs_int and a.array.dtype.kind not in "iub":
            raise RuntimeError(f"{ufunc_name}: bitwise ops need integer or bool tensors, got "
                               f"{a.dtype}; for conditions use logical_and / logical_or")
        try:
            out = getattr(xp_of(a.array, b.array), ufunc_name)(a.array, b.array)
        except ValueError:
            raise _bcast(ufunc_name, a, b) from None
        return Tensor._make(out, None)

    op.__name__ = ufunc_name
    op.__doc__ = doc
    return op


eq = _binary("equal", "input == other elementwise, as a bool tensor.")
ne = _binary("not_equal", "input != other elementwise, as a bool tensor.")
lt = _binary("less", "input < other elementwise, as a bool tensor.")
le = _binary("less_equal", "input <= other elementwise, as a bool tensor.")
gt = _binary("greater", "input > other elementwise, as a bool tensor.")
ge = _binary("greater_equal", "input >= other elementwise, as a bool tensor.")
eq.__name__, ne.__name__, lt.__name__, le.__name__, gt.__name__, ge.__name__ = (
    "eq", "ne", "lt", "le", "gt", "ge")
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

bitwise_and = _binary("bitwise_and", "input & other (bool or integer tensors).", True)
bitwise_or = _binary("bitwise_or", "input | other (bool or integer tensors).", True)
bitwise_xor = _binary("bitwise_xor", "input ^ other (bool or integer tensors).", True)


def _logical(ufunc_name: str) -> Any:
    def op(input: Any, other: Any) -> Tensor:
        a, b = (as_operand(v) for v in (input, other))
        try:
            return Tensor._make(getattr(xp_of(a.array), ufunc_name)(a.array, b.array), None)
        except ValueError:
            raise _bcast(ufunc_name, a, b) from None

    op.__name__ = ufunc_name
    op.__doc__ = f"{ufunc_name.split('_')[1]} of the truth values (nonzero is True), as bool."
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def logical_not(input: Any) -> Tensor:
    x = as_operand(input)
    return Tensor._make(xp_of(x.array).logical_not(x.array), None)


def bitwise_not(input: Any) -> Tensor:
    """~input: logical not for bool tensors, bitwise not for integers."""
    x = as_operand(input)
    if x.array.dtype.kind not in "iub":
        raise TypeError(f"bitwise_not (~) is only defined for integer and bool tensors, got "
                        f"{x.dtype}; for a float mask use x == 0 or logical_not(x)")
    return Tensor._make(xp_of(x.array).invert(x.array), None)


def _test(fn_name: str, doc: str) -> Any:
    def op(input: Any) -> Tensor:
        x = as_operand(input)
        return Tensor._make(getattr(xp_of(x.array), fn_name)(x.array), None)

    op.__name__ = fn_name
    op.__doc__ = doc
    return op


isnan = _test("isnan", "Where the elements are NaN, as a bool tensor.")
isinf = _test("isinf", "Where the elements are +-inf, as a bool tensor.")
isfinite = _test("isfinite", "Where the elements are neither NaN nor infinite.")
isposinf = _test("isposinf", "Where the elements are +inf.")
isneginf = _test("isneginf", "Where the elements are -inf.")


def signbit(input: Any) -> Tensor:
    x = as_operand(input)
    return Tensor._make(xp_of(x.array).signbit(x.array), None)


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (PyTorch's defaults)."""
    a, b = promoted(input, other)
    return Tensor._make(xp_of(a.array).isclose(a.array, b.array, rtol=rtol, atol=atol,
                                               equal_nan=equal_nan), None)


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether isclose holds everywhere (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all().item())  # to host


def equal(input: Any, other: Any) -> bool:
    """True when both have the same shape and the same elements (a Python bool, as
    torch.equal; use eq for the elementwise comparison)."""
    a, b = as_operand(input), as_operand(other)
    return a.array.shape == b.array.shape and bool((a.array == b.array).all().item())


def is_nonzero(input: Any) -> bool:
    x = as_operand(input)
    if x.array.size != 1:
        raise RuntimeError(f"Boolean value of Tensor with {x.array.size} values is ambiguous")
    return bool(x.array.reshape(()) != 0)
