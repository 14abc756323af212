"""Masks through the merge layers and BatchNormalization against real Keras 3 (torch backend),
same weights: Add / Subtract / Average keep the values and or the masks (none unless every
input has one), Multiply / Maximum / Minimum let masked entries not count, Concatenate joins
the widened masks; BatchNormalization takes its training moments over unmasked steps only.
float64 gradchecks run without Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck
from chainrule.keras import layers as L
from chainrule.keras._masks import get_keras_mask

os.environ.setdefault("KERAS_BACKEND", "torch")


def _np(t):
    if t is None:
        return None
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def _tokens(seed, lengths):
    tok = np.random.default_rng(seed).integers(1, 20, size=(len(lengths), 6))
    for i, n in enumerate(lengths):
        tok[i, n:] = 0
    return tok


@pytest.fixture
def branches():
    """Two embeddings of differently padded token batches, in Keras and in chainrule.keras."""
    keras = _keras()
    a, b = _tokens(0, [6, 4, 2]), _tokens(1, [3, 5, 1])
    ke1 = keras.layers.Embedding(20, 4, mask_zero=True)
    ke2 = keras.layers.Embedding(20, 4, mask_zero=True)
    ke3 = keras.layers.Embedding(20, 4)  # no mask
    ce1, ce2 = L.Embedding(20, 4, mask_zero=True), L.Embedding(20, 4, mask_zero=True)
    ce3 = L.Embedding(20, 4)
    out = []
    for k, c, t in ((ke1, ce1, a), (ke2, ce2, b), (ke3, ce3, a)):
        kt = k(t)
        c(t)
        c.set_weights(k.get_weights())
        out.append((kt, c(t)))
    return keras, out


@pytest.mark.parametrize("kind", ["Add", "Subtract", "Average", "Multiply", "Maximum",
                                  "Minimum", "Concatenate"])
@pytest.mark.parametrize("which", [(0, 1), (0, 2), (2, 1)], ids=["both", "first", "second"])
def test_merge_masks_like_keras(branches, kind, which):
    keras, pairs = branches
    ks = [pairs[i][0] for i in which]
    cs = [pairs[i][1] for i in which]
    ky = getattr(keras.layers, kind)()(ks)
    cy = getattr(L, kind)()(cs)
    _close(cy, ky)
    km, cm = getattr(ky, "_keras_mask", None), get_keras_mask(cy)
    assert (km is None) == (cm is None), (kind, which)
    if km is not None:
        np.testing.assert_array_equal(_np(cm), _np(km))


@pytest.mark.parametrize("axis", [1, -1])
def test_concatenate_masks_along_time_like_keras(branches, axis):
    keras, pairs = branches
    ky = keras.layers.Concatenate(axis=axis)([pairs[0][0], pairs[2][0]])
    cy = L.Concatenate(axis=axis)([pairs[0][1], pairs[2][1]])
    _close(cy, ky)
    np.testing.assert_array_equal(_np(get_keras_mask(cy)), _np(ky._keras_mask))


def _merge_model(M, kind):
    a, b = M.Input((6,), dtype="int32"), M.Input((6,), dtype="int32")
    ea = M.layers.Embedding(20, 4, mask_zero=True)(a)
    eb = M.layers.Embedding(20, 4, mask_zero=True)(b)
    h = getattr(M.layers, kind)()([ea, eb])
    h = M.layers.BatchNormalization()(h)
    return M.Model([a, b], M.layers.LSTM(3)(h))


@pytest.mark.parametrize("kind", ["Add", "Maximum", "Multiply", "Concatenate"])
def test_masked_merge_then_lstm_model_like_keras(kind):
    """The mask that a merge makes reaches the LSTM through BatchNormalization (functional)."""
    keras = _keras()
    km, cm = _merge_model(keras, kind), _merge_model(ck, kind)
    cm.set_weights(km.get_weights())
    a, b = _tokens(2, [6, 3, 2, 4]), _tokens(3, [6, 3, 2, 4])
    _close(cm.predict([a, b], verbose=0), km.predict([a, b], verbose=0))


def test_batchnorm_masked_moments_like_keras():
    keras = _keras()
    kb, cb = keras.layers.BatchNormalization(), L.BatchNormalization()
    x = np.random.default_rng(4).normal(size=(3, 5, 4)).astype(np.float32) * 3 + 1
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    kb(x)
    cb(x)
    cb.set_weights(kb.get_weights())
    _close(cb(x, training=True, mask=mask), kb(x, training=True, mask=mask))
    for a, b in zip(cb.get_weights(), kb.get_weights()):  # the moving statistics too
        _close(a, b)
    unmasked = L.BatchNormalization()
    unmasked(x)
    unmasked(x, training=True)
    assert not np.allclose(unmasked.get_weights()[2], cb.get_weights()[2])  # the mask mattered
    _close(cb(x, mask=mask), kb(x, mask=mask))  # inference: the moving statistics
    with pytest.raises(ValueError, match="one dimension less"):
        cb(x, training=True, mask=mask[..., None])


def test_batchnorm_masked_fit_like_keras():
    keras = _keras()

    def build(M):
        inp = M.Input((6,), dtype="int32")
        h = M.layers.Embedding(20, 4, mask_zero=True)(inp)
        h = M.layers.BatchNormalization()(h)
        m = M.Model(inp, M.layers.Dense(1)(M.layers.GlobalAveragePooling1D()(h)))
        m.compile(optimizer=M.optimizers.SGD(0.1), loss="mse")
        return m

    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    x, y = _tokens(5, [6, 2, 4, 1]), np.arange(4, dtype=np.float32)[:, None]
    _close(cm.train_on_batch(x, y), km.train_on_batch(x, y))
    for a, b in zip(cm.get_weights(), km.get_weights()):
        _close(a, b)


def test_gradcheck_masked_batchnorm_and_merges():
    x0 = np.random.default_rng(0).normal(size=(3, 4, 2))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 1, 1]], dtype=bool)
    bn = L.BatchNormalization(dtype="float64")
    bn(cr.tensor(x0))
    with cr.no_grad():
        bn.gamma.add_(0.5)
        bn.beta.add_(0.1)
    x = cr.tensor(x0, requires_grad=True)

    def f(t):
        return bn(t, training=True, mask=mask)
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)
    m2 = np.array([[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=bool)
    for layer in (L.Maximum(), L.Minimum(), L.Multiply()):
        y0 = np.random.default_rng(1).normal(size=(3, 4, 2))
        y = cr.tensor(y0, requires_grad=True)
        assert cr.gradcheck(lambda a, b, layer=layer: layer([a, b], mask=[mask, m2]), x, y)
