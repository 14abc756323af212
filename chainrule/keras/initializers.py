"""Weight initializers with Keras' names and formulas (drawn from chainrule's default generator).

Fans follow Keras: a kernel (..., fan_in_axis, fan_out_axis) has fan_in = shape[-2] * receptive
field and fan_out = shape[-1] * receptive field, where the receptive field is the product of the
leading (spatial) axes. Normal variants of the variance-scaling family are truncated at two
standard deviations, as in Keras.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.backend import as_dtype
from chainrule.dtypes import default_float
from chainrule.random import generator_of


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def _truncated_normal(shape: tuple[int, ...], stddev: float, mean: float = 0.0) -> np.ndarray:
    """N(mean, stddev^2) redrawn wherever a sample falls beyond two standard deviations."""
    g = generator_of(None)
    out = g.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = g.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev + mean


class Initializer:
    """Called as init(shape, dtype) -> a NumPy array."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    def _cast(self, a: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dt = default_float() if dtype is None else as_dtype(dtype)
        return np.broadcast_to(np.asarray(a), shape).astype(dt)


class Zeros(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return self._cast(0.0, shape, dtype)


class Ones(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return self._cast(1.0, shape, dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return self._cast(self.value, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return self._cast(generator_of(None).normal(self.mean, self.stddev, shape), shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return self._cast(_truncated_normal(shape, self.stddev, self.mean), shape, dtype)


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        a = generator_of(None).uniform(self.minval, self.maxval, shape)
        return self._cast(a, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Variance scale / n with n = fan_in, fan_out or their mean (mode), drawn from a truncated
    normal, an untruncated normal or a uniform distribution."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal") -> None:
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', "
                             f"got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: distribution must be 'truncated_normal', "
                             f"'untruncated_normal' or 'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        fan_in, fan_out = compute_fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            # 0.879... is the stddev of a unit normal truncated to [-2, 2]
            a = _truncated_normal(shape, math.sqrt(var) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            a = generator_of(None).normal(0.0, math.sqrt(var), shape)
        else:
            limit = math.sqrt(3.0 * var)
            a = generator_of(None).uniform(-limit, limit, shape)
        return self._cast(a, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def _preset(name: str, scale: float, mode: str, dist: str) -> type:
    def __init__(self: Any) -> None:
        VarianceScaling.__init__(self, scale, mode, dist)

    def get_config(self: Any) -> dict[str, Any]:
        return {}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": f"VarianceScaling({scale}, {mode!r}, "
                                                      f"{dist!r})"})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix for the shape viewed as (prod(shape[:-1]), shape[-1])."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = generator_of(None).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self._cast(self.gain * q.reshape(shape), shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class Identity(Initializer):
    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Identity initializer: needs a 2-D shape, got {shape}")
        return self._cast(self.gain * np.eye(*shape), shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


CLASSES: dict[str, type] = {c.__name__: c for c in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
    Identity)}
NAMES: dict[str, type] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "identity": Identity,
    # Keras 3's aliases
    "uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
}


def get(identifier: Any) -> Any:
    """An initializer from a name ('glorot_uniform'), a class name, a saved config dict, an
    Initializer or a callable (shape, dtype) -> array."""
    if isinstance(identifier, str):
        cls = NAMES.get(identifier) or CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown initializer {identifier!r}; valid initializers are "
                             f"{', '.join(NAMES)}")
        return cls()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(f"unknown initializer config {identifier!r}; known classes: "
                             f"{', '.join(CLASSES)}")
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"an initializer must be a name, a config dict or a callable, got "
                    f"{identifier!r}")


def serialize(init: Any) -> Any:
    if isinstance(init, Initializer) and type(init).__name__ in CLASSES:
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise ValueError(f"cannot save the initializer {init!r}; use a name such as "
                     "'glorot_uniform' or one of the classes in chainrule.keras.initializers")
