"""The backward walk: visiting order, freeing, leaks, hooks, modes, grad(), anomaly detection."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function


class CountingSquare(Function):
    calls = 0

    def forward(self, x):
        return x * x

    def backward(self, gy):
        CountingSquare.calls += 1
        return gy * self.inputs[0] * 2.0


def test_readme_example_shapes_and_values(rng):
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    W = cr.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    loss = ((x @ W).tanh() ** 2).mean()
    loss.backward()
    assert x.grad.shape == (2, 2) and W.grad.shape == (2, 3)
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32
    t = np.tanh(x.array @ W.array)
    dz = 2 * t * (1 - t * t) / t.size
    np.testing.assert_allclose(W.grad.array, x.array.T @ dz, rtol=1e-5)
    np.testing.assert_allclose(x.grad.array, dz @ W.array.T, rtol=1e-5)


def test_node_reuse_accumulates():
    a = cr.tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_each_node_visited_once_in_a_diamond():
    CountingSquare.calls = 0
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    s = CountingSquare()(x)
    y = (s * 2.0 + s.exp() + s.sin()).sum()  # s feeds three ops
    y.backward()
    assert CountingSquare.calls == 1
    xd = x.array.astype(np.float64)
    sd = xd * xd
    expected = (2 + np.exp(sd) + np.cos(sd)) * 2 * xd
    np.testing.assert_allclose(x.grad.array, expected, rtol=1e-5)


def test_long_chain_has_no_recursion_error():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_second_backward_through_freed_graph_says_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_two_backwards_that_accumulate():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.array, 4 * x.array)


def test_graph_is_freed_and_intermediates_collectable():
    gc.disable()  # reference counting alone must free the graph: no cycles
    try:
        x = cr.tensor(np.ones((50, 50), np.float32), requires_grad=True)
        h = (x * 2.0).tanh()
        loss = (h * h).sum()
        refs = [weakref.ref(h.array), weakref.ref(h)]
        op = weakref.ref(h.creator)
        loss.backward()
        del h
        assert all(r() is None for r in refs), "intermediates survive while loss is alive"
        assert op() is not None  # the structure stays (PyTorch's grad_fn chain), not the arrays
        del loss
        assert op() is None, "the structure outlives the loss"
        assert x.grad is not None
    finally:
        gc.enable()


def test_intermediates_collectable_after_del_without_backward():
    gc.disable()
    try:
        x = cr.tensor(np.ones(10, np.float32), requires_grad=True)
        h = x.exp()
        loss = h.sum()
        r = weakref.ref(h.array)
        del h, loss
        assert r() is None
    finally:
        gc.enable()


def test_backward_on_non_scalar_needs_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(cr.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.array, [2.0, 20.0])


def test_backward_of_tensor_without_grad_is_clear():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).backward()


def test_leaf_grads_never_share_memory():
    a = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = cr.tensor(np.ones(6, np.float32), requires_grad=True)
    c = cr.tensor(np.ones(6, np.float32), requires_grad=True)
    (a.reshape(6) + b + c).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    assert not np.shares_memory(b.grad.array, c.grad.array)
    b.grad.array *= 0  # an in-place change (clipping, say) must not leak into the others
    assert a.grad.array.sum() == 6 and c.grad.array.sum() == 6


def test_hooks_see_and_replace_gradients():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: seen.append(g.array.copy()))
    handle = x.register_hook(lambda g: g * 10.0)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.array, [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 3.0])


def test_retain_grad_keeps_intermediate_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    other = x * 2.0
    (h * 3.0).sum().backward()
    np.testing.assert_allclose(h.grad.array, [3.0, 3.0])
    assert other.grad is None


def test_no_grad_and_enable_grad_as_contexts_and_decorators():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not (x * 2.0).requires_grad
        with cr.enable_grad():
            assert (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad

    @cr.no_grad()
    def f(t):
        return t * 2.0

    @cr.no_grad
    def g(t):
        return t * 2.0

    assert not f(x).requires_grad and not g(x).requires_grad
    assert cr.is_grad_enabled()


def test_autograd_grad_leaves_dot_grad_alone_and_supports_create_graph():
    x = cr.tensor([0.5, -1.0], dtype=np.float64, requires_grad=True)
    y = (x.sin() * x).sum()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    assert x.grad is None
    np.testing.assert_allclose(g.array, np.cos(x.array) * x.array + np.sin(x.array))
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.array, 2 * np.cos(x.array) - x.array * np.sin(x.array))


def test_autograd_grad_unused_inputs():
    x = cr.tensor(1.0, requires_grad=True)
    z = cr.tensor(1.0, requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = cr.autograd.grad(y, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_grad_computes_only_what_was_asked():
    seen = []

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            seen.append(self.needs_input_grad)
            a, b = self.inputs
            return (gy * b if self.needs_input_grad[0] else None,
                    gy * a if self.needs_input_grad[1] else None)

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    W = cr.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = cr.autograd.grad(Probe()(x, W).sum(), [x])
    assert seen == [(True, False)]
    np.testing.assert_allclose(gx.array, W.array)


def test_custom_function_is_first_class():
    class Square(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * 2.0 * self.inputs[0]

    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    assert cr.gradcheck(lambda t: Square()(t), x)
    assert cr.gradgradcheck(lambda t: Square()(t), x)
    op = Square()
    op(cr.tensor(x, requires_grad=True))
    with pytest.raises(RuntimeError, match="applied once"):
        op(cr.tensor(x, requires_grad=True))


def test_anomaly_names_the_op_and_the_user_line_in_forward():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with cr.detect_anomaly():
        with pytest.raises(FloatingPointError) as e, np.errstate(invalid="ignore"):
            x.log()
    msg = str(e.value)
    assert "Log" in msg and "output 0" in msg and "test_autograd.py" in msg


def test_anomaly_names_the_op_in_backward():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError) as e, np.errstate(divide="ignore"):
            y.backward()
    assert "Sqrt" in str(e.value) and "backward" in str(e.value)
    assert "test_autograd.py" in str(e.value)


def test_anomaly_is_off_by_default():
    x = cr.tensor([-1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = x.log()
    assert np.isnan(y.array).all()


def test_shape_error_is_raised_at_the_op_with_both_shapes():
    a = cr.zeros(32, 784)
    b = cr.zeros(256, 10)
    with pytest.raises(cr.ShapeError, match=r"matmul.*\(32, 784\).*\(256, 10\)"):
        a @ b
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        cr.zeros(2, 3) + cr.zeros(4)


def test_double_backward_through_backward_graph():
    # d/dx of (d/dx x^3) = 6x, via backward(create_graph=True) then grad of x.grad
    x = cr.tensor(2.0, dtype=np.float64, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = cr.autograd.grad(x.grad, x)
    assert g2.item() == pytest.approx(12.0)
