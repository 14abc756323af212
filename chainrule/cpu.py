"""chainrule.cpu: what PyTorch's torch.cpu answers (the CPU as a device), and torch.cpu.amp."""

from __future__ import annotations

from typing import Any

from chainrule.amp import device_amp

amp = device_amp("cpu")


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return True


def device_count() -> int:
    """1: PyTorch counts the CPU as one device, whatever its cores."""
    return 1


def current_device() -> str:
    return "cpu"


def set_device(device: Any) -> None:
    """Nothing to choose: there is one CPU device (as PyTorch's, a no-op)."""


def synchronize(device: Any = None) -> None:
    """CPU ops finish before they return: nothing to wait for."""
