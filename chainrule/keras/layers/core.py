"""Core layers: Input / InputLayer, Dense, Activation, Dropout, Flatten, Reshape, Embedding,
Lambda. Thin adapters over chainrule.nn.functional."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.backend import as_dtype
from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._graph import KerasTensor, Node, fmt_shape
from chainrule.keras._layer import Layer
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

_FUSABLE = (activations.softmax, activations.sigmoid)


def positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _unsupported(layer: str, **options: Any) -> None:
    for k, v in options.items():
        if v is not None:
            raise NotImplementedError(f"{layer}: {k} is not supported in chainrule.keras; "
                                      f"leave it None")


# -- inputs --------------------------------------------------------------------------------------
class InputLayer(Layer):
    """The entry of a functional model: holds the input's batch shape and dtype."""

    def __init__(self, shape: Sequence[int] | None = None, batch_size: int | None = None,
                 dtype: Any = None, name: str | None = None,
                 batch_shape: Sequence[int] | None = None, **kwargs: Any) -> None:
        if shape is None and batch_shape is None:
            shape = kwargs.pop("input_shape", None)
        super().__init__(name=name, dtype=dtype, **{k: v for k, v in kwargs.items()
                                                    if k == "trainable"})
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: give shape=, the shape of one sample without the batch "
                                 "axis, e.g. Input(shape=(784,))")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.built = True
        self._output_dtype = self.dtype
        node = Node(self, [], False, {})
        node.outputs = [KerasTensor(self.batch_shape, self.dtype, node, 0, self.name)]
        self._inbound_nodes.append(node)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "batch_shape": list(self.batch_shape)}


def Input(shape: Sequence[int] | None = None, batch_size: int | None = None,  # noqa: N802
          name: str | None = None, dtype: Any = None,
          batch_shape: Sequence[int] | None = None) -> KerasTensor:
    """A symbolic input tensor of shape (batch_size, *shape): the start of a functional model."""
    return InputLayer(shape, batch_size, dtype, name, batch_shape).output


# -- dense ---------------------------------------------------------------------------------------
class Dense(Layer):
    """y = activation(x @ kernel + bias): kernel (in, units) in Keras' layout (stored (units, in)
    so that the layer runs F.linear, exactly as nn.Linear), glorot_uniform; bias zeros. Works on
    the last axis of inputs of any rank >= 2."""

    supports_masking = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _unsupported("Dense", activity_regularizer=activity_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.units = positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.bias = None
        self._in = None
        self._logits: tuple | None = None
        self._emit_logits = False

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 2:
            raise self._shape_error("one input of shape (batch, ..., features)", s)
        if s[-1] is None:
            raise self._shape_error("a known last dimension (the features)", s)
        if self.built and s[-1] != self._in:
            raise self._shape_error(f"last dimension {self._in} (it was built for inputs "
                                    f"(..., {self._in}))", s)

    def build(self, input_shape: Any) -> None:
        self._in = int(input_shape[-1])
        self._add_weight("kernel", (self._in, self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, attr="weight", layout=(1, 0))
        if self.use_bias:
            self._add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer)

    @property
    def kernel(self) -> Tensor:
        """The kernel (in, units), a view of the stored (units, in) weight."""
        return self._weights[0].view(self.name)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if x.ndim < 2 or x.shape[-1] != self._in:
            raise self._shape_error(f"input of shape (batch, ..., {self._in})", tuple(x.shape))
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        y = F.linear(x, self.weight, self.bias)
        return _activate(self, y)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": inits.serialize(self.kernel_initializer),
                "bias_initializer": inits.serialize(self.bias_initializer),
                "kernel_regularizer": regs.serialize(self.kernel_regularizer),
                "bias_regularizer": regs.serialize(self.bias_regularizer)}


def _activate(layer: Any, y: Tensor) -> Tensor:
    """activation(y); when the model asked for it (a softmax / sigmoid output trained with
    cross-entropy), also remember the logits y so that the loss can use the fused, stable form."""
    act = layer.activation
    if act is activations.linear:
        return y
    out = act(y)
    if layer._emit_logits and act in _FUSABLE:
        layer._logits = (out, y)
    return out


class Activation(Layer):
    """activation(x), given by name ('relu', 'softmax', ...) or as a callable."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._logits: tuple | None = None
        self._emit_logits = False

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        return _activate(self, inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


# -- shape and regularisation layers -------------------------------------------------------------
class Dropout(Layer):
    """Inverted dropout with probability `rate` while training (F.dropout); the identity at
    inference. noise_shape is not supported; seed gives the layer its own generator."""

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _unsupported("Dropout", noise_shape=noise_shape)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate, self.seed = float(rate), seed
        self._gen = None if seed is None else np.random.default_rng(seed)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        training = self.training if training is None else training
        if not training or self.rate == 0:
            return inputs
        return F.dropout(inputs, self.rate, True, generator=self._gen)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in the channels-last order."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format

    def compute_output_shape(self, s: Any) -> Any:
        rest = s[1:]
        return (s[0], None if None in rest else math.prod(rest))

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.permute(0, *range(2, x.ndim), 1)
        return x.reshape(x.shape[0], -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {self.target_shape}")

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or None in s[1:]:
            return
        n, t = math.prod(s[1:]), self.target_shape
        known = math.prod(d for d in t if d != -1)
        if (-1 in t and n % known) or (-1 not in t and n != known):
            raise self._shape_error(f"{n} values per sample to match target_shape "
                                    f"{fmt_shape(t)}", s)

    def compute_output_shape(self, s: Any) -> Any:
        t = self.target_shape
        if -1 in t and None not in s[1:]:
            known = math.prod(d for d in t if d != -1)
            t = tuple(math.prod(s[1:]) // known if d == -1 else d for d in t)
        return (s[0],) + tuple(None if d == -1 else d for d in t)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Embedding(Layer):
    """Integer indices (batch, ...) -> rows (batch, ..., output_dim) of `embeddings`
    (input_dim, output_dim), initialised U(-0.05, 0.05). Float inputs are cast to integers."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None,
                 mask_zero: bool = False, **kwargs: Any) -> None:
        if kwargs.get("input_length") is not None:
            kwargs["input_shape"] = (kwargs.pop("input_length"),)
        super().__init__(**kwargs)
        _unsupported("Embedding", embeddings_constraint=embeddings_constraint)
        self.mask_zero = self.supports_masking = bool(mask_zero)
        self.input_dim = positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = positive_int("Embedding", "output_dim", output_dim)
        init = ("random_uniform" if embeddings_initializer == "uniform"
                else embeddings_initializer)
        self.embeddings_initializer = inits.get(init)
        self.embeddings_regularizer = regs.get(embeddings_regularizer)

    def build(self, input_shape: Any) -> None:
        self._add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, regularizer=self.embeddings_regularizer)

    def compute_output_shape(self, s: Any) -> Any:
        return tuple(s) + (self.output_dim,)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """With mask_zero=True, inputs != 0 (index 0 is padding); else None."""
        if not self.mask_zero:
            return None
        idx = inputs.array if isinstance(inputs, Tensor) else np.asarray(inputs)
        return Tensor._make(idx != 0, None)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        idx = inputs.array if isinstance(inputs, Tensor) else np.asarray(inputs)
        if idx.dtype.kind not in "iu":
            idx = idx.astype(np.int64)
        return F.embedding(idx, self.embeddings)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": inits.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regs.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}


class Lambda(Layer):
    """Wraps a function of tensors as a layer. It cannot be saved (its code would have to be
    stored and executed on load): save_weights works, model.save raises."""

    def __init__(self, function: Callable, output_shape: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function, self._out_shape = function, output_shape

    def compute_output_shape(self, s: Any) -> Any:
        if self._out_shape is not None:
            return (None,) + tuple(self._out_shape)
        return super().compute_output_shape(s)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.function(inputs)

    def get_config(self) -> dict[str, Any]:
        raise ValueError(f"Lambda '{self.name}' cannot be saved: loading it would execute "
                         "stored code; use model.save_weights(), or write a Layer subclass")


def cast_input(x: Any, dtype: str) -> Tensor:
    """An input array as a Tensor of the InputLayer's dtype."""
    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype != as_dtype(dtype):
        a = a.astype(dtype)
    return x if isinstance(x, Tensor) and x.array is a else Tensor._make(a, None)
