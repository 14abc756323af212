"""More of PyTorch's linear algebra, each a composite of differentiable ops (so gradients of any
order come free): tensordot, inner, vdot, kron, block_diag, cross / linalg.cross,
matrix_power (negative powers through the inverse), dist, renorm, and the statistics cov and
corrcoef. Shapes, dtypes and errors as in PyTorch.
"""

from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from chainrule.backend import host_any, xp_of
from chainrule.dtypes import result_type
from chainrule.errors import ShapeError, dim_error
from chainrule.operands import as_operand, promoted
from chainrule.ops.decompositions import inverse
from chainrule.ops.elementwise import Piecewise, astype, clamp, sqrt, where
from chainrule.ops.indexing import index_select
from chainrule.ops.join import cat
from chainrule.ops.linalg import dot, matmul, mm
from chainrule.ops.norms import vector_norm
from chainrule.ops.reduce import no_out
from chainrule.ops.shape import Clone
from chainrule.tensor import Tensor


def _same_dtype(a: Tensor, b: Tensor, what: str = "both inputs should have same dtype") -> None:
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(what)


def _dim_of(op: str, d: int, ndim: int) -> int:
    if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
        raise dim_error(op, d, ndim)
    return int(d) % builtins.max(ndim, 1)


# -- tensordot, inner, vdot ----------------------------------------------------------------------
def _dims_lists(dims: Any, a: Tensor, b: Tensor) -> tuple[list[int], list[int]]:
    """tensordot's dims (an int, a pair of lists, or a tensor of either) as two lists."""
    if isinstance(dims, Tensor):
        dims = dims.tolist() if dims.numel() > 1 else int(dims.item())
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        n = int(dims)
        if n < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={n}")
        if n > builtins.min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        return list(range(-n, 0)), list(range(n))
    if isinstance(dims, (tuple, list)) and len(dims) == 2:
        da, db = dims
        if isinstance(da, (int, np.integer)) or isinstance(db, (int, np.integer)):
            raise TypeError("tensordot(): argument 'dims' must be an int or a pair of lists of "
                            f"ints (dims of a, dims of b), got {dims!r}; e.g. dims=([1], [0])")
        return [int(d) for d in da], [int(d) for d in db]
    raise RuntimeError("tensordot expects dims to be int or Tuple[List[int], List[int]] or "
                       f"List[List[int]] containing two lists, but got dims={dims}")


def tensordot(a: Any, b: Any, dims: Any = 2, out: Any = None) -> Tensor:
    """The sum of a * b over the dims paired by dims: an int n pairs the last n dims of a with
    the first n of b; a pair of lists names them. The free dims of a, then of b, remain."""
    no_out("tensordot", out)
    x, y = as_operand(a), as_operand(b)
    dims_a, dims_b = _dims_lists(dims, x, y)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    _same_dtype(x, y)
    da = [_dim_of("tensordot", d, x.ndim) for d in dims_a]
    db = [_dim_of("tensordot", d, y.ndim) for d in dims_b]
    for i, j, gi, gj in zip(da, db, dims_a, dims_b):
        if x.shape[i] != y.shape[j]:
            raise ShapeError(f"contracted dimensions need to match, but first has size "
                             f"{x.shape[i]} in dim {gi} and second has size {y.shape[j]} in "
                             f"dim {gj}")
    free_a = [i for i in range(x.ndim) if i not in da]
    free_b = [j for j in range(y.ndim) if j not in db]
    k = int(np.prod([x.shape[i] for i in da]))
    sa, sb = [x.shape[i] for i in free_a], [y.shape[j] for j in free_b]
    left = x.permute(free_a + da).reshape(int(np.prod(sa)), k)
    right = y.permute(db + free_b).reshape(k, int(np.prod(sb)))
    return mm(left, right).reshape(tuple(sa + sb))


def inner(input: Any, other: Any, *, out: Any = None) -> Tensor:
    """The sum of products over the last dims of both (a product if either is 0-d)."""
    no_out("inner", out)
    x, y = as_operand(input), as_operand(other)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    if x.shape[-1] != y.shape[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got "
                         f"shapes {list(x.shape)} and {list(y.shape)}")
    return tensordot(x, y, ([-1], [-1]))


def vdot(input: Any, other: Any, *, out: Any = None) -> Tensor:
    """The dot product of two 1-D tensors, the first conjugated (for real ones: dot)."""
    no_out("vdot", out)
    x, y = as_operand(input), as_operand(other)
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    _same_dtype(x, y, f"dot : expected both vectors to have same dtype, but found {x.dtype} "
                      f"and {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src "
                         f"[{y.shape[0]}] to have the same number of elements, but got "
                         f"{x.shape[0]} and {y.shape[0]} elements respectively")
    if x.array.dtype.kind == "c":
        return (x.conj() * y).sum()
    return dot(x, y)


# -- kron, block_diag ----------------------------------------------------------------------------
def kron(input: Any, other: Any, *, out: Any = None) -> Tensor:
    """The Kronecker product: the blocks input[i] * other, laid out along every dim (the
    fewer-dimensional operand gets leading dims of size 1)."""
    no_out("kron", out)
    x, y = promoted(input, other)
    nd = builtins.max(x.ndim, y.ndim)
    xs = (1,) * (nd - x.ndim) + tuple(x.shape)
    ys = (1,) * (nd - y.ndim) + tuple(y.shape)
    xr = x.reshape(tuple(s for n in xs for s in (n, 1)))
    yr = y.reshape(tuple(s for n in ys for s in (1, n)))
    return (xr * yr).reshape(tuple(p * q for p, q in zip(xs, ys)))


def block_diag(*tensors: Any) -> Tensor:
    """The tensors (0-d, 1-d as a row, or 2-d) placed along the diagonal of one matrix, zeros
    elsewhere; the dtype all of them promote to."""
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"block_diag(): expected Tensor as element {k} in argument 0, but "
                            f"got {type(t).__name__}; pass the tensors themselves: "
                            "block_diag(a, b)")
    ts = list(tensors)
    if not ts:
        return Tensor._make(np.zeros((1, 0), result_type(0.0)), None)
    dt = result_type(*ts)
    mats = []
    for k, t in enumerate(ts):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {k} has {t.ndim} dimensions")
        mats.append(astype(t.reshape(1, -1) if t.ndim < 2 else t, dt))
    width = builtins.sum(m.shape[1] for m in mats)
    xp = xp_of(mats[0].array)
    rows, left = [], 0
    for m in mats:
        r, c = m.shape
        pad_l = Tensor._make(xp.zeros((r, left), dt), None)
        pad_r = Tensor._make(xp.zeros((r, width - left - c), dt), None)
        rows.append(cat([pad_l, m, pad_r], 1))
        left += c
    return cat(rows, 0)


# -- cross products ------------------------------------------------------------------------------
_NEXT, _PREV = np.array([1, 2, 0]), np.array([2, 0, 1])


def linalg_cross(input: Any, other: Any, *, dim: int = -1, out: Any = None) -> Tensor:
    """The cross product of 3-vectors along dim (the other dims broadcast), as
    torch.linalg.cross."""
    no_out("linalg.cross", out)
    x, y = as_operand(input), as_operand(other)
    if x.ndim != y.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions "
                           f"(got {x.ndim} and {y.ndim})")
    if x.array.dtype != y.array.dtype:
        raise RuntimeError(f"linalg.cross: expected input and other to have the same dtype, but "
                           f"got {x.dtype} and {y.dtype}")
    d = _dim_of("linalg.cross", dim, x.ndim)
    if x.shape[d] != 3 or y.shape[d] != 3:
        raise ShapeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                         f"{x.shape[d]} and {y.shape[d]}")
    shape = np.broadcast_shapes(tuple(x.shape), tuple(y.shape))
    x, y = x.broadcast_to(shape), y.broadcast_to(shape)

    def at(t: Tensor, idx: np.ndarray) -> Tensor:
        return index_select(t, d, idx)

    return at(x, _NEXT) * at(y, _PREV) - at(x, _PREV) * at(y, _NEXT)


def cross(input: Any, other: Any, dim: int | None = None, *, out: Any = None) -> Tensor:
    """linalg.cross along dim; without dim, along the first dim of input of size 3 (PyTorch's
    deprecated default: pass dim, or use linalg.cross, whose default is -1)."""
    if dim is None:
        warnings.warn("Using cross without specifying the dim arg is deprecated. Please either "
                      "pass the dim explicitly or simply use linalg.cross. The default value of "
                      "dim will change to agree with that of linalg.cross in a future release.",
                      UserWarning, stacklevel=2)
        x = as_operand(input)
        sizes = list(x.shape)
        if 3 not in sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes.index(3)
    return linalg_cross(input, other, dim=dim, out=out)


# -- matrix_power, dist, renorm ------------------------------------------------------------------
def matrix_power(input: Any, n: int) -> Tensor:
    """The n-th power of the square matrices in the last two dims: n = 0 gives the identity,
    n < 0 the (-n)-th power of the inverse."""
    a = as_operand(input)
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"linalg.matrix_power: A must be batches of square matrices, but they "
                         f"are {a.shape[-2]} by {a.shape[-1]} matrices")
    n = int(n)
    if n == 0:  # identities that depend on a with a zero gradient (as in PyTorch)
        xp = xp_of(a.array)
        eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.array.dtype), a.array.shape)
        return Piecewise(lambda _: eye.copy())(a)
    if n < 0:
        a, n = inverse(a), -n
    if n == 1:
        return Clone()(a)
    if n in (2, 3):
        p = matmul(a, a)
        return p if n == 2 else matmul(p, a)
    z = result = None  # binary powers, lowest bit first (PyTorch's order of products)
    while n > 0:
        bit, n = n % 2, n // 2
        z = a if z is None else matmul(z, z)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def dist(input: Any, other: Any, p: float = 2) -> Tensor:
    """The p-norm of input - other (broadcast); floating tensors."""
    x, y = promoted(input, other)
    if x.array.dtype.kind in "iub":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {_kind(x)} instead.")
    return vector_norm(x - y, p)


def _kind(x: Tensor) -> str:
    from chainrule.ops.math_more import _torch_kind

    return _torch_kind(x.array.dtype)


def renorm(input: Any, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along dim whose p-norm exceeds maxnorm scaled down to norm maxnorm (by
    maxnorm / (norm + 1e-7), as PyTorch); the others unchanged."""
    x = as_operand(input)
    if x.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.ndim} dimensions")
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    d = _dim_of("renorm", dim, x.ndim)
    others = tuple(k for k in range(x.ndim) if k != d)
    norm = vector_norm(x, p, others, True)
    big = norm.array > maxnorm
    return x * where(big, maxnorm / (norm + 1e-7), 1.0)


# -- cov, corrcoef -------------------------------------------------------------------------------
def _weights(name: str, w: Any, n: int, integral: bool) -> Tensor:
    t = as_operand(w)
    if t.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {t.ndim} dimensions")
    kind = t.array.dtype.kind
    if integral and (kind not in "iu" or t.array.dtype == np.bool_):
        raise RuntimeError(f"cov(): expected {name} to have integral dtype but got {name} with "
                           f"{_kind(t)} dtype")
    if not integral and kind != "f":
        raise RuntimeError(f"cov(): expected {name} to have floating point dtype but got {name} "
                           f"with {_kind(t)} dtype")
    if t.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {t.numel()} != {n}")
    if n and host_any(t.array < 0):
        raise RuntimeError(f"cov(): {name} cannot be negative")
    return t.reshape(-1)


def cov(input: Any, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> Tensor:
    """The covariance matrix of the variables in the rows of input (observations in the
    columns; a 1-D input is one variable), with Bessel's correction by default; fweights
    (integer repeat counts) and aweights (float importances) weight the observations."""
    x = as_operand(input)
    if x.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {x.ndim} dimensions")
    if x.array.dtype == np.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    m = x.reshape(1, -1) if x.ndim < 2 else x
    n = m.shape[1]
    fw = None if fweights is None else _weights("fweights", fweights, n, True)
    aw = None if aweights is None else _weights("aweights", aweights, n, False)
    w = fw if aw is None else (aw if fw is None else fw * aw)
    if w is None:
        avg = m.sum(1) / n
        norm: Any = n - correction
    else:
        w_sum = w.sum()
        if w_sum.array.item() == 0:  # an explicit host copy, for the error
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (m * w).sum(1) / w_sum
        if correction == 0:
            norm = w_sum
        elif aw is None:
            norm = w_sum - correction
        elif fw is None and n == 1 and correction == 1:
            norm = 0
        else:
            norm = w_sum - correction * (w * aw).sum() / w_sum
    # a Tensor norm is one number: copied to the host explicitly, for this rare branch
    if (norm.array.item() if isinstance(norm, Tensor) else float(norm)) <= 0:
        norm = 0 if not isinstance(norm, Tensor) else norm * 0  # PyTorch warns, then clamps
    if n == 1 and (fw is None) != (aw is None):
        xm = m * 0  # one observation with one kind of weight: exactly zero deviations
        xm = xm.float() if xm.array.dtype.kind in "iu" else xm
    else:
        xm = m - avg.unsqueeze(1)
    c = mm(xm, (xm * w if w is not None else xm).t())
    return (c / norm).squeeze()


def corrcoef(input: Any) -> Tensor:
    """Pearson's correlation coefficients of the variables in the rows of input (cov divided
    by the outer product of the standard deviations, clipped to [-1, 1])."""
    x = as_operand(input)
    if x.ndim > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got "
                           f"an input with {x.ndim} dimensions")
    c = cov(x)
    if c.ndim == 0:
        return c / c
    sd = sqrt(c.diagonal())
    c = c / sd.reshape(-1, 1)
    c = c / sd.reshape(1, -1)
    return clamp(c, -1, 1)

