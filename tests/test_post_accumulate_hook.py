"""Tensor.register_post_accumulate_grad_hook (PyTorch 2.1+): fn(param) runs after backward has
accumulated param's gradient into param.grad; each case runs the same program on chainrule and
on torch and compares what the hooks saw and did."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _both(program):
    """program(lib) on chainrule and on torch; the results as nested lists of floats."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if hasattr(v, "detach"):
            return np.asarray(v.detach().numpy(), dtype=np.float64).tolist()
        return v
    return plain(program(cr)), plain(program(torch))


def test_hook_sees_the_accumulated_grad_each_backward():
    def program(lib):
        w = lib.ones(2, requires_grad=True)
        seen = []
        w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
        (w * 3).sum().backward()
        (w * 2).sum().backward()  # accumulates: the hook sees 5
        return seen
    mine, theirs = _both(program)
    assert mine == theirs == [[3.0, 3.0], [5.0, 5.0]]


def test_called_once_per_backward_for_a_leaf_used_twice_and_after_register_hook():
    def program(lib):
        v = lib.ones(2, requires_grad=True)
        calls, seen = [], []
        v.register_hook(lambda g: g * 10)  # runs first; the stored grad is the hooked one

        def post(p):
            calls.append(1)
            seen.append(p.grad.clone())

        v.register_post_accumulate_grad_hook(post)
        (v * 2 + v * 3).sum().backward()
        return len(calls), seen
    mine, theirs = _both(program)
    assert mine == theirs == [1, [[50.0, 50.0]]]


def test_not_called_by_autograd_grad_nor_for_leaves_outside_inputs():
    def program(lib):
        w = lib.ones(2, requires_grad=True)
        x = lib.ones(2, requires_grad=True)
        calls = []
        w.register_post_accumulate_grad_hook(lambda p: calls.append("w"))
        lib.autograd.grad((w * 2).sum(), w)
        (w * x).sum().backward(inputs=[x])
        (w * x).sum().backward()
        return calls
    mine, theirs = _both(program)
    assert mine == theirs == ["w"]


def test_optimizer_step_in_backward_and_remove():
    def program(lib):
        u = lib.tensor([1.0, 2.0], requires_grad=True)

        def step(p):
            with lib.no_grad():
                p.add_(p.grad, alpha=-0.1)
            p.grad = None

        handle = u.register_post_accumulate_grad_hook(step)
        (u * u).sum().backward()
        after_one = u.detach().clone()
        handle.remove()
        (u * u).sum().backward()
        return after_one, u.grad
    mine, theirs = _both(program)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-6)


def test_hooks_run_in_registration_order_and_see_the_others_changes():
    def program(lib):
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        order = []

        def first(p):
            order.append(1)
            p.grad.mul_(2)

        w.register_post_accumulate_grad_hook(first)
        w.register_post_accumulate_grad_hook(lambda p: order.append(float(p.grad.sum())))
        (w ** 2).sum().backward()
        return order
    mine, theirs = _both(program)
    assert mine == theirs == [1, 12.0]


def test_errors_as_torch():
    for lib in (cr, torch):
        w = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (w * 2).register_post_accumulate_grad_hook(lambda p: None)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(2).register_post_accumulate_grad_hook(lambda p: None)
        w.register_post_accumulate_grad_hook(lambda p: 5)
        with pytest.raises(TypeError, match="'int'"):
            (w * 3).sum().backward()


def test_hooks_go_with_their_tensor():
    from chainrule.walk import POST_ACCUMULATE_HOOKS

    before = len(POST_ACCUMULATE_HOOKS)
    w = cr.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: None)
    assert len(POST_ACCUMULATE_HOOKS) == before + 1
    del w
    assert len(POST_ACCUMULATE_HOOKS) == before
