"""Activation layers with Keras 3's arguments and defaults: ReLU, LeakyReLU, PReLU, ELU, Softmax.
Composites of differentiable chainrule ops (they keep the input's shape)."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

import chainrule as cr
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import _unsupported
from chainrule.tensor import Tensor


def _as_float(x: Any) -> Tensor:
    return x if x.is_floating_point() else x.float()


class _Elementwise(Layer):
    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class ReLU(_Elementwise):
    """f(x) = max_value if x >= max_value; x if threshold < x < max_value;
    negative_slope * (x - threshold) otherwise (Keras' formula, applied as Keras does)."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError(f"ReLU: max_value of a ReLU layer cannot be a negative value, "
                             f"got max_value={max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError(f"ReLU: negative_slope of a ReLU layer cannot be a negative "
                             f"value, got negative_slope={negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError(f"ReLU: threshold of a ReLU layer cannot be a negative value, "
                             f"got threshold={threshold}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = _as_float(inputs)
        t, s = self.threshold, self.negative_slope
        if t:  # keep x where x > threshold (a constant mask: no gradient through the test)
            y = x * Tensor._make((x.array > t).astype(x.array.dtype), None)
        else:
            y = x.relu()
        if self.max_value is not None:
            y = y.clamp(0.0, self.max_value)
        if s:
            y = y - s * (t - x).relu()
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """f(x) = x for x >= 0, negative_slope * x otherwise (Keras 3 default negative_slope=0.3;
    Keras 2's `alpha=` is accepted with Keras' deprecation warning)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: the negative_slope value of a Leaky ReLU layer "
                             f"cannot be None or negative, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = _as_float(inputs)
        return x.relu() - self.negative_slope * (-x).relu()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """f(x) = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        from chainrule.nn import functional as F
        return F.elu(_as_float(inputs), self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(_Elementwise):
    """f(x) = x for x >= 0, alpha * x otherwise, alpha a learned weight of shape
    input_shape[1:] with the `shared_axes` (1-based, batch axis excluded) of size 1."""

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Sequence[int] | int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _unsupported("PReLU", alpha_constraint=alpha_constraint)
        self.alpha_initializer = inits.get(alpha_initializer)
        self.alpha_regularizer = regs.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            self.shared_axes = [int(a) for a in axes]

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 2 or None in s[1:]:
            raise self._shape_error("one input (batch, d1, ...) of known sizes", s)
        for a in self.shared_axes or []:
            if not 1 <= a < len(s):
                raise self._shape_error(f"an axis {a} to share (shared_axes count from 1, "
                                        "after the batch axis)", s)
        if self.built and tuple(s[1:]) != self._in:
            raise self._shape_error(f"inputs (batch, {', '.join(map(str, self._in))}) "
                                    "(it was built for them)", s)

    def build(self, input_shape: Any) -> None:
        self._in = tuple(int(d) for d in input_shape[1:])
        shape = list(self._in)
        for a in self.shared_axes or []:
            shape[a - 1] = 1
        self._add_weight("alpha", shape, self.alpha_initializer,
                         regularizer=self.alpha_regularizer)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = _as_float(inputs)
        return x.relu() - self.alpha * (-x).relu()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": inits.serialize(self.alpha_initializer),
                "alpha_regularizer": regs.serialize(self.alpha_regularizer),
                "alpha_constraint": None, "shared_axes": self.shared_axes}


class Softmax(_Elementwise):
    """softmax over `axis` (an int or a tuple of them). call(inputs, mask=None): positions where
    the mask is False (or <= 0.5) get -1e9 before the softmax and 0 after it, as in Keras."""

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs: Tensor, mask: Any = None, training: bool | None = None) -> Tensor:
        x = _as_float(inputs)
        keep = None
        if mask is not None:
            m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
            if m.ndim > x.ndim or any(a != 1 and a != b for a, b in
                                      zip(m.shape[::-1], x.shape[::-1])):
                raise ValueError(f"Softmax '{self.name}': the mask must be broadcastable to "
                                 f"inputs: inputs.shape={tuple(x.shape)}, "
                                 f"mask.shape={tuple(m.shape)}")
            keep = m if m.dtype == np.bool_ else m > 0.5
            keep = np.broadcast_to(keep, x.shape)
            x = x.masked_fill(Tensor._make(~keep, None), -1e9)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if len(axes) > 1:
            y = (x - x.logsumexp(dim=tuple(axes), keepdim=True)).exp()
        else:
            y = cr.softmax(x, axes[0])
        if keep is not None:  # zero where a whole axis was masked (softmax gives a uniform row)
            y = y * Tensor._make(keep.astype(y.array.dtype), None)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
