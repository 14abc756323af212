"""Keras masking on padded sequences against real Keras 3 (torch backend), same weights:
Masking and Embedding(mask_zero=True) make the mask; Dense / Dropout pass it on; LSTM / GRU /
SimpleRNN carry their state over masked steps; GlobalAveragePooling1D takes the masked mean;
a custom layer reads it with call(inputs, mask=None) (the Keras masking guide's pattern).
float64 gradcheck, config and save/load round trips run without Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck
from chainrule.keras import layers as L

os.environ.setdefault("KERAS_BACKEND", "torch")




def _np(t):
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


@pytest.fixture
def tokens():
    """Right-padded token ids (0 = padding) of lengths 7, 5, 3, 1."""
    tok = np.random.default_rng(0).integers(1, 20, size=(4, 7))
    for i, n in enumerate([7, 5, 3, 1]):
        tok[i, n:] = 0
    return tok


def _embedding_model(M, rnn, mask_zero=True):
    i = M.Input((7,), dtype="int32")
    x = M.layers.Embedding(20, 6, mask_zero=mask_zero)(i)
    x = M.layers.Dense(5)(x)
    x = M.layers.Dropout(0.1)(x)
    x = getattr(M.layers, rnn)(4, return_sequences=True)(x)
    pooled = M.layers.GlobalAveragePooling1D()(x)
    last = getattr(M.layers, rnn)(3, go_backwards=True)(x)
    return M.Model(i, [pooled, last])


@pytest.mark.parametrize("rnn", ["LSTM", "GRU", "SimpleRNN"])
def test_mask_zero_through_dense_dropout_rnn_and_pooling(rnn, tokens):
    keras = _keras()
    km, cm = _embedding_model(keras, rnn), _embedding_model(ck, rnn)
    cm.set_weights(km.get_weights())
    ref = km(tokens)
    got = cm.predict(tokens, verbose=0)
    for g, r in zip(got, ref):
        _close(g, r)
    # the mask mattered: the same weights without masking give other numbers
    unmasked = _embedding_model(keras, rnn, mask_zero=False)
    unmasked.set_weights(km.get_weights())
    assert np.abs(_np(unmasked(tokens)[0]) - _np(ref[0])).max() > 1e-3


@pytest.mark.parametrize("rnn", ["LSTM", "GRU"])
def test_masking_layer_sequential_and_return_state(rnn):
    keras = _keras()
    x = np.random.default_rng(1).normal(size=(3, 6, 2)).astype(np.float32)
    x[0, 4:] = 0
    x[1, 2:] = 0
    x[2, 1] = 0  # a masked step in the middle: the state is carried over it

    def seq(M):
        return M.Sequential([M.Input((6, 2)), M.layers.Masking(mask_value=0.0),
                             getattr(M.layers, rnn)(3, return_sequences=True),
                             M.layers.Dense(2)])
    km, cm = seq(keras), seq(ck)
    cm.set_weights(km.get_weights())
    _close(cm.predict(x, verbose=0), km(x))

    def stateful(M):
        i = M.Input((6, 2))
        outs = getattr(M.layers, rnn)(3, return_state=True)(M.layers.Masking()(i))
        return M.Model(i, outs)
    km, cm = stateful(keras), stateful(ck)
    cm.set_weights(km.get_weights())
    for g, r in zip(cm.predict(x, verbose=0), km(x)):
        _close(g, r)


def test_eager_calls_carry_the_mask(tokens):
    """Layers called one after another on arrays (no model) pass the mask along, as Keras."""
    keras = _keras()
    ke, kl = keras.layers.Embedding(20, 4, mask_zero=True), keras.layers.LSTM(3)
    ce, cl = L.Embedding(20, 4, mask_zero=True), L.LSTM(3)
    ref = kl(ke(tokens))
    cl(ce(tokens))
    ce.set_weights(ke.get_weights())
    cl.set_weights(kl.get_weights())
    _close(cl(ce(tokens)), ref)
    np.testing.assert_array_equal(_np(ce.compute_mask(tokens)), tokens != 0)
    np.testing.assert_array_equal(_np(ke.compute_mask(tokens)), tokens != 0)
    x = np.array([[[0.0, 0.0], [1.0, 0.0]]], np.float32)
    np.testing.assert_array_equal(_np(L.Masking().compute_mask(cr.tensor(x))), [[False, True]])


def test_masking_guide_custom_layer_reads_the_mask(tokens):
    """keras.io 'Understanding masking & padding': a layer that supports masking, and one
    that uses the mask in call(inputs, mask=None)."""
    keras = _keras()

    def build(M):
        ops = M.ops

        class TemporalSoftmax(M.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, inputs, mask=None):
                assert mask is not None
                broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
                inputs_exp = ops.exp(inputs) * broadcast_float_mask
                inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1,
                                     keepdims=True)
                return inputs_exp / inputs_sum

        inputs = M.Input(shape=(None,), dtype="int32")
        x = M.layers.Embedding(input_dim=20, output_dim=8, mask_zero=True)(inputs)
        x = M.layers.Dense(4)(x)
        outputs = TemporalSoftmax()(x)
        return M.Model(inputs, outputs)

    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    _close(cm.predict(tokens, verbose=0), km(tokens))


def test_masked_training_matches_keras_one_step(tokens):
    """One SGD step on a masked LSTM classifier: the same loss and the same new weights."""
    keras = _keras()
    y = np.array([0, 1, 1, 0])

    def build(M):
        m = M.Sequential([M.Input((7,), dtype="int32"), M.layers.Embedding(20, 4, mask_zero=True),
                          M.layers.LSTM(3), M.layers.Dense(2, activation="softmax")])
        m.compile(optimizer=M.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        return m
    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    _close(cm.train_on_batch(tokens, y), km.train_on_batch(tokens, y))
    for a, b in zip(cm.get_weights(), km.get_weights()):
        _close(a, b)


def test_gradcheck_float64_masked_rnns_and_pooling():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5, 2))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 1, 0]], bool)
    for layer in (L.LSTM(2, return_sequences=True, dtype="float64"),
                  L.GRU(2, go_backwards=True, dtype="float64"),
                  L.SimpleRNN(2, dtype="float64"), L.GlobalAveragePooling1D()):
        layer(x)
        assert cr.gradcheck(lambda t, layer=layer: layer(t, mask=mask), x)


def test_config_and_save_load(tmp_path, tokens):
    m = L.Masking(mask_value=-1.0)
    assert L.Masking.from_config(m.get_config()).mask_value == -1.0
    e = L.Embedding(20, 4, mask_zero=True)
    assert e.get_config()["mask_zero"] is True
    assert L.Embedding.from_config(e.get_config()).mask_zero is True
    model = _embedding_model(ck, "LSTM")
    y = model.predict(tokens, verbose=0)
    model.save(tmp_path / "masked.keras")
    back = ck.models.load_model(tmp_path / "masked.keras")
    for a, b in zip(back.predict(tokens, verbose=0), y):
        np.testing.assert_array_equal(a, b)
    # without masks nothing is attached: the fast path
    assert L.Dense(2)(np.ones((1, 3), np.float32)) is not None


def test_layer_normalization_passes_the_mask_to_the_rnn_as_keras():
    # Embedding(mask_zero) -> LayerNormalization -> LSTM: the LSTM must still skip the padding
    keras = _keras()
    x = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])

    def build(K):
        inp = K.Input((4,), dtype="int32")
        h = K.layers.Embedding(5, 3, mask_zero=True)(inp)
        h = K.layers.LayerNormalization()(h)
        return K.Model(inp, K.layers.LSTM(2)(h))

    theirs, ours = build(keras), build(ck)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               atol=1e-5)
