"""Programs from the public Keras 3 guides and examples, written as the guides write them,
run on real Keras 3 (torch backend) and on chainrule.keras with only the imports changed
(`K` is the keras module either way), on the same weights and batches."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule.keras as ck


def _same_weights(km, cm):
    cm.set_weights([np.asarray(w) for w in km.get_weights()])


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# -- "Character-level recurrent sequence-to-sequence model" (lstm_seq2seq example) -------------
def _seq2seq(K, num_encoder_tokens=7, num_decoder_tokens=6, latent_dim=8):
    encoder_inputs = K.Input(shape=(None, num_encoder_tokens))
    encoder = K.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = K.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = K.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = K.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = K.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _onehot(rng, n, t, k):
    return np.eye(k, dtype="float32")[rng.integers(0, k, size=(n, t))]


def test_lstm_seq2seq_example_like_keras(tmp_path):
    keras = _keras()
    km, cm = _seq2seq(keras), _seq2seq(ck)
    assert len(cm.weights) == len(km.weights) == 8  # the encoder branch is in the graph
    _same_weights(km, cm)
    rng = np.random.default_rng(0)
    enc, dec = _onehot(rng, 16, 5, 7), _onehot(rng, 16, 4, 6)
    target = np.concatenate([dec[:, 1:], np.zeros((16, 1, 6), "float32")], axis=1)
    _close(cm.predict([enc, dec], verbose=0), km.predict([enc, dec], verbose=0))
    hk = km.fit([enc, dec], target, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit([enc, dec], target, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _close(hc.history["loss"], hk.history["loss"], 1e-4)
    _close(hc.history["accuracy"], hk.history["accuracy"])
    # saving and loading keeps the states' wiring
    cm.save(tmp_path / "s2s.keras")
    again = ck.models.load_model(tmp_path / "s2s.keras")
    _close(again.predict([enc, dec], verbose=0), cm.predict([enc, dec], verbose=0))
    clone = ck.models.clone_model(cm)
    clone.set_weights(cm.get_weights())
    _close(clone.predict([enc, dec], verbose=0), cm.predict([enc, dec], verbose=0))


# -- "Working with RNNs" guide: cross-batch statefulness and state reuse ------------------------
def _rnn_guide(K):
    rng = np.random.default_rng(1)
    paragraph1 = rng.random((20, 10, 50)).astype(np.float32)
    paragraph2 = rng.random((20, 10, 50)).astype(np.float32)
    paragraph3 = rng.random((20, 10, 50)).astype(np.float32)
    lstm_layer = K.layers.LSTM(64, stateful=True)
    lstm_layer(paragraph1)  # build
    return lstm_layer, (paragraph1, paragraph2, paragraph3)


def test_working_with_rnns_guide_statefulness_like_keras():
    keras = _keras()
    kl, ps = _rnn_guide(keras)
    cl, _ = _rnn_guide(ck)
    cl.set_weights(kl.get_weights())
    kl.reset_states()
    cl.reset_states()
    for p in ps:
        k_out, c_out = kl(p), cl(p)
        _close(c_out, k_out.detach().numpy())
    # "RNN State Reuse": the recorded states seed a new layer
    k_state, c_state = kl.states, cl.states
    k_new, c_new = keras.layers.LSTM(64), ck.layers.LSTM(64)
    k_new(ps[0])
    c_new(ps[0])
    c_new.set_weights(k_new.get_weights())
    _close(c_new(ps[2], initial_state=c_state),
           k_new(ps[2], initial_state=k_state).detach().numpy())
    kl.reset_states()
    cl.reset_states()
    _close(cl(ps[0]), kl(ps[0]).detach().numpy())


# -- "Making new layers and models via subclassing": a layer with keras.Variable state ----------
def _mlp_block_program(K):
    class Linear(K.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return K.ops.matmul(inputs, self.w) + self.b

    class MLPBlock(K.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(1)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = K.activations.relu(x)
            x = self.linear_2(x)
            x = K.activations.relu(x)
            return self.linear_3(x)

    mlp = MLPBlock()
    mlp(K.ops.ones(shape=(3, 64)))
    return mlp


def test_subclassing_guide_mlp_block_like_keras():
    keras = _keras()
    km, cm = _mlp_block_program(keras), _mlp_block_program(ck)
    assert len(cm.weights) == len(km.weights) == 6
    assert len(cm.trainable_weights) == len(km.trainable_weights) == 6
    _same_weights(km, cm)
    x = np.random.default_rng(2).normal(size=(4, 64)).astype("float32")
    _close(cm(x), km(x).detach().numpy())


# -- "Timeseries forecasting": a GRU with dropout / recurrent_dropout, trained with fit ---------
def _forecaster(K):
    inputs = K.Input(shape=(12, 3))
    x = K.layers.GRU(16, dropout=0.1, recurrent_dropout=0.2, return_sequences=True)(inputs)
    x = K.layers.LSTM(8, recurrent_dropout=0.1)(x)
    outputs = K.layers.Dense(1)(x)
    model = K.Model(inputs, outputs)
    model.compile(optimizer=K.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    return model


def test_timeseries_forecaster_with_recurrent_dropout():
    """Inference equals Keras on the same weights; training (random masks, so not Keras'
    numbers) lowers the loss and leaves inference deterministic."""
    keras = _keras()
    km, cm = _forecaster(keras), _forecaster(ck)
    _same_weights(km, cm)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    y = x[:, -3:, 0].mean(axis=1, keepdims=True)
    _close(cm.predict(x, verbose=0), km.predict(x, verbose=0))
    _close(cm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0))
    h = cm.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert set(h.history) == {"loss", "mae"}
    np.testing.assert_array_equal(cm.predict(x, verbose=0), cm.predict(x, verbose=0))


@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU"])
def test_stateful_model_predict_over_a_long_sequence(kind):
    """Split a long sequence into chunks fed in order to a stateful model: the same output
    as the whole sequence at once through a stateless twin (chainrule only: exact)."""
    def build(stateful, batch):
        return ck.Sequential([ck.Input((None, 2), batch_size=batch),
                              getattr(ck.layers, kind)(4, stateful=stateful,
                                                       return_sequences=True)])
    whole, chunks = build(False, None), build(True, 3)
    chunks.set_weights(whole.get_weights())
    x = np.random.default_rng(4).normal(size=(3, 12, 2)).astype("float32")
    parts = [chunks.predict(x[:, i:i + 4], batch_size=3, verbose=0) for i in range(0, 12, 4)]
    _close(np.concatenate(parts, axis=1), whole.predict(x, verbose=0))


# -- a next-character model (the text-generation examples): losses over (batch, steps, vocab) --
def _char_model(K, vocab=11, loss="sparse_categorical_crossentropy", logits=False):
    inputs = K.Input(shape=(7,), dtype="int32")
    x = K.layers.Embedding(vocab, 8)(inputs)
    x = K.layers.GRU(12, return_sequences=True)(x)
    outputs = K.layers.Dense(vocab, activation=None if logits else "softmax")(x)
    model = K.Model(inputs, outputs)
    lossobj = getattr(K.losses, {"sparse_categorical_crossentropy":
                                 "SparseCategoricalCrossentropy",
                                 "categorical_crossentropy": "CategoricalCrossentropy"}[loss])
    model.compile(optimizer=K.optimizers.Adam(1e-2), loss=lossobj(from_logits=logits),
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy",
                                  "categorical_crossentropy"])
@pytest.mark.parametrize("logits", [False, True])
def test_sequence_classification_losses_like_keras(loss, logits):
    keras = _keras()
    km, cm = _char_model(keras, loss=loss, logits=logits), _char_model(ck, loss=loss,
                                                                      logits=logits)
    _same_weights(km, cm)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 11, size=(24, 7))
    y = np.roll(x, -1, axis=1)
    if loss == "categorical_crossentropy":
        y = np.eye(11, dtype="float32")[y]
    hk = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _close(hc.history["loss"], hk.history["loss"], 1e-4)
    _close(hc.history["accuracy"], hk.history["accuracy"])
