"""chainrule.accelerator: PyTorch's device-agnostic accelerator API (torch.accelerator), for the
one accelerator chainrule can use, an NVIDIA GPU through CuPy."""

from __future__ import annotations

from typing import Any

from chainrule.backend import cuda_available, cuda_device_count, device


def is_available() -> bool:
    return cuda_available()


def device_count() -> int:
    return cuda_device_count()


def current_accelerator(check_available: bool = False) -> Any:
    """device('cuda') when a GPU can be used, else None (as PyTorch without an accelerator)."""
    return device("cuda") if cuda_available() else None


def synchronize(device: Any = None) -> None:
    from chainrule import cuda

    cuda.synchronize(device)
