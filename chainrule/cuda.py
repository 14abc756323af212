"""chainrule.cuda: what PyTorch's torch.cuda answers, for GPUs through CuPy.

Without CuPy or without an NVIDIA GPU, is_available() is False and device_count() is 0; asking
for device='cuda' then raises an error that says what is missing.
"""

from __future__ import annotations

from typing import Any

from chainrule.backend import cuda_available, cuda_device_count


def is_available() -> bool:
    """Whether CuPy is installed and sees an NVIDIA GPU."""
    return cuda_available()


def device_count() -> int:
    return cuda_device_count()


def current_device() -> int:
    if not cuda_available():
        from chainrule.backend import _no_cuda

        raise _no_cuda("cuda.current_device")
    import cupy

    return int(cupy.cuda.runtime.getDevice())


def manual_seed(seed: int) -> None:
    """Seed the GPU generators. chainrule draws on the host, so with a GPU this is
    cr.manual_seed; without one it does nothing, as in PyTorch (the CPU stream goes on)."""
    if not cuda_available():
        return
    from chainrule.random import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed


def synchronize(device: Any = None) -> None:
    if cuda_available():
        import cupy

        cupy.cuda.Device().synchronize()


def empty_cache() -> None:
    if cuda_available():
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def is_bf16_supported() -> bool:
    return False


def _amp() -> Any:
    from chainrule.amp import device_amp

    return device_amp("cuda")


amp = _amp()  # torch.cuda.amp.autocast / GradScaler: PyTorch's deprecated aliases
