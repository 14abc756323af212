"""Tensor: an array, whether it requires grad, its .grad, the op (Function) that created it, and
a version counter shared with its views.

Every method that computes is a thin call into chainrule.ops (bound in chainrule.methods); the
in-place methods live in chainrule.inplace. `t.array` is the NumPy (or CuPy) array itself;
`t.data` is, as in PyTorch, a Tensor sharing that array, cut from the graph.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from chainrule.backend import CPU, device_of, to_array
from chainrule.dtypes import (
    default_float,
    from_numpy_dtype,
    is_floating,
)
from chainrule.versions import _Version

_PY_SCALARS = (bool, int, float, complex)


class Size(tuple):
    """A tensor's shape: a tuple of ints (PyTorch's torch.Size)."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def __format__(self, spec: str) -> str:
        # inside f-strings (every error message) a shape reads as the tuple it is: (32, 784)
        return format(tuple.__repr__(self), spec)

    def __getitem__(self, i: Any) -> Any:
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back.

    `array` is the NumPy (or CuPy) array. A leaf is a tensor no recorded op created; leaves with
    requires_grad=True receive `.grad` from backward().

    `Tensor(data)` makes a tensor of the default float dtype, as torch.Tensor does, and
    `Tensor(2, 3)` one of shape (2, 3) (zero-filled); cr.tensor(data) infers the dtype.
    """

    __slots__ = ("array", "_grad", "creator", "_requires_grad", "_hooks", "_retains_grad", "name",
                 "_vc", "_view", "_rebased", "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, *args: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None, device: Any = None) -> None:
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                        for a in args):
            data: Any = np.zeros(tuple(int(a) for a in args), dtype=default_float())
        elif len(args) == 1:
            data = args[0]
        elif not args:
            data = np.zeros((0,), dtype=default_float())
        else:
            raise TypeError(f"Tensor(): expected sizes (ints) or one data argument, got {args!r}")
        if isinstance(data, Tensor):
            data = data.array
        arr = to_array(data, dtype)
        if dtype is None and arr.dtype != default_float():
            arr = arr.astype(default_float())  # torch.Tensor(...) is a default-float tensor
        self.array = arr if device is None else _moved(arr, device)
        self._grad: Tensor | None = None
        self.creator = None
        self._requires_grad = False
        self._hooks: dict | None = None
        self._retains_grad = False
        self.name = name
        self._vc: _Version | None = None
        self._view: Any = None
        self._rebased: list | None = None
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: Any, creator: Any) -> Tensor:
        """Fast constructor for op outputs: `data` is already an array of the right dtype."""
        t = object.__new__(cls)
        if type(data) is not np.ndarray and (not hasattr(data, "ndim")
                                             or isinstance(data, np.generic)):
            data = np.asarray(data)
        t.array = data
        t._grad = None
        if creator is not None and data.dtype.kind not in "fc":
            creator = None  # integer and bool results carry no gradient
        t.creator = creator
        t._requires_grad = creator is not None
        t._hooks = None
        t._retains_grad = False
        t.name = None
        t._vc = None
        t._view = None
        t._rebased = None
        return t

    # -- autograd attributes -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not is_floating(self.array.dtype):
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients; this "
                f"one is {self.dtype}: convert it first, t.float().requires_grad_()")
        if self.creator is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self) -> Any:
        return self.creator

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # PyTorch refuses a .grad that backward could not have made: `w.grad = 0.` would else
        # fail later, far from the line that set it
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.array.shape != self.array.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.array.shape)}' to a "
                    f"tensor of size '{list(self.array.shape)}'. Please ensure that the gradient "
                    "and the tensor are the same size")
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype {value.dtype} to a tensor with "
                    f"dtype {self.dtype}: convert it first, g.to(t.dtype)")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's array, cut from the graph, with a version counter of its
        own (in-place changes through it are not seen by autograd), as in PyTorch."""
        return Tensor._make(self.array, None)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"t.data = ...: the new data must be a Tensor, got "
                            f"{type(value).__name__}; wrap it: cr.as_tensor(value)")
        self.array = value.array

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else self._vc.v

    def _bump(self) -> None:
        """Count an in-place change of this tensor's storage (seen by its views too)."""
        vc = self._vc
        if vc is None:
            vc = self._vc = _Version()
        vc.bump()

    def detach(self) -> Tensor:
        """The same storage, cut from the graph (no gradient flows through it); in-place changes
        through either are seen by both's version counter."""
        t = Tensor._make(self.array, None)
        if self._vc is None:
            self._vc = _Version()
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        if self._view is not None and self._view[0].requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.creator = None
        self._requires_grad = False
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d self / d leaf into every leaf's .grad (a gradient is needed unless
        self holds one element); with inputs=, only into those tensors."""
        from chainrule.autograd import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs=inputs)

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.creator is not None:
            self._retains_grad = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Call fn(grad) when this tensor's gradient is complete; a returned Tensor replaces it.
        Returns a handle whose remove() unregisters the hook."""
        from chainrule.autograd import register_hooks_removable

        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = {}
        return register_hooks_removable(self._hooks, fn)

    def register_post_accumulate_grad_hook(self, fn: Callable[[Tensor], None]) -> Any:
        """Call fn(self) after backward has accumulated this leaf's gradient into self.grad (an
        optimizer step in backward; DDP's gradient buckets). fn returns None. Returns a handle
        whose remove() unregisters the hook."""
        from chainrule.autograd import register_hooks_removable
        from chainrule.walk import post_accumulate_hooks

        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.creator is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        return register_hooks_removable(post_accumulate_hooks(self), fn)

    # -- array attributes ----------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim: int | None = None) -> Any:
        """The shape (a Size), or the size of one dimension: x.size(0)."""
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[_dim(dim, self.array.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    @property
    def dtype(self) -> Any:
        return from_numpy_dtype(self.array.dtype)

    @property
    def device(self) -> Any:
        a = self.array
        return CPU if type(a) is np.ndarray else device_of(a)

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying NumPy array, shared, not copied (writes show in both). A GPU tensor
        must be moved first (t.cpu().numpy()) unless force=True, which copies it to the host.
        Unlike PyTorch, a tensor that requires grad is not refused (the README lists this);
        t.detach().numpy(), which PyTorch asks for, shares the same array."""
        a = self.array
        if type(a) is not np.ndarray:
            if force and hasattr(a, "get"):
                return a.get()
            if hasattr(a, "get"):
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first.")
        return a

    def share_memory_(self) -> Tensor:
        """Move the array into shared memory, in place, so processes started after this see
        and change the same numbers (chainrule.multiprocessing; Hogwild training)."""
        from chainrule.multiprocessing import share_memory_

        return share_memory_(self)

    def is_shared(self) -> bool:
        from chainrule.multiprocessing import is_shared

        return is_shared(self)

    def item(self) -> Any:
        if self.array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.array.size} elements cannot be converted to Scalar "
                f"(shape {tuple(self.array.shape)}); index one element first, t[0].item(), or "
                "use t.tolist()")
        return self.array.item()

    def tolist(self) -> Any:
        a = self.array
        return (a.get() if hasattr(a, "get") else a).tolist()

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element: Any) -> bool:
        return bool((self == element).any().item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape "
                f"{tuple(self.array.shape)}); use .any() or .all()")
        return bool(self.array.item())  # item(): an explicit copy for a device tensor

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.array.item())

    def __format__(self, spec: str) -> str:
        if self.array.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """np.asarray(t): the shared array, as numpy() gives it (NumPy's copy= protocol)."""
        a = self.numpy()
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a.copy() if copy else a
        if copy is False:
            raise ValueError(f"__array__: cannot convert {self.dtype} to {np.dtype(dtype)} "
                             "without a copy (copy=False)")
        return a.astype(dtype)

    def __dlpack__(self, *, stream: Any = -1, max_version: tuple[int, int] | None = None,
                   dl_device: Any = None, copy: bool | None = None) -> Any:
        """A DLPack capsule sharing this tensor's memory (what torch.from_dlpack(t) and
        np.from_dlpack(t) call); refused for a tensor that requires grad, as in PyTorch."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        from chainrule.utils.dlpack import export

        return export(self.array, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple[Any, int]:
        """(DLDeviceType, index) of the tensor's memory: (kDLCPU, 0) on the CPU."""
        from chainrule.utils.dlpack import DLDeviceType

        kind, index = self.array.__dlpack_device__()
        return DLDeviceType(int(kind)), int(index)

    def __repr__(self) -> str:
        from chainrule.printing import tensor_repr

        return tensor_repr(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("chainrule tensors are not pickled (nothing read from a file may run "
                        "code): save them with cr.save(obj, path) and read with cr.load(path)")

    # -- operators ---------------------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor: return _ops.add(self, o)
    def __radd__(self, o: Any) -> Tensor: return _ops.add(o, self)
    def __sub__(self, o: Any) -> Tensor: return _ops.sub(self, o)
    def __rsub__(self, o: Any) -> Tensor: return _ops.sub(o, self)
    def __mul__(self, o: Any) -> Tensor: return _ops.mul(self, o)
    def __rmul__(self, o: Any) -> Tensor: return _ops.mul(o, self)
    def __truediv__(self, o: Any) -> Tensor: return _ops.div(self, o)
    def __rtruediv__(self, o: Any) -> Tensor:
        if isinstance(o, (int, float)) and not isinstance(o, bool):
            return _ops.mul(_ops.reciprocal(self), o)  # PyTorch's form: saves 1/x, not x
        return _ops.div(o, self)

    def __floordiv__(self, o: Any) -> Tensor: return _ops.floor_divide(self, o)
    def __rfloordiv__(self, o: Any) -> Tensor: return _ops.floor_divide(o, self)
    def __mod__(self, o: Any) -> Tensor: return _ops.remainder(self, o)
    def __rmod__(self, o: Any) -> Tensor: return _ops.remainder(o, self)
    def __pow__(self, o: Any) -> Tensor: return _ops.pow(self, o)
    def __rpow__(self, o: Any) -> Tensor: return _ops.pow(o, self)
    def __matmul__(self, o: Any) -> Tensor: return _ops.matmul(self, o)
    def __rmatmul__(self, o: Any) -> Tensor: return _ops.matmul(o, self)
    def __neg__(self) -> Tensor: return _ops.neg(self)
    def __pos__(self) -> Tensor: return self
    def __abs__(self) -> Tensor: return _ops.abs(self)
    def __invert__(self) -> Tensor: return _ops.bitwise_not(self)
    def __and__(self, o: Any) -> Tensor: return _ops.bitwise_and(self, o)
    def __rand__(self, o: Any) -> Tensor: return _ops.bitwise_and(o, self)
    def __or__(self, o: Any) -> Tensor: return _ops.bitwise_or(self, o)
    def __ror__(self, o: Any) -> Tensor: return _ops.bitwise_or(o, self)
    def __xor__(self, o: Any) -> Tensor: return _ops.bitwise_xor(self, o)
    def __rxor__(self, o: Any) -> Tensor: return _ops.bitwise_xor(o, self)
    def __lt__(self, o: Any) -> Tensor: return _ops.lt(self, o)
    def __le__(self, o: Any) -> Tensor: return _ops.le(self, o)
    def __gt__(self, o: Any) -> Tensor: return _ops.gt(self, o)
    def __ge__(self, o: Any) -> Tensor: return _ops.ge(self, o)
    def __eq__(self, o: Any) -> Tensor: return _ops.eq(self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Tensor: return _ops.ne(self, o)  # type: ignore[override]

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)


def _dim(d: Any, ndim: int, op: str) -> int:
    """A dimension index, negative ones counted from the end, checked like PyTorch."""
    from chainrule.errors import dim_error

    d = int(d)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise dim_error(op, d, ndim)
    return d % n


def _moved(arr: Any, device: Any) -> Any:
    from chainrule.backend import check_device, to_device

    return to_device(arr, check_device(device, "Tensor"), "Tensor")


from chainrule import ops as _ops  # noqa: E402  (ops import Tensor: bind after the class exists)
