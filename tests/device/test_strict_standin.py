"""The stand-in itself: it refuses what a GPU would refuse or pay for, so that the device tests
above can fail. (If it let these through, a passing device test would prove nothing.)"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend

from .conftest import real_cuda
from .strict_xp import TRANSFERS, TransferError, ndarray, xp


def test_hidden_transfers_raise_with_the_line() -> None:
    a = xp.arange(6.0).reshape(2, 3)
    with pytest.raises(TransferError, match=r"Implicit conversion .*test_strict_standin\.py"):
        np.asarray(a)
    for convert in (float, int, bool, complex):
        with pytest.raises(TransferError, match="implicit"):
            convert(a[0, 0])
    with pytest.raises(TransferError):
        a.tolist()
    with pytest.raises(TransferError):
        pickle.dumps(a)
    with pytest.raises(TransferError, match="numpy.exp"):
        np.exp(a)
    with pytest.raises(TransferError, match="numpy.concatenate"):
        np.concatenate([a, a])
    with pytest.raises(TransferError):
        range(xp.asarray(3))


def test_host_arrays_do_not_mix_with_device_arrays() -> None:
    a, h = xp.ones(3), np.ones(3)
    for mix in (lambda: a + h, lambda: h + a, lambda: a * h, lambda: xp.maximum(a, h),
                lambda: xp.concatenate([a, h]), lambda: a[np.array([0, 1])],
                lambda: a.__setitem__(slice(None), h), lambda: a.__iadd__(h)):
        with pytest.raises(TransferError, match="host"):
            mix()


def test_what_cupy_allows_is_allowed() -> None:
    a = xp.arange(4.0)
    assert type(a + 1.5) is ndarray and type(np.float32(2) * a) is ndarray
    assert type(a.sum()) is ndarray and a.sum().shape == ()  # 0-d arrays, not scalars
    assert type(a[1]) is ndarray and a[1].shape == ()
    assert type(xp.asarray(np.ones(2))) is ndarray  # the explicit upload
    TRANSFERS.clear()
    assert a.sum().item() == 6.0 and xp.asnumpy(a).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert [w for w, _ in TRANSFERS] == ["item", "asnumpy"]
    v = a.reshape(2, 2)
    assert v.base is a  # views keep their base, as NumPy's and CuPy's do
    v[0, 0] = 7.0
    assert a[0].item() == 7.0
    b = copy.deepcopy(a)
    b += 1
    assert a[1].item() == 1.0
    assert xp.get_array_module(a) is xp and xp.get_array_module(np.ones(1)) is np


def test_numpys_missing_functions_are_refused() -> None:
    with pytest.raises(TransferError, match="errstate"):
        getattr(xp, "errstate")  # noqa: B009
    with pytest.raises(TransferError, match="vectorize"):
        getattr(xp, "vectorize")  # noqa: B009


def test_registration_is_scoped_to_the_fixture(dev: str) -> None:
    if real_cuda():
        pytest.skip("the fixture gives real CuPy here")
    assert cr.cuda.is_available()
    x = cr.ones(2, device="cuda")
    assert type(x.array) is ndarray and backend.xp_of(x.array) is xp
    assert x.device == cr.device("cuda:0") and str(x.device) == "cuda:0"


def test_no_device_without_the_fixture() -> None:
    if backend.cuda_available():
        pytest.skip("a real GPU is present")
    assert not cr.cuda.is_available()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cr.ones(2, device="cuda")
