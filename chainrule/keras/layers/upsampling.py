"""Upsampling and transposed convolutions, channels-last as in Keras: UpSampling1D,
UpSampling2D, Conv1DTranspose, Conv2DTranspose.

Keras' transposed-convolution kernel is (*kernel_size, filters, in_channels), stored in
F.conv_transpose2d's (in_channels, filters, *kernel_size) layout. Keras' output window is
found as Keras' own torch backend finds it: the full transposed convolution ((n - 1) * stride
+ (k - 1) * dilation + 1 per axis), then cropped on each side (or zero-padded where a crop is
negative) to the window that padding / output_padding describe.
"""

from __future__ import annotations

from typing import Any

from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras.layers.convolutional import _check_format, _Spatial, _tuple
from chainrule.keras.layers.core import _activate, _unsupported, positive_int
from chainrule.nn import functional as F
from chainrule.ops.join import pad
from chainrule.tensor import Tensor


class UpSampling1D(_Spatial):
    """Repeats each step `size` times: (batch, steps, features) -> (batch, steps * size,
    features)."""

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = positive_int("UpSampling1D", "size", size)
        self.data_format = "channels_last"

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s, channels=False)

    def compute_output_shape(self, s: Any) -> Any:
        return (s[0], None if s[1] is None else s[1] * self.size, s[2])

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        self._check_rank(tuple(inputs.shape), channels=False)
        return inputs.repeat_interleave(self.size, dim=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_Spatial):
    """Scales rows and cols by `size`: interpolation 'nearest' repeats each pixel, 'bilinear'
    interpolates with half-pixel centres (F.interpolate, align_corners=False), as Keras'
    ops.image.resize does when enlarging."""

    rank = 2

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = _tuple(size, 2, "size", "UpSampling2D")
        self.data_format = _check_format("UpSampling2D", "valid", data_format, ("valid",))
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise NotImplementedError(f"UpSampling2D: interpolation={interpolation!r} is not "
                                      "supported in chainrule.keras; use 'nearest' or "
                                      "'bilinear'")

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s, channels=False)

    def compute_output_shape(self, s: Any) -> Any:
        c, (h, w) = self._geometry(s)
        return self._with(s, c, (None if h is None else h * self.size[0],
                                 None if w is None else w * self.size[1]))

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        self._check_rank(tuple(inputs.shape), channels=False)
        x = self._to_nchw(inputs)
        if self.interpolation == "nearest":
            y = x.repeat_interleave(self.size[0], dim=2).repeat_interleave(self.size[1], dim=3)
        else:
            if not x.is_floating_point():
                x = x.float()
            size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
            y = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self._from_nchw(y)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size),
                "data_format": self.data_format, "interpolation": self.interpolation}


def _keras_pads(k: int, s: int, d: int, padding: str, output_padding: int | None) -> tuple:
    """Keras' (left, right) padding of the dilated input for a transposed convolution."""
    k = (k - 1) * d + 1
    if padding == "valid":
        op = max(k, s) - k if output_padding is None else output_padding
        return k - 1, k - 1 + op
    total = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, k - 1)
    return left, total - left


def _out_len(n: int | None, k: int, s: int, d: int, padding: str, op: int | None) -> Any:
    if n is None:
        return None
    left, right = _keras_pads(k, s, d, padding, op)
    return (n - 1) * s + left + right - (k - 1) * d + 1


class _ConvTranspose(_Spatial):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
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
        if output_padding is None:
            self.output_padding = None
        else:
            op = (tuple(output_padding) if isinstance(output_padding, (list, tuple))
                  else (output_padding,) * self.rank)
            if len(op) != self.rank or any(not isinstance(v, int) or v < 0 for v in op):
                raise ValueError(f"{who}: output_padding must be a non-negative int or a tuple "
                                 f"of {self.rank} of them, got {output_padding!r}")
            for v, s in zip(op, self.strides):
                if v >= s:
                    raise ValueError(f"{who}: strides {self.strides} must be greater than "
                                     f"output_padding {op}")
            self.output_padding = op
        self.padding = padding.lower() if isinstance(padding, str) else padding
        self.data_format = _check_format(who, self.padding, data_format, ("valid", "same"))
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.bias = None
        self._logits: tuple | None = None
        self._emit_logits = False

    def _ops(self) -> tuple:
        return self.output_padding or (None,) * self.rank

    def check_input_shape(self, s: Any) -> None:
        self._check_rank(s)
        if self.built and self._geometry(s)[0] != self._in:
            raise self._shape_error(f"{self._in} input channels (it was built for them)", s)

    def build(self, input_shape: Any) -> None:
        self._in = int(self._geometry(input_shape)[0])
        shape = self.kernel_size + (self.filters, self._in)
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
        out = tuple(_out_len(n, k, st, d, self.padding, op) for n, k, st, d, op in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate,
                        self._ops()))
        return self._with(s, self.filters, out)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if x.ndim != self.rank + 2 or self._geometry(x.shape)[0] != self._in:
            raise self._shape_error(f"inputs with {self._in} channels", tuple(x.shape))
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        x = self._to_nchw(x)
        w = self.weight
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        if self.rank == 1:
            w = w.reshape(w.shape[:2] + (1, k[0]))
            k, s, d = (1,) + k, (1,) + s, (1,) + d
        y = F.conv_transpose2d(x, w, None, s, 0, 0, 1, d)
        crops = [(0, 0)] * (2 - self.rank)
        for kk, ss, dd, op in zip(self.kernel_size, self.strides, self.dilation_rate,
                                  self._ops()):
            left, right = _keras_pads(kk, ss, dd, self.padding, op)
            eff = (kk - 1) * dd + 1
            crops.append((eff - 1 - left, eff - 1 - right))
        index = (slice(None), slice(None)) + tuple(
            slice(max(a, 0), y.shape[2 + i] - max(b, 0)) for i, (a, b) in enumerate(crops))
        y = y[index]
        if any(a < 0 or b < 0 for a, b in crops):
            y = pad(y, ((0, 0), (0, 0)) + tuple((max(-a, 0), max(-b, 0)) for a, b in crops),
                    0.0)
        if self.bias is not None:
            y = y + self.bias.reshape((1, -1, 1, 1))
        return _activate(self, self._from_nchw(y))

    def get_config(self) -> dict[str, Any]:
        op = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "output_padding": op,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": inits.serialize(self.kernel_initializer),
                "bias_initializer": inits.serialize(self.bias_initializer),
                "kernel_regularizer": regs.serialize(self.kernel_regularizer),
                "bias_regularizer": regs.serialize(self.bias_regularizer)}


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution: (batch, rows, cols, channels) -> (batch, rows', cols',
    filters); padding 'same' with output_padding None gives rows * strides."""

    rank = 2


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution: (batch, steps, channels) -> (batch, steps', filters)."""

    rank = 1
