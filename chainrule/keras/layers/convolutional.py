"""Convolution and pooling layers, channels-last as in Keras: Conv1D, Conv2D, MaxPooling1D/2D,
AveragePooling1D/2D, GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D.

They adapt chainrule's NCHW ops (F.conv2d, F.conv1d, F.max_pool2d, F.avg_pool2d) with a
transpose on the way in and one on the way out (views, no copies). The kernel is
(*kernel_size, in_channels // groups, filters) for Keras, stored in the ops' (filters,
in_channels // groups, *kernel_size) layout. padding='same' pads as Keras does: total padding
max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0), the odd unit at the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import _activate, _unsupported, positive_int
from chainrule.nn import functional as F
from chainrule.ops.join import pad
from chainrule.tensor import Tensor


def _tuple(value: Any, n: int, name: str, who: str) -> tuple[int, ...]:
    v = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(v) != n or not all(isinstance(e, (int, np.integer)) and e > 0 for e in v):
        raise ValueError(f"{who}: {name} must be a positive int or a tuple of {n} of them, "
                         f"got {value!r}")
    return tuple(int(e) for e in v)


def _out_size(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    if padding == "causal":
        return (n - 1) // s + 1
    return (n - (k - 1) * d - 1) // s + 1


def _pads(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return (k - 1) * d, 0
    total = max((_out_size(n, k, s, d, "same") - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _check_format(who: str, padding: str, data_format: str | None, allowed: tuple) -> str:
    if padding not in allowed:
        raise ValueError(f"{who}: unknown padding {padding!r}; valid values are "
                         f"{', '.join(repr(p) for p in allowed)}")
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: unknown data_format {data_format!r}; valid values are "
                         "'channels_last', 'channels_first'")
    return fmt


class _Spatial(Layer):
    """What convolutions and poolings share: spatial geometry, channels-first/last shapes."""

    rank = 2

    def _geometry(self, s: Any) -> tuple[int | None, tuple]:
        """(channels, spatial sizes) of an input shape."""
        if self.data_format == "channels_last":
            return s[-1], tuple(s[1:-1])
        return s[1], tuple(s[2:])

    def _with(self, s: Any, channels: int | None, spatial: tuple) -> tuple:
        if self.data_format == "channels_last":
            return (s[0],) + tuple(spatial) + (channels,)
        return (s[0], channels) + tuple(spatial)

    def _check_rank(self, s: Any, channels: bool = True) -> None:
        dims = {1: "steps", 2: "rows, cols"}[self.rank]
        layout = (f"(batch, {dims}, channels)" if self.data_format == "channels_last"
                  else f"(batch, channels, {dims})")
        if isinstance(s, list) or len(s) != self.rank + 2:
            hint = ("; flat rows must be reshaped first, e.g. Reshape((28, 28, 1))"
                    if not isinstance(s, list) and len(s) == 2 and self.rank == 2 else "")
            raise self._shape_error(f"a {self.rank + 2}-D input {layout}", s, hint)
        if channels and self._geometry(s)[0] is None:
            raise self._shape_error(f"a known number of channels in {layout}", s)

    def _to_nchw(self, x: Tensor) -> Tensor:
        """channels-last (N, *spatial, C) -> (N, C, H, W); 1-D inputs get height 1."""
        if self.data_format == "channels_last":
            x = x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
        return x.reshape(x.shape[:2] + (1, x.shape[2])) if self.rank == 1 else x

    def _from_nchw(self, y: Tensor) -> Tensor:
        if self.rank == 1:
            y = y.reshape((y.shape[0], y.shape[1], y.shape[3]))
        if self.data_format == "channels_last":
            y = y.permute(0, *range(2, y.ndim), 1)
        return y

    def _pad_nchw(self, x: Tensor, k: tuple, s: tuple, d: tuple, value: float) -> Tensor:
        """x (N, C, H, W) padded for self.padding; the pads of each spatial axis."""
        sizes = x.shape[2:] if self.rank == 2 else x.shape[3:]
        pads = [_pads(n, k_, s_, d_, self.padding) for n, k_, s_, d_ in zip(sizes, k, s, d)]
        if not any(a or b for a, b in pads):
            return x
        full = ((0, 0), (0, 0)) + (((0, 0),) if self.rank == 1 else ()) + tuple(pads)
        return pad(x, full, value)


class _Conv(_Spatial):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        who = type(self).__name__
        _unsupported(who, activity_regularizer=activity_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = positive_int(who, "filters", filters)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = _tuple(strides, self.rank, "strides", who)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", who)
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self.padding = padding.lower() if isinstance(padding, str) else padding
        self.data_format = _check_format(who, self.padding, data_format, allowed)
        self.groups = positive_int(who, "groups", groups)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.bias = None
        self._logits: tuple | None = None
        self._emit_logits = False

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s)
        c, spatial = self._geometry(s)
        if self.built and c != self._in:
            raise self._shape_error(f"{self._in} input channels (it was built for them)", s)
        if c % self.groups:
            raise self._shape_error(f"input channels divisible by groups={self.groups}", s)
        out = self.compute_output_shape(s)
        if any(o is not None and o < 1 for o in self._geometry(out)[1]):
            raise self._shape_error(
                f"spatial sizes of at least the kernel's {self.kernel_size} (dilation "
                f"{self.dilation_rate})", s, "; use padding='same' or a smaller kernel")

    def build(self, input_shape: Any) -> None:
        self._in = int(self._geometry(input_shape)[0])
        shape = self.kernel_size + (self._in // self.groups, self.filters)
        layout = (3, 2, 0, 1) if self.rank == 2 else (2, 1, 0)
        self._add_weight("kernel", shape, self.kernel_initializer,
                        regularizer=self.kernel_regularizer, attr="weight", layout=layout)
        if self.use_bias:
            self._add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer)

    @property
    def kernel(self) -> Tensor:
        return self._weights[0].view(self.name)

    def compute_output_shape(self, s: Any) -> Any:
        _, spatial = self._geometry(s)
        out = tuple(_out_size(n, k, st, d, self.padding) for n, k, st, d in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        return self._with(s, self.filters, out)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if x.ndim != self.rank + 2 or self._geometry(x.shape)[0] != self._in:
            raise self._shape_error(f"inputs with {self._in} channels",
                                    tuple(x.shape))
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        x = self._pad_nchw(self._to_nchw(x), k, s, d, 0.0)
        if self.rank == 2:
            y = F.conv2d(x, self.weight, self.bias, s, 0, d, self.groups)
        else:
            w = self.weight.reshape(self.weight.shape[:2] + (1, k[0]))
            y = F.conv2d(x, w, self.bias, (1, s[0]), 0, (1, d[0]), self.groups)
        return _activate(self, self._from_nchw(y))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": inits.serialize(self.kernel_initializer),
                "bias_initializer": inits.serialize(self.bias_initializer),
                "kernel_regularizer": regs.serialize(self.kernel_regularizer),
                "bias_regularizer": regs.serialize(self.bias_regularizer)}


class Conv2D(_Conv):
    """2-D convolution over (batch, rows, cols, channels) -> (batch, rows', cols', filters)."""

    rank = 2


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels) -> (batch, steps', filters); padding may
    also be 'causal' (left padding only)."""

    rank = 1


class _Pool(_Spatial):
    mode = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        who = type(self).__name__
        self.pool_size = _tuple(pool_size, self.rank, "pool_size", who)
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank,
                                                                       "strides", who)
        self.padding = padding.lower() if isinstance(padding, str) else padding
        self.data_format = _check_format(who, self.padding, data_format, ("valid", "same"))

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s, channels=False)
        if any(o is not None and o < 1 for o in self._geometry(self.compute_output_shape(s))[1]):
            raise self._shape_error(f"spatial sizes of at least pool_size {self.pool_size}", s,
                                    "; use padding='same'")

    def compute_output_shape(self, s: Any) -> Any:
        c, spatial = self._geometry(s)
        out = tuple(_out_size(n, k, st, 1, self.padding)
                    for n, k, st in zip(spatial, self.pool_size, self.strides))
        return self._with(s, c, out)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        self._check_rank(tuple(inputs.shape), channels=False)
        k, s = self.pool_size, self.strides
        ones = (1,) * self.rank
        x = self._to_nchw(inputs)
        k2, s2 = ((1,) + k, (1,) + s) if self.rank == 1 else (k, s)
        if self.mode == "max":
            xp = self._pad_nchw(x, k, s, ones, -np.inf)
            y = F.max_pool2d(xp, k2, s2)
        elif self.padding == "valid":
            y = F.avg_pool2d(x, k2, s2)
        else:  # Keras averages over the cells inside the input only
            y = F.avg_pool2d(self._pad_nchw(x, k, s, ones, 0.0), k2, s2, divisor_override=1)
            counts = self._counts(x.shape[2:], k2, s2, y.shape[2:], y.array.dtype)
            y = y * Tensor._make(counts, None)
        return self._from_nchw(y)

    def _counts(self, size: tuple, k: tuple, s: tuple, out: tuple, dtype: Any) -> np.ndarray:
        """1 / (number of input cells in each window) for 'same' average pooling."""
        per_axis = []
        for n, k_, s_, o in zip(size, k, s, out):
            before = _pads(n, k_, s_, 1, "same")[0]
            start = np.arange(o) * s_ - before
            per_axis.append(np.minimum(start + k_, n) - np.maximum(start, 0))
        return (1.0 / np.outer(per_axis[0], per_axis[1])).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling2D(_Pool):
    """The maximum over pool_size windows (default 2x2, stride = pool_size)."""


class AveragePooling2D(_Pool):
    """The mean over pool_size windows (default 2x2, stride = pool_size)."""

    mode = "avg"


class MaxPooling1D(_Pool):
    rank = 1


class AveragePooling1D(_Pool):
    rank = 1
    mode = "avg"


class _GlobalPool(_Spatial):
    mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _check_format(type(self).__name__, "valid", data_format, ("valid",))
        self.keepdims = bool(keepdims)

    def _axes(self) -> tuple[int, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s, channels=False)

    def compute_output_shape(self, s: Any) -> Any:
        if self.keepdims:
            return tuple(1 if i in self._axes() else d for i, d in enumerate(s))
        return tuple(d for i, d in enumerate(s) if i not in self._axes())

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        self._check_rank(tuple(inputs.shape), channels=False)
        if self.mode == "avg":
            if not inputs.is_floating_point():  # Keras averages integers as float32
                inputs = inputs.float()
            return inputs.mean(dim=self._axes(), keepdim=self.keepdims)
        return inputs.amax(dim=self._axes(), keepdim=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool):
    """The mean over rows and cols: (batch, rows, cols, channels) -> (batch, channels)."""


class GlobalMaxPooling2D(_GlobalPool):
    mode = "max"


class GlobalAveragePooling1D(_GlobalPool):
    rank = 1


class GlobalMaxPooling1D(_GlobalPool):
    rank = 1
    mode = "max"

