"""Conv1d, Conv2d, ConvTranspose2d and their functional forms: float64 gradcheck and
gradgradcheck over stride / padding / dilation / groups, Im2Col and Col2Im as adjoints, PyTorch's
shapes, init, repr and errors, and, where torch is importable, outputs and input / weight / bias
gradients against torch to 1e-10 with identical weights."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from chainrule.nn import Conv1d, Conv2d, ConvTranspose2d
from chainrule.ops.conv import Col2Im, Im2Col, make_window

TOL = dict(rtol=1e-10, atol=1e-10)

# (x shape, weight shape, keyword arguments): small, so second-order checks stay fast
CONV2D_CASES = [
    ((2, 2, 4, 4), (3, 2, 2, 2), dict()),
    ((1, 2, 5, 5), (2, 2, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 5, 4), (4, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    ((1, 2, 5, 5), (2, 2, 2, 2), dict(padding="same")),
    ((2, 2, 4, 4), (2, 1, 3, 3), dict(padding="same", dilation=2, groups=2)),
]


def _ids(cases):
    return [str(kw) for *_, kw in cases]


@pytest.mark.parametrize("xs, ws, kw", CONV2D_CASES, ids=_ids(CONV2D_CASES))
def test_conv2d_gradcheck_and_gradgradcheck(xs, ws, kw, rng):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    f = lambda x, w, b: F.conv2d(x, w, b, **kw)  # noqa: E731
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)


def test_conv1d_gradcheck_and_gradgradcheck(rng):
    x, w, b = rng.standard_normal((2, 4, 7)), rng.standard_normal((2, 2, 3)), rng.standard_normal(2)
    f = lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)  # noqa: E731
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(1, 2), output_padding=(0, 1), groups=2,
                                     dilation=(2, 1))], ids=str)
def test_conv_transpose2d_gradcheck_and_gradgradcheck(kw, rng):
    x, w, b = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 2, 2)), \
        rng.standard_normal(2 * kw.get("groups", 1))
    f = lambda x, w, b: F.conv_transpose2d(x, w, b, **kw)  # noqa: E731
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)


def test_im2col_and_col2im_are_adjoint(rng):
    """<im2col(x), c> == <x, col2im(c)>: each is the other's transpose, hence its backward."""
    win = make_window((3, 2), (2, 1), (1, 2), (1, 2), "test")
    x = cr.tensor(rng.standard_normal((2, 3, 6, 5)))
    cols = Im2Col(win)(x)
    assert cols.shape == (3, 3, 2, 2, 3, 7)  # (C, kh, kw, N, OH, OW)
    c = cr.tensor(rng.standard_normal(cols.shape))
    back = Col2Im(win, x.shape)(c)
    assert back.shape == x.shape
    assert np.isclose((cols.numpy() * c.numpy()).sum(), (x.numpy() * back.numpy()).sum(),
                      rtol=1e-12)


# -- layers: shapes, init, repr, dtype ---------------------------------------------------------
def test_layer_parameters_init_and_output_shapes_follow_pytorch():
    cr.manual_seed(0)
    m = Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2)
    assert m.weight.shape == (6, 2, 3, 2) and m.bias.shape == (6,)
    bound = 1 / math.sqrt(2 * 3 * 2)
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > bound / 2
    assert np.abs(m.bias.numpy()).max() <= bound
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert m(cr.randn(3, 4, 9, 8)).shape == (3, 6, 5, 5)
    assert Conv1d(3, 5, 3, bias=False).weight.shape == (5, 3, 3)
    assert Conv1d(3, 5, 3, bias=False).bias is None
    t = ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert t.weight.shape == (4, 3, 3, 3)
    assert np.abs(t.weight.numpy()).max() <= 1 / math.sqrt(3 * 9)
    assert t(cr.randn(2, 4, 5, 5)).shape == (2, 6, 10, 10)


def test_float32_stays_float32_and_unbatched_inputs_work():
    m = Conv2d(3, 4, 3, padding="same")
    y = m(cr.randn(2, 3, 6, 6))
    assert y.dtype == np.float32 and y.shape == (2, 4, 6, 6)
    y.sum().backward()
    assert m.weight.grad.dtype == np.float32 and m.bias.grad.dtype == np.float32
    x = cr.randn(3, 6, 6)
    assert np.allclose(m(x).numpy(), m(x.reshape(1, 3, 6, 6)).numpy()[0], atol=1e-6)
    assert Conv1d(3, 2, 3)(cr.randn(3, 8)).shape == (2, 6)
    assert ConvTranspose2d(3, 2, 3)(cr.randn(3, 4, 4)).shape == (2, 6, 6)


def test_repr_follows_pytorch():
    assert repr(Conv2d(1, 8, 3)) == "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(Conv2d(4, 6, (3, 2), stride=2, padding=(1, 0), dilation=(2, 1), groups=2,
                       bias=False)) == ("Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), "
                                        "padding=(1, 0), dilation=(2, 1), groups=2, bias=False)")
    assert repr(Conv1d(4, 6, 3, padding="same")) == \
        "Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=same)"
    assert repr(ConvTranspose2d(4, 6, 3, stride=2, output_padding=1)) == \
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"


# -- errors ------------------------------------------------------------------------------------
def test_wrong_input_shapes_name_the_layer_and_the_shapes():
    m = Conv2d(1, 8, 3)
    with pytest.raises(ShapeError, match=r"Conv2d\(1, 8, kernel_size=\(3, 3\)\): expected input "
                                         r"of shape \(N, 1, H, W\), got \(32, 784\)"):
        m(cr.randn(32, 784))
    with pytest.raises(ShapeError, match=r"got \(2, 3, 8, 8\): it has 3 channels"):
        m(cr.randn(2, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"Conv2d\(1, 8.*spatial size \(2, 2\).*smaller"):
        m(cr.randn(1, 1, 2, 2))
    with pytest.raises(ShapeError, match=r"Conv1d\(2, 4, kernel_size=\(3,\)\): expected input "
                                         r"of shape \(N, 2, L\)"):
        Conv1d(2, 4, 3)(cr.randn(2, 2, 4, 4))
    with pytest.raises(ShapeError, match=r"ConvTranspose2d\(4, 2, kernel_size=\(3, 3\)\)"):
        ConvTranspose2d(4, 2, 3)(cr.randn(1, 2, 5, 5))
    with pytest.raises(ShapeError, match=r"conv2d: expected input of shape \(N, 4, H, W\)"):
        F.conv2d(cr.randn(1, 3, 5, 5), cr.randn(2, 2, 3, 3), groups=2)
    with pytest.raises(ShapeError, match=r"conv2d: bias must have shape \(2,\)"):
        F.conv2d(cr.randn(1, 2, 5, 5), cr.randn(2, 2, 3, 3), cr.randn(3))


def test_bad_arguments_are_refused_at_construction():
    with pytest.raises(ValueError, match="divisible by groups=2"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same'"):
        Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2d(3, 4, 3, stride=2, output_padding=2)
    with pytest.raises(NotImplementedError, match="padding_mode"):
        Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3, 3), padding="full")


# -- against PyTorch ---------------------------------------------------------------------------
def _against_torch(ours, theirs, x, rng):
    """Copy theirs' weights into ours (float64), run both on x, compare the output and the
    gradients of x, weight and bias for a random upstream gradient."""
    torch = pytest.importorskip("torch")
    theirs = theirs.double()
    ours.to(cr.float64)
    for name, p in theirs.named_parameters():
        getattr(ours, name).array[...] = p.detach().numpy()
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    assert yc.shape == tuple(yt.shape)
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), **TOL)
    g = rng.standard_normal(yc.shape)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **TOL)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), **TOL)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(2, 1), dilation=(2, 3), groups=3),
    dict(padding="same", dilation=2),
    dict(kernel_size=(2, 4), padding="same"),
    dict(padding="valid", groups=3, bias=False),
], ids=str)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv2d_matches_torch(kw, rng):
    torch = pytest.importorskip("torch")
    args = dict(in_channels=3, out_channels=6, kernel_size=3) | kw
    _against_torch(Conv2d(**args), torch.nn.Conv2d(**args), rng.standard_normal((2, 3, 9, 8)),
                   rng)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2, dilation=2, groups=2),
                                dict(padding="same")], ids=str)
def test_conv1d_matches_torch(kw, rng):
    torch = pytest.importorskip("torch")
    args = dict(in_channels=4, out_channels=6, kernel_size=3) | kw
    _against_torch(Conv1d(**args), torch.nn.Conv1d(**args), rng.standard_normal((2, 4, 11)), rng)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2),
    dict(stride=1, padding=1, output_padding=1, dilation=2, groups=2, bias=False),
], ids=str)
def test_conv_transpose2d_matches_torch(kw, rng):
    torch = pytest.importorskip("torch")
    args = dict(in_channels=4, out_channels=6, kernel_size=3) | kw
    _against_torch(ConvTranspose2d(**args), torch.nn.ConvTranspose2d(**args),
                   rng.standard_normal((2, 4, 5, 4)), rng)
