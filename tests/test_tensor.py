"""Making tensors, their attributes, dtype rules and repr."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_python_floats_give_float32_and_arrays_keep_their_dtype():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([[1.0, 2.0]]).dtype == np.float32
    assert cr.tensor(np.zeros(3)).dtype == np.float64
    assert cr.tensor(np.zeros(3, np.float16)).dtype == np.float16
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor([1, 2], dtype="float64").dtype == np.float64


def test_integer_and_bool_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)
    t = cr.tensor([True])
    with pytest.raises(RuntimeError, match=r"t.float\(\)"):
        t.requires_grad = True


def test_factories():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).array.sum() == 0
    assert cr.ones(4).array.sum() == 4 and cr.ones(4).dtype == np.float32
    assert cr.full((2, 2), 7.0).array.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert cr.arange(5).dtype == np.int64 and cr.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert cr.eye(3).array.trace() == 3
    x = cr.randn(3, 4, requires_grad=True)
    assert x.shape == (3, 4) and x.requires_grad and x.dtype == np.float32
    assert cr.zeros_like(x).shape == (3, 4) and cr.ones_like(x).array.sum() == 12
    r = cr.rand(1000)
    assert 0 <= r.array.min() and r.array.max() < 1


def test_manual_seed_makes_randn_reproducible():
    cr.manual_seed(3)
    a = cr.randn(5)
    cr.manual_seed(3)
    np.testing.assert_array_equal(a.array, cr.randn(5).array)


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, np.float32)
    t = cr.from_numpy(a)
    c = cr.tensor(a)
    a[0] = 5
    assert t.array[0] == 5 and c.array[0] == 0
    assert t.numpy() is a


def test_attributes():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and x.is_leaf
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2 and x.dim() == 2
    assert repr(x.shape) == "chainrule.Size([2, 3])" and x.shape.numel() == 6
    assert x.T.shape == (3, 2) and not x.T.is_leaf
    assert x.sum().item() == 15.0 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    d = x.detach()
    assert not d.requires_grad and d.array is x.array
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()


def test_astype_is_differentiable_and_keeps_dtypes():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.array, [2.0, 4.0])
    assert not x.astype("int64").requires_grad


def test_gradients_accumulate_in_place_until_zeroed():
    x = cr.tensor([1.0], requires_grad=True)
    (x * 2.0).sum().backward()
    g = x.grad
    (x * 3.0).sum().backward()
    assert x.grad.item() == 5.0 and x.grad is g  # accumulated into the same tensor, as PyTorch
    x.grad.zero_()
    assert x.grad.item() == 0.0
    x.grad = None
    (x * 4.0).sum().backward()
    assert x.grad.item() == 4.0


def test_repr_shows_values_dtype_and_creator():
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    r = repr(x @ cr.ones(2, 1))
    assert r == "tensor([[3.]], grad_fn=<MatMulBackward0>)"
    assert repr(x) == "tensor([[1., 2.]], requires_grad=True)"
    assert repr(cr.tensor(np.ones(2))) == "tensor([1., 1.], dtype=chainrule.float64)"
    assert repr(cr.tensor([0.5, 1.25])) == "tensor([0.5000, 1.2500])"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(cr.tensor(3.25)) == "tensor(3.2500)" and repr(cr.tensor([True])) == \
        "tensor([True])"


def test_numpy_on_the_left_defers_to_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 4.0])


def test_comparisons_and_arg_reductions_are_not_differentiable():
    x = cr.tensor([1.0, 3.0, 2.0], requires_grad=True)
    for t in (x > 1.5, x == 3.0, x.argmax(), x.argmin()):
        assert not t.requires_grad
    assert (x > 1.5).tolist() == [False, True, True] and x.argmax().item() == 1


def test_setitem_refuses_leaves_that_require_grad():
    x = cr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    with cr.no_grad():
        x[0] = 1.0
    assert x.array[0] == 1.0


def test_iteration_len_and_bool():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert bool(cr.tensor(1.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="0-d"):
        len(cr.tensor(1.0))
    assert f"{cr.tensor(2.0):.2f}" == "2.00" and int(cr.tensor(7)) == 7
    assert list(range(cr.tensor(3))) == [0, 1, 2] and 3.0 in x


def test_allocator_tuning_can_be_switched_off():
    import subprocess
    import sys

    code = "import chainrule.backend as b; print(b.ALLOCATOR_TUNED)"
    env = {"CHAINRULE_TUNE_MALLOC": "0", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
