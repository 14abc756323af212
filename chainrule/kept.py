"""What a graph keeps after a plain backward: its structure, and the numbers of tiny tensors.

A plain `loss.backward()` frees what backward needed (inputs, saved arrays), as PyTorch does,
but each op keeps its structure, as PyTorch's grad_fn chain does: one small record per input
(identity, creator, shape, dtype, name), and for a tensor of at most TINY elements a copy of its
value; the gradient backward gave such a tensor is kept on its creator. So a picture drawn after
backward shows the graph, and every number of a small (micrograd-sized) one. Larger tensors keep
only their shape: summaries of every activation and gradient of every training step would cost
passes over memory that a training loop must not pay. Leaves that require grad are kept as
themselves (PyTorch's AccumulateGrad holds them too): they are alive anyway, with their .grad.

The records are plain tuples, made in the backward walk (cheap); `Structure` turns them into
`Kept` objects, one per tensor, when a picture asks.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.autograd import Function
    from chainrule.tensor import Tensor

TINY = 6  # the pictures' default `tiny`: tensors up to this size keep value and gradient

FREED_HINT = ("call loss.backward(retain_graph=True), or draw / explain / grad_table before "
              "backward, to see every value and gradient")


# What Function._release keeps of each input x (inlined there: it runs once per op): x itself
# if it is a leaf that requires grad, else the record (id(x), creator, shape, dtype, value of a
# tiny tensor or None, name). While the graph was whole every input was alive, so the ids are
# distinct within one graph.


class Kept:
    """A tensor of a graph released by backward: shape, dtype, name and creator, and for a tensor
    of at most TINY elements its value and gradient (NumPy arrays; None where not kept)."""

    __slots__ = ("key", "creator", "_shape", "dtype", "value", "grad", "name", "__weakref__")

    def __init__(self, rec: tuple) -> None:
        self.key, self.creator, self._shape, self.dtype, self.value, self.name = rec
        grads = _kept_grads(self.creator)
        self.grad = None if grads is None else grads.get(self.key)

    @property
    def shape(self) -> Any:
        from chainrule.tensor import Size

        return Size(self._shape)

    def numel(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def requires_grad(self) -> bool:
        return self.creator is not None

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self) -> Any:
        return self.creator

    def __repr__(self) -> str:
        op = self.creator.name if self.creator is not None else "leaf"
        return f"<kept tensor {self._shape} {self.dtype} from {op}: freed by backward>"


def _kept_grads(f: Function | None) -> dict | None:
    if f is None or f.inputs is not None or f._kept is None:
        return None
    return f._kept[2]


_SHARED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Structure:
    """The graph behind `output`, whole or released by a plain backward: `order` (the ops in
    the engine's visiting order, autograd.toposort's), and each op's inputs and outputs (the
    tensors themselves, or Kept records where backward freed them, one object per tensor)."""

    def __init__(self, output: Tensor, order: list[Function] | None = None) -> None:
        self.output = output
        self._objs: dict[tuple[int, int], Any] = {}
        self._ins: dict[int, tuple] = {}
        self._outs: dict[int, list] = {}
        self.released = False
        self.order = self._sort(output) if order is None else order

    def _sort(self, output: Tensor) -> list[Function]:
        """autograd.toposort's depth-first sort, on the inputs each op kept."""
        post: list[Function] = []
        seen: set[int] = set()
        stack: list[tuple[Function, bool]] = [(output.creator, False)] if output.creator else []
        while stack:
            f, expanded = stack.pop()
            if expanded:
                post.append(f)
                continue
            if id(f) in seen:
                continue
            seen.add(id(f))
            stack.append((f, True))
            for x in self.inputs(f):
                c = x.creator
                if c is not None and id(c) not in seen:
                    stack.append((c, False))
        post.reverse()
        return post

    def inputs(self, f: Function) -> tuple[Any, ...]:
        if f.inputs is not None:
            return f.inputs
        got = self._ins.get(id(f))
        if got is None:
            if f._kept is None:
                raise RuntimeError(
                    f"{f.name}: this graph was freed without its structure; call "
                    f"loss.backward(retain_graph=True), or draw it before backward")
            self.released = True
            got = self._ins[id(f)] = tuple(self._obj(r) for r in f._kept[0])
        return got

    def _obj(self, rec: Any) -> Any:
        if type(rec) is not tuple:
            return rec  # a leaf that requires grad, kept as itself
        c = rec[1]
        key = (rec[0], id(c))
        obj = self._objs.get(key)
        if obj is None:
            if c is not None and c.inputs is not None:  # made by an op backward did not release
                obj = next((y for y in c.outputs if id(y) == rec[0]), None)
            if obj is None:
                # one object per tensor across pictures too (a grad_table's rows are a
                # graph's nodes); the record holds c, so id(c) is not reused meanwhile
                obj = _SHARED.get(key) if c is not None else None
                if obj is None:
                    obj = Kept(rec)
                    if c is not None:
                        _SHARED[key] = obj
            self._objs[key] = obj
            if c is not None:
                self._outs.setdefault(id(c), []).append(obj)
        return obj

    def outputs(self, f: Function) -> tuple[Any, ...]:
        """f's outputs (None where one is gone); a released op's, as its consumers kept them."""
        if f.inputs is not None:
            return f.outputs
        ys = self._outs.get(id(f))
        if ys is None:
            return (self.output,) if f is self.output.creator else (None,)
        return tuple(ys)

    def needs(self, f: Function) -> tuple[bool, ...]:
        return f.needs_input_grad if f.inputs is not None else f._kept[1]

    def rows(self) -> list[tuple[Any, Any]]:
        """(tensor, gradient) in the order backward finalized them: the walk's bookkeeping (a
        tensor is done when its last consumer has been visited) replayed on the structure. The
        gradient is a kept NumPy array, a leaf's .grad (a Tensor), or None (not kept)."""
        uses: dict[int, int] = {}
        for f in self.order:
            for x, need in zip(self.inputs(f), self.needs(f)):
                if need:
                    uses[id(x)] = uses.get(id(x), 0) + 1
        rows: list[tuple[Any, Any]] = [(self.output, None)]
        for f in self.order:
            for x, need in zip(self.inputs(f), self.needs(f)):
                if need:
                    uses[id(x)] -= 1
                    if uses[id(x)] == 0:
                        g = x.grad if type(x) is Kept or x.creator is None else \
                            (_kept_grads(x.creator) or {}).get(id(x))
                        rows.append((x, g))
        return rows
