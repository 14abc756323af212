"""keras.backend: the configuration functions Keras programs commonly call.

chainrule.keras computes in float32, clips probabilities at 1e-7 and lays images out
channels-last; the setters accept those values and refuse others with an error naming what is
supported (a setting that silently did nothing would be a wrong model without an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras._graph import _COUNTERS, KerasTensor, clear_session

__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format",
           "is_float_dtype", "is_int_dtype", "is_keras_tensor", "set_epsilon", "set_floatx",
           "set_image_data_format", "standardize_dtype"]


def backend() -> str:
    """The name of the backend: 'chainrule' (Keras answers 'torch', 'jax' or 'tensorflow')."""
    return "chainrule"


def floatx() -> str:
    """The default float type of weights and inputs."""
    return "float32"


def set_floatx(value: str) -> None:
    """Keras' setter; chainrule.keras layers compute in float32 only."""
    if standardize_dtype(value) != "float32":
        raise ValueError(f"set_floatx: chainrule.keras layers compute in float32; got "
                         f"{value!r} (for float64 work use chainrule.nn)")


def epsilon() -> float:
    """The fuzz factor of the losses (probabilities are clipped to [epsilon, 1 - epsilon])."""
    return 1e-7


def set_epsilon(value: float) -> None:
    """Keras' setter; the losses and metrics of chainrule.keras use 1e-7."""
    if float(value) != 1e-7:
        raise ValueError(f"set_epsilon: chainrule.keras' losses and metrics use epsilon 1e-7; "
                         f"got {value}")


def image_data_format() -> str:
    """Images are channels-last, as Keras' default."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Keras' setter; chainrule.keras' image layers are channels-last."""
    if data_format != "channels_last":
        raise ValueError(f"set_image_data_format: chainrule.keras' image layers are "
                         f"channels-last; got {data_format!r} (transpose the data instead)")


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... for successive calls with the same prefix (the counter layer names use;
    reset by clear_session)."""
    n = _COUNTERS.get(prefix, 0) + 1
    _COUNTERS[prefix] = n
    return n


def is_keras_tensor(x: Any) -> bool:
    """True for the symbolic tensors of Input() and layers called on them."""
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype: Any) -> str:
    """A dtype's name: 'float32', 'int64', 'bool', ... (None -> floatx())."""
    if dtype is None:
        return floatx()
    if hasattr(dtype, "name") and isinstance(dtype.name, str) and not isinstance(dtype, str):
        return np.dtype(dtype.name).name if dtype.name != "bool" else "bool"
    return np.dtype(dtype).name


def is_float_dtype(dtype: Any) -> bool:
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: Any) -> bool:
    return standardize_dtype(dtype).startswith(("int", "uint"))
