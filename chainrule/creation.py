"""Making tensors: tensor(), from_numpy(), zeros/ones/full/arange/randn/rand/eye and *_like."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import DEFAULT_FLOAT, as_dtype, default_generator
from chainrule.tensor import Tensor, _shape_arg


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data. Python floats give float32; a NumPy array keeps its
    dtype; ints give int64 and bools bool (those cannot require grad)."""
    if isinstance(data, Tensor):
        data = data.data
    arr = np.array(data, copy=True) if isinstance(data, np.ndarray) else data
    return Tensor(arr, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor sharing memory with a NumPy array (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array, requires_grad=requires_grad)


def _float(dtype: Any) -> np.dtype:
    return DEFAULT_FLOAT if dtype is None else as_dtype(dtype)


def _filled(shape: tuple, value: Any, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(np.full(_shape_arg(shape), value, dtype=_float(dtype)),
                  requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(shape, 0, dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(shape, 1, dtype, requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _filled(shape, fill_value, dtype, requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.zeros_like(a, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.ones_like(a, dtype=dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop): int64 for whole-number arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    return Tensor(np.arange(start, stop, step, dtype=as_dtype(dtype)),
                  requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=_float(dtype)), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples (seed with cr.manual_seed or pass a numpy Generator)."""
    g = generator or default_generator()
    return Tensor(g.standard_normal(_shape_arg(shape)).astype(_float(dtype)),
                  requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1)."""
    g = generator or default_generator()
    return Tensor(g.random(_shape_arg(shape)).astype(_float(dtype)), requires_grad=requires_grad)
