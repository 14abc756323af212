"""The only module that knows an array library other than NumPy may exist.

`xp_of(*arrays)` answers numpy or cupy from the arrays themselves; nothing global decides how a
given array is computed. Devices, and the default random generator's NumPy state, live here too.
"""

from __future__ import annotations

import ctypes
import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

from chainrule.dtypes import as_numpy_dtype, default_float, is_floating  # noqa: F401


def xp_of(*arrays: Any) -> ModuleType:
    """The array module (numpy or cupy) that owns the given arrays; numpy for plain values."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy  # lazy: only reached when a CuPy array is already in hand

            return cupy
    return np


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype (chainrule, NumPy, Python type or name) to a NumPy dtype."""
    return as_numpy_dtype(dtype)


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn data into an array: Python floats become the default float dtype, NumPy arrays
    keep their dtype."""
    if dtype is not None:
        dtype = as_numpy_dtype(dtype)
    if hasattr(data, "__array_namespace__") or isinstance(data, np.ndarray):
        xp = xp_of(data)
        return data if dtype is None or data.dtype == dtype else xp.asarray(data, dtype=dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(default_float())  # Python floats: the library's default
    elif dtype is None and arr.dtype == np.complex128:
        arr = arr.astype(np.complex64 if default_float() != np.float64 else np.complex128)
    return arr


# -- devices ------------------------------------------------------------------------------------
class device:  # noqa: N801  (PyTorch's name: torch.device)
    """Where a tensor lives: device('cpu'), device('cuda'), device('cuda:1'), device('cuda', 1)."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # device(1) is cuda:1, as in PyTorch
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}")
        name, _, idx = type.partition(":")
        if idx:
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}; "
                "chainrule runs on the CPU (NumPy) and on NVIDIA GPUs (CuPy)")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("device objects are immutable")

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type,
                                                                         other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self) -> tuple:  # pickles (worker processes, spawn) as torch.device does
        return device, (self.type, self.index)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def cuda_available() -> bool:
    """Whether CuPy is installed and sees at least one NVIDIA GPU."""
    return cuda_device_count() > 0


def cuda_device_count() -> int:
    try:
        import cupy
    except Exception:  # not installed, or installed without a working CUDA
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # a CUDA runtime without a driver or a GPU
        return 0


def _no_cuda(where: str) -> RuntimeError:
    try:
        import cupy  # noqa: F401
        why = "CuPy is installed but sees no NVIDIA GPU (or no working CUDA driver)"
    except Exception:
        why = 'CuPy is not installed: pip install "chainrule[cuda]"'
    return RuntimeError(f"{where}: CUDA is not available ({why}); use device='cpu', or check "
                        "cr.cuda.is_available() first")


def as_device(d: Any) -> device:
    return d if isinstance(d, device) else device(d)


def device_of(a: Any) -> device:
    """The device an array lives on."""
    if type(a).__module__.startswith("cupy"):
        return device("cuda", int(a.device.id))
    return CPU


def to_device(a: Any, d: Any, where: str = "to") -> Any:
    """The array moved to device d (the same array when it is already there)."""
    d = as_device(d)
    if d.type == "cpu":
        return a.get() if type(a).__module__.startswith("cupy") else a
    if not cuda_available():
        raise _no_cuda(where)
    import cupy

    index = 0 if d.index is None else d.index
    if type(a).__module__.startswith("cupy") and int(a.device.id) == index:
        return a
    with cupy.cuda.Device(index):
        return cupy.asarray(a)


class _DefaultDevice:
    """Where new tensors are created when no device= is given (global state)."""

    device = CPU


def default_device() -> device:
    return _DefaultDevice.device


def set_default_device(d: Any) -> None:
    """Create new tensors on d by default ('cpu' or 'cuda'); None resets to the CPU."""
    _DefaultDevice.device = CPU if d is None else check_device(d, "set_default_device")


def get_default_device() -> device:
    return _DefaultDevice.device


def check_device(d: Any, where: str) -> device:
    """A requested device, refused with a clear error when it cannot be used."""
    d = as_device(d)
    if d.type == "cuda" and not cuda_available():
        raise _no_cuda(where)
    return d


class _RNG:
    """Holder of the default random generator, reseeded by `manual_seed`."""

    generator = np.random.default_rng()


def default_generator() -> np.random.Generator:
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
