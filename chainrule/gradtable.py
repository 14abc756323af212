"""The grad_table: d output / d t for every tensor t in a graph, in the order backprop visited
them, as one object you can index, iterate and print."""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import numpy as np

from chainrule.autograd import _check_roots, _ones_for
from chainrule.tensor import Tensor
from chainrule.walk import _Walk


class GradRow(NamedTuple):
    tensor: Tensor
    op: str
    grad: Tensor


class GradTable:
    """d output / d t for every tensor t in the graph, in the order backprop visited them."""

    def __init__(self, names: dict[int, str] | None = None) -> None:
        self._rows: list[GradRow] = []
        self._index: dict[int, int] = {}
        self._names = names or {}

    def _add(self, t: Tensor, g: Tensor) -> None:
        self._index[id(t)] = len(self._rows)
        self._rows.append(GradRow(t, _op_name(t, self._names), g))

    def __getitem__(self, t: Tensor) -> Tensor:
        i = self._index.get(id(t))
        if i is None or self._rows[i].tensor is not t:
            raise KeyError(
                f"this tensor (shape {getattr(t, 'shape', '?')}) is not in the grad_table: it is "
                "not on a path from the output to a tensor that requires grad"
            )
        return self._rows[i].grad

    def __contains__(self, t: object) -> bool:
        i = self._index.get(id(t))
        return i is not None and self._rows[i].tensor is t

    def __iter__(self) -> Iterator[GradRow]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __str__(self) -> str:
        head = f"{'step':>4}  {'tensor':<22}  {'shape':<16}  {'|grad|':>12}  {'mean grad':>12}"
        lines = [head, "-" * len(head)]
        for i, (t, op, g) in enumerate(self._rows):
            a = np.asarray(g.array, dtype=np.float64)
            norm = float(np.sqrt((a * a).sum()))
            mean = float(a.mean()) if a.size else 0.0
            shape = str(tuple(t.shape))
            lines.append(f"{i:>4}  {op:<22.22}  {shape:<16}  {norm:>12.5g}  {mean:>12.5g}")
        return "\n".join(lines)

    __repr__ = __str__


def _op_name(t: Tensor, names: dict[int, str]) -> str:
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
    {name: tensor} dict) names the parameters' rows ('param 0.weight')."""
    _check_roots([output], "grad_table")
    table = GradTable(_param_names(model))
    grads = _ones_for([output], None if grad is None else [grad], "grad_table")
    _Walk([output], None, False, table).run([output], grads, retain_graph, False)
    return table
