"""keras.ops' NumPy-like array functions: creation, shapes, joining, indexing, sorting and
products. NumPy's meanings throughout (`repeat` repeats elements, `transpose(x)` reverses the
axes, `split(x, 3)` makes three equal pieces), as Keras documents them."""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

import chainrule as cr
from chainrule.backend import as_dtype
from chainrule.errors import ShapeError
from chainrule.keras.ops._convert import cast, contiguous, convert_to_tensor, narrow, to_float
from chainrule.tensor import Tensor

_t = convert_to_tensor


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _dt(dtype: Any, default: Any = np.float32) -> np.dtype:
    return as_dtype(default if dtype is None else dtype)


# -- creation --------------------------------------------------------------------------------
def zeros(shape: Any, dtype: Any = None) -> Tensor:
    """A tensor of zeros (float32 unless dtype says otherwise)."""
    return Tensor._make(np.zeros(_shape(shape), _dt(dtype)), None)


def ones(shape: Any, dtype: Any = None) -> Tensor:
    return Tensor._make(np.ones(_shape(shape), _dt(dtype)), None)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor of `fill_value` (float32 unless dtype says otherwise)."""
    v = _t(fill_value, _dt(dtype))
    return Tensor._make(np.full(_shape(shape), v.numpy(), v.array.dtype), None)


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    t = _t(x)
    return zeros(t.shape, t.array.dtype if dtype is None else dtype)


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    t = _t(x)
    return ones(t.shape, t.array.dtype if dtype is None else dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    t = _t(x)
    return full(t.shape, fill_value, t.array.dtype if dtype is None else dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    """An N x M (M defaults to N) matrix with ones on diagonal k."""
    return Tensor._make(np.eye(int(N), None if M is None else int(M), int(k), _dt(dtype)), None)


def identity(n: int, dtype: Any = None) -> Tensor:
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    return Tensor._make(np.tri(int(N), None if M is None else int(M), int(k), _dt(dtype)), None)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Tensor:
    """NumPy's arange; without dtype: int32 for int arguments, float32 otherwise."""
    args = [a for a in (start, stop, step) if a is not None]
    if dtype is None:
        floats = builtins.any(isinstance(a, (float, np.floating)) for a in args)
        dtype = np.float32 if floats else np.int32
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    return Tensor._make(np.arange(start, stop, step).astype(as_dtype(dtype)), None)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced values from start to stop (float32 unless dtype says otherwise)."""
    a, step = np.linspace(start, stop, int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = Tensor._make(contiguous(a.astype(_dt(dtype))), None)
    return (out, step) if retstep else out


# -- shapes ----------------------------------------------------------------------------------
def reshape(x: Any, newshape: Any) -> Tensor:
    return cr.reshape(_t(x), _shape(newshape))


def expand_dims(x: Any, axis: Any) -> Tensor:
    """x with a new axis of size 1 at each position in `axis` (an int or a tuple)."""
    t = _t(x)
    dims = (axis,) if isinstance(axis, int) else tuple(axis)
    n = t.ndim + len(dims)
    for d in sorted(a % n for a in dims):
        t = t.unsqueeze(d)
    return t


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """x without axes of size 1 (only those in `axis`, which must have size 1)."""
    t = _t(x)
    if axis is None:
        return cr.squeeze(t)
    dims = (axis,) if isinstance(axis, int) else tuple(axis)
    for d in dims:
        if t.shape[d] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {d} of a tensor of shape "
                             f"{tuple(t.shape)}: it has size {t.shape[d]}, not 1")
    return t.reshape([s for i, s in enumerate(t.shape) if i not in {d % t.ndim for d in dims}])


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """NumPy's transpose: the axes reversed, or permuted as `axes` says."""
    t = _t(x)
    perm = tuple(reversed(range(t.ndim))) if axes is None else tuple(axes)
    return t.permute(*perm)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    return cr.movedim(_t(x), source, destination)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    return cr.swapaxes(_t(x), axis1, axis2)


def ravel(x: Any) -> Tensor:
    return _t(x).reshape(-1)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    return cr.broadcast_to(_t(x), _shape(shape))


def flip(x: Any, axis: Any = None) -> Tensor:
    t = _t(x)
    dims = tuple(range(t.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return cr.flip(t, tuple(dims))


def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    t = _t(x)
    if axis is None:
        return cr.roll(t.reshape(-1), shift, 0).reshape(t.shape)
    return cr.roll(t, shift, axis)


def tile(x: Any, repeats: Any) -> Tensor:
    return cr.tile(_t(x), _shape(repeats))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """NumPy's repeat: each element `repeats` times along `axis` (None: flattened first);
    PyTorch's Tensor.repeat is keras.ops.tile."""
    t = _t(x)
    if not isinstance(repeats, int):
        repeats = _t(repeats).to(np.int64)
    if axis is None:
        return cr.repeat_interleave(t.reshape(-1), repeats, 0)
    return cr.repeat_interleave(t, repeats, axis)


# -- joining and splitting -------------------------------------------------------------------
def _common(xs: Sequence[Any]) -> list[Tensor]:
    ts = [_t(x) for x in xs]
    dt = np.result_type(*[t.array.dtype for t in ts]) if ts else None
    return [cast(t, dt) for t in ts]


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """xs joined along an existing axis (axis=None: flattened first)."""
    if axis is None:
        return cr.cat([t.reshape(-1) for t in _common(xs)], 0)
    return cr.cat(_common(xs), axis)


def stack(x: Sequence[Any], axis: int = 0) -> Tensor:
    return cr.stack(_common(x), axis)


def hstack(xs: Sequence[Any]) -> Tensor:
    return cr.hstack(_common(xs))


def vstack(xs: Sequence[Any]) -> Tensor:
    return cr.vstack(_common(xs))


def append(x1: Any, x2: Any, axis: int | None = None) -> Tensor:
    return concatenate([x1, x2], axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """NumPy's split: an int n makes n equal pieces (an error when they cannot be equal), a
    list gives the indices where pieces start."""
    t = _t(x)
    if isinstance(indices_or_sections, int):
        n, size = indices_or_sections, t.shape[axis]
        if size % n:
            raise ValueError(f"split: the size of axis {axis} ({size}) is not divisible by "
                             f"{n}; pass a list of split indices for unequal pieces")
        return list(cr.split(t, size // n, axis))
    return list(cr.tensor_split(t, [int(i) for i in indices_or_sections], axis))


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Tensor]:
    return list(cr.unbind(_t(x), axis))


# -- indexing --------------------------------------------------------------------------------
def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """x1 where condition holds, else x2; with neither, the indices where it holds as one
    (condition.ndim, count) int64 tensor (Keras' torch backend stacks NumPy's tuple)."""
    c = cast(_t(condition), bool)
    if x1 is None and x2 is None:
        return cr.stack(list(cr.nonzero(c, as_tuple=True)), 0)
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    a, b = _t(x1), _t(x2)
    dt = np.result_type(a.array.dtype, b.array.dtype)
    if isinstance(x1, (int, float)) and isinstance(x2, Tensor):
        dt = b.array.dtype if not isinstance(x1, float) or b.array.dtype.kind == "f" else dt
    return cr.where(c, cast(a, dt), cast(b, dt))


def _index(idx: Any, n: int) -> Tensor:
    i = _t(idx).to(np.int64)
    return cr.where(i < 0, i + n, i)


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """NumPy's take: elements of x (flattened when axis is None) at `indices` along `axis`;
    negative indices count from the end."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    axis %= t.ndim
    i = _index(indices, t.shape[axis])
    out = cr.index_select(t, axis, i.reshape(-1))
    return out.reshape(tuple(t.shape[:axis]) + tuple(i.shape) + tuple(t.shape[axis + 1:]))


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """NumPy's take_along_axis (x and indices broadcast on the other axes)."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
        return cr.take_along_dim(t, _index(indices, t.shape[0]).reshape(-1), 0)
    return cr.take_along_dim(t, _index(indices, t.shape[axis]), axis)


def tril(x: Any, k: int = 0) -> Tensor:
    return cr.tril(_t(x), k)


def triu(x: Any, k: int = 0) -> Tensor:
    return cr.triu(_t(x), k)


def diag(x: Any, k: int = 0) -> Tensor:
    return cr.diag(_t(x), k)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Tensor:
    """NumPy's pad: pad_width is (before, after) per axis, one pair for every axis, or an int
    for every side; mode 'constant', 'reflect', 'symmetric', 'edge' or 'wrap'."""
    t = _t(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (t.ndim, 2))
    if mode != "constant" and constant_values is not None:
        raise ValueError(f"pad: constant_values is only used with mode='constant', "
                         f"got mode={mode!r}")
    if mode == "constant":
        flat = tuple(int(v) for pair in pw[::-1] for v in pair)
        return cr.nn.functional.pad(t, flat, "constant",
                                    0 if constant_values is None else constant_values)
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'symmetric', 'edge' or "
                         f"'wrap', got {mode!r}")
    for d, (lo, hi) in enumerate(pw):
        if lo or hi:  # gather along d: NumPy's own pad of the positions says which
            pos = np.pad(np.arange(t.shape[d]), (int(lo), int(hi)), mode=mode)
            t = cr.index_select(t, d, Tensor._make(pos, None))
    return t


# -- sorting ---------------------------------------------------------------------------------
def sort(x: Any, axis: int = -1) -> Tensor:
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    return cr.sort(t, axis)[0]


def argsort(x: Any, axis: int = -1) -> Tensor:
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    return cr.argsort(t, axis, stable=True).to(np.int32)


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002
    """(values, indices) of the k largest entries along the last axis."""
    v, i = cr.topk(_t(x), int(k), -1, True, sorted)
    return v, i


# -- products --------------------------------------------------------------------------------
def _promote(x1: Any, x2: Any) -> tuple[Tensor, Tensor]:
    a, b = _t(x1), _t(x2)
    if a.array.dtype == b.array.dtype == np.float32:  # the common case, kept cheap
        return a, b
    a, b = narrow(a), narrow(b)
    dt = np.result_type(a.array.dtype, b.array.dtype)
    return cast(a, dt), cast(b, dt)


def matmul(x1: Any, x2: Any) -> Tensor:
    """NumPy's matmul (batched over leading axes)."""
    a, b = _promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: inputs must be at least 1-D, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}; use ops.multiply for scalars")
    return cr.matmul(a, b)


def dot(x1: Any, x2: Any) -> Tensor:
    """NumPy's dot: a product for scalars, matmul up to 2-D, and over the last axis of x1
    and the second-to-last of x2 beyond."""
    a, b = _promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2 and a.ndim <= 2 or b.ndim == 1:
        return cr.matmul(a, b)
    return cr.tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> Tensor:
    a, b = _promote(x1, x2)
    return cr.tensordot(a, b, axes)


def outer(x1: Any, x2: Any) -> Tensor:
    a, b = _common([x1, x2])
    return cr.outer(a.reshape(-1), b.reshape(-1))


def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> Tensor:
    ts = _common(operands)
    return cr.einsum(subscripts, *ts)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Vector norms (axis an int, or None on a vector / flattened with ord=None) and matrix
    norms ('fro', 1, -1, inf, -inf over two axes). Ints give float32."""
    t = narrow(to_float(_t(x)))
    if axis is None and (ord is None or t.ndim == 1):
        out = _vector_norm(t.reshape(-1), ord, 0, False)
        return out.reshape((1,) * t.ndim) if keepdims else out
    if axis is None:
        axis = tuple(range(t.ndim))
    if isinstance(axis, int) or len(axis) == 1:
        return _vector_norm(t, ord, axis if isinstance(axis, int) else axis[0], keepdims)
    r, c = axis
    if ord in (None, "fro"):
        return cr.sqrt(cr.sum(t * t, dim=(r, c), keepdim=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        red, other = (r, c) if ord in (1, -1) else (c, r)
        s = cr.sum(cr.abs(t), dim=red, keepdim=True)
        pick = cr.amax if ord > 0 else cr.amin
        out = pick(s, dim=other, keepdim=True)
        return out if keepdims else out.squeeze((r % t.ndim, c % t.ndim))
    raise NotImplementedError(f"norm: the matrix norm ord={ord!r} is not supported; "
                              f"use 'fro', 1, -1, inf or -inf")


def _vector_norm(t: Tensor, ord: Any, axis: int, keepdims: bool) -> Tensor:  # noqa: A002
    if ord in (None, 2):
        return cr.sqrt(cr.sum(t * t, dim=axis, keepdim=keepdims))
    if ord == np.inf:
        return cr.amax(cr.abs(t), dim=axis, keepdim=keepdims)
    if ord == -np.inf:
        return cr.amin(cr.abs(t), dim=axis, keepdim=keepdims)
    if ord == 0:
        return cr.sum(cr.ne(t, 0), dim=axis, keepdim=keepdims).to(t.array.dtype)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; give two axes")
    p = float(ord)
    return cr.sum(cr.abs(t) ** p, dim=axis, keepdim=keepdims) ** (1.0 / p)
