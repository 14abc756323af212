"""Linear's float32 small-batch path (the transposed product W @ x.T, chosen for OpenBLAS's
speed): the same numbers as torch on both sides of its bounds, a row-ordered output."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


@pytest.mark.parametrize("rows", [1, 8, 32, 48, 49])
@pytest.mark.parametrize("bias", [True, False])
def test_float32_linear_matches_torch(rows: int, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(rows)
    layer = nn.Linear(256, 160, bias=bias)  # 40960 weights: inside the path when rows <= 48
    ref = torch.nn.Linear(256, 160, bias=bias)
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in layer.state_dict().items()})
    x = rng.standard_normal((rows, 256)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = layer(xc), ref(xt)
    assert y.dtype == np.float32 and y.numpy().flags.c_contiguous
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    for p, q in zip(layer.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-4)


def test_float32_small_batch_path_is_differentiable_twice() -> None:
    """create_graph through a float32 Linear on a small batch: the gradient of the gradient
    norm matches torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W = rng.standard_normal((200, 200)).astype(np.float32) * 0.1
    x = rng.standard_normal((16, 200)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    Wc, Wt = cr.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    (gc,) = cr.autograd.grad((nn.functional.linear(xc, Wc) ** 2).sum(), [xc], create_graph=True)
    (gt,) = torch.autograd.grad((torch.nn.functional.linear(xt, Wt) ** 2).sum(), [xt],
                                create_graph=True)
    (gc * gc).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(Wc.grad.numpy(), Wt.grad.numpy(), rtol=1e-4, atol=1e-3)
