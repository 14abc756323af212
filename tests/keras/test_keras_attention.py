"""MultiHeadAttention, Attention and AdditiveAttention against real Keras 3 (torch backend) on
copied weights: outputs, attention scores and gradients, with Keras masks, attention_mask and
causal masks; the Transformer text-classification example's block; float64 gradchecks;
config and save/load round trips (these without Keras)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck
from chainrule.keras import layers as L

os.environ.setdefault("KERAS_BACKEND", "torch")




@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _np(t):
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


# -- MultiHeadAttention --------------------------------------------------------------------------
MHA_CASES = [
    ("self", dict(num_heads=2, key_dim=3), False, {}),
    ("cross_key_vdim_out", dict(num_heads=3, key_dim=2, value_dim=4, output_shape=5), True, {}),
    ("no_bias", dict(num_heads=2, key_dim=4, use_bias=False), True, {}),
    ("causal", dict(num_heads=2, key_dim=3), False, {"use_causal_mask": True}),
]


@pytest.mark.parametrize("name,kw,with_key,call_kw", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_mha_matches_keras_outputs_scores_and_gradients(name, kw, with_key, call_kw, rng):
    keras = _keras()
    import torch

    q = rng.normal(size=(2, 4, 6)).astype(np.float32)
    v = q if not with_key else rng.normal(size=(2, 5, 3)).astype(np.float32)
    k = rng.normal(size=(2, 5, 7)).astype(np.float32) if with_key else None
    theirs, ours = keras.layers.MultiHeadAttention(**kw), L.MultiHeadAttention(**kw)
    ref, ref_s = theirs(q, v, k, return_attention_scores=True, **call_kw)
    ours(q, v, k)
    ours.set_weights(theirs.get_weights())
    got, got_s = ours(q, v, k, return_attention_scores=True, **call_kw)
    _close(got, ref)
    _close(got_s, ref_s)
    # the plain call (Keras' fused dot_product_attention path) agrees too
    _close(ours(q, v, k, **call_kw), theirs(q, v, k, **call_kw))

    # gradients of sum(out * c) w.r.t. every weight and the query
    c = rng.normal(size=ref.shape).astype(np.float32)
    tq = torch.tensor(q, requires_grad=True)
    (theirs(tq, v if with_key else tq, k, **call_kw) * torch.tensor(c)).sum().backward()
    xq = cr.tensor(q, requires_grad=True)
    (ours(xq, v if with_key else xq, k, **call_kw) * cr.tensor(c)).sum().backward()
    _close(xq.grad, tq.grad)
    for w_ours, w_theirs in zip(ours._weights, theirs.trainable_weights):
        _close(w_ours.param.grad, w_theirs.value.grad)


def test_mha_masks_match_keras(rng):
    """attention_mask (B, T, S), causal, and the query/value Keras masks from
    Embedding(mask_zero=True), alone and combined."""
    keras = _keras()
    tok = rng.integers(1, 10, size=(3, 6))
    tok[0, 4:] = 0
    tok[1, 2:] = 0
    am = rng.random((3, 6, 6)) > 0.3
    am[:, :, 0] = True

    def model(M):
        i = M.Input((6,), dtype="int32")
        e = M.layers.Embedding(10, 8, mask_zero=True)(i)
        mha = M.layers.MultiHeadAttention(2, 4)
        return M.Model(i, mha(e, e)), mha

    (km, kmha), (cm, cmha) = model(keras), model(ck)
    cm.set_weights(km.get_weights())
    _close(cm.predict(tok, verbose=0), km(tok))
    x = rng.normal(size=(3, 6, 8)).astype(np.float32)
    for kwargs in ({"attention_mask": am}, {"attention_mask": am, "use_causal_mask": True}):
        ref, ref_s = kmha(x, x, return_attention_scores=True, **kwargs)
        got, got_s = cmha(x, x, return_attention_scores=True, **kwargs)
        _close(got, ref)
        _close(got_s, ref_s)
    # the mask mattered: unmasked attention gives other numbers
    assert np.abs(_np(kmha(x, x)) - _np(kmha(x, x, attention_mask=am))).max() > 1e-3


def test_mha_functional_with_scores_and_errors(rng):
    q, v = ck.Input((4, 6)), ck.Input((5, 3))
    out, scores = L.MultiHeadAttention(2, 3)(q, v, return_attention_scores=True)
    assert out.shape == (None, 4, 6) and scores.shape == (None, 2, 4, 5)
    m = ck.Model([q, v], [out, scores])
    a, b = m.predict([rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 5, 3))], verbose=0)
    assert a.shape == (2, 4, 6) and b.shape == (2, 2, 4, 5)
    np.testing.assert_allclose(b.sum(-1), 1, rtol=1e-5)
    with pytest.raises(NotImplementedError, match="attention_axes"):
        L.MultiHeadAttention(2, 3, attention_axes=(2,))
    with pytest.raises(TypeError, match="mha\\(query, value\\)"):
        L.MultiHeadAttention(2, 3)(np.zeros((1, 2, 3)))


def test_mha_dropout_only_in_training(rng):
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mha = L.MultiHeadAttention(2, 3, dropout=0.5, seed=1)
    a, b = mha(x, x), mha(x, x)
    _close(a, b, 0)
    c = mha(x, x, training=True)
    assert np.abs(_np(c) - _np(a)).max() > 1e-4


# -- Attention, AdditiveAttention ----------------------------------------------------------------
ATT_CASES = [
    ("Attention", {}),
    ("Attention", {"use_scale": True}),
    ("Attention", {"score_mode": "concat"}),
    ("Attention", {"use_scale": True, "score_mode": "concat"}),
    ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}),
]


@pytest.mark.parametrize("cls,kw", ATT_CASES, ids=[f"{c}-{sorted(k)}" for c, k in ATT_CASES])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_layers_match_keras(cls, kw, causal, rng):
    keras = _keras()
    q = rng.normal(size=(2, 4, 3)).astype(np.float32)
    v = rng.normal(size=(2, 5, 3)).astype(np.float32)
    k = rng.normal(size=(2, 5, 3)).astype(np.float32)
    mask = [rng.random((2, 4)) > 0.3, rng.random((2, 5)) > 0.3]
    mask[1][:, 0] = True
    theirs, ours = getattr(keras.layers, cls)(**kw), getattr(L, cls)(**kw)
    theirs([q, v])
    ours([q, v])
    # move the weights off their initial ones so that the scale terms are exercised
    theirs.set_weights([w + 0.3 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    for inputs in ([q, v], [q, v, k]):
        for m in (None, mask):
            ref = theirs(inputs, mask=m, return_attention_scores=True, use_causal_mask=causal)
            got = ours(inputs, mask=m, return_attention_scores=True, use_causal_mask=causal)
            _close(got[0], ref[0])
            _close(got[1], ref[1])


def test_attention_errors_are_keras_errors():
    with pytest.raises(ValueError, match="list of inputs"):
        L.Attention()(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="length 2 or 3"):
        L.Attention()([np.zeros((1, 2, 3))])
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="add")


# -- the Transformer block of keras.io's text classification example ------------------------------
def _transformer_classes(M):
    layers, ops = M.layers, M.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = M.Sequential([layers.Dense(ff_dim, activation="relu"),
                                     layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    return TransformerBlock, TokenAndPositionEmbedding


def _text_classifier(M, maxlen=10, vocab=50, embed_dim=8):
    TransformerBlock, TokenAndPositionEmbedding = _transformer_classes(M)
    layers = M.layers
    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, 2, 16)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(12, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return M.Model(inputs=inputs, outputs=outputs)


def test_transformer_text_classification_example(rng):
    keras = _keras()
    x = rng.integers(0, 50, size=(16, 10))
    y = rng.integers(0, 2, size=(16,))
    km, cm = _text_classifier(keras), _text_classifier(ck)
    assert len(cm.get_weights()) == len(km.get_weights())
    cm.set_weights(km.get_weights())
    _close(cm.predict(x, verbose=0), km.predict(x, verbose=0))
    for m, mod in ((km, keras), (cm, ck)):
        m.compile(optimizer=mod.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # dropout draws differ between the libraries: compare the loss in inference mode
    _close(cm.evaluate(x, y, verbose=0)[0], km.evaluate(x, y, verbose=0)[0])
    hist = cm.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


# -- float64 gradchecks, configs, save / load ----------------------------------------------------
def _params_check(layer, call):
    """float64 gradcheck of call() w.r.t. every weight of `layer` (swapped in for the check)."""
    names = list(layer._parameters)

    def f(*ps):
        saved = dict(layer._parameters)
        layer._parameters.update(zip(names, ps))
        try:
            return call()
        finally:
            layer._parameters.update(saved)
    ps = [layer._parameters[n].detach().numpy() for n in names]
    # the swap is live: other weights give other outputs (else both Jacobians would be 0)
    assert np.abs(f(*[cr.tensor(p + 0.1) for p in ps]).numpy() - f(*ps).numpy()).max() > 1e-6
    return cr.gradcheck(f, *ps)


def test_gradcheck_float64(rng):
    q = rng.normal(size=(2, 3, 4))
    v = rng.normal(size=(2, 5, 4))
    am = rng.random((2, 3, 5)) > 0.3
    am[..., 0] = True
    mha = L.MultiHeadAttention(2, 3, value_dim=2, dtype="float64")
    mha(q, v)
    assert cr.gradcheck(lambda a, b: mha(a, b, attention_mask=am, use_causal_mask=True), q, v)
    assert _params_check(mha, lambda: mha(q, v, attention_mask=am))
    mask = [np.array([[1, 1, 0]] * 2, bool), np.array([[1, 0, 1, 1, 0]] * 2, bool)]
    for layer in (L.Attention(use_scale=True, score_mode="concat", dtype="float64"),
                  L.AdditiveAttention(dtype="float64")):
        layer([q, v])
        assert cr.gradcheck(lambda a, b, layer=layer: layer([a, b], mask=mask), q, v)
        assert _params_check(layer, lambda layer=layer: layer([q, v], mask=mask))


def test_config_and_save_load_round_trip(tmp_path, rng):
    for layer in (L.MultiHeadAttention(3, 2, value_dim=4, dropout=0.1, output_shape=7,
                                       use_bias=False),
                  L.Attention(use_scale=True, score_mode="concat", dropout=0.2),
                  L.AdditiveAttention(use_scale=False)):
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg
    assert L.MultiHeadAttention(3, 2).get_config()["value_dim"] == 2
    i = ck.Input((6,), dtype="int32")
    e = L.Embedding(20, 8, mask_zero=True)(i)
    x = L.MultiHeadAttention(2, 4)(e, e)
    x = L.Add()([L.Attention()([x, e]), L.AdditiveAttention()([x, e])])
    m = ck.Model(i, L.Dense(2)(L.GlobalAveragePooling1D()(x)))
    tok = rng.integers(0, 20, size=(3, 6))
    y = m.predict(tok, verbose=0)
    m.save(tmp_path / "att.keras")
    m2 = ck.models.load_model(tmp_path / "att.keras")
    np.testing.assert_array_equal(m2.predict(tok, verbose=0), y)
