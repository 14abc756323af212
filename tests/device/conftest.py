"""The device under test: the strict stand-in (tests/device/strict_xp.py), registered as 'cuda'
for one test at a time; or real CuPy on a machine with a GPU, when CHAINRULE_REAL_CUDA=1
(scripts/gpu_check.sh) and CuPy sees one."""

from __future__ import annotations

import os

import pytest

from chainrule import backend

from . import strict_xp


def real_cuda() -> bool:
    return os.environ.get("CHAINRULE_REAL_CUDA") == "1"


@pytest.fixture
def dev():
    """'cuda', backed by the strict stand-in (or by real CuPy under CHAINRULE_REAL_CUDA=1)."""
    if real_cuda():
        if not backend.cuda_available():
            pytest.skip("CHAINRULE_REAL_CUDA=1 but CuPy sees no GPU")
        yield "cuda"
        return
    backend.register_device_module(strict_xp.xp)
    strict_xp.TRANSFERS.clear()
    try:
        yield "cuda"
    finally:
        backend.register_device_module(None)
        backend.set_default_device(None)
