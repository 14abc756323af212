"""Gradient clipping: by hand, and against torch.nn.utils where torch is importable."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule import Tensor
from chainrule.nn import Parameter


def with_grads(*grads):
    ps = []
    for g in grads:
        p = Parameter(np.zeros(np.shape(g)))
        p.grad = cr.tensor(np.array(g, dtype=np.float64))
        ps.append(p)
    return ps


def test_clip_grad_norm_by_hand():
    # ||(3, 4)|| = 5, ||(12,)|| = 12, total = ||(5, 12)|| = 13; scale by 6.5 / (13 + 1e-6)
    ps = with_grads([3.0, 4.0], [12.0])
    total = optim.clip_grad_norm_(ps, max_norm=6.5)
    assert float(total) == 13.0 and isinstance(total, Tensor)
    c = 6.5 / (13 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * c, 4 * c], rtol=1e-15)
    np.testing.assert_allclose(ps[1].grad.numpy(), [12 * c], rtol=1e-15)


def test_clip_grad_norm_leaves_small_gradients_and_skips_missing_ones():
    ps = with_grads([3.0, 4.0]) + [Parameter(np.ones(2))]
    assert float(optim.clip_grad_norm_(ps, max_norm=10.0)) == 5.0
    np.testing.assert_array_equal(ps[0].grad.numpy(), [3.0, 4.0])
    assert float(optim.clip_grad_norm_([Parameter(np.ones(1))], 1.0)) == 0.0


def test_clip_grad_norm_inf_and_nonfinite():
    ps = with_grads([3.0, -7.0], [5.0])  # max |g| = 7
    assert float(optim.clip_grad_norm_(ps, 3.5, norm_type="inf")) == 7.0
    np.testing.assert_allclose(ps[0].grad.numpy(), np.array([3.0, -7.0]) * 3.5 / (7 + 1e-6))
    bad = with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="inf"):
        optim.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(bad[0].grad.numpy(), [np.inf, 1.0])


def test_clip_grad_value():
    ps = with_grads([-3.0, 0.5, 2.0])
    optim.clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value_(ps, -1.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(4, 3)), rng.normal(size=5), rng.normal(size=())]
    ps = with_grads(*grads)
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for tp, g in zip(tps, grads):
        tp.grad = torch.tensor(g)
    total = optim.clip_grad_norm_(ps, 0.5, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type)
    assert float(total) == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
