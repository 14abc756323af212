"""F.interpolate / Upsample (nearest, nearest-exact, linear, bilinear, area; size= or
scale_factor=; align_corners), PixelShuffle / PixelUnshuffle and F.unfold / F.fold: gradients
to second order in float64, and PyTorch's numbers (float64 and float32) where importable."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(0)


def t64(*shape):
    return cr.tensor(RNG.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("f,shape", [
    (lambda x: F.interpolate(x, scale_factor=2), (1, 2, 3, 3)),
    (lambda x: F.interpolate(x, size=(4, 5), mode="bilinear"), (1, 2, 3, 3)),
    (lambda x: F.interpolate(x, size=5, mode="bilinear", align_corners=True), (1, 2, 3, 4)),
    (lambda x: F.interpolate(x, scale_factor=1.5, mode="linear"), (2, 2, 5)),
    (lambda x: F.interpolate(x, size=2, mode="area"), (1, 2, 5)),
    (lambda x: F.pixel_shuffle(x, 2), (1, 8, 2, 3)),
    (lambda x: F.pixel_unshuffle(x, 2), (1, 2, 4, 6)),
    (lambda x: F.unfold(x, 2, padding=1, stride=2), (1, 2, 4, 5)),
    (lambda x: F.fold(x, (3, 4), 2), (1, 8, 6)),
])
def test_gradients_to_second_order(f, shape):
    x = t64(*shape)
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_nearest_upsampling_repeats_pixels():
    x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert nn.Upsample(scale_factor=2)(x).tolist() == [[[[1, 1, 2, 2], [1, 1, 2, 2],
                                                         [3, 3, 4, 4], [3, 3, 4, 4]]]]
    y = F.interpolate(x, size=3, mode="bilinear", align_corners=True)
    assert y.tolist() == [[[[1.0, 1.5, 2.0], [2.0, 2.5, 3.0], [3.0, 3.5, 4.0]]]]


def test_pixel_shuffle_and_unshuffle_are_inverse():
    x = cr.randn(2, 3, 8, 4, 6)
    assert F.pixel_shuffle(x, 2).shape == (2, 3, 2, 8, 12)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).numpy(), x.numpy())


def test_fold_of_unfold_counts_each_pixel_once_per_block():
    x = cr.ones(1, 1, 4, 4)
    cols = F.unfold(x, 2, stride=1)
    assert cols.shape == (1, 4, 9)
    counts = F.fold(cols, (4, 4), 2).numpy()[0, 0]
    assert counts.tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_errors_are_pytorchs():
    x = cr.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(cr.ones(1, 1, 4), size=2, mode="bilinear")
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_shuffle(cr.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.fold(cr.ones(1, 4, 5), (3, 3), 2)


def test_reprs_are_pytorchs():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear")) == (
        "Upsample(size=(3, 4), mode='bilinear')")
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    assert repr(nn.Unfold(2)) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"


# -- PyTorch -----------------------------------------------------------------------------------
SIZES = [dict(size=9), dict(size=3), dict(scale_factor=2), dict(scale_factor=0.5),
         dict(scale_factor=1.7), dict(scale_factor=2.3, recompute_scale_factor=True),
         dict(scale_factor=3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode,rank", [("nearest", 3), ("nearest", 4), ("nearest-exact", 4),
                                       ("linear", 3), ("bilinear", 4), ("area", 4),
                                       ("area", 3)])
@pytest.mark.parametrize("kw", SIZES)
def test_interpolate_matches_torch(dtype, mode, rank, kw):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 5, 7)[:rank]).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for ac in ([None] if mode in ("nearest", "nearest-exact", "area") else [None, False, True]):
        cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y = F.interpolate(cx, mode=mode, align_corners=ac, **kw)
        ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=ac, **kw)
        assert tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=tol, rtol=0)
        g = RNG.standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(cr.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=10 * tol, rtol=0)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Upsample(scale_factor=(2, 1.5), mode="bilinear"),
    lambda nn: nn.Upsample(size=(4, 11)), lambda nn: nn.UpsamplingNearest2d(scale_factor=2),
    lambda nn: nn.UpsamplingBilinear2d(size=8), lambda nn: nn.PixelShuffle(2),
    lambda nn: nn.PixelUnshuffle(1), lambda nn: nn.Unfold((2, 3), dilation=(2, 1), padding=1,
                                                           stride=(2, 3)),
])
def test_modules_match_torch(make):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare

    compare(make(nn), make(torch.nn), RNG.standard_normal((2, 4, 5, 7)))


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=2, stride=2),
                                dict(kernel_size=(2, 3), dilation=(2, 1), padding=1,
                                     stride=(2, 3))])
@pytest.mark.parametrize("batched", [True, False])
def test_fold_and_unfold_match_torch(kw, batched):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare

    x = RNG.standard_normal((2, 3, 7, 8) if batched else (3, 7, 8))
    compare(nn.Unfold(**kw), torch.nn.Unfold(**kw), x)
    cols = torch.nn.functional.unfold(torch.tensor(x), **kw).numpy()
    compare(nn.Fold((7, 8), **kw), torch.nn.Fold((7, 8), **kw), cols)


def test_unflatten_matches_torch():
    torch = pytest.importorskip("torch")
    from _torch_compare import compare

    compare(nn.Unflatten(1, (2, -1)), torch.nn.Unflatten(1, (2, -1)), RNG.standard_normal((3, 8)))
