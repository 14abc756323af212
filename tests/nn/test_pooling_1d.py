"""ConvTranspose1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d/2d and their F.
forms: gradients to second order in float64, PyTorch's numbers (outputs, gradients, indices)
with copied weights where torch is importable, and errors that name the op."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import ShapeError

RNG = np.random.default_rng(0)


def t64(*shape):
    return cr.tensor(RNG.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("f", [
    lambda x: F.max_pool1d(x, 3, 2, 1),
    lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
    lambda x: F.adaptive_avg_pool1d(x, 3),
    lambda x: F.adaptive_max_pool1d(x, 3),
    lambda x: F.adaptive_max_pool2d(x.unsqueeze(-2).expand(2, 3, 2, 7) * 1.0, (1, 4)),
])
def test_gradients_to_second_order(f):
    x = t64(2, 3, 7)
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_conv_transpose1d_gradients_to_second_order():
    x, w, b = t64(2, 4, 5), t64(4, 3, 3), t64(6)
    f = lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1,  # noqa: E731
                                           groups=2)
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)


def test_adaptive_max_pool2d_gives_window_maxima_and_indices():
    x = cr.tensor(np.arange(20.0).reshape(1, 1, 4, 5))
    y, idx = F.adaptive_max_pool2d(x, (2, 2), return_indices=True)
    assert y.tolist() == [[[[7.0, 9.0], [17.0, 19.0]]]]
    assert idx.tolist() == [[[[7, 9], [17, 19]]]] and idx.dtype == cr.int64


def test_errors_name_the_op():
    with pytest.raises(ShapeError, match="max_pool1d"):
        F.max_pool1d(cr.ones(1, 2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="padding should be at most half"):
        F.max_pool1d(cr.ones(1, 2, 8), 3, padding=2)
    with pytest.raises(RuntimeError, match="avg_pool1d"):
        F.avg_pool1d(cr.ones(1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="adaptive_max_pool2d"):
        F.adaptive_max_pool2d(cr.ones(2, 3), 2)
    with pytest.raises(ShapeError, match="conv_transpose1d"):
        F.conv_transpose1d(cr.ones(1, 2, 3), cr.ones(2, 3, 3, 3))
    with pytest.raises(ValueError, match="output size"):
        nn.ConvTranspose1d(2, 3, 3, stride=2)(cr.ones(1, 2, 4), output_size=[12])


def test_reprs_are_pytorchs():
    assert repr(nn.MaxPool1d(3)) == ("MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, "
                                     "ceil_mode=False)")
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveMaxPool2d((2, None))) == "AdaptiveMaxPool2d(output_size=(2, None))"
    assert repr(nn.ConvTranspose1d(4, 6, 3, stride=2)) == (
        "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(2,))")


# -- PyTorch -----------------------------------------------------------------------------------
POOLS = [
    ("MaxPool1d", dict(kernel_size=3)), ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1)),
    ("MaxPool1d", dict(kernel_size=2, ceil_mode=True)),
    ("MaxPool1d", dict(kernel_size=3, dilation=2, padding=1)),
    ("AvgPool1d", dict(kernel_size=3)), ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("AvgPool1d", dict(kernel_size=2, ceil_mode=True)),
    ("AdaptiveAvgPool1d", dict(output_size=4)), ("AdaptiveAvgPool1d", dict(output_size=11)),
    ("AdaptiveMaxPool1d", dict(output_size=4)), ("AdaptiveMaxPool1d", dict(output_size=1)),
]


@pytest.mark.parametrize("cls,kw", POOLS)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 11)])
def test_1d_pooling_matches_torch(cls, kw, shape):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare

    compare(getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw), RNG.standard_normal(shape))


@pytest.mark.parametrize("size", [1, 3, (3, 4), (None, 2), (2, None), (7, 9), (5, 9)])
@pytest.mark.parametrize("ties", [False, True])
def test_adaptive_max_pool2d_matches_torch(size, ties):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 7, 9))
    x = np.round(x) if ties else x  # ties: the first maximum in row-major order gets the grad
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(cx, size, return_indices=True)
    ty, tidx = torch.nn.functional.adaptive_max_pool2d(tx, size, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    g = RNG.standard_normal(ty.shape)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    m, tm = nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size)
    np.testing.assert_array_equal(m(cr.tensor(x[0])).numpy(), tm(torch.tensor(x[0])).numpy())


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=3, dilation=2, groups=2, bias=False),
                                dict(stride=2, padding=2, dilation=3, output_padding=2)])
@pytest.mark.parametrize("batched", [True, False])
def test_conv_transpose1d_matches_torch(kw, batched):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare, copy_weights

    m, tm = nn.ConvTranspose1d(4, 6, 3, **kw).double(), torch.nn.ConvTranspose1d(4, 6, 3, **kw)
    tm = tm.double()
    copy_weights(m, tm)
    compare(m, tm, RNG.standard_normal((2, 4, 7) if batched else (4, 7)))


def test_conv_transpose_output_size_matches_torch():
    torch = pytest.importorskip("torch")
    for size in ([9], [10], [2, 4, 10]):
        m, tm = nn.ConvTranspose1d(4, 2, 3, stride=2), torch.nn.ConvTranspose1d(4, 2, 3, stride=2)
        x = RNG.standard_normal((2, 4, 4)).astype(np.float32)
        assert tuple(m(cr.tensor(x), output_size=size).shape) == tuple(
            tm(torch.tensor(x), output_size=size).shape)
    m2, tm2 = nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    assert tuple(m2(cr.tensor(x), output_size=(10, 9)).shape) == tuple(
        tm2(torch.tensor(x), output_size=(10, 9)).shape)
