"""In-place operations, as PyTorch has them: `p -= lr * p.grad`, `x.add_(y)`, `x[idx] = v`,
`x.zero_()`, `nn.ReLU(inplace=True)`. They change the tensor's storage, keep the object, and
count the change in its version counter (shared with its views), so that backward refuses to use
a saved tensor that changed since it was saved.

Where autograd must see the change (grad mode on, and the tensor or an operand requires grad),
the op is recorded as PyTorch records it: the tensor becomes the output of the op, whose input is
a stand-in for the old value ("rebase"), and ops recorded before the change keep sending their
gradients to that old value. A change through a view is recorded as a change of its base (what
PyTorch calls CopySlices). A leaf that requires grad, or a view of one, cannot be changed in place
outside no_grad(): PyTorch's error, word for word.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np

from chainrule import ops
from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.dtypes import can_cast
from chainrule.modes import _Mode, no_grad
from chainrule.tensor import Tensor, _Version
from chainrule.versions import saved_tensors_of


def _leaf_error() -> RuntimeError:
    return RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                        "operation.")


def _check_result(t: Tensor, r: Tensor, name: str) -> None:
    """The out-of-place result must fit t: same shape (no broadcasting of t itself) and a dtype
    that PyTorch would write into t's."""
    if tuple(r.array.shape) != tuple(t.array.shape):
        raise RuntimeError(f"{name}: output with shape {list(t.array.shape)} doesn't match the "
                           f"broadcast shape {list(r.array.shape)}")
    if not can_cast(r.array.dtype, t.array.dtype):
        raise RuntimeError(f"{name}: result type {_kind(r.array.dtype)} can't be cast to the "
                           f"desired output type {_kind(t.array.dtype)}")


def _kind(d: np.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(d.name, d.name)


def write(t: Tensor, values: Any) -> None:
    """Copy values into t's storage (casting to t's dtype), with PyTorch's error for a tensor
    whose elements share memory (an expand()ed view)."""
    a = t.array
    try:
        a[...] = values
    except ValueError as e:
        if not getattr(a.flags, "writeable", True):
            if a.base is not None and 0 in a.strides:
                raise RuntimeError(
                    "unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before "
                    "performing the operation.") from None
            raise RuntimeError("this tensor's memory is read-only (it shares a read-only NumPy "
                               "array); clone() it before changing it in place") from None
        raise RuntimeError(f"in-place write: {e}") from None


def _records(t: Tensor, others: tuple) -> bool:
    if not _Mode.grad_enabled:
        return False
    if t._requires_grad:
        return True
    return any(isinstance(o, Tensor) and o._requires_grad for o in others)


def _view_root_leaf(t: Tensor) -> bool:
    """Whether t is a view (of a view ...) of a leaf that requires grad."""
    v = t._view
    while v is not None:
        base = v[0]
        if base.creator is None and base._requires_grad:
            return True
        v = base._view
    return False


def apply(t: Tensor, name: str, compute: Callable[[], Tensor], others: tuple = (),
          fast: Callable[[], None] | None = None) -> Tensor:
    """t <- compute() in place, where compute() is the op's out-of-place result from t and
    others. `fast` (optional) does the same directly on the arrays when nothing is recorded."""
    if not _records(t, others):
        if fast is not None:
            fast()
        else:
            with no_grad():
                r = compute()
            _check_result(t, r, name)
            write(t, r.array)
        t._bump()
        return t
    if t.creator is None and t._requires_grad:
        raise _leaf_error()
    if _view_root_leaf(t):
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    r = compute()
    _check_result(t, r, name)
    if r.array.dtype != t.array.dtype:
        r = ops.astype(r, t.array.dtype)
    if t._view is not None:
        _rebase_view(t, r)
    else:
        _rebase(t, r)
    return t


def _stand_in(t: Tensor, arr: Any) -> Tensor:
    """A tensor for t's value before the change: t's place in the graph (its creator's output)
    is handed to it, and ops recorded with t before now will send their gradients to it."""
    old = Tensor._make(arr, None)
    if arr is t.array:
        old._vc = t._vc  # the same storage: a later change is seen through the stand-in too
    old.creator = t.creator
    old._requires_grad = t._requires_grad
    old.name = t.name
    f = t.creator
    if f is not None and "_outputs" in f.__dict__:  # a graph freed by backward has none
        f._outputs = tuple(weakref.ref(old) if r() is t else r for r in f._outputs)
    return old


def _remember(t: Tensor, old: Tensor) -> None:
    """Note that t changed now and that `old` is its value before: ops that used t before now
    send their gradients to old. Only a value with a live graph behind it can receive one, so
    the routes to values whose graph a backward has freed are dropped (a tensor changed in place
    at every step keeps a short list)."""
    routes = [e for e in t._rebased or () if _live(e[1])]
    if _live(old):
        routes.append((_Version.clock, old))
    t._rebased = routes or None


def _live(old: Tensor) -> bool:
    f = old.creator
    return old._requires_grad and (f is None or f.inputs is not None)


def _rebase(t: Tensor, r: Tensor) -> None:
    """Make t (now holding r's values) the output of r's op, whose input is t's old value."""
    f = r.creator
    if f is None:  # nothing differentiable came out: t is cut from the graph
        write(t, r.array)
        t._bump()
        t.creator, t._requires_grad = None, False
        return
    keep = any(x is t for x, _ in saved_tensors_of(f))
    if t._vc is None:
        t._vc = _Version()
    old = _stand_in(t, t.array.copy() if keep else t.array)
    f.inputs = tuple(old if x is t else x for x in f.inputs)
    if r.array is not t.array:
        write(t, r.array)
    t._bump()
    if keep:  # a private copy for f; ops that saved t before still see that t has changed
        old._vc = changed = _Version()
        changed.v, changed.t, changed.hist = t._vc.v, _Version.clock, [_Version.clock]
    _remember(t, old)
    f._outputs = (weakref.ref(t),)
    t.creator, t._requires_grad = f, True
    vc = t._vc
    if not any(x is not t and x._vc is vc for x, _ in saved_tensors_of(f)):
        f._t = _Version.clock  # its saved output is t as it is now


class ViewAssign(Function):
    """base with the region a view selects replaced by value (the out-of-place form of an
    in-place change through a view); backward: the gradient outside the region to base, the
    region's gradient to value."""

    saves = ""

    def __init__(self, replay: Callable[[Tensor], Tensor]) -> None:
        self.replay = replay

    def _region(self, a: Any) -> Any:
        with no_grad():
            return self.replay(Tensor._make(a, None)).array

    def forward(self, base: Any, value: Any) -> Any:
        out = base.copy()
        self._region(out)[...] = value
        self.mask = xp_of(base).ones(base.shape, dtype=base.dtype)
        self._region(self.mask)[...] = 0
        return out

    def backward(self, g: Tensor) -> tuple:
        n = self.needs_input_grad
        gb = ops.elementwise.Scale(self.mask)(g) if n[0] else None
        gv = self.replay(g) if n[1] else None
        return gb, gv


def _rebase_view(t: Tensor, r: Tensor) -> None:
    """An in-place change of view t recorded as a change of its base, then t re-made as a view
    of the changed base."""
    base, replay = t._view
    apply(base, "copy_slices", lambda: ViewAssign(replay)(base, r), (r,))
    v = replay(base)
    old = _stand_in(t, t.array)
    _remember(t, old)
    f = v.creator
    if f is not None:
        f._outputs = (weakref.ref(t),)
    t.creator, t._requires_grad = f, f is not None


# -- the in-place methods ------------------------------------------------------------------------
def _operand(v: Any) -> Any:
    return v.array if isinstance(v, Tensor) else v


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """self[index] = value, in place: recorded where autograd must see it."""
    from chainrule.ops.shape import _normalize_index

    idx, advanced = _normalize_index(index, self.array.shape, self.array)
    if not _records(self, (value,)):
        a = self.array
        v = _operand(value)
        if isinstance(value, Tensor) and a.dtype.kind in "iub" and value.array.dtype.kind in "fc":
            v = v.astype(a.dtype)
        try:
            a[idx] = v
        except ValueError as e:
            if not getattr(a.flags, "writeable", True):
                write(self, a)  # PyTorch's error for expanded or read-only tensors
            raise RuntimeError(f"setitem: {e} (tensor shape {tuple(a.shape)}, index {index!r})"
                               ) from None
        except IndexError as e:
            raise IndexError(f"setitem: {e} (tensor shape {tuple(a.shape)})") from None
        self._bump()
        return
    if self.creator is None and self._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation." if advanced else "a view of a leaf Variable that "
                           "requires grad is being used in an in-place operation.")
    v = value if isinstance(value, Tensor) else Tensor._make(
        xp_of(self.array).asarray(value, dtype=self.array.dtype), None)
    v = ops.astype(v, self.array.dtype)
    apply(self, "setitem", lambda: IndexPut(idx, advanced)(self, v), (v,))


class IndexPut(Function):
    """x with x[index] = value (broadcast); backward: zeros at index for x, the gradient at
    index (summed over broadcasting) for value. The forward writes into x's array itself: it
    runs only inside an in-place setitem, where x's old values are never needed."""

    saves = ""

    def __init__(self, index: Any, advanced: bool) -> None:
        self.index, self.advanced = index, advanced

    def forward(self, x: Any, value: Any) -> Any:
        try:
            x[self.index] = value
        except (ValueError, IndexError) as e:
            raise RuntimeError(f"setitem: {e} (tensor shape {tuple(x.shape)})") from None
        return x

    def backward(self, g: Tensor) -> tuple:
        n = self.needs_input_grad
        gx = gv = None
        if n[0]:
            mask = xp_of(g.array).ones(g.array.shape, dtype=g.array.dtype)
            mask[self.index] = 0
            gx = ops.elementwise.Scale(mask)(g)
        if n[1]:
            gv = ops.getitem(g, self.index)
        return gx, gv

