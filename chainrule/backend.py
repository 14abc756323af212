"""The only module that knows an array library other than NumPy may exist.

`xp_of(*arrays)` answers numpy or cupy from the arrays themselves; nothing global decides how a
given array is computed. Devices, and the default random generator's NumPy state, live here too,
with the helpers that keep device arrays on the device (`may_any`, `host_any`, `index_range`,
`to_host`: each host copy explicit) and the registration of a CuPy stand-in for the tests
(`register_device_module`: tests/device/strict_xp.py checks the GPU path without a GPU).
"""

from __future__ import annotations

import ctypes
import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

from chainrule.dtypes import as_numpy_dtype, default_float, is_floating  # noqa: F401


class _Standin:
    """A registered stand-in for CuPy (tests only: tests/device/strict_xp.py), or None.

    When set, `module` plays cupy: its `ndarray` type is recognised as a device array, and
    device('cuda'), `.to('cuda')` and `cuda.is_available()` use it instead of importing cupy.
    """

    module: Any = None
    array_type: Any = None


def register_device_module(module: Any) -> None:
    """Use `module` (a CuPy stand-in with cupy's API and an `ndarray` type) as the CUDA array
    module; None restores real CuPy. For tests that check the GPU path without a GPU."""
    _Standin.module = module
    _Standin.array_type = None if module is None else module.ndarray


def _cupy() -> Any:
    """cupy, or the registered stand-in (raises ImportError when neither is there)."""
    if _Standin.module is not None:
        return _Standin.module
    import cupy  # lazy: only reached when a device is asked for or a CuPy array is in hand

    return cupy


def is_device_array(a: Any) -> bool:
    """Whether a is a GPU array (CuPy's, or the registered stand-in's)."""
    t = type(a)
    return t is _Standin.array_type or t.__module__.startswith("cupy")


def xp_of(*arrays: Any) -> ModuleType:
    """The array module (numpy or cupy) that owns the given arrays; numpy for plain values."""
    for a in arrays:
        t = type(a)
        if t is np.ndarray:
            continue
        if t is _Standin.array_type:
            return _Standin.module
        if t.__module__.startswith("cupy"):
            import cupy  # lazy: only reached when a CuPy array is already in hand

            return cupy
    return np


def to_host(a: Any) -> np.ndarray:
    """A device array copied to the host (explicitly: callers say why); host arrays as they are."""
    return _cupy().asnumpy(a) if is_device_array(a) else a


def same_device(op: str, a: Any, like: Any) -> None:
    """PyTorch's error for tensors on two devices (a host tensor meeting a device tensor)."""
    if like is not None and is_device_array(a) != is_device_array(like):
        raise RuntimeError(
            f"{op}: Expected all tensors to be on the same device, but found at least two "
            f"devices, {device_of(like)} and {device_of(a)}! Move one with .to(other.device)")


def one_device(op: str, arrays: Any) -> None:
    """PyTorch's error when an op's inputs live on the host and a device at once."""
    on = [is_device_array(a) for a in arrays]
    if True in on and False in on:
        same_device(op, arrays[on.index(False)], arrays[on.index(True)])


def on_device_of(a: Any, like: Any) -> Any:
    """A host constant (a NumPy array or list the caller gave, not a tensor) on the device of
    `like`: uploaded once, on purpose, as a Python number operand is."""
    if like is None or not is_device_array(like) or is_device_array(a):
        return a
    return xp_of(like).asarray(a)


def may_any(mask: Any) -> bool:
    """mask.any() where it only picks a faster branch: exact for a host array; True for a device
    array without asking it (the general branch is right either way, and a device-to-host copy
    per call would stall the GPU)."""
    return True if is_device_array(mask) else bool(mask.any())


def host_any(mask: Any) -> bool:
    """mask.any() as a Python bool, where it decides an error: for a device array, one explicit
    one-element copy to the host (PyTorch's CUDA kernels make the same check with a device
    assert)."""
    return bool(mask.any().item())


def index_range(idx: Any) -> tuple[int, int]:
    """(min, max) of an index array as Python ints, for a bounds check ((0, -1) when it is empty:
    every check passes); for a device array, one explicit copy of two numbers to the host
    (PyTorch's CUDA kernels check bounds with a device assert instead)."""
    if not idx.size:
        return 0, -1
    if is_device_array(idx):
        lo, hi = to_host(xp_of(idx).stack((idx.min(), idx.max())))
        return int(lo), int(hi)
    return int(idx.min()), int(idx.max())


def scipy_special(xp: Any) -> Any:
    """cupyx.scipy.special for a device array module (the stand-in brings its own)."""
    sp = getattr(xp, "_scipy_special", None)
    if sp is not None:
        return sp
    import cupyx.scipy.special as cs  # lazy: only with CuPy arrays

    return cs


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype (chainrule, NumPy, Python type or name) to a NumPy dtype."""
    return as_numpy_dtype(dtype)


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn data into an array: Python floats become the default float dtype, NumPy arrays
    keep their dtype."""
    if dtype is not None:
        dtype = as_numpy_dtype(dtype)
    if (isinstance(data, np.ndarray) or is_device_array(data)
            or hasattr(data, "__array_namespace__")):
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
        cupy = _cupy()
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
    if is_device_array(a):
        return device("cuda", int(a.device.id))
    return CPU


def to_device(a: Any, d: Any, where: str = "to") -> Any:
    """The array moved to device d (the same array when it is already there)."""
    d = as_device(d)
    if d.type == "cpu":
        return a.get() if is_device_array(a) else a
    if not cuda_available():
        raise _no_cuda(where)
    cupy = _cupy()
    index = 0 if d.index is None else d.index
    if is_device_array(a) and int(a.device.id) == index:
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
