"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (and their
functional forms add([a, b]), concatenate([a, b]), ...). Inputs are a list of tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.backend import xp_of
from chainrule.keras._graph import fmt_shape
from chainrule.keras._layer import Layer
from chainrule.keras.layers.masking import mask_array
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def _host(mask: Any) -> np.ndarray:
    """A mask as a host bool array (mask computations are small; done on the CPU)."""
    m = mask_array(mask)
    return m.get() if hasattr(m, "get") else np.asarray(m)


class _Merge(Layer):
    _min_inputs = 2
    _max_inputs: int | None = None

    def check_input_shape(self, shapes: Any) -> None:
        kind = type(self).__name__
        n_max = self._max_inputs
        if not isinstance(shapes, list) or not self._min_inputs <= len(shapes) <= (n_max or 99):
            count = f"exactly {n_max}" if n_max else f"at least {self._min_inputs}"
            raise self._shape_error(f"a list of {count} inputs", shapes,
                                    f"; call it as {kind}()([a, b])")
        self._check_compatible(shapes)

    def _check_compatible(self, shapes: list) -> None:
        ref = shapes[0]
        for s in shapes[1:]:
            ok = len(s) == len(ref) and all(a is None or b is None or a == b
                                            for a, b in zip(s, ref))
            if not ok:
                raise self._shape_error(
                    "inputs of the same shape",
                    ", ".join(fmt_shape(t) for t in shapes),
                    "; a residual connection needs the branch to keep the width of its input "
                    "(e.g. Dense(units=input_dim) on the branch, or a Dense projection on the "
                    "shortcut)")

    def compute_output_shape(self, shapes: Any) -> Any:
        return tuple(next((d for d in dims if d is not None), None) for dims in zip(*shapes))

    supports_masking = True

    def call(self, inputs: list[Tensor], training: bool | None = None,
             mask: Any = None) -> Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = self._merge(out, x)
        return out

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras: no mask unless every input has one; then their logical or."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received: mask={mask}")
        if any(m is None for m in mask):
            return None
        out = mask_array(mask[0])
        for m in mask[1:]:
            out = out | mask_array(m)
        return as_tensor(out)


def _wide(mask: Any, x: Tensor) -> Tensor | None:
    """A (batch, ...) Keras mask broadcast to x's shape (one more axis), as a bool Tensor."""
    m = mask_array(mask)
    if m is None:
        return None
    xp = xp_of(x.array)
    m = xp.asarray(m)
    return Tensor._make(xp.broadcast_to(m[..., None] if m.ndim < x.ndim else m, x.shape), None)


def _or_masked(layer: _Merge, inputs: list[Tensor], mask: Any) -> Tensor:
    """Keras' Maximum / Minimum under masks: a masked entry takes the other operand's value,
    so it never wins (base_merge._apply_merge_op_and_or_mask)."""
    masks = [None] * len(inputs) if mask is None else [_wide(m, x) for m, x in zip(mask, inputs)]
    out, out_mask = inputs[0], masks[0]
    for x, m in zip(inputs[1:], masks[1:]):
        if m is not None:
            x = ops.where(m, x, out)
        if out_mask is not None:
            out = ops.where(out_mask, out, x)
        out_mask = None if m is None or out_mask is None else Tensor._make(
            out_mask.array | m.array, None)
        out = layer._merge(out, x)
    return out


class Add(_Merge):
    """The sum of the inputs."""

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    _max_inputs = 2

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return a - b


class Multiply(_Merge):
    """The elementwise product of the inputs. Under masks (as Keras) a masked entry counts as
    1, and where every input has a mask the entries masked in all of them are 0."""

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return a * b

    def call(self, inputs: list[Tensor], training: bool | None = None,
             mask: Any = None) -> Tensor:
        if mask is None or all(m is None for m in mask):
            return super().call(inputs)
        masks = [_wide(m, x) for m, x in zip(mask, inputs)]
        out = None
        for x, m in zip(inputs, masks):
            if m is not None:
                x = ops.where(m, x, Tensor._make(x.array.dtype.type(1), None))
            out = x if out is None else out * x
        if all(m is not None for m in masks):
            any_ = masks[0].array
            for m in masks[1:]:
                any_ = any_ | m.array
            out = ops.where(Tensor._make(any_, None), out,
                            Tensor._make(out.array.dtype.type(0), None))
        return out


class Maximum(_Merge):
    """The elementwise maximum of the inputs (masked entries never win, as in Keras)."""

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.maximum(a, b)

    def call(self, inputs: list[Tensor], training: bool | None = None,
             mask: Any = None) -> Tensor:
        return _or_masked(self, inputs, mask)


class Minimum(Maximum):
    """The elementwise minimum of the inputs (masked entries never win, as in Keras)."""

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.minimum(a, b)


class Average(Add):
    """The mean of the inputs."""

    def call(self, inputs: list[Tensor], training: bool | None = None,
             mask: Any = None) -> Tensor:
        return super().call(inputs) * (1.0 / len(inputs))


class Concatenate(_Merge):
    """The inputs joined along `axis` (default: the last); the other axes must agree."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check_compatible(self, shapes: list) -> None:
        ref = shapes[0]
        ax = self.axis % len(ref)
        for s in shapes[1:]:
            ok = len(s) == len(ref) and all(i == ax or a is None or b is None or a == b
                                            for i, (a, b) in enumerate(zip(s, ref)))
            if not ok:
                raise self._shape_error(f"inputs whose shapes agree except along axis "
                                        f"{self.axis}", ", ".join(fmt_shape(t) for t in shapes))

    def compute_output_shape(self, shapes: Any) -> Any:
        ax = self.axis % len(shapes[0])
        out = list(super().compute_output_shape(shapes))
        sizes = [s[ax] for s in shapes]
        out[ax] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs: list[Tensor], training: bool | None = None,
             mask: Any = None) -> Tensor:
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras: each input's mask (all True where it has none) widened to the input's
        shape, joined along `axis`, then any() over the last axis."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received mask={mask}")
        if all(m is None for m in mask):
            return None
        wide = [np.ones(tuple(x.shape), dtype=bool) if m is None else
                np.broadcast_to(_host(m)[..., None] if _host(m).ndim < x.ndim else _host(m),
                                tuple(x.shape))
                for m, x in zip(mask, inputs)]
        return as_tensor(np.concatenate(wide, axis=self.axis).any(axis=-1))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def add(inputs: list, **kwargs: Any) -> Any:
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    return Concatenate(axis=axis, **kwargs)(inputs)
