"""Embedding(max_norm=, norm_type=, scale_grad_by_freq=) and F.embedding with them: the looked-up
rows renormalised in place (and the weight's version bumped), the gradient divided by each
index's count, second-order gradients, and PyTorch's numbers where importable."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(0)
IDX = np.array([[0, 2, 2, 5], [1, 2, 0, 0]])


def test_max_norm_renormalises_only_the_rows_looked_up():
    w = cr.tensor(np.full((4, 2), 3.0))
    F.embedding(cr.tensor([1, 3]), w, max_norm=1.0)
    norms = np.linalg.norm(w.numpy(), axis=1)
    np.testing.assert_allclose(norms[[1, 3]], 1.0, rtol=1e-6)
    np.testing.assert_allclose(norms[[0, 2]], np.sqrt(18))


def test_renormalising_bumps_the_weights_version():
    emb = nn.Embedding(5, 3, max_norm=0.1)
    v = emb.weight._version
    emb(cr.tensor([0, 1]))
    assert emb.weight._version == v + 1


def test_scale_grad_by_freq_divides_by_the_count():
    w = cr.tensor(np.ones((6, 2)), requires_grad=True)
    F.embedding(cr.tensor(IDX), w, scale_grad_by_freq=True).sum().backward()
    assert w.grad.numpy()[:, 0].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]


def test_gradients_to_second_order():
    w = cr.tensor(RNG.standard_normal((6, 3)), requires_grad=True)
    f = lambda w: F.embedding(cr.tensor(IDX), w, max_norm=10.0) ** 2  # noqa: E731
    assert cr.gradcheck(f, w)
    assert cr.gradgradcheck(f, w)


def test_scaled_gradient_is_differentiable():
    """padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the
    derivative, so gradcheck does not apply); the changed gradient is still built from ops."""
    w = cr.tensor(RNG.standard_normal((6, 3)), requires_grad=True)
    y = F.embedding(cr.tensor(IDX), w, padding_idx=1, scale_grad_by_freq=True)
    (g,) = cr.autograd.grad((y ** 2).sum(), w, create_graph=True)
    counts = np.bincount(IDX.ravel(), minlength=6)[:, None]
    want = 2 * np.where(np.arange(6)[:, None] == 1, 0, counts / np.maximum(counts, 1))
    (gg,) = cr.autograd.grad(g.sum(), w)
    np.testing.assert_allclose(gg.numpy(), np.broadcast_to(want, (6, 3)))


def test_repr_is_pytorchs():
    assert repr(nn.Embedding(6, 4, max_norm=1.0, scale_grad_by_freq=True)) == (
        "Embedding(6, 4, max_norm=1.0, scale_grad_by_freq=True)")


@pytest.mark.parametrize("kw", [dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0),
                                dict(scale_grad_by_freq=True, padding_idx=2),
                                dict(max_norm=2.0, scale_grad_by_freq=True),
                                dict(max_norm=1.0, norm_type=float("inf"))])
def test_matches_torch(kw):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare, copy_weights

    m, tm = nn.Embedding(6, 4, **kw).double(), torch.nn.Embedding(6, 4, **kw).double()
    copy_weights(m, tm)
    for _ in range(2):
        compare(m, tm, IDX)
        np.testing.assert_allclose(m.weight.numpy(), tm.weight.detach().numpy(), atol=1e-12)
