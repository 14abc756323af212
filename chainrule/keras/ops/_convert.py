"""Keras' view of tensors: conversion, dtype names and axis arguments, shared by the ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import as_dtype
from chainrule.tensor import Tensor


def contiguous(a: np.ndarray) -> np.ndarray:
    """a in C order, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.require(a, requirements="C")


def dtype_name(dtype: Any) -> str:
    """Keras' dtype string ('float32', 'int64', 'bool') for a dtype object or name."""
    name = np.dtype(as_dtype(dtype)).name
    return "bool" if name == "bool_" else name


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None,
                      ragged: Any = None) -> Tensor:
    """x as a chainrule Tensor, as Keras converts: a Tensor stays itself (cast when `dtype`
    differs), a NumPy array keeps its dtype, and Python floats / ints / bools (and lists of
    them) become float32 / int32 / bool tensors."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: sparse and ragged tensors are not supported")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):
        from chainrule.keras.ops.numpy import stack  # a list of tensors: stack them

        return convert_to_tensor(stack(x), dtype)
    native = not isinstance(x, (np.ndarray, np.generic))
    a = np.asarray(x)
    if dtype is not None:
        a = a.astype(as_dtype(dtype), copy=False)
    elif native and a.dtype == np.float64:
        a = a.astype(np.float32)
    elif native and a.dtype == np.int64:
        a = a.astype(np.int32)
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"convert_to_tensor: cannot make a tensor of {type(x).__name__} "
                        f"(dtype {a.dtype})")
    return Tensor._make(contiguous(a), None)


def cast(x: Any, dtype: Any) -> Tensor:
    """x as a tensor of `dtype` (floats to ints truncate toward zero, as Keras does);
    differentiable between float dtypes."""
    t = x if isinstance(x, Tensor) else convert_to_tensor(x)
    dt = as_dtype(dtype)
    return t if t.array.dtype == dt else t.to(dt)


def is_float(t: Tensor) -> bool:
    return t.array.dtype.kind == "f"


def to_float(t: Tensor) -> Tensor:
    """Keras computes ints and bools in float32 where the result is a real number."""
    return t if is_float(t) else t.to(np.float32)


def axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Keras' axis argument (None, an int or a sequence) as a tuple of dims; None = all."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    return (int(axis),)


def convert_to_numpy(x: Any) -> np.ndarray:
    """The values of x as a NumPy array (cut from any graph)."""
    if isinstance(x, Tensor):
        return np.asarray(x.detach().numpy(force=True))
    return np.asarray(x)


_NARROW = {np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32,
           np.dtype(np.uint64): np.uint32}


def narrow(t: Tensor) -> Tensor:
    """Keras' dtype lattice on the torch backend turns 64-bit dtypes into 32-bit ones (JAX's
    default) in the ops that compute their result dtype with it (matmul, var, maximum, ...):
    those ops compute float64 inputs in float32, and so do these."""
    dt = _NARROW.get(t.array.dtype)
    return t if dt is None else t.to(dt)
