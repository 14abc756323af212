"""Weight: one Keras weight and the Parameter(s) that store it, in the layout the layer computes
with (a Dense kernel is (in, out) for Keras, stored (out, in) for F.linear; a GRU's gates are
reordered; one Keras bias may be split over two Parameters)."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.backend import xp_of
from chainrule.nn.module import Parameter
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

# view Tensor -> the Weight it shows, so optimizer.apply(grads, model.trainable_weights) can
# hand Keras-layout gradients back to the Parameters that store the weight
# (keyed by id: a Tensor's == is elementwise, so it cannot key a WeakKeyDictionary)
_VIEWS: dict[int, tuple[weakref.ref, Weight]] = {}


def _register(t: Tensor, w: Weight) -> None:
    key = id(t)
    _VIEWS[key] = (weakref.ref(t, lambda _: _VIEWS.pop(key, None)), w)


class Variable(Parameter):
    """Keras' Variable: `keras.Variable(initializer, shape=None, dtype=None, trainable=True,
    name=None)`, where initializer is a value (array, number, tensor) or an initializer (a
    name such as "zeros", or a callable, which needs `shape`). It is a Parameter (a layer that
    holds one as an attribute tracks it as a weight, as Keras does); `assign`, `assign_add`,
    `assign_sub` change it in place; `v.value` is the tensor itself, as on Keras' torch
    backend (after loss.backward(), v.value.grad is its gradient); `v.numpy()` its array.
    Layers' weights from add_weight are Variables too."""

    def __init__(self, initializer: Any = None, shape: Any = None, dtype: Any = None,
                 trainable: bool = True, autocast: bool = True, aggregation: str = "none",
                 synchronization: str = "auto", name: str | None = None, *,
                 requires_grad: bool | None = None) -> None:
        if requires_grad is not None:  # a layer's weight: Parameter(data, requires_grad)
            super().__init__(initializer, requires_grad)
            return
        if not isinstance(name, (str, type(None))) or (name and "/" in name):
            raise ValueError(f"Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        value = _initial_value(initializer, shape, dtype)
        floating = np.issubdtype(value.dtype, np.floating)
        super().__init__(as_tensor(value), bool(trainable) and floating)
        self._keras_trainable = bool(trainable)
        self.name = name or "variable"

    @property
    def value(self) -> Tensor:
        return self

    @property
    def path(self) -> str:
        return getattr(self, "name", None) or "variable"

    @property
    def trainable(self) -> bool:
        return getattr(self, "_keras_trainable", self.requires_grad)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._keras_trainable = bool(value)
        self.requires_grad = bool(value) and np.issubdtype(self.array.dtype, np.floating)

    def assign(self, value: Any) -> Variable:
        """Replace the value in place (same shape; cast to this dtype)."""
        a = value.array if isinstance(value, Tensor) else np.asarray(value)
        self.array[...] = xp_of(self.array).asarray(a)
        self._bump()  # an in-place change: a graph that saved this variable sees it
        return self

    def assign_add(self, value: Any) -> Variable:
        return self.assign(self.array + _array_of(value, self.array))

    def assign_sub(self, value: Any) -> Variable:
        return self.assign(self.array - _array_of(value, self.array))

    def __repr__(self) -> str:
        return (f"<Variable path={self.path}, shape={tuple(self.shape)}, "
                f"dtype={self.array.dtype.name}, value={self.numpy(force=True)}>")


def _array_of(value: Any, like: Any) -> Any:
    a = value.array if isinstance(value, Tensor) else np.asarray(value)
    return xp_of(like).asarray(a)


def _initial_value(initializer: Any, shape: Any, dtype: Any) -> np.ndarray:
    """Keras' rules: an initializer (name or callable) needs shape; a value keeps the dtype of
    an array or tensor, and Python numbers become float32 / int32 (Keras' defaults)."""
    from chainrule.keras import initializers

    if isinstance(initializer, str):
        initializer = initializers.get(initializer)
    if callable(initializer) and not isinstance(initializer, Tensor):
        if shape is None:
            raise ValueError(f"When creating a Variable from an initializer, the `shape` "
                             f"argument should be specified. Received: initializer="
                             f"{initializer} and shape={shape}")
        shape = tuple(int(d) for d in shape)
        dt = np.dtype(dtype or "float32")
        return np.asarray(initializer(shape, dt.name)).astype(dt).reshape(shape)
    if isinstance(initializer, Tensor):
        a = np.array(initializer.numpy(force=True), copy=True)
    else:
        a = np.array(initializer, copy=True)
        if dtype is None and a.dtype == np.float64 and not isinstance(initializer, np.ndarray):
            a = a.astype(np.float32)
        if dtype is None and a.dtype == np.int64 and not isinstance(initializer, np.ndarray):
            a = a.astype(np.int32)
    if dtype is not None:
        a = a.astype(np.dtype(dtype))
    if shape is not None and tuple(shape) != a.shape:
        raise ValueError(f"Variable: initial value of shape {a.shape} does not match "
                         f"shape={tuple(shape)}")
    return a


class WeightView(Tensor):
    """A Keras weight in Keras' layout when the layer stores it in another (a Dense kernel):
    `v.value.grad` is the stored Parameter's gradient in Keras' layout, as Keras gives it."""

    __slots__ = ()

    @property
    def value(self) -> Tensor:
        w = weight_of(self)
        t = Tensor._make(self.array, None)
        t._vc = self._vc
        if w is not None and all(p.grad is not None for p in w.params):
            grads = [p.grad.array for p in w.params]
            t.grad = Tensor._make(np.ascontiguousarray(w.to_keras(grads)), None)
        return t


def weight_of(t: Any) -> Weight | None:
    """The Weight a view from Weight.view shows (None for anything else)."""
    entry = _VIEWS.get(id(t)) if isinstance(t, WeightView) else None
    return entry[1] if entry is not None and entry[0]() is t else None


class Weight:
    """One Keras weight: its name, Keras shape, whether it trains, and the Parameter(s) that
    hold it. `layout` is the axes permutation from the Keras array to the stored one; `convert`
    = (to_keras(list of stored arrays) -> array, from_keras(array) -> list of stored arrays)
    covers the rest (gate reordering, one Keras weight split over two Parameters)."""

    __slots__ = ("name", "params", "shape", "trainable", "layout", "to_keras", "from_keras")

    def __init__(self, name: str, shape: tuple[int, ...], trainable: bool,
                 layout: Sequence[int] | None = None,
                 convert: tuple[Callable, Callable] | None = None) -> None:
        self.name, self.shape, self.trainable = name, shape, trainable
        self.params: list[Parameter] = []
        self.layout = tuple(layout) if layout is not None else None
        if convert is not None:
            self.to_keras, self.from_keras = convert
        elif self.layout is not None:
            inv = tuple(int(i) for i in np.argsort(self.layout))
            self.to_keras = lambda arrays, inv=inv: arrays[0].transpose(inv)
            self.from_keras = lambda a, perm=self.layout: [a.transpose(perm)]
        else:
            self.to_keras = self.from_keras = None

    @property
    def param(self) -> Parameter:
        return self.params[0]

    def view(self, owner: str) -> Tensor:
        """The weight in Keras' layout: the Parameter itself, or a Tensor sharing its memory
        (a copy when the conversion reorders gates or joins Parameters)."""
        if self.to_keras is None:
            return self.params[0]
        if self.layout is not None and len(self.params) == 1:
            # a view of the Parameter, cut from the graph: it shares the Parameter's version
            # counter, so an in-place change through it is seen by graphs that saved either
            t = self.params[0].detach().permute(*(int(i) for i in np.argsort(self.layout)))
        else:
            t = Tensor._make(self.to_keras([p.array for p in self.params]), None)
        t.__class__ = WeightView  # the same slots: Keras' Variable API (.value) on the view
        _register(t, self)
        t.name = f"{owner}/{self.name}"
        return t

    def stored(self, value: np.ndarray) -> list[np.ndarray]:
        """The stored array(s) for a Keras-layout array."""
        return [value] if self.from_keras is None else self.from_keras(value)

    def assign(self, value: np.ndarray) -> None:
        for p, a in zip(self.params, self.stored(value)):
            p.array[...] = a
            p._bump()  # an in-place change: a graph that saved p sees it, as in PyTorch
