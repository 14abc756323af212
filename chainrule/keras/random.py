"""keras.random on chainrule: random tensors with Keras' names, arguments and defaults.

The numbers come from chainrule's generators (NumPy's PCG64), so they cannot equal Keras'
(torch's) streams; the distributions, shapes, dtypes and seeding rules are Keras':

- seed=None draws from the global generator (`keras.utils.set_random_seed` / `cr.manual_seed`);
- seed=<int> gives the same numbers on every call with that seed;
- seed=SeedGenerator(s) gives a new draw on every call, the same sequence for the same s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import as_dtype
from chainrule.keras.ops._convert import contiguous, convert_to_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal",
           "randint", "shuffle", "truncated_normal", "uniform"]


class SeedGenerator:
    """A stream of seeds: each random op given this generator draws new numbers, and two
    SeedGenerators made with the same seed give the same sequence (seed=None: drawn from the
    global generator)."""

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if kwargs.keys() - {"backend"}:
            raise TypeError(f"SeedGenerator: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs.keys() - {'backend'}))}")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self._initial_seed = None if seed is None else int(seed)
        self._seed = int(generator_of(None).integers(2**31)) if seed is None else int(seed)
        self.name = name or "seed_generator"
        self._count = 0

    def next(self, ordered: bool = True) -> np.random.Generator:
        """A fresh NumPy generator for the next draw (the stream advances by one)."""
        self._count += 1
        return np.random.default_rng([self._seed, self._count])

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)


def _rng(seed: Any) -> np.random.Generator:
    if seed is None:
        return generator_of(None)
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)):
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be None, an int or a keras.random.SeedGenerator, got {seed!r}")


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _out(a: Any, dtype: Any, default: Any = np.float32) -> Tensor:
    dt = as_dtype(default if dtype is None else dtype)
    return Tensor._make(contiguous(np.asarray(a).astype(dt)), None)


def _float(dtype: Any, op: str) -> Any:
    if dtype is not None and as_dtype(dtype).kind != "f":
        raise ValueError(f"{op}: dtype must be a float dtype, got {dtype!r}")
    return dtype


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
           seed: Any = None) -> Tensor:
    """Samples of N(mean, stddev^2) (float32 unless dtype says otherwise)."""
    dtype = _float(dtype, "normal")
    return _out(_rng(seed).normal(mean, stddev, _shape(shape)), dtype)


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None,
            seed: Any = None) -> Tensor:
    """Samples of U[minval, maxval)."""
    dtype = _float(dtype, "uniform")
    return _out(_rng(seed).uniform(minval, maxval, _shape(shape)), dtype)


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32",
            seed: Any = None) -> Tensor:
    """Integers drawn uniformly from [minval, maxval) (int32 by default)."""
    return _out(_rng(seed).integers(int(minval), int(maxval), _shape(shape)), dtype)


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> Tensor:
    """N(mean, stddev^2) samples, those more than two stddev from the mean drawn again."""
    dtype = _float(dtype, "truncated_normal")
    rng, shp = _rng(seed), _shape(shape)
    z = rng.standard_normal(shp)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return _out(mean + stddev * z, dtype)


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> Tensor:
    """inputs with each entry zeroed with probability `rate` and the rest scaled by
    1 / (1 - rate); noise_shape (None entries: the input's size) shares the mask along axes
    of size 1. Differentiable with respect to inputs."""
    x = convert_to_tensor(inputs)
    if rate == 1.0:
        return x * 0.0
    if rate == 0.0:
        return x
    if not 0.0 < rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate}")
    shp = tuple(x.shape) if noise_shape is None else tuple(
        int(x.shape[i]) if s is None else int(s) for i, s in enumerate(noise_shape))
    keep = _rng(seed).random(shp) >= rate
    scale = np.where(keep, 1.0 / (1.0 - rate), 0.0).astype(x.array.dtype)
    return x * Tensor._make(np.broadcast_to(scale, tuple(x.shape)).copy(), None)


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Tensor:
    """x with its slices along `axis` in a random order."""
    from chainrule import index_select

    t = convert_to_tensor(x)
    perm = _rng(seed).permutation(t.shape[axis])
    return index_select(t, axis, Tensor._make(perm, None))


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Class ids drawn from softmax(logits) for each row of logits (batch, classes): shape
    (batch, num_samples), with replacement."""
    z = np.asarray(convert_to_tensor(logits).detach().numpy(), dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"categorical: logits must be 2-D (batch, classes), got shape "
                         f"{z.shape}")
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    rng = _rng(seed)
    u = rng.random((z.shape[0], int(num_samples), 1))
    ids = (u > np.cumsum(p, -1)[:, None, :]).sum(-1)
    return _out(np.minimum(ids, z.shape[1] - 1), dtype)


def gamma(shape: Any, alpha: float, dtype: Any = None, seed: Any = None) -> Tensor:
    """Samples of Gamma(alpha, 1)."""
    return _out(_rng(seed).gamma(alpha, 1.0, _shape(shape)), _float(dtype, "gamma"))


def beta(shape: Any, alpha: float, beta: float, dtype: Any = None, seed: Any = None) -> Tensor:
    """Samples of Beta(alpha, beta)."""
    return _out(_rng(seed).beta(alpha, beta, _shape(shape)), _float(dtype, "beta"))


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None,
             seed: Any = None) -> Tensor:
    """Samples of Binomial(counts, probabilities) (float32 unless dtype says otherwise)."""
    n = np.asarray(convert_to_tensor(counts).numpy())
    p = np.asarray(convert_to_tensor(probabilities).numpy())
    return _out(_rng(seed).binomial(n.astype(np.int64), p, _shape(shape)), dtype)
