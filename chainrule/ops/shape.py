"""Ops that move elements without changing them: reshape, transpose, indexing, concatenate, stack,
split, pad, flip, repeat, tile, and the composites built on them (squeeze, unsqueeze, flatten...).

Indexing's backward scatters with accumulation, so repeated integer indices add up.
"""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.ops.reduce import broadcast_to
from chainrule.tensor import Tensor, as_operand, as_operands


def _axis(op: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim


class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape {x.shape} ({x.size} elements) into {self.shape}; the "
                "number of elements must stay the same (one dimension may be -1)"
            ) from None

    def backward(self, gy: Tensor) -> Tensor:
        return gy.reshape(self.inputs[0].shape)


class Transpose(Function):
    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return Transpose(tuple(inverse))(gy)


def _normalize_index(index: Any) -> tuple[Any, bool]:
    """Turn Tensors and lists in an index into arrays; say whether it is an advanced index."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    advanced = False
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        elif isinstance(it, list):
            it = np.asarray(it) if it else np.asarray(it, dtype=np.intp)  # x[[]]: no rows
        if hasattr(it, "dtype") and hasattr(it, "ndim") and not isinstance(it, np.generic):
            if it.dtype == bool:
                out.extend(it.nonzero())  # a mask is shorthand for the indices where it is True
                advanced = True
                continue
            advanced = True
        out.append(it)
    return tuple(out), advanced


class GetItem(Function):
    def __init__(self, index: Any, advanced: bool) -> None:
        self.index, self.advanced = index, advanced

    def forward(self, x: Any) -> Any:
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return IndexAdd(x.shape, self.index, self.advanced)(gy)


class IndexAdd(Function):
    """zeros(shape) with g added at index (accumulating repeats): the backward of indexing."""

    def __init__(self, shape: tuple[int, ...], index: Any, advanced: bool) -> None:
        self.shape, self.index, self.advanced = shape, index, advanced

    def forward(self, g: Any) -> Any:
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            xp.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out

    def backward(self, gy: Tensor) -> Tensor:
        return GetItem(self.index, self.advanced)(gy)


class Concatenate(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        try:
            return xp_of(*xs).concatenate(xs, axis=self.axis)
        except ValueError:
            raise ShapeError(
                f"concatenate: shapes {[x.shape for x in xs]} must agree on every axis but "
                f"axis {self.axis}"
            ) from None

    def backward(self, gy: Tensor) -> tuple:
        grads = []
        start = 0
        lead = (slice(None),) * self.axis
        for x, need in zip(self.inputs, self.needs_input_grad):
            stop = start + x.shape[self.axis]
            grads.append(gy[lead + (slice(start, stop),)] if need else None)
            start = stop
        return tuple(grads)


class Split(Function):
    def __init__(self, sections: Any, axis: int) -> None:
        self.sections, self.axis = sections, axis

    def forward(self, x: Any) -> tuple:
        try:
            return tuple(xp_of(x).split(x, self.sections, axis=self.axis))
        except ValueError:
            raise ShapeError(
                f"split: axis {self.axis} of size {x.shape[self.axis]} does not divide into "
                f"{self.sections} equal parts; pass a list of split indices instead"
            ) from None

    def backward(self, *gys: Tensor) -> Tensor:
        return concatenate(gys, self.axis)


class Pad(Function):
    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        return xp_of(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Tensor) -> Tensor:
        return gy[tuple(slice(b, s - a) for (b, a), s in zip(self.widths, gy.shape))]


class Flip(Function):
    def __init__(self, axes: Any) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return xp_of(x).flip(x, self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return Flip(self.axes)(gy)


# -- the public functions ------------------------------------------------------------------------
def reshape(x: Any, shape: Any) -> Tensor:
    x = as_operand(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return x if x.shape == shape else Reshape(shape)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes as NumPy does: reversed by default, else axes[i] becomes axis i."""
    x = as_operand(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(_axis("transpose", a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of a {x.ndim}-d tensor's")
    return Transpose(axes)(x)


def permute(x: Any, axes: Sequence[int]) -> Tensor:
    """PyTorch's name for transpose with explicit axes: permute(x, (0, 2, 1))."""
    return transpose(x, axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = as_operand(x)
    axes = list(range(x.ndim))
    a, b = _axis("swapaxes", axis1, x.ndim), _axis("swapaxes", axis2, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose(tuple(axes))(x)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = as_operand(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = {_axis("squeeze", a, x.ndim) for a in ((axis,) if isinstance(axis, int) else axis)}
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def expand_dims(x: Any, axis: int) -> Tensor:
    """Insert an axis of size 1 at `axis` (unsqueeze is PyTorch's name for it)."""
    x = as_operand(x)
    a = _axis("expand_dims", axis, x.ndim + 1)
    return reshape(x, x.shape[:a] + (1,) + x.shape[a:])


unsqueeze = expand_dims


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (PyTorch's flatten; the default gives 1-D)."""
    x = as_operand(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[s:e + 1]))
    return reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1:])


def getitem(x: Tensor, index: Any) -> Tensor:
    index, advanced = _normalize_index(index)
    return GetItem(index, advanced)(x)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    xs = as_operands(tuple(tensors))
    if not xs:
        raise ValueError("concatenate: needs at least one tensor")
    for x in xs:
        if x.ndim == 0:
            raise ShapeError("concatenate: 0-d tensors cannot be concatenated; use stack()")
    return Concatenate(_axis("concatenate", axis, xs[0].ndim))(*xs)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    xs = as_operands(tuple(tensors))
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    if len({x.shape for x in xs}) > 1:
        raise ShapeError(
            f"stack: all tensors must have the same shape, got {[x.shape for x in xs]}")
    a = _axis("stack", axis, xs[0].ndim + 1)
    return concatenate([expand_dims(x, a) for x in xs], a)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """NumPy's split: an int gives that many equal parts, a list gives the split points."""
    x = as_operand(x)
    sec = indices_or_sections
    sec = int(sec) if isinstance(sec, (int, np.integer)) else tuple(int(i) for i in sec)
    return list(Split(sec, _axis("split", axis, x.ndim))(x))


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding with NumPy's pad_width: an int, (before, after) or one pair per axis."""
    x = as_operand(x)
    try:
        w = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: pad_width {pad_width!r} does not fit a {x.ndim}-d tensor; give an int, "
            "(before, after) or one (before, after) pair per axis"
        ) from None
    if (w < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0, got {pad_width!r}")
    return Pad(tuple((int(b), int(a)) for b, a in w), value)(x)


def flip(x: Any, axis: Any = None) -> Tensor:
    x = as_operand(x)
    if axis is None:
        axes = tuple(range(x.ndim))
    else:
        ax = (axis,) if isinstance(axis, (int, np.integer)) else axis
        axes = tuple(_axis("flip", a, x.ndim) for a in ax)
    return Flip(axes)(x)


def tile(x: Any, reps: Any) -> Tensor:
    """NumPy's tile (PyTorch's Tensor.repeat): the whole tensor repeated reps times per axis."""
    x = as_operand(x)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    nd = builtins.max(x.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + x.shape
    # (s0, s1) -> (1, s0, 1, s1) -> broadcast (r0, s0, r1, s1) -> (r0*s0, r1*s1)
    spread = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    y = broadcast_to(reshape(x, spread), target)
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """NumPy's repeat (PyTorch's repeat_interleave): each element repeated along axis."""
    x = as_operand(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    a = _axis("repeat", axis, x.ndim)
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise ValueError(f"repeat: repeats must be >= 0, got {repeats}")
        spread = x.shape[:a + 1] + (1,) + x.shape[a + 1:]
        target = x.shape[:a + 1] + (int(repeats),) + x.shape[a + 1:]
        y = broadcast_to(reshape(x, spread), target)
        return reshape(y, x.shape[:a] + (x.shape[a] * int(repeats),) + x.shape[a + 1:])
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if counts.shape != (x.shape[a],):
        raise ShapeError(f"repeat: {counts.shape[0] if counts.ndim else 'scalar'} repeat counts "
                         f"for an axis of size {x.shape[a]}")
    idx = np.repeat(np.arange(x.shape[a]), counts)
    return getitem(x, (slice(None),) * a + (idx,))
