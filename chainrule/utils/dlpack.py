"""DLPack: tensors cross to and from other array libraries (NumPy, PyTorch, JAX, CuPy) without a
copy, as torch.utils.dlpack does: from_dlpack(obj) and to_dlpack(tensor) -> capsule.

`torch.from_dlpack(t)` and `np.from_dlpack(t)` read a chainrule tensor through
`Tensor.__dlpack__`, which calls `export` here.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """Where DLPack memory lives (the values of dlpack.h, as torch.utils.dlpack numbers them)."""

    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


def _needs_copy(a: Any, legacy: bool) -> str | None:
    """Why array a cannot be exported as it is, or None when it can."""
    if any(s < 0 for s in a.strides):
        # NumPy exports negative strides, but PyTorch cannot take them (torch.from_dlpack aborts
        # the process on them), so they never leave chainrule
        return f"it has negative strides {a.strides} (a reversed NumPy view)"
    if legacy and isinstance(a, np.ndarray) and not a.flags.writeable:
        return "it is read-only (an expand() view, say), which a legacy capsule cannot say"
    return None


def export(a: Any, stream: Any = -1, max_version: Any = None, dl_device: Any = None,
           copy: bool | None = None) -> Any:
    """The DLPack capsule of array a, shared unless copy=True. An array DLPack cannot carry as
    it is (negative strides; read-only in a legacy capsule) is exported as a contiguous copy
    when copy is None, as the array API allows, and refused with BufferError when copy=False."""
    why = _needs_copy(a, legacy=max_version is None or tuple(max_version) < (1, 0))
    if why is not None:
        if copy is False:
            raise BufferError(f"__dlpack__: cannot share this tensor's memory without a copy: "
                              f"{why}; pass copy=None, or export t.contiguous()")
        a, copy = a.copy(), None  # the copy is the caller's own: share it
    kwargs: dict[str, Any] = {}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    if not isinstance(a, np.ndarray) and stream not in (None, -1):
        kwargs["stream"] = stream  # a GPU array synchronises on the consumer's stream
    return a.__dlpack__(**kwargs)


def to_dlpack(tensor: Any) -> Any:
    """A legacy DLPack capsule ("dltensor") sharing tensor's memory; it can be read once, by a
    from_dlpack. As torch's, it does not refuse a tensor that requires grad."""
    return export(tensor.array)


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: bool | None = None) -> Any:
    """A chainrule tensor sharing memory with ext_tensor (an object with __dlpack__, or a DLPack
    capsule); see chainrule.from_dlpack."""
    from chainrule.creation import from_dlpack as _from_dlpack

    return _from_dlpack(ext_tensor, device=device, copy=copy)
