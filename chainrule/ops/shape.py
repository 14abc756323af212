"""Ops that move elements without changing them, with PyTorch's meanings: reshape / view,
transpose(dim0, dim1), permute, squeeze / unsqueeze, flatten, expand, indexing, narrow, select,
and the copies clone and contiguous. Joining and splitting (cat, stack, split, chunk, repeat, ...)
are in ops/join.py.

Views (reshape when possible, view, transpose, permute, t, squeeze, unsqueeze, expand, basic
indexing, narrow, select) share their base's storage and version counter, as in PyTorch: an
in-place change through one is seen by the other. Indexing's backward scatters with
accumulation, so repeated integer indices add up.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import is_device_array, xp_of
from chainrule.errors import DimError, ShapeError, dim_error
from chainrule.operands import _shape_arg, as_operand, as_view
from chainrule.tensor import Tensor


def _axis(op: str, axis: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= axis < n:
        raise dim_error(op, axis, ndim)
    return int(axis) % n


class Reshape(Function):
    saves = ""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(
                f"shape '{list(self.shape)}' is invalid for input of size {x.size} (shape "
                f"{x.shape}): the number of elements must stay the same (one dimension may be -1)"
            ) from None

    def backward(self, gy: Tensor) -> Tensor:
        return Reshape(tuple(self.inputs[0].shape))(gy)


class Transpose(Function):
    saves = ""

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return Transpose(tuple(inverse))(gy)


class Clone(Function):
    """A copy of x in new memory; the gradient passes through unchanged."""

    saves = ""

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy


def _normalize_index(index: Any, shape: tuple[int, ...] | None = None,
                     like: Any = None) -> tuple[Any, bool]:
    """Turn Tensors and lists in an index into arrays; say whether it is an advanced index.
    A basic index gets a trailing Ellipsis, so that picking one element gives a 0-d view (NumPy
    would give a copied scalar). Masks are checked against `shape` (NumPy's rule, PyTorch's
    error) and become the indices where they are True. Host index arrays meet a device array
    `like` on its device (uploaded once, as PyTorch moves a CPU index for a CUDA tensor)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    advanced = masked = False
    for it in items:
        if isinstance(it, Tensor):
            it = it.array
        elif isinstance(it, list):
            it = np.asarray(it) if it else np.asarray(it, dtype=np.intp)  # x[[]]: no rows
        elif isinstance(it, slice) and it.step is not None and it.step <= 0:
            raise ValueError(f"index: step must be greater than zero, got {it.step} (as in "
                             "PyTorch); to reverse a dim use x.flip(dim)")
        if hasattr(it, "dtype") and hasattr(it, "ndim") and not isinstance(it, np.generic):
            if it.dtype == bool:
                masked = True
                out.extend(it.nonzero())  # a mask is shorthand for the indices where it is True
                advanced = True
                continue
            if it.dtype.kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {it.dtype}")
            advanced = True
        out.append(it)
    if masked and shape is not None:
        _check_masks(items, shape)
    if not advanced and not any(it is Ellipsis for it in out):
        out.append(Ellipsis)
    if advanced and is_device_array(like):
        xp = xp_of(like)
        out = [xp.asarray(it) if isinstance(it, np.ndarray) else it for it in out]
    return tuple(out), advanced


def _check_masks(items: tuple, shape: tuple[int, ...]) -> None:
    """NumPy's check (PyTorch's IndexError) that each boolean mask fits the dims it covers."""
    probe = np.broadcast_to(np.zeros((), dtype=bool), shape)
    fixed = tuple(_host_probe(it.array if isinstance(it, Tensor) else it)
                  if isinstance(it, (Tensor, list)) or is_device_array(it) else it
                  for it in items)
    try:
        probe[fixed]
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor shape {tuple(shape)})") from None


def _host_probe(it: Any) -> Any:
    """An index item as a host array for the mask check; a device array by its shape only (the
    check needs no values, so nothing is copied from the device)."""
    if is_device_array(it):
        return np.zeros(it.shape, dtype=bool if it.dtype == bool else np.intp)
    return np.asarray(it)


class GetItem(Function):
    saves = ""

    def __init__(self, index: Any, advanced: bool) -> None:
        self.index, self.advanced = index, advanced

    def forward(self, x: Any) -> Any:
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor shape {x.shape})") from None

    def backward(self, gy: Tensor) -> Tensor:
        return IndexAdd(tuple(self.inputs[0].shape), self.index, self.advanced)(gy)


class IndexAdd(Function):
    """zeros(shape) with g added at index (accumulating repeats): the backward of indexing."""

    saves = ""

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


# -- the public functions ------------------------------------------------------------------------
def _resolve(shape: tuple[int, ...], numel: int, like: Any, op: str = "reshape") -> tuple:
    """The shape with -1 filled in; PyTorch's error (with both shapes) for one that does not
    fit."""
    def bad(why: str) -> ShapeError:
        return ShapeError(f"{op}: cannot make a tensor of shape {tuple(like.shape)} ({numel} "
                          f"elements) into shape {shape}: {why}")

    if shape.count(-1) > 1:
        raise bad("only one dimension can be inferred (-1)")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise bad(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise bad(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise bad(f"shape '{list(shape)}' is invalid for input of size {numel}; the number of "
                  "elements must stay the same (one dimension may be -1)")
    return shape


def reshape(input: Any, *shape: Any) -> Tensor:
    """The same elements in a new shape: a view when the memory layout allows (as in PyTorch),
    else a copy. reshape(x, 2, 3) and reshape(x, (2, 3)) both work; one size may be -1."""
    x = as_operand(input)
    shp = shape[0] if len(shape) == 1 and type(shape[0]) is tuple else _shape_arg(shape)
    a = x.array
    try:
        y = Reshape(shp)(x)  # NumPy checks the sizes; PyTorch's message when they do not fit
    except RuntimeError:
        _resolve(tuple(int(s) for s in shp), a.size, x)
        raise
    if -1 in shp and a.size == 0:
        _resolve(tuple(shp), 0, x)  # NumPy infers -1 from 0 elements, PyTorch refuses
    b = y.array.base
    if b is not None and (b is a or b is a.base) or not y.array.size:
        as_view(y, x, lambda p: reshape(p, shp))
    return y


def view(input: Any, *shape: Any) -> Tensor:
    """reshape that must not copy: PyTorch's error when the layout does not allow a view.
    view(dtype) reinterprets the bytes as another dtype of the same size."""
    x = as_operand(input)
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        return _view_dtype(x, shape[0])
    shp = _resolve(_shape_arg(shape), x.array.size, x, "view")
    a = x.array.view()
    try:
        a.shape = shp
    except AttributeError:
        raise ShapeError(
            f"view: view size is not compatible with input tensor's size and stride (shape "
            f"{tuple(x.shape)}, strides {x.stride()}; at least one dimension spans across two "
            "contiguous subspaces). Use .reshape(...) instead, which copies.") from None
    return reshape(x, shp)


def _view_dtype(x: Tensor, dtype: Any) -> Tensor:
    from chainrule.dtypes import as_numpy_dtype

    dt = as_numpy_dtype(dtype)
    if dt.itemsize != x.array.dtype.itemsize:
        raise RuntimeError(f"view(dtype): {x.dtype} and {dtype} have different sizes; chainrule "
                           "only reinterprets between dtypes of the same size")
    if x.requires_grad:
        raise RuntimeError("view(dtype) of a tensor that requires grad: reinterpreting bits is "
                           "not differentiable; use .detach().view(dtype)")
    return as_view(Tensor._make(x.array.view(dt), None), x, lambda p: _view_dtype(p, dt))


def view_as(input: Any, other: Tensor) -> Tensor:
    return view(input, tuple(other.shape))


def reshape_as(input: Any, other: Tensor) -> Tensor:
    return reshape(input, tuple(other.shape))


def permute(input: Any, *dims: Any) -> Tensor:
    """The dims reordered: output dim i is input dim dims[i] (a view)."""
    x = as_operand(input)
    n = x.array.ndim
    axes = tuple(a + n if -n <= a < 0 else (a if 0 <= a < n else _axis("permute", a, n))
                 for a in (dims[0] if len(dims) == 1 and type(dims[0]) is tuple
                           else _shape_arg(dims)))
    if len(axes) != x.ndim or sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                         f"not match the length of the desired ordering of dimensions i.e. "
                         f"input.dim() = {x.ndim} is not equal to len(dims) = {len(axes)}"
                           if len(axes) != x.ndim else
                           f"permute(): duplicate dims are not allowed: {list(dims)}")
    if x.ndim == 0:
        return reshape(x, ())
    return as_view(Transpose(axes)(x), x, lambda p: permute(p, axes))


def transpose(input: Any, dim0: int, dim1: int) -> Tensor:
    """dim0 and dim1 swapped (a view), as torch.transpose."""
    x = as_operand(input)
    n = x.array.ndim
    if n == 0:
        _axis("transpose", dim0, 0), _axis("transpose", dim1, 0)
        return reshape(x, ())
    a = dim0 + n if dim0 < 0 else dim0
    b = dim1 + n if dim1 < 0 else dim1
    if not (0 <= a < n and 0 <= b < n):
        _axis("transpose", dim0, n), _axis("transpose", dim1, n)
    axes = list(range(n))
    axes[a], axes[b] = b, a
    axes = tuple(axes)
    return as_view(Transpose(axes)(x), x, lambda p: permute(p, axes))


swapdims = transpose


def swapaxes(input: Any, axis0: int, axis1: int) -> Tensor:
    """transpose under NumPy's name (PyTorch's argument names)."""
    return transpose(input, axis0, axis1)


def t(input: Any) -> Tensor:
    """The transpose of a matrix (tensors of up to 2 dims), as torch.t."""
    x = as_operand(input)
    if x.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D; "
                         "use x.transpose(dim0, dim1) or x.mT")
    return transpose(x, 0, 1) if x.ndim == 2 else reshape(x, tuple(x.shape))


def reverse_dims(input: Any) -> Tensor:
    """All dims reversed (x.T)."""
    x = as_operand(input)
    return permute(x, tuple(range(x.ndim))[::-1])


def matrix_transpose(input: Any) -> Tensor:
    """The last two dims swapped (x.mT)."""
    x = as_operand(input)
    if x.ndim < 2:
        raise ShapeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                         f"Got {x.ndim}-D tensor.")
    return transpose(x, -2, -1)


def movedim(input: Any, source: Any, destination: Any) -> Tensor:
    x = as_operand(input)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ShapeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                         f"should contain the same number of dims as destination ({dst} dims)")
    src = [_axis("movedim", s, x.ndim) for s in src]
    dst = [_axis("movedim", d, x.ndim) for d in dst]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, order)


moveaxis = movedim


def squeeze(input: Any, dim: Any = None) -> Tensor:
    """Size-1 dims removed: all of them, or those of dim (an int or a tuple); a dim whose size
    is not 1 is left as it is, as in PyTorch."""
    x = as_operand(input)
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = {_axis("squeeze", a, x.ndim) for a in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(input: Any, dim: int) -> Tensor:
    """A size-1 dim inserted at dim (dim may be -1 for last, as in PyTorch)."""
    x = as_operand(input)
    a = _axis("unsqueeze", dim, x.ndim + 1)
    return reshape(x, tuple(x.shape[:a]) + (1,) + tuple(x.shape[a:]))


expand_dims = unsqueeze


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dims start_dim..end_dim merged into one (the default gives 1-D)."""
    x = as_operand(input)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
    merged = int(np.prod(x.shape[s:e + 1]))
    return reshape(x, tuple(x.shape[:s]) + (merged,) + tuple(x.shape[e + 1:]))


def ravel(input: Any) -> Tensor:
    return flatten(input)


def unflatten(input: Any, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dim dim split into sizes (one of which may be -1)."""
    x = as_operand(input)
    d = _axis("unflatten", dim, x.ndim)
    sizes = tuple(int(s) for s in sizes)
    inner = _resolve(sizes, x.shape[d], x) if x.shape[d] or -1 not in sizes else sizes
    return reshape(x, tuple(x.shape[:d]) + inner + tuple(x.shape[d + 1:]))


def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index] with NumPy's (and PyTorch's) indexing rules; basic indexing gives a view."""
    index, advanced = _normalize_index(index, x.array.shape, x.array)
    y = GetItem(index, advanced)(x)
    if not advanced:
        as_view(y, x, lambda p: getitem(p, index))
    return y


def select(input: Any, dim: int, index: int) -> Tensor:
    """input[..., index, ...] at dim (a view with dim removed)."""
    x = as_operand(input)
    d = _axis("select", dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise DimError(f"select(): index {index} out of range for tensor of size "
                       f"{list(x.shape)} at dimension {d}")
    return getitem(x, (slice(None),) * d + (int(index),))


def narrow(input: Any, dim: int, start: int, length: int) -> Tensor:
    """input[..., start:start + length, ...] at dim (a view)."""
    x = as_operand(input)
    d = _axis("narrow", dim, x.ndim)
    start = int(start)
    if start < 0:
        start += x.shape[d]
    if not (0 <= start <= x.shape[d] and 0 <= length and start + length <= x.shape[d]):
        raise ShapeError(f"start ({start}) + length ({length}) exceeds dimension size "
                         f"({x.shape[d]}).")
    return getitem(x, (slice(None),) * d + (slice(start, start + int(length)),))


def expand(input: Any, *sizes: Any) -> Tensor:
    """A view with size-1 dims repeated to sizes (-1 keeps a dim; new dims go in front)."""
    from chainrule.ops.reduce import broadcast_to

    x = as_operand(input)
    shape = _shape_arg(sizes)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({x.ndim})")
    for i, s in enumerate(shape):
        if i < lead and s == -1:
            raise ShapeError(f"expand: -1 is not allowed in a leading, non-existing dimension "
                             f"{i}")
        if i >= lead and s != -1 and x.shape[i - lead] not in (1, s):
            raise ShapeError(
                f"The expanded size of the tensor ({s}) must match the existing size "
                f"({x.shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                f"{list(shape)}.  Tensor sizes: {list(x.shape)}")
    return broadcast_to(x, shape)


def expand_as(input: Any, other: Tensor) -> Tensor:
    return expand(input, tuple(other.shape))


def clone(input: Any, *, memory_format: Any = None) -> Tensor:
    """A copy in new memory, recorded in the graph (gradients flow back to input)."""
    return Clone()(as_operand(input))


def contiguous(input: Any, memory_format: Any = None) -> Tensor:
    """input itself when its memory is C-contiguous, else a contiguous copy."""
    x = as_operand(input)
    return x if x.array.flags.c_contiguous else Clone()(x)
