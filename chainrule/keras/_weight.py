"""Weight: one Keras weight and the Parameter(s) that store it, in the layout the layer computes
with (a Dense kernel is (in, out) for Keras, stored (out, in) for F.linear; a GRU's gates are
reordered; one Keras bias may be split over two Parameters)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.tensor import Tensor


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
        t.name = f"{owner}/{self.name}"
        return t

    def stored(self, value: np.ndarray) -> list[np.ndarray]:
        """The stored array(s) for a Keras-layout array."""
        return [value] if self.from_keras is None else self.from_keras(value)

    def assign(self, value: np.ndarray) -> None:
        for p, a in zip(self.params, self.stored(value)):
            p.array[...] = a
            p._bump()  # an in-place change: a graph that saved p sees it, as in PyTorch
