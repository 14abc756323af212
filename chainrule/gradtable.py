"""The grad_table: d output / d t for every tensor t in a graph, in the order backprop visited
them, as one object you can index, iterate and print."""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import numpy as np

from chainrule.autograd import _check_roots, _ones_for
from chainrule.kept import FREED_HINT, TINY, Kept, Structure
from chainrule.tensor import Tensor
from chainrule.walk import _Walk


class GradRow(NamedTuple):
    tensor: Tensor  # after a plain backward, a chainrule.kept.Kept record where it is gone
    op: str
    grad: Tensor | None  # None: freed by backward (see GradTable.__getitem__)


class GradTable:
    """d output / d t for every tensor t in the graph, in the order backprop visited them."""

    def __init__(self, names: dict[int, str] | None = None) -> None:
        self._rows: list[GradRow] = []
        self._index: dict[int, int] = {}
        self._names = names or {}

    def _add(self, t: Any, g: Tensor | None) -> None:
        self._index[id(t)] = len(self._rows)
        if type(t) is Kept:  # a tensor backward freed: found by the id it had (t.key)
            self._index[t.key] = len(self._rows)
        self._rows.append(GradRow(t, _op_name(t, self._names), g))

    def _find(self, t: Any) -> int | None:
        i = self._index.get(id(t))
        if i is None:
            return None
        r = self._rows[i].tensor
        if r is t or (type(r) is Kept and r.key == id(t)
                      and r.creator is getattr(t, "creator", None)):
            return i  # (a released op makes no new tensors: same id and creator, same tensor)
        return None

    def __getitem__(self, t: Tensor) -> Tensor:
        i = self._find(t)
        if i is None:
            raise KeyError(
                f"this tensor (shape {getattr(t, 'shape', '?')}) is not in the grad_table: it is "
                "not on a path from the output to a tensor that requires grad"
            )
        g = self._rows[i].grad
        if g is None:
            raise KeyError(
                f"the gradient of this tensor ({self._rows[i].op}, shape {tuple(t.shape)}) was "
                f"freed by backward (only tensors of at most {TINY} elements keep theirs): "
                f"{FREED_HINT}")
        return g

    def __contains__(self, t: object) -> bool:
        return self._find(t) is not None

    def __iter__(self) -> Iterator[GradRow]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __str__(self) -> str:
        head = f"{'step':>4}  {'tensor':<22}  {'shape':<16}  {'|grad|':>12}  {'mean grad':>12}"
        lines = [head, "-" * len(head)]
        freed = False
        for i, (t, op, g) in enumerate(self._rows):
            shape = str(tuple(t.shape))
            if g is None:
                freed = True
                lines.append(f"{i:>4}  {op:<22.22}  {shape:<16}  {'freed':>12}  {'freed':>12}")
                continue
            a = np.asarray(g.array, dtype=np.float64)
            norm = float(np.sqrt((a * a).sum()))
            mean = float(a.mean()) if a.size else 0.0
            lines.append(f"{i:>4}  {op:<22.22}  {shape:<16}  {norm:>12.5g}  {mean:>12.5g}")
        if freed:
            lines.append(f"freed: backward kept the gradients of tensors of at most {TINY} "
                         f"elements only; {FREED_HINT}")
        return "\n".join(lines)

    __repr__ = __str__


def _op_name(t: Any, names: dict[int, str]) -> str:
    if t.creator is not None:
        return t.creator.name
    if id(t) in names:
        return f"param {names[id(t)]}"
    return f"leaf {t.name}" if t.name else "leaf"


def _param_names(model: Any) -> dict[int, str]:
    """id -> name of a Module's parameters and buffers ('0.weight'), or of a {name: tensor}."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return {id(t): str(k) for k, t in model.items()}
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"grad_table: model must be a Module or a {{name: tensor}} dict, got "
                        f"{type(model).__name__}")
    named = list(model.named_parameters()) + list(model.named_buffers())
    return {id(t): name for name, t in named}


def grad_table(output: Tensor, grad: Any = None, retain_graph: bool = True, *,
               model: Any = None) -> GradTable:
    """Run backprop from `output` and return d output / d t for every tensor t that requires grad
    in its graph (leaves and intermediates), in visiting order. No .grad is touched; the graph is
    kept (retain_graph=True) so it can still be drawn or differentiated. model (a Module, or a
    {name: tensor} dict) names the parameters' rows ('param 0.weight').

    After a plain loss.backward() freed the graph: the rows backward kept, in the same order
    (leaves' gradients from their .grad; intermediates' where they have at most 6 elements;
    indexing a row whose gradient was not kept raises KeyError saying how to keep it)."""
    _check_roots([output], "grad_table")
    table = GradTable(_param_names(model))
    grads = _ones_for([output], None if grad is None else [grad], "grad_table")
    try:
        walk = _Walk([output], None, False, table)
    except RuntimeError as e:
        try:
            rows = Structure(output).rows()
        except RuntimeError:
            raise e from None
        for t, g in rows:
            if t is output:
                g = grads[0]
            table._add(t, g if g is None or isinstance(g, Tensor) else Tensor._make(g, None))
        return table
    walk.run([output], grads, retain_graph, False)
    return table
