"""keras.ops.linalg, keras.ops.image, the Fourier transforms and ops.custom_gradient against
real Keras 3 (torch backend): values and gradients (through torch's autograd on the Keras
side) on the same inputs; float64 gradchecks of the differentiable ones run without Keras."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
from chainrule.keras import ops

R = np.random.default_rng(0)
SPD = (lambda a: a @ a.T + 4 * np.eye(4))(R.normal(size=(4, 4)))
SQ = R.normal(size=(2, 4, 4)) + 3 * np.eye(4)
B = R.normal(size=(4, 3))
IMG = R.uniform(size=(2, 6, 8, 3))
SIG = R.normal(size=(3, 8))
SIG2 = R.normal(size=(2, 5, 6))

# name, chainrule fn, keras fn (given the keras module), float inputs
DIFFERENTIABLE = [
    ("cholesky", lambda o, a: o.linalg.cholesky(a), [SPD]),
    ("cholesky_upper", lambda o, a: o.linalg.cholesky(a, upper=True), [SPD]),
    ("det", lambda o, a: o.linalg.det(a), [SQ]),
    ("inv", lambda o, a: o.linalg.inv(a), [SQ]),
    ("solve", lambda o, a, b: o.linalg.solve(a, b), [SQ[0], B]),
    ("solve_triangular", lambda o, a, b: o.linalg.solve_triangular(a, b, lower=True),
     [SQ[0], B]),
    ("solve_triangular_upper", lambda o, a, b: o.linalg.solve_triangular(a, b), [SQ[0], B]),
    ("cholesky_inverse", lambda o, a: o.linalg.cholesky_inverse(a), [np.linalg.cholesky(SPD)]),
    ("logdet", lambda o, a: o.logdet(a), [SPD]),
    ("trace", lambda o, a: o.trace(a, axis1=1, axis2=2), [SQ]),
    ("norm_fro", lambda o, a: o.linalg.norm(a, axis=(1, 2)), [SQ]),
    ("resize_bilinear", lambda o, a: o.image.resize(a, (4, 11)), [IMG]),
    ("resize_nearest", lambda o, a: o.image.resize(a, (9, 5), interpolation="nearest"), [IMG]),
    ("resize_crop", lambda o, a: o.image.resize(a, (4, 4), crop_to_aspect_ratio=True), [IMG]),
    ("resize_channels_first", lambda o, a: o.image.resize(a, (3, 4),
                                                          data_format="channels_first"),
     [IMG.transpose(0, 3, 1, 2)]),
    ("extract_patches", lambda o, a: o.image.extract_patches(a, 2), [IMG]),
    ("extract_patches_same", lambda o, a: o.image.extract_patches(a, (3, 2), strides=(2, 3),
                                                                  padding="same"), [IMG]),
    ("extract_patches_single", lambda o, a: o.image.extract_patches(a, 3, strides=1),
     [IMG[0]]),
    ("crop_images", lambda o, a: o.image.crop_images(a, top_cropping=1, left_cropping=2,
                                                     target_height=3, target_width=4), [IMG]),
    ("crop_images_bottom", lambda o, a: o.image.crop_images(a, bottom_cropping=2,
                                                            right_cropping=1,
                                                            target_height=3,
                                                            target_width=4), [IMG[0]]),
    ("pad_images", lambda o, a: o.image.pad_images(a, top_padding=1, bottom_padding=2,
                                                   left_padding=0, target_width=10), [IMG]),
    ("rgb_to_grayscale", lambda o, a: o.image.rgb_to_grayscale(a), [IMG]),
    ("fft", lambda o, a, b: o.fft((a, b)), [SIG, SIG[::-1].copy()]),
    ("fft2", lambda o, a, b: o.fft2((a, b)), [SIG2, SIG2 * 0.5]),
    ("ifft2", lambda o, a, b: o.ifft2((a, b)), [SIG2, SIG2 * 0.5]),
    ("rfft", lambda o, a: o.rfft(a), [SIG]),
    ("rfft_len", lambda o, a: o.rfft(a, fft_length=11), [SIG]),
    ("irfft", lambda o, a, b: o.irfft((a, b)), [SIG[:, :5], SIG[:, 3:]]),
    ("irfft_odd", lambda o, a, b: o.irfft((a, b), fft_length=7), [SIG[:, :5], SIG[:, 3:]]),
    ("stft", lambda o, a: o.stft(a, 4, 2, 4), [R.normal(size=(2, 12))]),
    ("stft_hamming", lambda o, a: o.stft(a, 3, 2, 6, window="hamming"), [R.normal(size=(12,))]),
    ("stft_uncentred", lambda o, a: o.stft(a, 4, 3, 4, window=None, center=False),
     [R.normal(size=(2, 2, 11))]),
]


def _flat(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


@pytest.mark.parametrize("name,fn,inputs", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_like_keras_values_and_gradients(name, fn, inputs):
    keras = _keras()
    import torch
    xs32 = [a.astype(np.float32) for a in inputs]
    k_in = [torch.tensor(a, requires_grad=True) for a in xs32]
    c_in = [cr.tensor(a, requires_grad=True) for a in xs32]
    ky, cy = _flat(fn(keras.ops, *k_in)), _flat(fn(ops, *c_in))
    assert len(ky) == len(cy)
    for a, b in zip(cy, ky):
        assert str(a.dtype).endswith(str(b.dtype).replace("torch.", "")), name
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=2e-4, atol=2e-4)
    weights = [R.standard_normal(tuple(b.shape)) for b in ky]
    k_loss = sum((b * torch.tensor(w, dtype=b.dtype)).sum() for b, w in zip(ky, weights))
    c_loss = sum((a * cr.tensor(w).to(a.dtype)).sum() for a, w in zip(cy, weights))
    k_loss.backward()
    c_loss.backward()
    for a, b in zip(c_in, k_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name,fn,inputs", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_gradcheck_float64(name, fn, inputs):
    if name == "norm_fro":
        pytest.skip("ops.norm computes float64 in float32, as Keras-torch (tests/keras/test_ops)")
    xs = [cr.tensor(a.astype(np.float64), requires_grad=True) for a in inputs]
    if name.startswith(("resize", "extract", "pad")):
        xs = [cr.tensor(a[:1, :4, :5].copy() if a.ndim == 4 else a[:4, :5].copy(),
                        requires_grad=True) for a in inputs]
    sym = name in ("cholesky", "cholesky_upper")  # a symmetric input: symmetrise it

    def f(*ts):
        if sym:
            ts = tuple((t + t.transpose(-2, -1)) * 0.5 for t in ts)
        y = fn(ops, *ts)
        return cr.cat([t.reshape(-1) for t in _flat(y)]) if isinstance(y, tuple) else y
    assert cr.gradcheck(f, *xs)
    if not name.startswith(("resize", "extract")):
        assert cr.gradgradcheck(f, *xs)


VALUES_ONLY = [
    ("qr", lambda o, a: o.linalg.qr(a), SQ[0]),
    ("qr_complete", lambda o, a: o.linalg.qr(a[:, :3], mode="complete"), SQ[0]),
    ("svd", lambda o, a: o.linalg.svd(a, compute_uv=False), SQ),
    ("eigh", lambda o, a: o.linalg.eigh(a)[0], SPD),
    ("lstsq", lambda o, a: o.linalg.lstsq(a, a[:, :2]), SQ[0]),
    ("pinv", lambda o, a: o.linalg.pinv(a), SQ[0]),
    ("matrix_rank", lambda o, a: o.linalg.matrix_rank(a), SQ[0]),
    ("lu_factor", lambda o, a: o.linalg.lu_factor(a), SQ[0]),
    ("slogdet", lambda o, a: o.slogdet(a), SQ),
]


@pytest.mark.parametrize("name,fn,x", VALUES_ONLY, ids=[c[0] for c in VALUES_ONLY])
def test_values_like_keras(name, fn, x):
    keras = _keras()
    ky, cy = _flat(fn(keras.ops, x.astype(np.float32))), _flat(fn(ops, x.astype(np.float32)))
    for a, b in zip(cy, ky):
        b = np.asarray(keras.ops.convert_to_numpy(b))
        if name == "qr":  # the sign of each column of q / row of r is a convention
            s = np.sign(np.diag(cy[1].numpy())) * np.sign(np.diag(np.asarray(
                keras.ops.convert_to_numpy(ky[1]))))
            b = b * (s[None, :] if b.shape[0] == b.shape[1] and a is cy[0] else s[:, None])
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-4, atol=1e-4)


def test_values_only_ops_refuse_gradients():
    x = cr.tensor(SQ[0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="no gradient for svd"):
        ops.linalg.svd(x)
    with cr.no_grad():
        s = ops.linalg.svd(x, compute_uv=False)
    assert s.shape == (4,)
    u, s, vh = ops.svd(ops.stop_gradient(x))
    np.testing.assert_allclose((u * s) @ vh, SQ[0], atol=1e-8)


def test_signatures_match_keras():
    keras = _keras()
    for mod, kmod in ((ops.linalg, keras.ops.linalg), (ops.image, keras.ops.image)):
        for name in mod.__all__:
            ours = inspect.signature(getattr(mod, name)).parameters
            theirs = inspect.signature(getattr(kmod, name)).parameters
            assert [(p.name, p.default) for p in ours.values()] == \
                [(p.name, p.default) for p in theirs.values()], name


def test_image_errors_like_keras():
    with pytest.raises(ValueError, match="exactly two of top_padding"):
        ops.image.pad_images(IMG, top_padding=1)
    with pytest.raises(ValueError, match="top_cropping must be >= 0"):
        ops.image.crop_images(IMG, bottom_cropping=5, target_height=4, left_cropping=0,
                              right_cropping=0)
    with pytest.raises(ValueError, match="rank"):
        ops.image.resize(IMG[0, 0], (2, 2))


# -- custom_gradient, as the Keras docs write it ----------------------------------------------
def _log1pexp(op):
    @op.custom_gradient
    def log1pexp(x):
        e = op.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return op.multiply(upstream, 1.0 - 1.0 / op.add(1, e))

        return op.log(1 + e), grad
    return log1pexp


def test_custom_gradient_like_keras():
    keras = _keras()
    import torch
    x = np.array([0.0, 1.0, 100.0, -3.0], dtype=np.float32)
    kx, cx = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    ky, cy = _log1pexp(keras.ops)(kx), _log1pexp(ops)(cx)
    np.testing.assert_allclose(cy.numpy(), ky.detach().numpy(), rtol=1e-6)
    ky.sum().backward()
    cy.sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), kx.grad.numpy(), rtol=1e-6)
    assert np.isfinite(cx.grad.numpy()).all() and cx.grad.numpy()[2] == 1.0  # the point of it


def test_custom_gradient_two_inputs_and_errors():
    @ops.custom_gradient
    def scaled(x, y):
        def grad(*args, upstream=None):
            return upstream * 2.0, ops.sum(upstream * x)  # a deliberately different gradient
        return x * y, grad

    x, y = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor(3.0, requires_grad=True)
    scaled(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(y.grad.numpy(), 3.0)

    @ops.custom_gradient
    def bad(x):
        return x * 2

    with pytest.raises(TypeError, match=r"must return \(output, grad_fn\)"):
        bad(cr.tensor([1.0], requires_grad=True))
