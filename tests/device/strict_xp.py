"""A strict stand-in for CuPy, for tests only: the GPU code path, checked without a GPU.

`ndarray` (strict_array.py) holds a NumPy array and behaves like `cupy.ndarray` where the engine
can tell: its own type (so `xp_of` answers this module), operators, indexing, the array methods,
reductions that return 0-d arrays (not scalars), and `.get()` / `asnumpy()` /
`asarray(host_array)` as the explicit transfers. The module object `xp` stands in for `cupy`:
every NumPy function, taking and giving stand-in arrays, plus `cuda` (one device), `random`,
`linalg`, `fft`, `lib`, `get_default_memory_pool` and `_scipy_special` (what
`cupyx.scipy.special` gives chainrule).
tests/device/conftest.py registers it as chainrule's 'cuda' for one test at a time
(`chainrule.backend.register_device_module`).

Stricter than CuPy on purpose, so that a hidden transfer raises with the line that made it:

- `np.asarray(a)` / `a.__array__()` and any NumPy function or ufunc given a device array raise
  (CuPy raises the same TypeError for `__array__`; it lets np.* dispatch to itself, but chainrule
  must call its array module `xp`, never `np`, on a device array).
- A host array mixed with a device array (an operand, an index, an assigned value, an argument
  of an `xp` function) raises; Python and NumPy scalars are allowed, as on CuPy. CuPy uploads
  some of these silently; each would be a copy per call on a GPU.
- `float(a)`, `int(a)`, `bool(a)`, `operator.index(a)`, `a.tolist()`, `a.tobytes()` and pickling
  raise: CuPy allows them with a hidden synchronising copy to the host. Code that needs a host
  value asks for it with `a.item()` or `a.get()`; those are allowed and logged in `TRANSFERS`.
- Random numbers: `xp.random.default_rng(seed)` is the device's generator (NumPy's PCG64
  giving device arrays); chainrule draws dropout masks from it on a device (seeded by
  cr.manual_seed), and initial weights and cr.randn(..., device=) on its host generator,
  uploaded once (so a model starts from the same weights on either device).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from .strict_array import (  # noqa: F401  (TRANSFERS, UPLOADS, TransferError: re-exported)
    SKIP_FILES,
    TRANSFERS,
    UPLOADS,
    Device,
    TransferError,
    _log,
    _refuse,
    _wrapped,
    ndarray,
)

SKIP_FILES.add(__file__)
_UPLOADS = frozenset({"asarray", "array", "asanyarray"})  # explicit uploads, as on CuPy

_MISSING = {  # NumPy functions CuPy does not have: calling them on the device fails there too
    "vectorize": "CuPy's vectorize compiles Python into a kernel; use array functions",
    "frompyfunc": "no CuPy equivalent", "fromiter": "no CuPy equivalent",
    "errstate": "CuPy has no errstate: GPU kernels never warn",
    "nditer": "no CuPy equivalent", "eig": "cupy.linalg has no eig (only eigh)",
    "eigvals": "cupy.linalg has no eigvals (only eigvalsh)",
}


class _Ufunc:
    """A NumPy ufunc taking and giving device arrays (call, reduce, accumulate, outer, at)."""

    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.identity = uf.nin, uf.nout, uf.identity
        self._call = _wrapped(uf, uf.__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, method: str) -> Any:
        if method not in ("reduce", "accumulate", "outer", "at", "reduceat"):
            raise AttributeError(method)
        return _wrapped(getattr(self._uf, method), f"{self.__name__}.{method}")


class _Namespace(types.ModuleType):
    """A module standing in for cupy (or cupy.linalg, cupy.random ...) over a NumPy module."""

    def __init__(self, name: str, base: Any, extra: dict | None = None) -> None:
        super().__init__(name)
        self._base = base
        self.__dict__.update(extra or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _MISSING:
            _refuse(f"{self.__name__}.{name}: {_MISSING[name]}")
        obj = getattr(self._base, name)
        if isinstance(obj, np.ufunc):
            obj = _Ufunc(obj)
        elif isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or (
                callable(obj) and not isinstance(obj, type)):
            obj = _wrapped(obj, f"{self.__name__}.{name}", upload=name in _UPLOADS)
        elif isinstance(obj, types.ModuleType):
            obj = _Namespace(f"{self.__name__}.{name}", obj)
        setattr(self, name, obj)
        return obj


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    """cupy.asnumpy: the explicit copy to the host."""
    if type(a) is ndarray:
        _log("asnumpy")
        return a._a.copy()
    return np.asarray(a)


def get_array_module(*args: Any) -> Any:
    return xp if any(type(a) is ndarray for a in args) else np


class _Pool:
    def free_all_blocks(self) -> None:
        return None

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0


_POOL = _Pool()

_runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0,
                                 getDeviceProperties=lambda i: {"name": b"strict stand-in"})
cuda = types.SimpleNamespace(Device=Device, runtime=_runtime, is_available=lambda: True,
                             get_device_id=lambda: 0)


class _Generator:
    """cupy.random.Generator: draws on the device (here: NumPy's PCG64 under a device wrapper,
    so its numbers are not CuPy's XORWOW ones; what matters is where they land)."""

    def __init__(self, seed: Any = None) -> None:
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name not in ("random", "standard_normal", "integers", "uniform", "normal"):
            raise AttributeError(f"strict_xp.random.Generator has no {name!r}")
        return _wrapped(getattr(self._g, name), f"Generator.{name}")


def _special() -> Any:
    try:
        import scipy.special as sp
    except ImportError:  # the stand-in computes on the host inside: that is not a transfer
        import math

        from chainrule.ops.special import _erfinv_numpy

        sp = types.SimpleNamespace(**{n: np.vectorize(getattr(math, n), otypes=[np.float64])
                                      for n in ("erf", "erfc", "lgamma", "gamma")},
                                   erfinv=_erfinv_numpy)
    return _Namespace("cupyx.scipy.special", sp)


xp = _Namespace("strict_xp", np, {
    "ndarray": ndarray, "asnumpy": asnumpy, "get_array_module": get_array_module,
    "cuda": cuda, "get_default_memory_pool": lambda: _POOL,
    "random": _Namespace("strict_xp.random", np.random, {"default_rng": _Generator}),
    "get_default_pinned_memory_pool": lambda: _POOL, "_scipy_special": _special(),
    "TransferError": TransferError, "TRANSFERS": TRANSFERS, "UPLOADS": UPLOADS,
})
"""The module object standing in for `cupy`."""
