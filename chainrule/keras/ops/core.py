"""keras.ops' core ops: shapes and dtypes, gradients stopped, control flow run as plain Python
(eager, as Keras' torch backend runs it, so gradients flow through every step), and slices
and scatters that return new tensors."""

from __future__ import annotations

import builtins
import math
from typing import Any, Callable

import numpy as np

import chainrule as cr
from chainrule.keras._graph import KerasTensor
from chainrule.keras.ops._convert import cast, convert_to_tensor, dtype_name
from chainrule.tensor import Tensor

_t = convert_to_tensor


def shape(x: Any) -> tuple[int | None, ...]:
    """The shape of x as a tuple of ints (None for a KerasTensor's batch axis)."""
    return tuple(None if s is None else int(s)
                 for s in (x.shape if hasattr(x, "shape") else np.shape(x)))


def dtype(x: Any) -> str:
    """Keras' name of x's dtype: 'float32', 'int32', 'bool', ..."""
    if isinstance(x, KerasTensor):
        return x.dtype
    return dtype_name(_t(x).array.dtype)


def is_tensor(x: Any) -> bool:
    """Whether x is a chainrule Tensor (NumPy arrays and, as in Keras, KerasTensors are not)."""
    return isinstance(x, Tensor)


def stop_gradient(variable: Any) -> Tensor:
    """The same values, with no gradient flowing back through them."""
    return _t(variable).detach()


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """true_fn() if pred else false_fn()."""
    return true_fn() if bool(pred) else false_fn()


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """val = body_fun(i, val) for i in range(lower, upper); returns val."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Any,  # noqa: A002
               maximum_iterations: int | None = None) -> Any:
    """loop_vars = body(*loop_vars) while cond(*loop_vars) (and fewer than
    maximum_iterations steps); a lone loop variable is passed and returned as itself."""
    many = isinstance(loop_vars, (tuple, list))
    vs = tuple(loop_vars) if many else (loop_vars,)
    vs = tuple(_t(v) if isinstance(v, (int, float, bool, np.ndarray)) else v for v in vs)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(cond(*vs)):
        vs = body(*vs)
        vs = tuple(vs) if isinstance(vs, (tuple, list)) else (vs,)
        n += 1
    return vs if many else vs[0]


def _flatten(tree: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """The leaves of a (nested) tuple / list / dict, and how to rebuild it from new leaves."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(v) for v in tree]
        sizes = [len(p[0]) for p in parts]

        def pack(leaves: list[Any]) -> Any:
            out, k = [], 0
            for (_, rebuild), n in zip(parts, sizes):
                out.append(rebuild(leaves[k:k + n]))
                k += n
            return type(tree)(out)

        return [leaf for p in parts for leaf in p[0]], pack
    if isinstance(tree, dict):
        keys = list(tree)
        flat, pack = _flatten([tree[k] for k in keys])
        return flat, lambda leaves: dict(zip(keys, pack(leaves)))
    return [tree], lambda leaves: leaves[0]


def scan(f: Callable[[Any, Any], Any], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int = 1) -> tuple[Any, Any]:
    """carry, y = f(carry, x) over the leading axis of xs (or `length` times with x None);
    returns the last carry and the ys stacked."""
    if not callable(f):
        raise TypeError(f"scan: f should be a callable, got {f!r}")
    if xs is None and length is None:
        raise ValueError("scan: got no xs to scan over and no length")
    leaves, pack = _flatten(xs) if xs is not None else ([], None)
    leaves = [_t(v) for v in leaves]
    n = int(length) if length is not None else leaves[0].shape[0]
    carry, ys = init, []
    for i in (reversed(range(n)) if reverse else range(n)):
        carry, y = f(carry, pack([v[i] for v in leaves]) if pack else None)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys or ys[0] is None:
        return carry, None
    y_leaves = [_flatten(y)[0] for y in ys]
    stacked = [cr.stack([_t(y[j]) for y in y_leaves]) for j in range(len(y_leaves[0]))]
    return carry, _flatten(ys[0])[1](stacked)


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """function applied to each slice along the leading axis of elements (a tensor or a
    nested structure of them), the results stacked."""
    leaves, pack = _flatten(elements)
    leaves = [_t(v) for v in leaves]
    outs = [function(pack([v[i] for v in leaves])) for i in range(leaves[0].shape[0])]
    o_leaves = [_flatten(o)[0] for o in outs]
    stacked = [cr.stack([_t(o[j]) for o in o_leaves]) for j in range(len(o_leaves[0]))]
    return _flatten(outs[0])[1](stacked)


def map(f: Callable[[Any], Any], xs: Any) -> Any:  # noqa: A001  (Keras' name)
    """f applied to each slice along the leading axis of xs, the results stacked."""
    return vectorized_map(f, xs)


def switch(index: Any, branches: list[Callable[..., Any]], *operands: Any) -> Any:
    """branches[index](*operands), index clamped to the valid range."""
    i = int(index.item() if isinstance(index, Tensor) else index)
    return branches[builtins.max(0, builtins.min(i, len(branches) - 1))](*operands)


def _starts(start_indices: Any) -> list[int]:
    return [int(s) for s in np.asarray(convert_to_numpy(start_indices)).reshape(-1)]


def convert_to_numpy(x: Any) -> np.ndarray:
    from chainrule.keras.ops._convert import convert_to_numpy as c

    return c(x)


def slice(inputs: Any, start_indices: Any, shape: Any) -> Tensor:  # noqa: A001
    """inputs[start : start + shape] on every axis."""
    t = _t(inputs)
    idx = tuple(builtins.slice(s, s + int(n)) for s, n in zip(_starts(start_indices), shape))
    return t[idx]


def slice_update(inputs: Any, start_indices: Any, updates: Any) -> Tensor:
    """A copy of inputs with the block at start_indices replaced by updates."""
    t, u = _t(inputs), _t(updates)
    idx = tuple(builtins.slice(s, s + n) for s, n in zip(_starts(start_indices), u.shape))
    out = t.clone()
    out[idx] = cast(u, t.array.dtype)
    return out


def _rows(indices: Any) -> Tensor:
    i = _t(indices).to(np.int64)
    return i.reshape(-1, i.shape[-1]) if i.ndim > 1 else i.reshape(-1, 1)


def _flat_index(idx: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Row-major flat positions of index rows (N, k) into the first k axes of `shape`."""
    k = idx.shape[1]
    strides = np.cumprod((shape[1:k] + (1,))[::-1])[::-1].copy()
    return (idx * Tensor._make(strides.astype(np.int64), None)).sum(1)


def scatter(indices: Any, values: Any, shape: Any) -> Tensor:
    """A tensor of zeros of `shape` with values added at indices (rows of k coordinates;
    duplicates add up)."""
    shp = tuple(int(s) for s in shape)
    idx, v = _rows(indices), _t(values)
    k = idx.shape[1]
    out = cr.zeros(math.prod(shp[:k]), *shp[k:], dtype=v.array.dtype)
    out = out.index_add(0, _flat_index(idx, shp), v.reshape((-1,) + shp[k:]))
    return out.reshape(shp)


def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None) -> Tensor:
    """A copy of inputs with the entries (or slices) at indices replaced by updates
    (reduction='add' adds them instead)."""
    t = _t(inputs)
    shp = tuple(t.shape)
    idx = _rows(indices)
    k = idx.shape[1]
    u = cast(_t(updates), t.array.dtype).reshape((-1,) + shp[k:])
    flat = t.reshape((math.prod(shp[:k]),) + shp[k:])
    pos = _flat_index(idx, shp)
    if reduction is None:
        out = flat.index_copy(0, pos, u)
    elif reduction == "add":
        out = flat.index_add(0, pos, u)
    else:
        raise ValueError(f"scatter_update: reduction must be None or 'add', got {reduction!r}")
    return out.reshape(shp)


def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> Tensor:  # noqa: A002
    """Sums of the rows of data that share a segment id: out[s] = sum of data[i] with
    segment_ids[i] == s; ids outside [0, num_segments) are dropped."""
    d = _t(data)
    ids = _t(segment_ids).to(np.int64).reshape(-1)
    n = int(ids.max().item()) + 1 if num_segments is None else int(num_segments)
    keep = np.flatnonzero((ids.array >= 0) & (ids.array < n))
    if len(keep) < ids.shape[0]:
        sel = Tensor._make(keep, None)
        d, ids = cr.index_select(d, 0, sel), ids[sel]
    out = cr.zeros((n,) + tuple(d.shape[1:]), dtype=d.array.dtype)
    return out.index_add(0, ids, d)


def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> Tensor:  # noqa: A002
    """The largest row of data per segment id (empty segments hold -inf, or an int dtype's lowest
    value, as in Keras)."""
    d = _t(data)
    ids = _t(segment_ids).to(np.int64).reshape(-1)
    n = int(ids.max().item()) + 1 if num_segments is None else int(num_segments)
    rows = []
    for s in range(n):
        pick = np.flatnonzero(ids.array == s)
        if len(pick):
            rows.append(cr.amax(cr.index_select(d, 0, Tensor._make(pick, None)), 0))
        else:
            kind = d.array.dtype.kind
            low = -np.inf if kind == "f" else np.iinfo(d.array.dtype).min
            rows.append(cr.full(tuple(d.shape[1:]), low, dtype=d.array.dtype))
    return cr.stack(rows)
