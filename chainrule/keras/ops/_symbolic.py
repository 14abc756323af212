"""Ops on KerasTensors: `x = ops.expand_dims(inputs, -1)` while building a functional model
records a layer that runs the op, as Keras does, instead of computing on symbols."""

from __future__ import annotations

import functools
from typing import Any, Callable

from chainrule.keras._graph import KerasTensor, unique_name
from chainrule.keras.ops._convert import dtype_name


def _is_kt(v: Any) -> bool:
    return isinstance(v, KerasTensor) or (
        isinstance(v, (list, tuple)) and any(isinstance(a, KerasTensor) for a in v))


def _swap(v: Any, found: list[KerasTensor]) -> Any:
    """v with each KerasTensor replaced by its position in `found` (appended there)."""
    if isinstance(v, KerasTensor):
        found.append(v)
        return _Slot(len(found) - 1)
    if isinstance(v, (list, tuple)) and any(isinstance(a, KerasTensor) for a in v):
        return type(v)(_swap(a, found) for a in v)
    return v


def _fill(v: Any, values: list[Any]) -> Any:
    if isinstance(v, _Slot):
        return values[v.i]
    if isinstance(v, (list, tuple)) and any(isinstance(a, _Slot) for a in v):
        return type(v)(_fill(a, values) for a in v)
    return v


class _Slot:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def symbolic(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, which on KerasTensor arguments records a Lambda layer calling fn instead."""

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if not (any(_is_kt(a) for a in args) or any(_is_kt(v) for v in kwargs.values())):
            return fn(*args, **kwargs)
        from chainrule.keras.layers.core import Lambda

        found: list[KerasTensor] = []
        a_t = [_swap(a, found) for a in args]
        kw_t = {k: _swap(v, found) for k, v in kwargs.items()}

        def run(inputs: Any) -> Any:
            values = list(inputs) if len(found) > 1 else [inputs]
            out = fn(*[_fill(a, values) for a in a_t],
                     **{k: _fill(v, values) for k, v in kw_t.items()})
            first = out[0] if isinstance(out, (tuple, list)) else out
            if hasattr(first, "dtype"):  # the symbolic outputs' dtype (read after the trial run)
                layer._output_dtype = dtype_name(first.dtype)
            return list(out) if isinstance(out, tuple) else out

        layer = Lambda(run, name=unique_name(fn.__name__))
        return layer(found if len(found) > 1 else found[0])

    return op
