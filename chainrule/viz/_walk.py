"""The graph behind a tensor as plain data: its ops in forward order, its tensors with short
reference names, and the gradients to show (from .grad, a grad_table, or a fresh grad_table).

The order is the engine's: the same iterative depth-first sort as chainrule.autograd, so the
reverse of `ops` is exactly the order in which backprop visits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from chainrule.autograd import Function, GradTable, grad_table, toposort
from chainrule.creation import ones_like
from chainrule.kept import Kept, Structure
from chainrule.tensor import Tensor
from chainrule.viz._common import host, num


@dataclass
class Node:
    """One tensor of the graph: `ref` is how pictures and narrations call it (its parameter
    path, its .name, or t1, t2, ... in forward order); kind is one of 'param', 'leaf' (requires
    grad), 'input' (no grad), 'const' (unnamed one-element input, folded into its op's label),
    'intermediate', 'output'."""

    tensor: Tensor
    ref: str
    kind: str


def forward_order(output: Tensor) -> list[Function]:
    """The ops behind output, each once, every op after the ops that made its inputs: the
    engine's own visiting order (autograd.toposort), reversed."""
    return structure(output).order[::-1]


def structure(output: Tensor) -> Structure:
    """The graph behind output: whole (the engine's toposort, which also routes in-place
    changes), or as a plain backward kept it (chainrule.kept)."""
    try:
        order, _ = toposort([output], None)
    except RuntimeError:
        return Structure(output)
    return Structure(output, order)


def value_of(t: Any) -> np.ndarray | None:
    """t's values on the host, or None where backward freed them."""
    if type(t) is Kept:
        return t.value
    return host(t)


def tensor_names(model: Any) -> dict[int, str]:
    """id(tensor) -> dotted name, from a Module (parameters and buffers) or a {name: tensor}
    mapping; empty for None."""
    if model is None:
        return {}
    if hasattr(model, "named_parameters"):
        pairs = list(model.named_parameters()) + list(model.named_buffers())
    elif isinstance(model, Mapping):
        pairs = list(model.items())
    else:
        raise TypeError(f"model must be a Module or a {{name: tensor}} mapping, got "
                        f"{type(model).__name__}")
    return {id(t): name for name, t in pairs if isinstance(t, Tensor)}


class Walk:
    """The ops (forward order) and tensors (as Nodes, in first-seen forward order) behind
    `output`; names come from `model` (a Module or mapping) and from tensors' .name."""

    def __init__(self, output: Tensor, model: Any = None) -> None:
        if not isinstance(output, Tensor):
            raise TypeError(f"expected a Tensor, got {type(output).__name__}")
        self.output = output
        self.structure = structure(output)
        self.ops = self.structure.order[::-1]
        self.released = self.structure.released
        self._names = tensor_names(model)
        self._count = 0
        self.nodes: dict[int, Node] = {}
        for f in self.ops:
            for x in self.inputs(f):
                self.include(x)
            for y in self.outputs(f):
                if y is not None:
                    self.include(y)
        self.include(output)

    def inputs(self, f: Function) -> tuple[Any, ...]:
        """f's inputs: tensors, or after a plain backward Kept records (chainrule.kept)."""
        return self.structure.inputs(f)

    def outputs(self, f: Function) -> tuple[Any, ...]:
        return self.structure.outputs(f)

    def include(self, t: Tensor) -> Node:
        """The node of t, added (with the next free reference name) if it is new."""
        if id(t) in self.nodes:
            return self.nodes[id(t)]
        names = self._names
        name = names.get(id(t)) or t.name
        if t is self.output:
            kind = "output"
            name = name or ("loss" if t.numel() == 1 else "output")
        elif t.creator is not None:
            kind = "intermediate"
        elif id(t) in names:
            kind = "param"
        elif t.requires_grad:
            kind = "leaf"
        elif t.numel() == 1 and not name:
            kind = "const"
        else:
            kind = "input"
        if kind == "const":
            name = num(value_of(t).reshape(()).item())
        elif not name:
            self._count += 1
            name = f"t{self._count}"
        node = self.nodes[id(t)] = Node(t, name, kind)
        return node

    def node(self, t: Tensor) -> Node:
        return self.nodes[id(t)]

    def consumers(self) -> dict[int, list[Function]]:
        """id(tensor) -> the ops that take it as an input (in forward order)."""
        out: dict[int, list[Function]] = {}
        for f in self.ops:
            for x in self.inputs(f):
                lst = out.setdefault(id(x), [])
                if f not in lst:
                    lst.append(f)
        return out


def gradients(walk: Walk, grads: Any = None) -> dict[int, np.ndarray]:
    """id(tensor) -> d output / d tensor, as host arrays.

    grads: a GradTable (its rows), False (none), or None (automatic: a fresh grad_table of the
    output, weighted by ones when the output is not a scalar, while the graph is there; after a
    plain backward, what the graph kept: see kept_gradients)."""
    if grads is False:
        return {}
    if isinstance(grads, GradTable):
        return {id(row.tensor): host(row.grad) for row in grads}
    if grads is not None:
        raise TypeError(f"grads must be a GradTable, None or False, got {type(grads).__name__}")
    if walk.released:
        return kept_gradients(walk)
    out = walk.output
    if not out.requires_grad:
        return {}
    seed = None if out.numel() == 1 else ones_like(out)
    return {id(row.tensor): host(row.grad) for row in grad_table(out, grad=seed)}


def kept_gradients(walk: Walk) -> dict[int, np.ndarray]:
    """After a plain backward: the leaves' .grad, and the gradients the graph kept (tensors of
    at most chainrule.kept.TINY elements); the output's own gradient is the seed, ones."""
    out: dict[int, np.ndarray] = {}
    for t, g in walk.structure.rows():
        if g is not None:
            out[id(t)] = host(g)
    o = walk.output
    if id(o) not in out and o.numel() == 1 and o.requires_grad:
        out[id(o)] = np.ones(tuple(o.shape), o.array.dtype)
    return out
