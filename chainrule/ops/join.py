"""Joining and splitting with PyTorch's meanings: cat / stack, split (pieces of a given size),
chunk (a number of pieces), tensor_split, unbind; and the copies that repeat or reorder elements:
Tensor.repeat (tile), repeat_interleave, tile, flip, roll, and NumPy-style constant padding.

split, chunk and unbind give views of the input (one op with several outputs, whose backward is
one concatenation); cat and stack promote dtypes as PyTorch does.
"""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import to_host, xp_of
from chainrule.errors import ShapeError
from chainrule.operands import _shape_arg, as_operand, as_operands, as_view, promoted
from chainrule.ops.reduce import broadcast_to
from chainrule.ops.shape import _axis, getitem, reshape, unsqueeze
from chainrule.tensor import Tensor


class Concatenate(Function):
    saves = ""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        return xp_of(*xs).concatenate(xs, axis=self.axis)

    def backward(self, gy: Tensor) -> tuple:
        grads = []
        start = 0
        lead = (slice(None),) * self.axis
        for x, need in zip(self.inputs, self.needs_input_grad):
            stop = start + x.array.shape[self.axis]
            grads.append(gy[lead + (slice(start, stop),)] if need else None)
            start = stop
        return tuple(grads)


class Split(Function):
    """Pieces of x along axis at the given split points (views); backward concatenates."""

    saves = ""

    def __init__(self, points: tuple[int, ...], axis: int) -> None:
        self.points, self.axis = points, axis

    def forward(self, x: Any) -> tuple:
        return tuple(xp_of(x).split(x, list(self.points), axis=self.axis))

    def backward(self, *gys: Tensor) -> Tensor:
        return Concatenate(self.axis)(*gys)


class Unbind(Function):
    """x's slices along axis (views, the axis removed); backward stacks them."""

    saves = ""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> tuple:
        lead = (slice(None),) * self.axis
        return tuple(x[lead + (i, ...)] for i in range(x.shape[self.axis]))  # 0-d views too

    def backward(self, *gys: Tensor) -> Tensor:
        return stack(gys, self.axis)


class Flip(Function):
    saves = ""

    def __init__(self, axes: Any) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return xp_of(x).flip(x, self.axes).copy()  # PyTorch's flip copies

    def backward(self, gy: Tensor) -> Tensor:
        return Flip(self.axes)(gy)


class Roll(Function):
    saves = ""

    def __init__(self, shifts: tuple[int, ...], axes: tuple[int, ...] | None) -> None:
        self.shifts, self.axes = shifts, axes

    def forward(self, x: Any) -> Any:
        return xp_of(x).roll(x, self.shifts, self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return Roll(tuple(-s for s in self.shifts), self.axes)(gy)


class Pad(Function):
    saves = ""

    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        return xp_of(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Tensor) -> Tensor:
        return gy[tuple(slice(b, s - a) for (b, a), s in zip(self.widths, gy.shape))]


# -- the public functions ------------------------------------------------------------------------
def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None,
        out: Any = None) -> Tensor:
    """The tensors joined along dim (they must agree on every other dim); dtypes are promoted
    as in PyTorch, and 1-D empty tensors are skipped (PyTorch's legacy rule)."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' must be a tuple or list of Tensors, not "
                        "Tensor")
    xs = as_operands(tuple(tensors))
    if not xs:
        raise ShapeError("cat: expected a non-empty list of Tensors")
    dim = dim if axis is None else axis
    if builtins.any(x.array.shape == (0,) for x in xs):
        xs = tuple(x for x in xs if x.array.shape != (0,)) or xs[:1]
    d0 = xs[0].array.dtype
    if builtins.any(x.array.dtype is not d0 for x in xs) and len({x.array.dtype for x in xs}) > 1:
        xs = promoted(*xs)
    a = _axis("cat", dim, xs[0].ndim) if xs[0].ndim else 0
    try:
        return Concatenate(a)(*xs)
    except ValueError:
        _check_cat(xs, a)
        raise


def _check_cat(xs: Sequence[Tensor], a: int) -> None:
    """PyTorch's errors for tensors that cannot be joined along dim a."""
    for i, x in enumerate(xs):
        if x.ndim == 0:
            raise ShapeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated; use stack() or unsqueeze it first")
        if x.ndim != xs[0].ndim or builtins.any(
                s != t for k, (s, t) in enumerate(zip(x.shape, xs[0].shape)) if k != a):
            raise ShapeError(
                f"cat: Sizes of tensors must match except in dimension {a}: tensor number {i} "
                f"in the list has shape {tuple(x.shape)}, tensor 0 has {tuple(xs[0].shape)}")


concat = concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None,
          out: Any = None) -> Tensor:
    """The tensors (all of one shape) joined along a new dim."""
    xs = as_operands(tuple(tensors))
    if not xs:
        raise ShapeError("stack expects a non-empty TensorList")
    if len({tuple(x.shape) for x in xs}) > 1:
        i = next(i for i, x in enumerate(xs) if x.shape != xs[0].shape)
        raise ShapeError(f"stack: stack expects each tensor to be equal size, but got "
                         f"{tuple(xs[0].shape)} at entry 0 and {tuple(xs[i].shape)} at entry {i}")
    a = _axis("stack", dim if axis is None else axis, xs[0].ndim + 1)
    return cat([unsqueeze(x, a) for x in xs], a)


def hstack(tensors: Sequence[Any]) -> Tensor:
    xs = [x if x.ndim else x.reshape(1) for x in as_operands(tuple(tensors))]
    return cat(xs, 0 if xs[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    xs = [x if x.ndim >= 2 else x.reshape(1, -1) for x in as_operands(tuple(tensors))]
    return cat(xs, 0)


row_stack = vstack


def dstack(tensors: Sequence[Any]) -> Tensor:
    xs = []
    for x in as_operands(tuple(tensors)):
        if x.ndim < 2:
            x = x.reshape(1, -1, 1)
        elif x.ndim == 2:
            x = x.unsqueeze(-1)
        xs.append(x)
    return cat(xs, 2)


def _split_at(x: Tensor, points: Sequence[int], a: int) -> tuple[Tensor, ...]:
    """x cut at the given points along dim a: views sharing x's storage and version."""
    pts = tuple(int(p) for p in points)
    pieces = Split(pts, a)(x)
    if not isinstance(pieces, tuple):
        pieces = (pieces,)
    bounds = (0,) + pts + (x.shape[a],)
    lead = (slice(None),) * a
    for k, piece in enumerate(pieces):
        index = lead + (slice(bounds[k], bounds[k + 1]),)
        as_view(piece, x, lambda p, index=index: getitem(p, index))
    return pieces


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along dim: an int is the size of each piece (the last may be smaller), a list the
    size of every piece (they must add up to the dim's size), as in PyTorch."""
    x = as_operand(tensor)
    a = _axis("split", dim, x.ndim)
    n = x.shape[a]
    sec = split_size_or_sections
    if isinstance(sec, (int, np.integer)):
        size = int(sec)
        if size <= 0 and not (size == 0 and n == 0):
            raise ShapeError(f"split_size can only be 0 if dimension size is 0, but got "
                             f"dimension size of {n}" if size == 0 else
                             f"split expects split_size be non-negative, but got "
                             f"split_size={size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sizes = [int(s) for s in sec]
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise ShapeError(f"split: split_with_sizes expects split_sizes to sum exactly to "
                             f"{n} (the size of dimension {a} of the input {tuple(x.shape)}), "
                             f"but got split_sizes={sizes}")
    return _split_at(x, np.cumsum(sizes)[:-1].tolist(), a)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Up to `chunks` pieces of equal size ceil(n / chunks) along dim (the last may be smaller,
    and fewer pieces come out when n does not fill them), as torch.chunk."""
    x = as_operand(input)
    if chunks <= 0:
        raise ShapeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = x.shape[_axis("chunk", dim, x.ndim)]
    return split(x, builtins.max(-(-n // chunks), 1) if n else 1, dim)


def tensor_split(input: Any, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """NumPy's array_split: an int gives that many nearly equal pieces, a list the indices to
    cut at."""
    x = as_operand(input)
    a = _axis("tensor_split", dim, x.ndim)
    n = x.shape[a]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = s.tolist()
    if isinstance(s, (int, np.integer)):
        k = int(s)
        if k <= 0:
            raise ShapeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        pts = np.cumsum([q + 1] * r + [q] * (k - r))[:-1].tolist()
    else:
        pts = [builtins.min(builtins.max(int(i) + (n if i < 0 else 0), 0), n) for i in s]
        pts = [builtins.max(p, pts[i - 1]) if i else p for i, p in enumerate(pts)]
    return _split_at(x, pts, a)


def unbind(input: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along dim, with dim removed (views)."""
    x = as_operand(input)
    a = _axis("unbind", dim, x.ndim)
    if x.shape[a] == 0:
        return ()
    pieces = Unbind(a)(x)
    if not isinstance(pieces, tuple):
        pieces = (pieces,)
    lead = (slice(None),) * a
    for i, piece in enumerate(pieces):
        as_view(piece, x, lambda p, index=lead + (i,): getitem(p, index))
    return pieces


def flip(input: Any, dims: Any = None) -> Tensor:
    """The elements reversed along dims (a copy, as in PyTorch); dims=None flips all (an
    extension: PyTorch requires dims)."""
    x = as_operand(input)
    if dims is None:
        axes = tuple(range(x.ndim))
    else:
        ax = (dims,) if isinstance(dims, (int, np.integer)) else dims
        axes = tuple(_axis("flip", a, x.ndim) for a in ax)
    return Flip(axes)(x)


def fliplr(input: Any) -> Tensor:
    return flip(input, (1,))


def flipud(input: Any) -> Tensor:
    return flip(input, (0,))


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Elements shifted along dims, wrapping around (of the flattened tensor without dims)."""
    x = as_operand(input)
    sh = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(sh) != 1:
            raise ShapeError("roll: shifts and dims must align when dims is not given")
        return reshape(Roll((int(sh[0]),), None)(x), tuple(x.shape))
    ax = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(ax) != len(sh):
        raise ShapeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:"
                         f"{len(ax)}")
    return Roll(tuple(int(s) for s in sh), tuple(_axis("roll", a, x.ndim) for a in ax))(x)


def tile(input: Any, *dims: Any) -> Tensor:
    """The whole tensor repeated dims[i] times along dim i (dims shorter than the tensor's
    rank are padded with 1s in front), as torch.tile."""
    x = as_operand(input)
    reps = _shape_arg(dims)
    nd = builtins.max(x.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + tuple(x.shape)
    # (s0, s1) -> (1, s0, 1, s1) -> broadcast (r0, s0, r1, s1) -> (r0*s0, r1*s1)
    spread = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    y = broadcast_to(reshape(x, spread), target)
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))


def repeat(input: Any, *sizes: Any) -> Tensor:
    """Tensor.repeat: the whole tensor repeated sizes[i] times along dim i (a copy); there must
    be at least as many sizes as dims."""
    x = as_operand(input)
    reps = _shape_arg(sizes)
    if len(reps) < x.ndim:
        raise ShapeError("Number of dimensions of repeat dims can not be smaller than number "
                         "of dimensions of tensor")
    y = tile(x, reps)
    return y.clone() if xp_of(y.array).may_share_memory(y.array, x.array) else y


def repeat_interleave(input: Any, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element repeated `repeats` times along dim (of the flattened tensor without dim);
    repeats may be one count per element. repeat_interleave(counts) alone gives the indices
    0, 1, ... each repeated counts[i] times."""
    if repeats is None:
        counts = as_operand(input)
        return Tensor._make(np.repeat(np.arange(counts.shape[0]), counts.array), None)
    x = as_operand(input)
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    a = _axis("repeat_interleave", dim, x.ndim)
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.item())
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise ShapeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
        spread = tuple(x.shape[:a + 1]) + (1,) + tuple(x.shape[a + 1:])
        target = tuple(x.shape[:a + 1]) + (int(repeats),) + tuple(x.shape[a + 1:])
        y = broadcast_to(reshape(x, spread), target)
        return reshape(y, tuple(x.shape[:a]) + (x.shape[a] * int(repeats),)
                       + tuple(x.shape[a + 1:]))
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    counts = np.asarray(to_host(counts))  # the output's size depends on them: a host copy
    if counts.shape != (x.shape[a],):
        raise ShapeError(f"repeats must have the same size as input along dim, but got "
                         f"repeats.size(0) = {counts.shape[0] if counts.ndim else 'scalar'} "
                         f"and input.size({a}) = {x.shape[a]}")
    idx = np.repeat(np.arange(x.shape[a]), counts)
    return getitem(x, (slice(None),) * a + (idx,))


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding with NumPy's pad_width: an int, (before, after) or one pair per dim
    (first dim first). PyTorch's F.pad, which lists pairs from the last dim, is
    chainrule.nn.functional.pad."""
    x = as_operand(x)
    try:
        w = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: pad_width {pad_width!r} does not fit a {x.ndim}-d tensor; give an int, "
            "(before, after) or one (before, after) pair per dim"
        ) from None
    if (w < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0, got {pad_width!r}")
    return Pad(tuple((int(b), int(a)) for b, a in w), value)(x)
