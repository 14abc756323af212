"""chainrule.cuda: what PyTorch's torch.cuda answers, for GPUs through CuPy.

Without CuPy or without an NVIDIA GPU, is_available() is False and device_count() is 0; asking
for device='cuda' then raises an error that says what is missing.
"""

from __future__ import annotations

import os
from typing import Any

from chainrule.backend import _cupy, cuda_available, cuda_device_count


def is_available() -> bool:
    """Whether CuPy is installed and sees an NVIDIA GPU."""
    return cuda_available()


def device_count() -> int:
    return cuda_device_count()


def current_device() -> int:
    if not cuda_available():
        from chainrule.backend import _no_cuda

        raise _no_cuda("cuda.current_device")
    cupy = _cupy()
    return int(cupy.cuda.runtime.getDevice())


def manual_seed(seed: int) -> None:
    """Seed the GPU generators (dropout masks on a GPU come from them); the CPU stream goes
    on, as in PyTorch. cr.manual_seed seeds both."""
    from chainrule.random import seed_devices

    seed_devices(seed)


manual_seed_all = manual_seed


def synchronize(device: Any = None) -> None:
    if cuda_available():
        cupy = _cupy()
        cupy.cuda.Device().synchronize()


def empty_cache() -> None:
    if cuda_available():
        cupy = _cupy()
        cupy.get_default_memory_pool().free_all_blocks()


def is_bf16_supported() -> bool:
    return False


def _amp() -> Any:
    from chainrule.amp import device_amp

    return device_amp("cuda")


amp = _amp()  # torch.cuda.amp.autocast / GradScaler: PyTorch's deprecated aliases


def describe() -> list[str]:
    """What `chainrule info --devices` prints: the CPU, whether CuPy is there, each GPU it sees,
    and, when no GPU can be used, why."""
    import platform

    import numpy as np

    from chainrule.backend import _Standin

    lines = [f"cpu: {platform.machine() or 'unknown'} ({os.cpu_count()} cores), NumPy "
             f"{np.__version__}"]
    if _Standin.module is not None:
        return lines + ["cuda: the strict test stand-in is registered (tests only)"]
    try:
        import cupy
    except Exception as e:  # not installed, or a broken install
        why = ('CuPy is not installed: pip install "chainrule[cuda]"' if isinstance(
            e, ModuleNotFoundError) else f"CuPy failed to import ({type(e).__name__}: {e})")
        return lines + [f"cuda: not used: {why}"]
    try:
        n = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as e:  # a CUDA runtime without a driver or a GPU
        return lines + [f"cuda: not used: CuPy {cupy.__version__} is installed but CUDA "
                        f"reports: {type(e).__name__}: {e}"]
    if n == 0:
        return lines + [f"cuda: not used: CuPy {cupy.__version__} sees no NVIDIA GPU"]
    for i in range(n):
        props = cupy.cuda.runtime.getDeviceProperties(i)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        mem = props.get("totalGlobalMem", 0) / 2**30
        lines.append(f"cuda:{i}: {name}, {mem:.0f} GiB (CuPy {cupy.__version__})")
    return lines
