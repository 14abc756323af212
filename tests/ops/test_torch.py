"""Forward values and backward gradients of every spec with a PyTorch twin, against PyTorch, in
float64 to 1e-6. The gradient is of a random-weighted sum of all outputs, so every output element
and every input element takes part. Skipped where torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from .specs import SPECS, OpSpec, as_list, seed_of

torch = pytest.importorskip("torch", exc_type=ImportError)

TORCH_SPECS = [s for s in SPECS if s.torch_fn is not None]
TOL = dict(rtol=1e-6, atol=1e-6)


def _run_chainrule(s: OpSpec, xs: list[np.ndarray], ws: list[np.ndarray] | None):
    ts = [cr.tensor(x, requires_grad=True) for x in xs]
    ys = as_list(s.fn(*ts))
    if ws is None:
        return ys, None
    grads = cr.autograd.grad(ys, ts, grad_outputs=[cr.tensor(w) for w in ws], allow_unused=True)
    return ys, [np.zeros_like(x) if g is None else g.numpy() for g, x in zip(grads, xs)]


def _run_torch(s: OpSpec, xs: list[np.ndarray], ws: list[np.ndarray]):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ys = as_list(s.torch_fn(*ts))
    grads = torch.autograd.grad(ys, ts, grad_outputs=[torch.tensor(w) for w in ws],
                                allow_unused=True)
    return ys, [np.zeros_like(x) if g is None else g.numpy() for g, x in zip(grads, xs)]


@pytest.mark.parametrize("s", TORCH_SPECS, ids=[s.name for s in TORCH_SPECS])
def test_matches_torch(s: OpSpec) -> None:
    rng = np.random.default_rng(seed_of(s))
    xs = s.inputs(rng)
    ys_cr, _ = _run_chainrule(s, xs, None)
    ws = [rng.standard_normal(y.shape) for y in ys_cr]
    ys_cr, g_cr = _run_chainrule(s, xs, ws)
    ys_th, g_th = _run_torch(s, xs, ws)
    assert len(ys_cr) == len(ys_th)
    for k, (a, b) in enumerate(zip(ys_cr, ys_th)):
        assert a.dtype == np.float64, f"output {k} is {a.dtype}"
        assert a.shape == tuple(b.shape), f"output {k}: shape {a.shape} vs torch {tuple(b.shape)}"
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL,
                                   err_msg=f"{s.name}: output {k}")
    for i, (a, b) in enumerate(zip(g_cr, g_th)):
        assert a.shape == xs[i].shape
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"{s.name}: gradient of input {i}")


def test_most_specs_have_a_torch_twin() -> None:
    assert len(TORCH_SPECS) >= 0.9 * len(SPECS)


def test_max_splits_ties_like_torch() -> None:
    """Ties are outside the gradcheck domain, so check the tie rule against torch directly."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    w = np.array([0.7, -1.3])
    for cr_fn, th_fn in [(cr.amax, torch.amax), (cr.amin, torch.amin)]:
        t = cr.tensor(x, requires_grad=True)
        (cr_fn(t, 1) * cr.tensor(w)).sum().backward()
        u = torch.tensor(x, requires_grad=True)
        (th_fn(u, 1) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), u.grad.numpy(), **TOL)
    a, b = cr.tensor(x, requires_grad=True), cr.tensor(x[::-1].copy(), requires_grad=True)
    cr.maximum(a, b).sum().backward()
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(x[::-1].copy(), requires_grad=True)
    torch.maximum(ta, tb).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), **TOL)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), **TOL)


def test_max_with_dim_gives_the_gradient_to_the_index_like_torch() -> None:
    """max(dim) is value-selecting: the gradient goes to the returned index, not split."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    w = np.array([0.7, -1.3])
    for name in ("max", "min", "median"):
        t = cr.tensor(x, requires_grad=True)
        v, i = getattr(t, name)(1)
        (v * cr.tensor(w)).sum().backward()
        u = torch.tensor(x, requires_grad=True)
        tv, ti = getattr(u, name)(1)
        (tv * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(v.numpy(), tv.detach().numpy())
        g = np.zeros_like(x)
        g[np.arange(2), i.numpy()] = w  # the gradient sits at chainrule's own index
        np.testing.assert_allclose(t.grad.numpy(), g, **TOL)
        assert t.grad.numpy().sum() == pytest.approx(u.grad.numpy().sum())


def test_floor_divide_has_no_derivative_as_in_torch() -> None:
    x = cr.tensor([1.5, -2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (x // 2).sum().backward()
    u = torch.tensor([1.5, -2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (u // 2).sum().backward()
    y = cr.div(x, 2, rounding_mode="floor")  # div with a rounding mode has zero gradient
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
