"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (and their
functional forms add([a, b]), concatenate([a, b]), ...). Inputs are a list of tensors."""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.keras._graph import fmt_shape
from chainrule.keras._layer import Layer
from chainrule.tensor import Tensor


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

    def call(self, inputs: list[Tensor], training: bool | None = None) -> Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = self._merge(out, x)
        return out

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError


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
    """The elementwise product of the inputs."""

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return a * b


class Maximum(_Merge):
    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.maximum(a, b)


class Minimum(_Merge):
    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.minimum(a, b)


class Average(Add):
    """The mean of the inputs."""

    def call(self, inputs: list[Tensor], training: bool | None = None) -> Tensor:
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

    def call(self, inputs: list[Tensor], training: bool | None = None) -> Tensor:
        return ops.concatenate(list(inputs), axis=self.axis)

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
