"""DLPack exchange and PyTorch's copy / share rules for tensor, as_tensor, from_numpy, numpy().

NumPy is the consumer and producer in the first half; the second half checks the same habits
against torch itself (skipped when torch is absent).
"""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.dlpack import DLDeviceType, to_dlpack

NO_GRAD_EXPORT = "Can't export tensors that require gradient, use tensor.detach()"
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def _views():
    """Layouts a tensor can have: (name, tensor); the base is float64 0..11 shaped (3, 4)."""
    x = cr.arange(12, dtype=cr.float64).reshape(3, 4)
    return [("contiguous", x), ("transposed", x.t()), ("strided", x[:, ::2]),
            ("row", x[1]), ("0-d", cr.tensor(3.5, dtype=cr.float64)),
            ("empty", cr.zeros(0, 3, dtype=cr.float64)), ("expanded", x[:1].expand(2, 3, 4))]


def _values(n, dtype):
    return (np.arange(n) % 2 == 1) if dtype == "bool" else (np.arange(n) + 1).astype(dtype)


# -- NumPy ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,t", _views(), ids=[v[0] for v in _views()])
def test_numpy_reads_a_tensor_in_place(name, t):
    a = np.from_dlpack(t)
    assert a.shape == tuple(t.shape) and a.dtype == t.array.dtype
    assert a.strides == t.array.strides
    np.testing.assert_array_equal(a, t.array)
    if t.numel():
        assert np.shares_memory(a, t.array)


def test_writes_show_on_both_sides_with_numpy():
    t = cr.zeros(2, 3)
    a = np.from_dlpack(t)
    a[0, 1] = 7.0
    assert t[0, 1].item() == 7.0
    src = np.zeros((2, 3), np.float32)
    u = cr.from_dlpack(src)
    u.add_(1)
    u[1, 2] = 5.0
    np.testing.assert_array_equal(src, [[1, 1, 1], [1, 1, 5]])
    assert not u.requires_grad and u.is_leaf


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_keeps_dtype_and_memory(dtype):
    src = _values(6, dtype).reshape(2, 3)
    t = cr.from_dlpack(src)
    assert t.dtype == getattr(cr, "bool" if dtype == "bool" else dtype)
    back = np.from_dlpack(t)
    assert back.dtype == src.dtype and np.shares_memory(back, src)
    np.testing.assert_array_equal(back, src)


def test_non_contiguous_numpy_source_keeps_strides():
    src = np.arange(24.0).reshape(4, 6)[::2, 1::2]
    t = cr.from_dlpack(src)
    assert t.array.strides == src.strides and np.shares_memory(t.array, src)
    t.mul_(10)
    assert src[1, 2] == 10 * (12 + 5)


def test_export_refuses_a_tensor_that_requires_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        np.from_dlpack(w)
    a = np.from_dlpack(w.detach())
    assert np.shares_memory(a, w.array)
    capsule = to_dlpack(w)  # the legacy form does not check, as torch.utils.dlpack's
    assert np.shares_memory(cr.from_dlpack(capsule).array, w.array)


def test_negative_strides_are_exported_as_a_copy_or_refused():
    src = np.arange(6.0)[::-1]
    t = cr.from_numpy(src)
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, src)
    assert a.strides[0] > 0 and not np.shares_memory(a, src)
    with pytest.raises(BufferError, match="negative strides"):
        t.__dlpack__(copy=False)


def test_device_and_copy_arguments():
    assert cr.ones(2).__dlpack_device__() == (DLDeviceType.kDLCPU, 0)
    assert isinstance(cr.ones(2).__dlpack_device__()[0], DLDeviceType)
    src = np.zeros(3)
    assert not np.shares_memory(cr.from_dlpack(src, copy=True).array, src)
    assert np.shares_memory(cr.from_dlpack(src, copy=False).array, src)
    assert np.shares_memory(cr.from_dlpack(src, device="cpu").array, src)
    t = cr.ones(3)
    assert not np.shares_memory(np.from_dlpack(t, copy=True), t.array)


def test_capsules():
    t = cr.arange(4.0)
    capsule = cr.utils.dlpack.to_dlpack(t)
    u = cr.utils.dlpack.from_dlpack(capsule)
    u[0] = -9.0
    assert t[0].item() == -9.0
    with pytest.raises(AssertionError, match="device and copy kwargs not supported"):
        cr.from_dlpack(cr.utils.dlpack.to_dlpack(t), copy=True)
    with pytest.raises(RuntimeError, match="expected a tensor or array with __dlpack__"):
        cr.from_dlpack([1.0, 2.0])


def test_memory_on_another_device_is_refused_clearly():
    class OnGpu:  # what a CuPy array or a CUDA torch tensor answers
        def __dlpack__(self, **kwargs):
            raise AssertionError("must not be read")

        def __dlpack_device__(self):
            return (DLDeviceType.kDLCUDA, 0)

    with pytest.raises(RuntimeError, match="kDLCUDA memory .* move it there first"):
        cr.from_dlpack(OnGpu())


def test_expanded_tensor_exports_through_a_legacy_capsule():
    base = cr.arange(3.0)
    e = base.expand(2, 3)  # a read-only NumPy view: a legacy capsule cannot say so, so a copy
    np.testing.assert_array_equal(cr.from_dlpack(to_dlpack(e)).array, e.array)


# -- numpy() -------------------------------------------------------------------------------------
def test_numpy_shares_memory():
    t = cr.zeros(3)
    t.numpy()[1] = 4.0
    assert t[1].item() == 4.0
    w = cr.zeros(3, requires_grad=True)
    a = w.numpy(force=True)  # detached, shared on the CPU, as torch's
    a[0] = 2.0
    assert w[0].item() == 2.0
    # w.numpy() itself works (PyTorch refuses it): a difference the README lists, tested in
    # tests/torch_door/test_idioms.py
    with pytest.raises(TypeError):
        w.numpy(True)  # force is keyword-only, as in torch


# -- tensor / as_tensor / from_numpy -------------------------------------------------------------
def test_tensor_always_copies_and_keeps_numpy_dtypes():
    for src in (np.arange(3.0), np.arange(3, dtype=np.int32), np.ones(2, np.float16)):
        t = cr.tensor(src)
        assert t.array.dtype == src.dtype and not np.shares_memory(t.array, src)
    assert cr.tensor(np.arange(3.0), dtype=cr.float32).dtype == cr.float32
    x = cr.arange(3.0, requires_grad=True)
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        y = cr.tensor(x)
    assert not np.shares_memory(y.array, x.array) and not y.requires_grad and y.is_leaf
    with pytest.warns(UserWarning):
        assert cr.tensor(x, dtype=cr.float64).dtype == cr.float64


@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.0], "float32"), ([1, 2], "int64"), ([True], "bool"), ([1j], "complex64"),
    (2.5, "float32"), ([np.float64(1.0), 2.0], "float64"), ([np.float32(1.0), 2.0], "float32"),
    ([np.int32(1), np.int8(2)], "int32"), ([1, np.int32(2)], "int64"),
    (np.float64(1.0), "float64"), ([[np.zeros(2)], [np.zeros(2)]], "float64"),
    ([np.float64(1.0), 1j], "complex128"), ([np.int64(1), 2.5], "float32"), ([], "float32"),
])
def test_tensor_infers_dtypes_as_pytorch(data, dtype):
    assert cr.tensor(data).dtype == getattr(cr, dtype)


def test_tensor_follows_the_default_dtype():
    old = cr.get_default_dtype()
    try:
        cr.set_default_dtype(cr.float64)
        assert cr.tensor([1.0]).dtype == cr.float64
        assert cr.tensor([np.float32(1.0)]).dtype == cr.float32
    finally:
        cr.set_default_dtype(old)


def test_tensor_refuses_what_it_cannot_hold_and_converts_byte_order():
    with pytest.raises(TypeError, match="numpy.str_"):
        cr.tensor(np.array(["a"]))
    big = np.arange(3, dtype=">f8")
    t = cr.tensor(big)
    assert t.dtype == cr.float64 and t.tolist() == [0.0, 1.0, 2.0]


def test_as_tensor_shares_where_it_can():
    a = np.zeros(3)
    cr.as_tensor(a).add_(1)
    np.testing.assert_array_equal(a, [1, 1, 1])
    cr.as_tensor(a, dtype=cr.float32).add_(1)
    np.testing.assert_array_equal(a, [1, 1, 1])  # a converted copy
    assert cr.as_tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.as_tensor(np.float64(2.0)).dtype == cr.float64
    x = cr.ones(2, requires_grad=True)
    assert cr.as_tensor(x) is x and cr.as_tensor(x, dtype=cr.float32, device="cpu") is x
    y = cr.as_tensor(x, dtype=cr.float64)
    assert y.dtype == cr.float64 and y.grad_fn is not None  # recorded, as torch's
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1])


def test_from_numpy_shares_and_refuses_like_pytorch():
    a = np.arange(4, dtype=np.uint16)
    t = cr.from_numpy(a)
    t[0] = 9
    assert a[0] == 9 and t.dtype == cr.uint16
    for bad in (np.array([1, None]), np.array(["x"]), np.zeros(2, np.longdouble)):
        with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
            cr.from_numpy(bad)
    with pytest.raises(ValueError, match="byte order"):
        cr.from_numpy(np.zeros(2, ">f4"))
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        cr.from_numpy([1, 2])
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got numpy.float64\)"):
        cr.from_numpy(np.float64(1.0))
    ro = np.zeros(2)
    ro.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        cr.from_numpy(ro)


# -- against torch -------------------------------------------------------------------------------
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name,t", _views(), ids=[v[0] for v in _views()])
def test_torch_reads_a_tensor_in_place(torch, name, t):
    tt = torch.from_dlpack(t)
    assert tuple(tt.shape) == tuple(t.shape) and tt.dtype == torch.float64
    assert tt.stride() == tuple(s // 8 for s in t.array.strides)
    np.testing.assert_array_equal(tt.numpy(), t.array)
    if t.numel():
        assert tt.data_ptr() == t.array.ctypes.data


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_round_trip_keeps_dtype_and_shares(torch, dtype):
    t = cr.from_numpy(_values(6, dtype).reshape(3, 2))
    tt = torch.from_dlpack(t)
    assert tt.dtype == getattr(torch, dtype)
    back = cr.from_dlpack(tt)
    assert back.dtype == t.dtype and back.array.ctypes.data == t.array.ctypes.data
    np.testing.assert_array_equal(back.array, t.array)


def test_writes_show_on_both_sides_with_torch(torch):
    t = cr.zeros(2, 3)
    tt = torch.from_dlpack(t)
    tt[0, 1] = 7.0
    assert t[0, 1].item() == 7.0
    src = torch.arange(12.0).reshape(3, 4).t()  # non-contiguous
    u = cr.from_dlpack(src)
    assert tuple(u.shape) == (4, 3) and u.stride() == src.stride()
    u.add_(1)
    assert src[3, 2].item() == 12.0
    assert not u.requires_grad


def test_requires_grad_is_refused_with_pytorchs_error(torch):
    with pytest.raises(BufferError) as ours:
        torch.from_dlpack(cr.ones(2, requires_grad=True))
    with pytest.raises(BufferError) as theirs:
        torch.from_dlpack(torch.ones(2, requires_grad=True))
    assert str(ours.value) == str(theirs.value) == NO_GRAD_EXPORT
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        cr.from_dlpack(torch.ones(2, requires_grad=True))  # torch refuses, as for torch


def test_negative_strides_reach_torch_as_a_copy(torch):
    src = np.arange(6.0).reshape(2, 3)[:, ::-1]
    t = cr.from_numpy(src)
    # torch aborts the process on a capsule with negative strides: fail here instead
    assert min(np.from_dlpack(t).strides) >= 0
    tt = torch.from_dlpack(t)
    np.testing.assert_array_equal(tt.numpy(), src)


def test_legacy_capsules_with_torch(torch):
    x = torch.arange(4.0)
    u = cr.from_dlpack(torch.utils.dlpack.to_dlpack(x))
    u[1] = 8.0  # NumPy reads legacy capsules as read-only; torch, and chainrule, write
    assert x[1].item() == 8.0
    for src in (torch.zeros(0, 3), torch.tensor(2.5), torch.arange(12.0).reshape(3, 4).t()):
        u = cr.from_dlpack(torch.utils.dlpack.to_dlpack(src))
        assert tuple(u.shape) == tuple(src.shape)
        assert u.stride() == src.stride() or not src.numel()  # NumPy zeroes an empty's strides
        u.add_(1)
        np.testing.assert_array_equal(u.array, src.numpy())
    t = cr.arange(3.0)
    tt = torch.from_dlpack(cr.utils.dlpack.to_dlpack(t))
    tt[2] = -1.0
    assert t[2].item() == -1.0


def test_tensor_copies_torch_data_and_keeps_its_dtype(torch):
    src = torch.arange(3, dtype=torch.float64)
    t = cr.tensor(src)
    assert t.dtype == cr.float64
    t.add_(1)
    assert src.tolist() == [0.0, 1.0, 2.0]
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    assert cr.tensor(w).tolist() == [1.0, 1.0]
    assert cr.tensor(torch.arange(3, dtype=torch.int32)).dtype == cr.int32


def test_as_tensor_shares_torch_memory(torch):
    src = torch.zeros(3)
    cr.as_tensor(src).add_(2)
    assert src.tolist() == [2.0, 2.0, 2.0]
    cr.as_tensor(src, dtype=cr.float64).add_(2)
    assert src.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("data", [
    [1.0, 2.0], [1, 2], [True, False], [1j], 2.5, 7, [np.float64(1.0), 2.0],
    [np.float32(1.0)], [np.int32(1), np.int8(2)], [1, np.int8(2)], [np.uint8(1), 300],
    [np.float16(1), 2.0], [np.complex128(1j)], [np.float32(1), 1j], np.float64(1.0),
    np.int32(3), np.arange(3, dtype=np.int16), [[1.0], [2.0]], [],
])
def test_dtype_inference_matches_torch(torch, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = str(torch.tensor(data).dtype).removeprefix("torch.")
        assert str(torch.as_tensor(data).dtype).removeprefix("torch.") == expected
    assert cr.tensor(data).dtype == getattr(cr, expected)
    assert cr.as_tensor(data).dtype == getattr(cr, expected)


@pytest.mark.parametrize("bad", [np.array([1, None]), np.array(["x"]), np.zeros(2, ">f4"),
                                 [1, 2], np.float64(1.0)], ids=["object", "str", "bigendian",
                                                               "list", "scalar"])
def test_from_numpy_refuses_what_torch_refuses(torch, bad):
    with pytest.raises(Exception) as theirs:
        torch.from_numpy(bad)
    with pytest.raises(type(theirs.value)) as ours:
        cr.from_numpy(bad)
    assert str(theirs.value).strip()[:80] in str(ours.value)


def test_features_from_torch_train_in_chainrule_and_go_back(torch):
    """A user's program: torch computes features, chainrule trains on them without a copy,
    torch reads the trained predictions back without a copy."""
    torch.manual_seed(0)
    raw = torch.randn(64, 5, dtype=torch.float64)
    features = torch.tanh(raw @ torch.randn(5, 8, dtype=torch.float64))  # in torch
    target = features[:, :1] * 2.0 - features[:, 1:2]

    x = cr.from_dlpack(features)                 # zero copy into chainrule
    y = cr.from_dlpack(target.contiguous())
    assert x.array.ctypes.data == features.data_ptr()
    cr.manual_seed(0)
    model = cr.nn.Linear(8, 1, dtype=cr.float64)
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]

    with cr.no_grad():
        pred = model(x)
    back = torch.from_dlpack(pred)               # zero copy back into torch
    assert back.data_ptr() == pred.array.ctypes.data
    w = torch.from_dlpack(model.weight.detach())
    b = torch.from_dlpack(model.bias.detach())
    torch.testing.assert_close(back, features @ w.t() + b)
    torch.testing.assert_close(back, target, atol=0.05, rtol=0)
