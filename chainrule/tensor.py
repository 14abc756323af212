"""Tensor: an array, whether it requires grad, its .grad, and the op (Function) that created it.

Every method that computes is a thin call into chainrule.ops, where the op classes live.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from chainrule.backend import DEFAULT_FLOAT, as_dtype, is_floating, to_array, xp_of

_PY_SCALARS = (bool, int, float)


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back.

    `data` is the NumPy (or CuPy) array. A leaf is a tensor no recorded op created; leaves with
    requires_grad=True receive `.grad` from backward().
    """

    __slots__ = ("data", "grad", "creator", "_requires_grad", "_hooks", "_retains_grad", "name",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data = to_array(data, dtype)
        self.grad: Tensor | None = None
        self.creator = None
        self._requires_grad = False
        self._hooks: dict | None = None
        self._retains_grad = False
        self.name = name
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: Any, creator: Any) -> Tensor:
        """Fast constructor for op outputs: `data` is already an array of the right dtype."""
        t = object.__new__(cls)
        if type(data) is not np.ndarray and (not hasattr(data, "ndim")
                                             or isinstance(data, np.generic)):
            data = np.asarray(data)
        t.data = data
        t.grad = None
        if creator is not None and data.dtype.kind not in "fc":
            creator = None  # integer and bool results carry no gradient
        t.creator = creator
        t._requires_grad = creator is not None
        t._hooks = None
        t._retains_grad = False
        t.name = None
        return t

    # -- autograd attributes -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not is_floating(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require grad, this one is {self.data.dtype}; "
                f"convert it first: t.astype('float32')"
            )
        if self.creator is not None and not value:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf; use t.detach() for a "
                "non-leaf tensor"
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self) -> Any:
        return self.creator

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor._make(self.data, None)

    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into every leaf's .grad (a gradient is needed unless
        self holds one element)."""
        from chainrule.autograd import backward

        backward([self], None if grad is None else [grad], retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.creator is not None:
            self._retains_grad = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Call fn(grad) when this tensor's gradient is complete; a returned Tensor replaces it.
        Returns a handle whose remove() unregisters the hook."""
        from chainrule.autograd import register_hooks_removable

        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = {}
        return register_hooks_removable(self._hooks, fn)

    def zero_grad(self) -> None:
        self.grad = None

    # -- array attributes ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return _ops.transpose(self)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied); moved to host memory if on a GPU."""
        return self.data.get() if hasattr(self.data, "get") else self.data

    def item(self) -> Any:
        if self.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert to a scalar, not shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def astype(self, dtype: Any) -> Tensor:
        return _ops.astype(self, dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or "
                ".all() on its .data"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", threshold=200)
        extra = ""
        if self.dtype != DEFAULT_FLOAT:
            extra += f", dtype={self.dtype}"
        if self.creator is not None:
            extra += f", grad_fn=<{self.creator.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # -- operators ---------------------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor: return _ops.add(self, o)
    def __radd__(self, o: Any) -> Tensor: return _ops.add(o, self)
    def __sub__(self, o: Any) -> Tensor: return _ops.sub(self, o)
    def __rsub__(self, o: Any) -> Tensor: return _ops.sub(o, self)
    def __mul__(self, o: Any) -> Tensor: return _ops.mul(self, o)
    def __rmul__(self, o: Any) -> Tensor: return _ops.mul(o, self)
    def __truediv__(self, o: Any) -> Tensor: return _ops.div(self, o)
    def __rtruediv__(self, o: Any) -> Tensor: return _ops.div(o, self)
    def __pow__(self, o: Any) -> Tensor: return _ops.pow(self, o)
    def __rpow__(self, o: Any) -> Tensor: return _ops.pow(o, self)
    def __matmul__(self, o: Any) -> Tensor: return _ops.matmul(self, o)
    def __rmatmul__(self, o: Any) -> Tensor: return _ops.matmul(o, self)
    def __neg__(self) -> Tensor: return _ops.neg(self)
    def __pos__(self) -> Tensor: return self
    def __abs__(self) -> Tensor: return _ops.abs(self)
    def __lt__(self, o: Any) -> Tensor: return _ops.less(self, o)
    def __le__(self, o: Any) -> Tensor: return _ops.less_equal(self, o)
    def __gt__(self, o: Any) -> Tensor: return _ops.greater(self, o)
    def __ge__(self, o: Any) -> Tensor: return _ops.greater_equal(self, o)
    def __eq__(self, o: Any) -> Tensor: return _ops.equal(self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Tensor: return _ops.not_equal(self, o)  # type: ignore[override]

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        from chainrule.autograd import is_grad_enabled

        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that requires grad would corrupt its "
                "gradient; build a new tensor (where(), concatenate()) or assign under no_grad()"
            )
        self.data[index] = value.data if isinstance(value, Tensor) else value

    # -- math methods (see chainrule.ops for the ops and their gradients) ----------------------
    def abs(self) -> Tensor: return _ops.abs(self)
    def exp(self) -> Tensor: return _ops.exp(self)
    def log(self) -> Tensor: return _ops.log(self)
    def log1p(self) -> Tensor: return _ops.log1p(self)
    def sqrt(self) -> Tensor: return _ops.sqrt(self)
    def sin(self) -> Tensor: return _ops.sin(self)
    def cos(self) -> Tensor: return _ops.cos(self)
    def tanh(self) -> Tensor: return _ops.tanh(self)
    def sigmoid(self) -> Tensor: return _ops.sigmoid(self)
    def relu(self) -> Tensor: return _ops.relu(self)
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return _ops.leaky_relu(self, negative_slope)
    def elu(self, alpha: float = 1.0) -> Tensor: return _ops.elu(self, alpha)
    def gelu(self) -> Tensor: return _ops.gelu(self)
    def softplus(self, beta: float = 1.0) -> Tensor: return _ops.softplus(self, beta)
    def clip(self, min: Any = None, max: Any = None) -> Tensor: return _ops.clip(self, min, max)
    def maximum(self, o: Any) -> Tensor: return _ops.maximum(self, o)
    def minimum(self, o: Any) -> Tensor: return _ops.minimum(self, o)
    def pow(self, o: Any) -> Tensor: return _ops.pow(self, o)
    def matmul(self, o: Any) -> Tensor: return _ops.matmul(self, o)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)
    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)
    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _ops.var(self, axis, ddof, keepdims)
    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _ops.std(self, axis, ddof, keepdims)
    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)
    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)
    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.prod(self, axis, keepdims)
    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)
    def softmax(self, axis: int = -1) -> Tensor: return _ops.softmax(self, axis)
    def log_softmax(self, axis: int = -1) -> Tensor: return _ops.log_softmax(self, axis)
    def cumsum(self, axis: int | None = None) -> Tensor: return _ops.cumsum(self, axis)
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis, keepdims)
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor: return _ops.reshape(self, _shape_arg(shape))
    def transpose(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, _shape_arg(axes) if axes else None)
    def permute(self, *axes: Any) -> Tensor: return _ops.permute(self, _shape_arg(axes))
    def swapaxes(self, axis1: int, axis2: int) -> Tensor: return _ops.swapaxes(self, axis1, axis2)
    def squeeze(self, axis: Any = None) -> Tensor: return _ops.squeeze(self, axis)
    def unsqueeze(self, axis: int) -> Tensor: return _ops.unsqueeze(self, axis)
    def expand_dims(self, axis: int) -> Tensor: return _ops.expand_dims(self, axis)
    def broadcast_to(self, *shape: Any) -> Tensor:
        return _ops.broadcast_to(self, _shape_arg(shape))
    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)
    def flip(self, axis: Any = None) -> Tensor: return _ops.flip(self, axis)
    def repeat(self, repeats: Any, axis: int | None = None) -> Tensor:
        return _ops.repeat(self, repeats, axis)
    def tile(self, reps: Any) -> Tensor: return _ops.tile(self, reps)
    def split(self, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
        return _ops.split(self, indices_or_sections, axis)
    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        return _ops.pad(self, pad_width, value)


def _shape_arg(args: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _constant(value: Any, like: Tensor | None) -> np.ndarray:
    """A non-Tensor operand as an array that takes the dtype and array module of the tensor it
    meets, so a Python float never turns float32 into float64."""
    if isinstance(value, _PY_SCALARS) and like is not None:
        xp = xp_of(like.data)
        dt = like.data.dtype
        if is_floating(dt) or (isinstance(value, int) and dt.kind in "iub"
                               and not (isinstance(value, bool) and dt.kind != "b")):
            return xp.asarray(value, dtype=dt)
        return xp.asarray(value, dtype=DEFAULT_FLOAT if isinstance(value, float) else None)
    if isinstance(value, (list, tuple)) and like is not None and is_floating(like.dtype):
        return to_array(value, like.dtype)
    return to_array(value)


def as_operands(inputs: tuple) -> tuple[Tensor, ...]:
    """Inputs of an op as Tensors; constants (scalars, lists, arrays) become non-grad tensors."""
    for v in inputs:
        if not isinstance(v, Tensor):
            break
    else:
        return inputs
    like = None
    for v in inputs:
        if isinstance(v, Tensor):
            if like is None or (not is_floating(like.dtype) and is_floating(v.dtype)):
                like = v
    return tuple(v if isinstance(v, Tensor) else Tensor._make(_constant(v, like), None)
                 for v in inputs)


def as_operand(value: Any) -> Tensor:
    """One op input as a Tensor (the common case, a Tensor already, costs one isinstance)."""
    return value if isinstance(value, Tensor) else Tensor._make(_constant(value, None), None)


def as_tensor(value: Any, dtype: Any = None) -> Tensor:
    if isinstance(value, Tensor):
        return value if dtype is None or value.dtype == as_dtype(dtype) else value.astype(dtype)
    return Tensor(value, dtype=dtype)


from chainrule import ops as _ops  # noqa: E402  (ops import Tensor: bind after the class exists)
