"""Every op in the spec table, checked to first AND second order against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from .specs import NOT_DIFFERENTIABLE, SPECS, OpSpec, as_list, seed_of

IDS = [s.name for s in SPECS]
FAMILIES = ("elementwise", "pointwise", "activation", "reduce", "softmax", "stats", "select",
            "shape", "join", "linalg", "trig", "special", "diag", "indexing", "scatter",
            "index_write", "norms", "distance", "decompositions", "activation_more",
            "math_more", "linalg_more", "search", "counting", "shape_more")


def _vjps(s: OpSpec, xs: list[np.ndarray], order: int) -> list[np.ndarray]:
    """First- or second-order vector-Jacobian products with random vectors. cr.gradcheck compares
    with `err > tol`, which a NaN never is, so finiteness is asserted separately (one NaN entry
    anywhere in the Jacobian makes its column's vjp NaN)."""
    rng = np.random.default_rng(0)
    ts = [cr.tensor(x, requires_grad=True) for x in xs]
    ys = as_list(s.fn(*ts))
    gs = cr.autograd.grad(ys, ts, grad_outputs=[rng.standard_normal(y.shape) for y in ys],
                          create_graph=order > 1, allow_unused=True)
    if order > 1:
        live = [g for g in gs if g is not None and g.requires_grad]
        if not live:
            return []
        gs = cr.autograd.grad(live, ts, grad_outputs=[rng.standard_normal(g.shape) for g in live],
                              allow_unused=True)
    return [g.numpy() for g in gs if g is not None]


@pytest.mark.parametrize("s", SPECS, ids=IDS)
def test_gradcheck(s: OpSpec) -> None:
    xs = s.inputs(np.random.default_rng(seed_of(s)))
    assert cr.gradcheck(s.fn, *xs, eps=s.eps) is True
    for g in _vjps(s, xs, 1):
        assert np.isfinite(g).all(), f"non-finite gradient {g}"


@pytest.mark.parametrize("s", SPECS, ids=IDS)
def test_gradgradcheck(s: OpSpec) -> None:
    xs = s.inputs(np.random.default_rng(seed_of(s)))
    assert cr.gradgradcheck(s.fn, *xs, eps=s.eps) is True
    for g in _vjps(s, xs, 2):
        assert np.isfinite(g).all(), f"non-finite second-order gradient {g}"


def test_every_differentiable_op_has_a_spec() -> None:
    """Every public op of the core families (elementwise, activation, reduce, shape, linalg)."""
    public = {name for name in cr.ops.__all__
              if getattr(getattr(cr.ops, name), "__module__", "").split(".")[-1] in FAMILIES}
    assert len(public) > 100
    missing = public - NOT_DIFFERENTIABLE - {s.op for s in SPECS}
    assert not missing, f"ops without a spec: {sorted(missing)}"


def test_gradcheck_catches_a_wrong_gradient() -> None:
    """The check the table relies on can fail: a backward off by a factor is reported."""

    class BadSquare(cr.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 2.1

    with pytest.raises(cr.GradcheckError, match="BadSquare|input 0"):
        cr.gradcheck(lambda x: BadSquare()(x), np.array([0.5, -1.0, 2.0]))


def test_gradgradcheck_catches_a_constant_backward() -> None:
    """A backward through raw arrays is right to first order and wrong to second."""

    class FlatTanh(cr.Function):
        def forward(self, x):
            return np.tanh(x)

        def backward(self, gy):
            return gy * cr.tensor(1 - self.output.array ** 2)

    x = np.array([0.3, -0.7, 1.1])
    assert cr.gradcheck(lambda t: FlatTanh()(t), x)
    with pytest.raises(cr.GradcheckError):
        cr.gradgradcheck(lambda t: FlatTanh()(t), x)
