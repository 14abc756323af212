"""Triangles and diagonals of matrices: tril, triu, diagonal (a view, as in PyTorch), diag,
diag_embed, diagonal_scatter and trace. Each works on the last two dims (tril, triu) or on the
dims it names, over any batch dims.

A diagonal is a strided view of its tensor's memory (NumPy's own diagonal() is read-only), so
`x.diagonal().fill_(0)` changes x, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError, dim_error
from chainrule.operands import as_operand, as_view
from chainrule.ops.elementwise import where
from chainrule.ops.shape import Clone
from chainrule.tensor import Tensor


def _diag_view(a: Any, offset: int, d1: int, d2: int) -> Any:
    """The offset-th diagonal of the (d1, d2) planes of a, as a writable view of a's memory with
    the other dims first, in order, and the diagonal last (PyTorch's layout)."""
    xp = xp_of(a)
    b = xp.moveaxis(a, (d1, d2), (-2, -1))
    b = b[..., :, offset:] if offset >= 0 else b[..., -offset:, :]
    n = min(b.shape[-2], b.shape[-1])
    strides = b.strides[:-2] + (b.strides[-2] + b.strides[-1],)
    return xp.lib.stride_tricks.as_strided(b, b.shape[:-2] + (n,), strides)


class Tri(Function):
    """The lower (tril) or upper (triu) triangle of the last two dims, from diagonal k; the
    gradient is the same triangle of the upstream gradient."""

    saves = ""

    def __init__(self, k: int, upper: bool) -> None:
        self.k, self.upper = k, upper

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        return xp.triu(x, self.k) if self.upper else xp.tril(x, self.k)

    def backward(self, gy: Tensor) -> Tensor:
        return Tri(self.k, self.upper)(gy)


class Diagonal(Function):
    """The (offset, d1, d2) diagonal of x, a view; backward: zeros of x's shape with the
    gradient on that diagonal."""

    saves = ""

    def __init__(self, offset: int, d1: int, d2: int) -> None:
        self.offset, self.d1, self.d2 = offset, d1, d2

    def forward(self, x: Any) -> Any:
        return _diag_view(x, self.offset, self.d1, self.d2)

    def backward(self, gy: Tensor) -> Tensor:
        return DiagonalFill(tuple(self.inputs[0].shape), self.offset, self.d1, self.d2)(gy)


class DiagonalFill(Function):
    """zeros(shape) with g on its (offset, d1, d2) diagonal: diag_embed, and the backward of
    diagonal (each is the other's backward)."""

    saves = ""

    def __init__(self, shape: tuple[int, ...], offset: int, d1: int, d2: int) -> None:
        self.shape, self.offset, self.d1, self.d2 = shape, offset, d1, d2

    def forward(self, g: Any) -> Any:
        out = xp_of(g).zeros(self.shape, dtype=g.dtype)
        _diag_view(out, self.offset, self.d1, self.d2)[...] = g
        return out

    def backward(self, gg: Tensor) -> Tensor:
        return Diagonal(self.offset, self.d1, self.d2)(gg)


def _two_dims(op: str, dim1: int, dim2: int, ndim: int) -> tuple[int, int]:
    n = max(ndim, 1)
    for d in (dim1, dim2):
        if not -n <= d < n:
            raise dim_error(op, d, ndim)
    d1, d2 = dim1 % n, dim2 % n
    if d1 == d2:
        raise RuntimeError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def _tri(op: str, input: Any, diagonal: int, upper: bool) -> Tensor:
    x = as_operand(input)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions (got shape "
                         f"{tuple(x.shape)}); for a vector, make a matrix first: x.diag()")
    return Tri(int(diagonal), upper)(x)


def tril(input: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements with column - row <= diagonal), the rest
    zero."""
    return _tri("tril", input, diagonal, False)


def triu(input: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (elements with column - row >= diagonal), the rest
    zero."""
    return _tri("triu", input, diagonal, True)


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The offset-th diagonal of the (dim1, dim2) planes: a view with those two dims removed and
    the diagonal appended as the last dim (offset > 0 above the main diagonal, < 0 below)."""
    x = as_operand(input)
    d1, d2 = _two_dims("diagonal", dim1, dim2, x.ndim)
    offset = int(offset)
    y = Diagonal(offset, d1, d2)(x)
    return as_view(y, x, lambda p: diagonal(p, offset, d1, d2))


def diag_embed(input: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor with one more dim whose (dim1, dim2) planes hold input's last dim on their
    offset-th diagonal, zeros elsewhere (dim1 and dim2 count in the result's dims)."""
    x = as_operand(input)
    n_out = x.ndim + 1
    d1, d2 = _two_dims("diag_embed", dim1, dim2, n_out)
    n = x.shape[-1] + abs(int(offset))  # x has a dim: _two_dims refused a 0-d input
    rest = iter(x.shape[:-1])
    shape = tuple(n if k in (d1, d2) else next(rest) for k in range(n_out))
    return DiagonalFill(shape, int(offset), d1, d2)(x)


def diag(input: Any, diagonal: int = 0) -> Tensor:
    """A vector's square matrix (the vector on the diagonal-th diagonal), or a copy of a
    matrix's diagonal-th diagonal as a vector."""
    x = as_operand(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return Clone()(Diagonal(int(diagonal), 0, 1)(x))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D (shape "
                       f"{tuple(x.shape)}); for batches use diagonal() or diag_embed()")


def diagonal_scatter(input: Any, src: Any, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """A copy of input with its (offset, dim1, dim2) diagonal replaced by src (whose shape is
    that of input.diagonal(offset, dim1, dim2))."""
    x, s = as_operand(input), as_operand(src)
    d1, d2 = _two_dims("diagonal_scatter", dim1, dim2, x.ndim)
    want = _diag_view(x.array, int(offset), d1, d2).shape
    if tuple(s.shape) != want:
        raise ShapeError(f"diagonal_scatter: src has shape {tuple(s.shape)} but the diagonal of "
                         f"input {tuple(x.shape)} (offset {offset}, dims {dim1}, {dim2}) has "
                         f"shape {want}; they must match")
    xp = xp_of(x.array)
    mask = xp.zeros(x.array.shape, dtype=bool)
    _diag_view(mask, int(offset), d1, d2)[...] = True
    placed = DiagonalFill(tuple(x.shape), int(offset), d1, d2)(s.to(x.dtype))
    return where(mask, placed, x)


def trace(input: Any) -> Tensor:
    """The sum of a matrix's main diagonal (integers sum to int64)."""
    x = as_operand(input)
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim} (shape "
                           f"{tuple(x.shape)})")
    return diagonal(x).sum()
