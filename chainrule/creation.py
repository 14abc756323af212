"""Making tensors, as PyTorch's factory functions do: tensor, as_tensor, from_numpy and
from_dlpack (re-exported from chainrule.conversion, which holds PyTorch's copy and share
rules), zeros / ones / empty / full (and the *_like forms), arange, linspace, logspace, eye,
meshgrid, and the random ones: rand, randn, randint, randperm, normal, bernoulli, multinomial.
Each takes dtype=, device= and requires_grad= where PyTorch's does, and generator= where PyTorch
draws random numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.conversion import _finish, tensor
from chainrule.conversion import as_tensor as as_tensor  # re-exported, as are the next two
from chainrule.conversion import from_dlpack as from_dlpack
from chainrule.conversion import from_numpy as from_numpy
from chainrule.dtypes import as_numpy_dtype, default_float, is_floating, scalar_dtype
from chainrule.operands import _shape_arg
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _dtype_or(dtype: Any, default: Any) -> np.dtype:
    return as_numpy_dtype(dtype) if dtype is not None else np.dtype(default)


def _filled(size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool,
            who: str) -> Tensor:
    shape = _shape_arg(size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{who}: Trying to create tensor with negative dimension "
                           f"{min(shape)}: {list(shape)}")
    arr = np.full(shape, value, dtype=_dtype_or(dtype, default_float()))
    return _finish(arr, device, requires_grad, who)


def zeros(*size: Any, out: Any = None, dtype: Any = None, layout: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size: Any, out: Any = None, dtype: Any = None, layout: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, device, requires_grad, "ones")


def empty(*size: Any, out: Any = None, dtype: Any = None, layout: Any = None,
          device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
          memory_format: Any = None) -> Tensor:
    """A new tensor (zero-filled: chainrule never hands out uninitialised memory)."""
    return _filled(size, 0, dtype, device, requires_grad, "empty")


def full(size: Any, fill_value: Any, *, out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape size filled with fill_value; its dtype follows the value (bool, int64
    or the default float) unless given."""
    if dtype is None:
        v = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
        dtype = scalar_dtype(v) if isinstance(v, (bool, int, float, complex)) else None
    return _filled((size,), fill_value, dtype, device, requires_grad, "full")


def _like(input: Any, dtype: Any, device: Any) -> tuple[tuple, np.dtype, Any]:
    t = input if isinstance(input, Tensor) else tensor(input)
    dt = t.array.dtype if dtype is None else as_numpy_dtype(dtype)
    return tuple(t.shape), dt, t.device if device is None else device


def zeros_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, **_: Any) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    return _finish(np.zeros(shape, dt), dev, requires_grad, "zeros_like")


def ones_like(input: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    return _finish(np.ones(shape, dt), dev, requires_grad, "ones_like")


def empty_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, **_: Any) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    return _finish(np.full(shape, fill_value, dt), dev, requires_grad, "full_like")


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, out: Any = None,
           dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from start up to (not including) end by step: int64 when all three are
    integers, else the default float dtype."""
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else default_float()
    n = max(math.ceil((end - start) / step), 0)
    arr = (np.arange(n, dtype=np.float64) * step + start) if n else np.zeros(0)
    return _finish(arr.astype(as_numpy_dtype(dtype)), device, requires_grad, "arange")


def linspace(start: Any, end: Any, steps: int, *, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """steps values evenly spaced from start to end (both included)."""
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    arr = np.linspace(float(start), float(end), int(steps))
    return _finish(arr.astype(_dtype_or(dtype, default_float())), device, requires_grad,
                   "linspace")


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, out: Any = None,
             dtype: Any = None, layout: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    arr = np.logspace(float(start), float(end), int(steps), base=base)
    return _finish(arr.astype(_dtype_or(dtype, default_float())), device, requires_grad,
                   "logspace")


def eye(n: int, m: int | None = None, *, out: Any = None, dtype: Any = None,
        layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    arr = np.eye(n, m, dtype=_dtype_or(dtype, default_float()))
    return _finish(arr, device, requires_grad, "eye")


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (views, differentiable); indexing 'ij' (matrix, the
    default) or 'xy' (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid: indexing must be one of 'xy' or 'ij', got {indexing}")
    ts = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{t.ndim}D")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = [t.reshape((1,) * i + (-1,) + (1,) * (len(ts) - i - 1)).expand(shape)
           for i, t in enumerate(ts)]
    if swap:  # as PyTorch: 'xy' is 'ij' of the first two inputs swapped, outputs swapped back
        out[0], out[1] = out[1], out[0]
    return tuple(out)


# -- random --------------------------------------------------------------------------------------
def _float_dtype(dtype: Any, who: str) -> np.dtype:
    dt = _dtype_or(dtype, default_float())
    if not is_floating(dt):
        raise RuntimeError(f"{who}: \"{who}\" not implemented for '{dt}'; pass a floating dtype")
    return dt


def _draw(dt: np.dtype, fn: Any, shape: tuple) -> np.ndarray:
    """Draw directly in float32 / float64 (no float64 temporary for a float32 tensor)."""
    if dt in (np.float32, np.float64):
        return fn(shape, dtype=dt)
    return fn(shape, dtype=np.float32).astype(dt)


def randn(*size: Any, generator: Any = None, out: Any = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples (seed with cr.manual_seed, or pass generator=)."""
    dt = _float_dtype(dtype, "randn")
    arr = _draw(dt, generator_of(generator).standard_normal, _shape_arg(size))
    return _finish(arr, device, requires_grad, "randn")


def rand(*size: Any, generator: Any = None, out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    arr = _draw(dt, generator_of(generator).random, _shape_arg(size))
    return _finish(arr, device, requires_grad, "rand")


def randint(*args: Any, generator: Any = None, out: Any = None, dtype: Any = None,
            layout: Any = None, device: Any = None, requires_grad: bool = False,
            **kw: Any) -> Tensor:
    """Integers uniform in [low, high): randint(high, size) or randint(low, high, size)."""
    low, high, size = kw.pop("low", None), kw.pop("high", None), kw.pop("size", None)
    if kw:
        raise TypeError(f"randint() got an unexpected keyword argument '{next(iter(kw))}'")
    pos = list(args)
    if size is None and pos and isinstance(pos[-1], (tuple, list)):
        size = pos.pop()
    if high is None and pos:
        high = pos.pop()
    if low is None:
        low = pos.pop() if pos else 0
    if size is None or high is None:
        raise TypeError("randint() needs high and size: randint(high, size) or "
                        "randint(low, high, size)")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    arr = generator_of(generator).integers(low, high, _shape_arg((size,)))
    return _finish(arr.astype(_dtype_or(dtype, np.int64)), device, requires_grad, "randint")


def randperm(n: int, *, generator: Any = None, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1."""
    arr = generator_of(generator).permutation(int(n))
    return _finish(arr.astype(_dtype_or(dtype, np.int64)), device, requires_grad, "randperm")


def rand_like(input: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    return rand(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randn_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, **_: Any) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    return randn(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randint_like(input: Any, low: int = 0, high: int | None = None, *,
                 dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(input, dtype, device)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dt, device=dev)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           out: Any = None, dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples: normal(mean, std, size) with numbers, or with tensors of means and
    standard deviations (the result has their broadcast shape)."""
    g = generator_of(generator)
    m = mean.numpy(force=True) if isinstance(mean, Tensor) else mean
    s = std.numpy(force=True) if isinstance(std, Tensor) else std
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if size is None and not tensors:
        raise TypeError("normal(): with number mean and std, give size=")
    shape = _shape_arg((size,)) if size is not None else np.broadcast_shapes(
        *(np.shape(v) for v in (m, s)))
    if np.any(np.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {np.min(s)}")
    dt = tensors[0].array.dtype if tensors and dtype is None else _float_dtype(dtype, "normal")
    arr = (g.standard_normal(shape) * s + m).astype(dt)
    return _finish(arr, device, requires_grad, "normal")


def bernoulli(input: Any, p: Any = None, *, generator: Any = None, out: Any = None) -> Tensor:
    """1 with probability input (elementwise; or p when given), else 0, in input's dtype."""
    t = input if isinstance(input, Tensor) else tensor(input)
    prob = t.numpy(force=True) if p is None else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
    arr = (generator_of(generator).random(tuple(t.shape)) < prob).astype(t.array.dtype)
    return _finish(arr, t.device, False, "bernoulli")


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: Any = None, out: Any = None) -> Tensor:
    """Indices drawn from the categorical distributions in the rows of input (non-negative
    weights, not necessarily normalised): (num_samples,) per row, int64."""
    t = input if isinstance(input, Tensor) else tensor(input)
    w = np.asarray(t.numpy(force=True), dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {w.ndim}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = w.reshape(-1, w.shape[-1])
    g = generator_of(generator)
    out_rows = []
    for r in rows:
        total = r.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and num_samples > int((r > 0).sum()):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        out_rows.append(g.choice(len(r), size=num_samples, replace=replacement, p=r / total))
    arr = np.asarray(out_rows, dtype=np.int64).reshape(w.shape[:-1] + (num_samples,))
    return _finish(arr, t.device, False, "multinomial")


def poisson(input: Any, generator: Any = None) -> Tensor:
    t = input if isinstance(input, Tensor) else tensor(input)
    arr = generator_of(generator).poisson(t.numpy(force=True)).astype(t.array.dtype)
    return _finish(arr, t.device, False, "poisson")
