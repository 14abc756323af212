"""Weight: one Keras weight and the Parameter(s) that store it, in the layout the layer computes
with (a Dense kernel is (in, out) for Keras, stored (out, in) for F.linear; a GRU's gates are
reordered; one Keras bias may be split over two Parameters)."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.tensor import Tensor

# view Tensor -> the Weight it shows, so optimizer.apply(grads, model.trainable_weights) can
# hand Keras-layout gradients back to the Parameters that store the weight
# (keyed by id: a Tensor's == is elementwise, so it cannot key a WeakKeyDictionary)
_VIEWS: dict[int, tuple[weakref.ref, Weight]] = {}


def _register(t: Tensor, w: Weight) -> None:
    key = id(t)
    _VIEWS[key] = (weakref.ref(t, lambda _: _VIEWS.pop(key, None)), w)


class Variable(Parameter):
    """The Parameter of a Keras weight stored in Keras' own layout. As on Keras' torch backend,
    `v.value` is the tensor itself: after loss.backward(), v.value.grad is its gradient."""

    @property
    def value(self) -> Tensor:
        return self


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
