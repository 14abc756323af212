"""Activation functions by their Keras names: `Dense(64, activation='relu')` or a callable.

Each is a composite of chainrule ops, so gradients come from the engine (no new backward code).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from chainrule import ops
from chainrule.tensor import Tensor

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def linear(x: Tensor) -> Tensor:
    """The identity (Keras' 'linear' and activation=None)."""
    return x


def relu(x: Tensor) -> Tensor:
    return ops.relu(x)


def relu6(x: Tensor) -> Tensor:
    return ops.clip(x, 0.0, 6.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """Keras' default slope is 0.2 (PyTorch's is 0.01)."""
    return ops.leaky_relu(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ops.elu(x, alpha)


def selu(x: Tensor) -> Tensor:
    return ops.elu(x, _SELU_ALPHA) * _SELU_SCALE


def sigmoid(x: Tensor) -> Tensor:
    return ops.sigmoid(x)


def hard_sigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6, Keras 3's definition."""
    return ops.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def tanh(x: Tensor) -> Tensor:
    return ops.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return ops.softmax(x, axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return ops.log_softmax(x, axis)


def softplus(x: Tensor) -> Tensor:
    return ops.softplus(x)


def softsign(x: Tensor) -> Tensor:
    return x / (ops.abs(x) + 1.0)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x), also called swish."""
    return x * ops.sigmoid(x)


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    if not approximate:
        return ops.gelu(x)
    c = math.sqrt(2.0 / math.pi)
    return x * 0.5 * (1.0 + ops.tanh(c * (x + 0.044715 * x * x * x)))


def mish(x: Tensor) -> Tensor:
    return x * ops.tanh(ops.softplus(x))


def exponential(x: Tensor) -> Tensor:
    return ops.exp(x)


ALL: dict[str, Callable[..., Tensor]] = {
    "linear": linear, "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu,
    "selu": selu, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "tanh": tanh,
    "softmax": softmax, "log_softmax": log_softmax, "softplus": softplus, "softsign": softsign,
    "silu": silu, "swish": silu, "gelu": gelu, "mish": mish, "exponential": exponential,
}


def get(identifier: Any) -> Callable[..., Tensor]:
    """The activation for a name, None ('linear') or a callable (returned as is)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = ALL.get(identifier) or _custom(identifier)
        if fn is None:
            raise ValueError(f"unknown activation {identifier!r}; valid activations are "
                             f"{', '.join(sorted(ALL))}, None, or a callable")
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, None or a callable, got {identifier!r}")


def _custom(name: str) -> Callable[..., Tensor] | None:
    """A function in custom_object_scope / custom objects or registered with
    register_keras_serializable (as 'package>name' or by its own name), as Keras finds them."""
    from chainrule.keras import saving

    fn = saving.get_registered_object(name)
    if fn is None:
        hits = [f for key, f in saving.get_custom_objects().items()
                if key.rpartition(">")[2] == name]
        fn = hits[0] if len(hits) == 1 else None
    return fn if callable(fn) else None


def serialize(fn: Callable[..., Tensor], custom: bool = True) -> str:
    """The name under which get() finds fn again; custom callables are saved by their
    __name__ (load_model then needs them in custom_objects)."""
    for name, f in ALL.items():
        if f is fn:
            return name
    name = getattr(fn, "__name__", None)
    if not custom or not name or name == "<lambda>":
        raise ValueError(f"cannot save the activation {fn!r}: only named functions can be "
                         "saved; use a string such as 'relu', or a def-function passed to "
                         "load_model(..., custom_objects={name: fn})")
    return name
