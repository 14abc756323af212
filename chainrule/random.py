"""Random number generators with PyTorch's API: cr.manual_seed, cr.Generator, generator= on the
functions that draw, and the state of the default generator.

The numbers come from NumPy's PCG64 generator, so they differ from PyTorch's for the same seed;
what matches is the API and the guarantee that the same seed gives the same numbers.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np

from chainrule.backend import _RNG


class Generator:
    """An independent random stream: `g = cr.Generator().manual_seed(0)`, then
    `cr.randn(3, generator=g)`."""

    def __init__(self, device: Any = "cpu") -> None:
        from chainrule.backend import as_device

        self.device = as_device(device)
        self._initial = secrets.randbits(63)
        self._set(np.random.default_rng(self._initial))

    def _get(self) -> np.random.Generator:
        return self._rng

    def _set(self, rng: np.random.Generator) -> None:
        self._rng = rng

    @property
    def numpy(self) -> np.random.Generator:
        """The NumPy generator behind this one."""
        return self._get()

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64  # PyTorch accepts negative seeds the same way
        self._initial = seed
        self._set(np.random.default_rng(seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's randomness; returns the new seed."""
        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial

    def get_state(self) -> Any:
        """The state as a uint8 tensor (what set_state takes back)."""
        from chainrule.tensor import Tensor

        raw = json.dumps(self._get().bit_generator.state).encode()
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy(), None)

    def set_state(self, state: Any) -> Generator:
        a = state.numpy() if hasattr(state, "numpy") else np.asarray(state)
        try:
            st = json.loads(bytes(np.asarray(a, dtype=np.uint8)).decode())
            rng = np.random.default_rng()
            rng.bit_generator.state = st
        except (ValueError, TypeError, KeyError) as e:
            raise RuntimeError(f"set_state: not a chainrule generator state ({e})") from None
        self._set(rng)
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator object, device={self.device}>"


class _DefaultGenerator(Generator):
    """The generator behind cr.randn, cr.rand, layer initialisation and shuffling."""

    def __init__(self) -> None:
        super().__init__("cpu")

    def _get(self) -> np.random.Generator:
        return _RNG.generator

    def _set(self, rng: np.random.Generator) -> None:
        _RNG.generator = rng


default_generator = _DefaultGenerator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and, as in PyTorch, the one on every device)."""
    seed_devices(seed)
    return default_generator.manual_seed(seed)


class _DeviceGenerators:
    """The default generator of each GPU array module (CuPy's cupy.random.default_rng), made on
    first use from the seed cr.manual_seed / cr.cuda.manual_seed gave (a random one before)."""

    seed: int | None = None
    rngs: dict[str, Any] = {}


def seed_devices(seed: int) -> None:
    """Seed the GPU generators (torch.cuda.manual_seed_all); the CPU stream goes on."""
    _DeviceGenerators.seed = int(seed) % (1 << 64)
    _DeviceGenerators.rngs.clear()


def uniform_like(shape: tuple, dtype: Any, like: Any, generator: Any = None) -> Any:
    """U[0, 1) numbers of `shape` and `dtype` (float32 or float64) where the array `like`
    lives: on a GPU from that device's generator (nothing is copied from the host); on the CPU,
    or with an explicit generator=, from the host generator (uploaded once for a device)."""
    from chainrule.backend import is_device_array, on_device_of, xp_of

    if generator is not None or not is_device_array(like):
        return on_device_of(generator_of(generator).random(shape, dtype=dtype), like)
    xp = xp_of(like)
    rng = _DeviceGenerators.rngs.get(xp.__name__)
    if rng is None:
        seed = _DeviceGenerators.seed
        rng = xp.random.default_rng(secrets.randbits(63) if seed is None else seed)
        _DeviceGenerators.rngs[xp.__name__] = rng
    return rng.random(shape, dtype=dtype)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    default_generator.set_state(new_state)


def generator_of(generator: Any) -> np.random.Generator:
    """The NumPy generator to draw from: the default one, a chainrule Generator's, or a NumPy
    Generator given directly."""
    if generator is None:
        return _RNG.generator
    if isinstance(generator, Generator):
        return generator._get()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a chainrule.Generator, got {type(generator).__name__}")
