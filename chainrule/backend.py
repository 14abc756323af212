"""The only module that knows an array library other than NumPy may exist.

`xp_of(*arrays)` answers numpy or cupy from the arrays themselves; nothing global decides how a
given array is computed. The default floating dtype and the default random generator live here too.
"""

from __future__ import annotations

import ctypes
import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

DEFAULT_FLOAT = np.dtype(np.float32)

_DTYPE_NAMES = {
    "float16": np.float16, "half": np.float16,
    "float32": np.float32, "float": np.float32,
    "float64": np.float64, "double": np.float64,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64, "long": np.int64,
    "uint8": np.uint8, "bool": np.bool_,
}


def xp_of(*arrays: Any) -> ModuleType:
    """The array module (numpy or cupy) that owns the given arrays; numpy for plain values."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy  # lazy: only reached when a CuPy array is already in hand

            return cupy
    return np


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype given as a NumPy dtype, a type or a name such as 'float32'."""
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return np.dtype(_DTYPE_NAMES[dtype])
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"unknown dtype {dtype!r}: use a NumPy dtype or one of {sorted(_DTYPE_NAMES)}"
        ) from None


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind in "fc"


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn data into an array: Python floats become float32, NumPy arrays keep their dtype."""
    if dtype is not None:
        dtype = as_dtype(dtype)
    if hasattr(data, "__array_namespace__") or isinstance(data, np.ndarray):
        xp = xp_of(data)
        return data if dtype is None or data.dtype == dtype else xp.asarray(data, dtype=dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_FLOAT)  # Python floats: float32, the library's default
    return arr


class _RNG:
    """Holder of the default random generator, reseeded by `manual_seed`."""

    generator = np.random.default_rng()


def default_generator() -> np.random.Generator:
    return _RNG.generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind cr.randn / cr.rand (and layers' default initialisation)."""
    _RNG.generator = np.random.default_rng(seed)
    return _RNG.generator


def _tune_allocator() -> bool:
    """Keep freed memory in the process instead of returning it to the OS at every free.

    glibc serves large blocks (from 128 KiB, raised dynamically) with fresh mmap pages and trims
    the heap eagerly, so every training step's activations and gradients start on new pages and
    pay a page fault per 4 KiB: measured here, 5x slower elementwise ops inside a training loop
    than in isolation, and a CNN step 1.5-2x slower. PyTorch avoids this with its own caching
    allocator. Blocks up to 64 MiB now come from the heap, and up to 256 MiB of free heap is
    kept. Linux/glibc only; opt out with CHAINRULE_TUNE_MALLOC=0 (also skipped when the user
    set MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ themselves).
    """
    env = os.environ
    if (env.get("CHAINRULE_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux")
            or "MALLOC_MMAP_THRESHOLD_" in env or "MALLOC_TRIM_THRESHOLD_" in env):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): leave the allocator alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 64 << 20)) and bool(mallopt(m_trim_threshold, 256 << 20))


ALLOCATOR_TUNED = _tune_allocator()
