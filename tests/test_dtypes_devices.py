"""dtypes, type promotion, devices and grad modes with PyTorch's names and meanings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_dtype_names_aliases_and_numpy_interop() -> None:
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.half is cr.float16
    assert cr.long is cr.int64 and cr.int is cr.int32 and cr.short is cr.int16
    assert repr(cr.float32) == "chainrule.float32" and str(cr.bool) == "chainrule.bool"
    assert cr.float32 == np.float32 and cr.float32 == np.dtype("float32")
    assert np.zeros(2, dtype=cr.float64).dtype == np.float64
    assert cr.float32.is_floating_point and not cr.int64.is_floating_point
    assert cr.float16.itemsize == 2 and cr.int8.is_signed and not cr.uint8.is_signed
    assert {cr.float32: 1}[cr.tensor([1.0]).dtype] == 1
    assert cr.finfo(cr.float32).eps == np.finfo(np.float32).eps and cr.iinfo(cr.int8).max == 127
    with pytest.raises(TypeError, match="bfloat16"):
        cr.zeros(2, dtype="bfloat16")


def test_conversions_return_self_when_nothing_changes() -> None:
    x = cr.ones(2)
    assert x.float() is x and x.to(cr.float32) is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(x) is x and x.type_as(x) is x
    assert x.to(cr.float32, copy=True) is not x
    d = x.double()
    assert d.dtype == cr.float64 and x.long().dtype == cr.int64 and x.bool().dtype == cr.bool
    assert x.type() == "chainrule.FloatTensor" and x.type(cr.int32).dtype == cr.int32
    assert x.to(device="cpu", dtype=cr.float16).dtype == cr.float16
    w = cr.ones(2, requires_grad=True)
    w.double().sum().backward()  # recorded: the gradient comes back as float32
    assert w.grad.dtype == cr.float32 and w.grad.tolist() == [1.0, 1.0]


def test_devices() -> None:
    x = cr.zeros(2, device="cpu")
    assert x.device == cr.device("cpu") and x.device == "cpu" and not x.is_cuda
    assert repr(cr.device("cuda:1")) == "device(type='cuda', index=1)"
    assert str(cr.device("cuda", 0)) == "cuda:0" and cr.device("cuda:0").index == 0
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        cr.device("tpu")
    if not cr.cuda.is_available():
        assert cr.cuda.device_count() == 0
        for make in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: cr.ones(2, device="cuda"),
                     lambda: cr.nn.Linear(2, 2).to("cuda")):
            with pytest.raises(RuntimeError, match="CUDA is not available"):
                make()


def test_devices_and_generators_pickle_for_worker_processes() -> None:
    # a Dataset holding a device or a Generator must reach spawned DataLoader workers
    import pickle
    for d in (cr.device("cpu"), cr.device("cuda:1"), cr.device("cuda")):
        back = pickle.loads(pickle.dumps(d))
        assert back == d and back.index == d.index and hash(back) == hash(d)
    g = cr.Generator().manual_seed(7)
    h = pickle.loads(pickle.dumps(g))
    assert h.device == cr.device("cpu") and h.initial_seed() == 7
    np.testing.assert_array_equal(cr.randn(4, generator=g).numpy(),
                                  cr.randn(4, generator=h).numpy())


def test_default_dtype() -> None:
    assert cr.get_default_dtype() == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype == cr.float64 and cr.randn(2).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64 and (cr.tensor([1]) * 0.5).dtype == cr.float64
        assert cr.nn.Linear(2, 2).weight.dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    with pytest.raises(TypeError, match="floating"):
        cr.set_default_dtype(cr.int64)


def test_tensor_dtype_inference() -> None:
    assert cr.tensor(3).dtype == cr.int64 and cr.tensor(3.0).dtype == cr.float32
    assert cr.tensor([1, 2.5]).dtype == cr.float32 and cr.tensor([True]).dtype == cr.bool
    assert cr.tensor(np.arange(3, dtype=np.int32)).dtype == cr.int32
    assert cr.tensor(np.float64(2.0)).dtype == cr.float64
    assert cr.full((2,), 7).dtype == cr.int64 and cr.full((2,), True).dtype == cr.bool
    assert cr.arange(3).dtype == cr.int64 and cr.arange(0, 1, 0.5).dtype == cr.float32
    with pytest.raises(TypeError, match="numeric"):
        cr.tensor(["a"])


def _operand(lib, kind: str, name: str):
    """A tensor with dims, a 0-d tensor or a Python number of the given dtype name."""
    dt = getattr(lib, name)
    if kind == "dim":
        return lib.ones(2, dtype=dt)
    if kind == "zero":
        return lib.ones((), dtype=dt)
    return {"bool": True, "float32": 1.5}.get(name, 2)


KINDS = [("dim", "dim"), ("dim", "zero"), ("zero", "dim"), ("dim", "number"),
         ("zero", "zero"), ("zero", "number")]


@pytest.mark.parametrize("kinds", KINDS, ids=["-".join(k) for k in KINDS])
def test_type_promotion_matches_torch(kinds) -> None:
    torch = pytest.importorskip("torch")
    names = DTYPES if kinds[1] != "number" else DTYPES
    numbers = ["bool", "int64", "float32"]  # Python bool, int, float
    for a, b in itertools.product(DTYPES, numbers if kinds[1] == "number" else names):
        for op in ("add", "mul"):
            if a == b == "bool" and op == "add":
                continue
            ours = getattr(cr, op)(_operand(cr, kinds[0], a), _operand(cr, kinds[1], b))
            theirs = getattr(torch, op)(_operand(torch, kinds[0], a),
                                        _operand(torch, kinds[1], b))
            assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], (a, b, op)
            assert cr.result_type(_operand(cr, kinds[0], a), _operand(cr, kinds[1], b)) == \
                ours.dtype


def test_division_comparison_and_where_promote_like_torch() -> None:
    i = cr.tensor([1, 2])
    assert (i / 2).dtype == cr.float32 and (i / i).dtype == cr.float32
    assert (i // 2).dtype == cr.int64 and (i % 2).dtype == cr.int64
    assert (i < 1.5).tolist() == [True, False]
    assert cr.where(i > 1, i, 0.5).dtype == cr.float32
    h = cr.ones(2, dtype=cr.float16)
    assert (h * cr.tensor([2, 3])).dtype == cr.float16
    assert (cr.ones(2) * cr.tensor(2.0, dtype=cr.float64)).dtype == cr.float32
    with pytest.raises(RuntimeError, match="mean"):
        i.mean()


def test_grad_modes() -> None:
    x = cr.ones(2, requires_grad=True)
    cr.set_grad_enabled(False)  # called as a function, as in PyTorch: it stays off
    try:
        assert not (x * 2).requires_grad and not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert cr.is_grad_enabled()
    with cr.inference_mode():
        assert cr.is_inference_mode_enabled() and not (x * 2).requires_grad
    with cr.inference_mode(False):
        assert (x * 2).requires_grad

    @cr.no_grad()
    def f(t):
        return t * 2

    @cr.no_grad
    def g(t):
        return t * 2

    @cr.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and not h(x).requires_grad
    assert cr.is_grad_enabled()


def test_module_dtype_and_device_conversions_keep_the_parameters() -> None:
    m = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3))
    w = m[0].weight
    opt = cr.optim.SGD(m.parameters(), lr=0.1)
    assert m.double() is m and w.dtype == cr.float64 and m[0].weight is w
    assert m[1].num_batches_tracked.dtype == cr.int64  # only floating tensors convert
    m(cr.ones(4, 2, dtype=cr.float64)).sum().backward()
    opt.step()  # the optimizer still holds the same parameters
    assert m.float()[0].weight.dtype == cr.float32 and m.to("cpu") is m
    lin = cr.nn.Linear(2, 2, dtype=cr.float64, device="cpu")
    assert lin.weight.dtype == cr.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(cr.int64)
