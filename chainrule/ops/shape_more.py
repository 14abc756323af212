"""More of PyTorch's shape and array utilities, each a composite of differentiable ops (so
gradients of any order come free) or an integer result: diff, rot90, cartesian_prod,
combinations, atleast_1d / 2d / 3d, broadcast_tensors / broadcast_shapes, column_stack, take,
vander, diagflat, chain_matmul, the trapezoid rules (trapezoid, trapz, cumulative_trapezoid),
and the index makers tril_indices / triu_indices / unravel_index. Shapes, dtypes and errors as
in PyTorch.
"""

from __future__ import annotations

import builtins
import itertools
import warnings
from functools import reduce
from typing import Any, Sequence

import numpy as np

from chainrule.backend import check_device, default_device, host_any, to_device, xp_of
from chainrule.dtypes import as_numpy_dtype
from chainrule.errors import ShapeError, dim_error
from chainrule.operands import as_operand
from chainrule.ops.compare import logical_xor
from chainrule.ops.diag import diag
from chainrule.ops.indexing import index_select
from chainrule.ops.join import cat, flip, hstack, stack
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import broadcast_to, cumprod, cumsum, no_out
from chainrule.ops.shape import Clone, narrow, select, transpose
from chainrule.tensor import Size, Tensor


def _dim(op: str, d: int, ndim: int) -> int:
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise dim_error(op, d, ndim)
    return int(d) % n


def _tensor_args(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {k} in argument 0, but got "
                            f"{type(t).__name__}")
    return list(tensors)


# -- diff, rot90 ---------------------------------------------------------------------------------
def diff(input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """The n-th forward difference along dim, out[i] = x[i + 1] - x[i] applied n times (for
    bool tensors, logical_xor); prepend / append (tensors of input's number of dims) are joined
    to input along dim first. n = 0 gives a copy of input (prepend and append ignored, as in
    PyTorch); an n past the size gives an empty dim."""
    x = as_operand(input)
    if n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n}")
    if x.ndim < 1:
        raise RuntimeError("diff expects input to be at least one-dimensional; for a number "
                           "there is nothing to difference")
    for extra in (prepend, append):
        if extra is not None and as_operand(extra).ndim != x.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if n == 0:  # PyTorch returns the copy before it looks at dim
        return Clone()(x)
    d = _dim("diff", dim, x.ndim)
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = cat(parts, d)
    length = x.shape[d] - 1
    for _ in range(builtins.min(n, x.shape[d])):
        hi, lo = narrow(x, d, 1, length), narrow(x, d, 0, length)
        x = logical_xor(hi, lo) if x.array.dtype == np.bool_ else hi - lo
        length -= 1
    return x


def rot90(input: Any, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """input rotated by k quarter turns in the plane of dims, from the first dim towards the
    second (negative k turns the other way)."""
    x = as_operand(input)
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.ndim}")
    d0, d1 = (_dim("rot90", d, x.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k = k % 4
    if k == 1:
        return transpose(flip(x, [d1]), d0, d1)
    if k == 2:
        return flip(x, [d0, d1])
    if k == 3:
        return transpose(flip(x, [d0]), d0, d1)
    return Clone()(x)


# -- cartesian_prod, combinations ----------------------------------------------------------------
def _vectors(op: str, ts: Sequence[Tensor]) -> None:
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"{op}: Expect a 1D vector, but got shape {list(t.shape)}; "
                               "flatten it first: t.flatten()")


def _rows(x: Tensor, idx: Any) -> Tensor:
    return index_select(x, 0, Tensor._make(xp_of(x.array).asarray(idx, dtype=np.int64), None))


def cartesian_prod(*tensors: Any) -> Tensor:
    """Every combination of one element from each 1-D tensor, as the rows of an (N, k) tensor
    (the first tensor varying slowest); one tensor is returned as it is."""
    ts = _tensor_args("cartesian_prod", tensors)
    if not ts:
        raise RuntimeError("cartesian_prod: meshgrid expects a non-empty TensorList")
    _vectors("cartesian_prod", ts)
    if len(ts) == 1:
        return ts[0]
    if len({t.array.dtype for t in ts}) > 1:
        raise RuntimeError("cartesian_prod: meshgrid expects all tensors to have the same "
                           f"dtype, got {[str(t.dtype) for t in ts]}; convert them first")
    grids = np.indices([t.shape[0] for t in ts]).reshape(len(ts), -1)
    return stack([_rows(t, g) for t, g in zip(ts, grids)], 1)


def combinations(input: Any, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The r-element combinations of a 1-D tensor's elements, as rows of an (N, r) tensor in
    lexicographic order of positions (itertools.combinations; with_replacement as
    itertools.combinations_with_replacement)."""
    x = as_operand(input)
    _vectors("combinations", [x])
    if r < 0:
        raise RuntimeError(f"combinations: Expect a non-negative number, but got r={r}")
    if r == 0:
        return Tensor._make(xp_of(x.array).zeros((0,), x.array.dtype), None)
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return stack([_rows(x, idx[:, j]) for j in range(r)], 1)


# -- atleast_nd, broadcasting, column_stack --------------------------------------------------------
def _atleast(op: str, tensors: tuple, fix: Any) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return fix(tensors[0])
    seq = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    if not builtins.all(isinstance(t, Tensor) for t in seq):
        bad = next(t for t in seq if not isinstance(t, Tensor))
        raise TypeError(f"{op}(): expected Tensors, but got {type(bad).__name__}")
    return tuple(fix(t) for t in seq)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,)); one tensor in, one out;
    several (or a list), a tuple."""
    return _atleast("atleast_1d", tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast("atleast_2d", tensors,
                    lambda t: t.reshape((1,) * (2 - t.ndim) + tuple(t.shape)) if t.ndim < 2
                    else t)


def _3d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return t.reshape(1, 1, 1)
    if t.ndim == 1:
        return t.reshape(1, t.shape[0], 1)
    return t.unsqueeze(-1) if t.ndim == 2 else t


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) ->
    (m, n, 1)."""
    return _atleast("atleast_3d", tensors, _3d)


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of the given shapes (ints or sequences of ints) broadcast to."""
    dims = [(int(s),) if isinstance(s, (int, np.integer)) else tuple(int(v) for v in s)
            for s in shapes]
    out: list[int] = [1] * builtins.max((len(s) for s in dims), default=0)
    for k, s in enumerate(dims):
        for i in range(1, len(s) + 1):
            if s[-i] < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if s[-i] == out[-i] or s[-i] == 1:
                continue
            if out[-i] != 1:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {s[-i]} at {-i}! Mismatching"
                    f" argument at index {k} had {s}; but expected shape should be broadcastable"
                    f" to {out}")
            out[-i] = s[-i]
    return Size(out)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape (views; gradients are summed back
    to each input's shape)."""
    ts = _tensor_args("broadcast_tensors", tensors)
    shape: tuple[int, ...] = tuple(ts[0].shape) if ts else ()
    for t in ts[1:]:
        a, b = shape, tuple(t.shape)
        for i in range(1, builtins.min(len(a), len(b)) + 1):
            if a[-i] != b[-i] and 1 not in (a[-i], b[-i]):
                raise ShapeError(
                    f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) "
                    f"at non-singleton dimension {builtins.max(len(a), len(b)) - i}")
        shape = np.broadcast_shapes(a, b)
    return tuple(t if tuple(t.shape) == shape else broadcast_to(t, shape) for t in ts)


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """The tensors side by side as columns: 0-d and 1-d ones become (n, 1) columns, the others
    are joined along dim 1."""
    ts = list(tensors)
    if not ts:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    cols = [t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in map(as_operand, ts)]
    return hstack(cols)


# -- take, unravel_index, tril_indices / triu_indices ----------------------------------------------
def take(input: Any, index: Any) -> Tensor:
    """input, treated as 1-D, at the (int64) indices of index; negative indices count from
    the end. The result has index's shape; gradients add up at repeated indices."""
    x = as_operand(input)
    if not isinstance(index, Tensor):
        raise TypeError(f"take(): argument 'index' (position 2) must be Tensor, not "
                        f"{type(index).__name__}")
    i = index.array
    if i.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{_kind(i.dtype)}")
    n = x.numel()
    if i.size and n == 0:
        raise IndexError("take(): tried to take from an empty tensor")
    bad = (i >= n) | (i < -n)
    if host_any(bad):
        raise IndexError(f"out of range: tried to access index {i[bad].reshape(-1)[0].item()} "
                         f"on a tensor of {n} elements.")
    flat = Tensor._make(xp_of(i).where(i < 0, i + n, i).reshape(-1), None)
    return index_select(x.reshape(-1), 0, flat).reshape(tuple(i.shape))


def _kind(d: Any) -> str:
    from chainrule.ops.math_more import _torch_kind

    return _torch_kind(d)


def unravel_index(indices: Any, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates, one int64 tensor per dim of shape, of the flat (row-major) indices
    (any integer dtype; computed as PyTorch does, by floor division and remainder, so negative
    and too-large indices wrap)."""
    if not isinstance(indices, Tensor):
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute 'is_complex'")
    i = indices.array
    if i.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"chainrule.{np.dtype(i.dtype).name}")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    elif isinstance(shape, Tensor) or not isinstance(shape, Sequence):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got "
                        f"{type(shape)}")
    shape = tuple(int(s) for s in shape)
    if builtins.any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape and i.size:
        raise RuntimeError(f"unravel_index: ZeroDivisionError: shape {shape} has a zero-size "
                           "dim, so no flat index is valid")
    xp = xp_of(i)
    strides = np.cumprod((shape[1:] + (1,))[::-1])[::-1]
    a = i.astype(np.int64)
    return tuple(Tensor._make(xp.floor_divide(a, int(st)) % s, None)
                 for st, s in zip(strides, shape))


def _tri_indices(op: str, row: int, col: int, offset: int, dtype: Any, device: Any,
                 upper: bool) -> Tensor:
    for name, v in (("row", row), ("col", col)):
        if v < 0:
            raise RuntimeError(f"{op}: {name} must be non-negative, got {v}")
    dt = np.dtype(as_numpy_dtype(dtype))
    if dt.kind not in "iu" or dt == np.bool_:
        raise NotImplementedError(f'"{op}" not implemented for \'{_kind(dt)}\'')
    r, c = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    arr = np.stack([r, c]).astype(dt)
    d = default_device() if device is None else check_device(device, op)
    return Tensor._make(arr if d.type == "cpu" else to_device(arr, d, op), None)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = np.int64,
                 device: Any = None, layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix (on and below the
    offset-th diagonal), row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = np.int64,
                 device: Any = None, layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix (on and above the
    offset-th diagonal), row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, True)


# -- trapezoid rules -------------------------------------------------------------------------------
def _spacing(op: str, y: Tensor, x: Any, dx: Any, d: int) -> Any:
    """The sample spacing along d: a number (dx), or the differences of x broadcast against y's
    pairs of neighbours."""
    if x is not None and dx is not None:
        raise TypeError(f"{op}() received an invalid combination of arguments: pass x or dx, "
                        "not both")
    if x is None:
        return 1 if dx is None else dx
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}() received an invalid combination of arguments: x must be a "
                        f"Tensor, got {type(x).__name__}; pass a number as dx=")
    if y.array.dtype == np.bool_ or x.array.dtype == np.bool_:
        raise RuntimeError(f"{op}: received a bool input for `x` or `y`, but bool is not "
                           "supported")
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
        x = x.reshape(tuple(x.shape[0] if k == d else 1 for k in range(y.ndim)))
    elif x.ndim < y.ndim:
        x = x.reshape((1,) * (y.ndim - x.ndim) + tuple(x.shape))
    n = x.shape[d] - 1
    return narrow(x, d, 1, n) - narrow(x, d, 0, n)


def _trapezoid(op: str, y: Any, x: Any, dx: Any, dim: int, cumulative: bool) -> Tensor:
    y = as_operand(y)
    d = _dim(op, dim, y.ndim)
    if y.ndim == 0:
        raise dim_error(op, dim, 0)
    if y.array.dtype == np.bool_:
        raise RuntimeError(f"{op}: received a bool input for `y`, but bool is not supported")
    n = y.shape[d]
    if n == 0 and not cumulative:
        shape = tuple(s for k, s in enumerate(y.shape) if k != d)
        return Tensor._make(xp_of(y.array).zeros(shape, y.array.dtype), None)
    h = _spacing(op, y, x, dx, d)
    m = builtins.max(n - 1, 0)
    pairs = narrow(y, d, 0, m) + narrow(y, d, builtins.min(n, 1), m)
    if cumulative:  # PyTorch's order of operations, for equal rounding
        return cumsum(pairs * (h / 2.0) if not isinstance(h, Tensor) else h * pairs / 2.0, d)
    if isinstance(h, Tensor):
        return (h * pairs).sum(d) / 2.0
    return (y.sum(d) - (select(y, d, 0) + select(y, d, -1)) * 0.5) * h


def trapezoid(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along dim: the integral of the samples y at the points x (a 1-D
    tensor of y.shape[dim] points, or one that broadcasts with y), or at spacing dx (1 by
    default)."""
    return _trapezoid("trapezoid", y, x, dx, dim, False)


def trapz(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """trapezoid (PyTorch's older name)."""
    return _trapezoid("trapz", y, x, dx, dim, False)


def cumulative_trapezoid(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral along dim (one element fewer than y there)."""
    return _trapezoid("cumulative_trapezoid", y, x, dx, dim, True)


# -- vander, diagflat, chain_matmul ----------------------------------------------------------------
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D x: column j is x ** (N - 1 - j) (x ** j when
    increasing); N columns (len(x) by default). Integers and bools give int64."""
    t = as_operand(x)
    if t.ndim != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor, got shape "
                           f"{tuple(t.shape)}")
    n = t.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative, got {n}.")
    if t.array.dtype.kind in "biu":
        t = t.long()
    xp = xp_of(t.array)
    ones = Tensor._make(xp.ones((t.shape[0], builtins.min(n, 1)), t.array.dtype), None)
    if n > 1:  # a running product, as PyTorch computes it (so equal rounding)
        powers = cumprod(t.unsqueeze(1).expand(t.shape[0], n - 1), 1)
        out = cat([ones, powers], 1)
    else:
        out = ones
    return out if increasing else flip(out, [1])


def diagflat(input: Any, offset: int = 0) -> Tensor:
    """A square matrix with the flattened input on its offset-th diagonal, zeros elsewhere."""
    return diag(as_operand(input).reshape(-1), offset)


def chain_matmul(*matrices: Any, out: Any = None) -> Tensor:
    """The product of the 2-D matrices, left to right (deprecated in PyTorch, which warns; use
    linalg.multi_dot)."""
    warnings.warn("chain_matmul is deprecated and will be removed in a future PyTorch release. "
                  "Use chainrule.linalg.multi_dot instead, which accepts a list of two or more "
                  "tensors rather than multiple arguments.", UserWarning, stacklevel=2)
    no_out("chain_matmul", out)
    ms = [as_operand(m) for m in matrices]
    if not ms:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in ms:
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul: Tensor dimension is {m.ndim}, expected 2 instead "
                               "(every argument must be a matrix)")
    if len(ms) == 1:
        return Clone()(ms[0])
    if len({m.array.dtype for m in ms}) > 1:
        raise RuntimeError("multi_dot(): all tensors must have be the same dtype")
    return reduce(matmul, ms)
