"""PyTorch's `out=` argument on the top-level functions that take it in PyTorch's own tutorials
(`torch.matmul(a, b, out=c)`, `torch.mul(a, b, out=c)`): the result is written into `out`, which
is returned.

As in PyTorch, `out=` is outside autograd (it refuses an argument that requires grad while grad
mode is on), an `out` of another shape is resized (with PyTorch's warning unless it was empty),
and the result's dtype must be one `out` can hold: exactly `out`'s dtype for the matrix
products, a dtype of no higher kind (bool < integer < float < complex) for elementwise ops.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from chainrule.autograd import is_grad_enabled, no_grad
from chainrule.backend import xp_of
from chainrule.tensor import Tensor

_STRICT = {"matmul", "mm", "bmm", "addmm"}  # ATen's matmul family checks out's dtype exactly
_KIND = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_TORCH_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half",
               "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
               "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
               "complex128": "c10::complex<double>"}
_CAP_NAME = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
             "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _tensors(args: Any) -> list[Tensor]:
    found: list[Tensor] = []
    for a in args:
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(_tensors(a))
    return found


def _write(name: str, fn: Callable[..., Any], args: tuple, kwargs: dict, out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and any(t.requires_grad
                                 for t in _tensors((*args, *kwargs.values(), out))):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad.")
    with no_grad():
        r = fn(*args, **kwargs)
    rd, od = np.dtype(r.array.dtype), np.dtype(out.array.dtype)
    if name in _STRICT and rd != od:
        raise RuntimeError(f"Expected out tensor to have dtype {_TORCH_NAME.get(rd.name, rd)}, "
                           f"but got {_TORCH_NAME.get(od.name, od)} instead")
    if _KIND[rd.kind] > _KIND[od.kind]:
        raise RuntimeError(f"result type {_CAP_NAME.get(rd.name, rd)} can't be cast to the "
                           f"desired output type {_CAP_NAME.get(od.name, od)}")
    if out.array.shape != r.array.shape:
        if out.array.size:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.array.shape)}, which does not match the required output shape "
                f"{list(r.array.shape)}. This behavior is deprecated, and in a future PyTorch "
                "release outputs will not be resized unless they have zero elements. You can "
                "explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                "with t.resize_(0).", UserWarning, stacklevel=3)
        out.array = xp_of(out.array).empty(r.array.shape, od)  # resized: a new storage
    with no_grad():
        out.copy_(r)  # in place: bumps out's version as PyTorch's out= does
    return out


def with_out(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn with PyTorch's keyword `out=` (see the module docstring); without it, fn itself."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        return _write(name, fn, args, kwargs, out)

    return wrapper
