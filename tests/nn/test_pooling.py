"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and their functional forms: float64 gradcheck and
gradgradcheck, the argmax routing of max pooling (ties to the first element), PyTorch's shapes,
repr and errors, and, where torch is importable, outputs and gradients against torch to 1e-10."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from chainrule.nn import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from chainrule.ops.pool import ArgmaxGather, ArgmaxScatter, pool_window

TOL = dict(rtol=1e-10, atol=1e-10)

MAX_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2)),
             dict(kernel_size=3, stride=2, ceil_mode=True)]
AVG_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
             dict(kernel_size=(2, 3), stride=(1, 2), divisor_override=5)]
ADAPTIVE_SIZES = [(3, 4), 1, (None, 3), (5, 7), (4, 9)]


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_max_pool2d_gradcheck_and_gradgradcheck(kw, rng):
    x = rng.permutation(50).reshape(1, 2, 5, 5) / 7.0  # distinct values: no ties to straddle
    f = lambda x: F.max_pool2d(x, **kw)  # noqa: E731
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_avg_pool2d_gradcheck_and_gradgradcheck(kw, rng):
    f = lambda x: F.avg_pool2d(x, **kw)  # noqa: E731
    x = rng.standard_normal((1, 2, 5, 5))
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_adaptive_avg_pool2d_gradcheck_and_gradgradcheck(rng):
    f = lambda x: F.adaptive_avg_pool2d(x, (3, 2))  # noqa: E731
    x = rng.standard_normal((1, 2, 5, 4))
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = cr.tensor([[[[1.0, 3.0, 3.0, 0.0],
                     [3.0, 2.0, 1.0, 3.0],
                     [5.0, 5.0, 5.0, 5.0],
                     [5.0, 5.0, 4.0, 5.0]]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.numpy().tolist() == [[[[3.0, 3.0], [5.0, 5.0]]]]
    y.backward(cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert x.grad.numpy().tolist() == [[[[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]]]


def test_overlapping_windows_add_their_gradients():
    x = cr.tensor(np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()  # the centre-right/bottom cells win twice
    assert x.grad.numpy()[0, 0].tolist() == [[0, 0, 0], [0, 1, 1], [0, 1, 1]]


def test_max_pool_propagates_nan():
    x = cr.tensor(np.array([[[[1.0, np.nan], [0.0, 2.0]]]]))
    assert np.isnan(F.max_pool2d(x, 2).item())


def test_argmax_scatter_and_gather_are_adjoint(rng):
    win, out_hw = pool_window("test", (2, 3, 5, 6), 3, 2, 1, 1, False)
    idx = rng.integers(0, 9, (3, 2) + out_hw).astype(np.uint8)  # the argmax tap per window
    g = cr.tensor(rng.standard_normal((2, 3) + out_hw))
    x = cr.tensor(rng.standard_normal((2, 3, 5, 6)))
    s = ArgmaxScatter(win, idx, x.shape)(g)
    t = ArgmaxGather(win, idx)(x)
    assert np.isclose((s.numpy() * x.numpy()).sum(), (g.numpy() * t.numpy()).sum(), rtol=1e-12)


# -- layers ------------------------------------------------------------------------------------
def test_layers_shapes_dtype_and_unbatched_inputs():
    x = cr.randn(2, 3, 7, 9)
    assert MaxPool2d(2)(x).shape == (2, 3, 3, 4)
    assert MaxPool2d(2, ceil_mode=True)(x).shape == (2, 3, 4, 5)
    assert AvgPool2d(3, 2, 1)(x).shape == (2, 3, 4, 5)
    assert AdaptiveAvgPool2d((2, None))(x).shape == (2, 3, 2, 9)
    assert AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    for m in (MaxPool2d(2), AvgPool2d(2), AdaptiveAvgPool2d(3)):
        y = m(x)
        assert y.dtype == np.float32
        assert np.allclose(m(x[0]).numpy(), y.numpy()[0])
    assert np.allclose(AdaptiveAvgPool2d(1)(x).numpy()[..., 0, 0], x.numpy().mean(axis=(2, 3)),
                       atol=1e-6)


def test_repr_follows_pytorch():
    assert repr(MaxPool2d(2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"


def test_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ShapeError, match=r"MaxPool2d\(kernel_size=2.*expected input of shape "
                                         r"\(N, C, H, W\) or \(C, H, W\), got \(32, 784\)"):
        MaxPool2d(2)(cr.randn(32, 784))
    with pytest.raises(ShapeError, match=r"AvgPool2d.*got \(2, 3\)"):
        AvgPool2d(2)(cr.randn(2, 3))
    with pytest.raises(ShapeError, match=r"AdaptiveAvgPool2d.*got \(5,\)"):
        AdaptiveAvgPool2d(2)(cr.randn(5))
    with pytest.raises(ShapeError, match="smaller than the pooling window"):
        F.max_pool2d(cr.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(cr.randn(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool2d(cr.randn(1, 1, 6, 6), 0)


# -- against PyTorch ---------------------------------------------------------------------------
def _against_torch(ours, theirs, x, rng):
    torch = pytest.importorskip("torch")
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    assert yc.shape == tuple(yt.shape)
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), **TOL)
    g = rng.standard_normal(yc.shape)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("kw", MAX_CASES + [dict(kernel_size=2, padding=1, ceil_mode=True)],
                         ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_max_pool2d_matches_torch(kw, ties, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 8))
    x = np.round(x) if ties else x  # many equal maxima: torch routes to the first
    _against_torch(MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), x, rng)


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_avg_pool2d_matches_torch(kw, rng):
    torch = pytest.importorskip("torch")
    _against_torch(AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), rng.standard_normal((2, 3, 7, 8)),
                   rng)


@pytest.mark.parametrize("size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_avg_pool2d_matches_torch(size, rng):
    torch = pytest.importorskip("torch")
    _against_torch(AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size),
                   rng.standard_normal((2, 3, 7, 8)), rng)
