"""The layers real Keras programs use beyond the basics: ReLU / LeakyReLU / PReLU / ELU / Softmax,
UpSampling1D/2D, Conv1DTranspose / Conv2DTranspose, TimeDistributed, Bidirectional, RNN(cell)
with LSTMCell / GRUCell / SimpleRNNCell / StackedRNNCells and a custom cell.

Against real Keras 3 (torch backend; skipped without it): outputs, input gradients and weight
gradients on copied weights. Without Keras: float64 gradcheck, config and save/load round trips.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
from chainrule.keras import layers as L
from chainrule.keras import ops
from chainrule.keras.models import Model, Sequential, load_model
from chainrule.keras.saving import custom_object_scope

os.environ.setdefault("KERAS_BACKEND", "torch")
RTOL, ATOL = 1e-5, 1e-5




class MinimalRNNCell(L.Layer):
    """The Keras RNN guide's custom cell, as written there (imports changed)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        # the guide writes initializer="uniform" (a Keras alias chainrule.keras lacks so far)
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="random_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="random_uniform",
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _keras_minimal_cell(keras):
    class KMinimalRNNCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="random_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            h = keras.ops.matmul(inputs, self.kernel)
            output = h + keras.ops.matmul(states[0], self.recurrent_kernel)
            return output, [output]
    return KMinimalRNNCell


# (id, ours(), theirs(keras), input shape, call kwargs)
CASES = [
    ("relu", lambda: L.ReLU(), lambda k: k.layers.ReLU(), (3, 8), {}),
    ("relu_all", lambda: L.ReLU(4.0, 0.1, 0.5), lambda k: k.layers.ReLU(4.0, 0.1, 0.5),
     (3, 8), {}),
    ("relu_slope", lambda: L.ReLU(negative_slope=0.2), lambda k: k.layers.ReLU(
        negative_slope=0.2), (3, 8), {}),
    ("relu6", lambda: L.ReLU(6.0), lambda k: k.layers.ReLU(6.0), (3, 8), {}),
    ("leaky_default", lambda: L.LeakyReLU(), lambda k: k.layers.LeakyReLU(), (3, 8), {}),
    ("leaky_0.2", lambda: L.LeakyReLU(negative_slope=0.2),
     lambda k: k.layers.LeakyReLU(negative_slope=0.2), (2, 4, 3), {}),
    ("elu", lambda: L.ELU(0.7), lambda k: k.layers.ELU(0.7), (3, 8), {}),
    ("prelu", lambda: L.PReLU(), lambda k: k.layers.PReLU(alpha_initializer="random_uniform"),
     (2, 4, 3), {}),
    ("prelu_shared", lambda: L.PReLU(shared_axes=[1, 2]),
     lambda k: k.layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
     (2, 4, 5, 3), {}),
    ("softmax", lambda: L.Softmax(), lambda k: k.layers.Softmax(), (3, 8), {}),
    ("softmax_axis1", lambda: L.Softmax(axis=1), lambda k: k.layers.Softmax(axis=1),
     (2, 5, 3), {}),
    ("softmax_axes", lambda: L.Softmax(axis=(1, 2)), lambda k: k.layers.Softmax(axis=(1, 2)),
     (2, 3, 4), {}),
    ("softmax_mask", lambda: L.Softmax(), lambda k: k.layers.Softmax(), (3, 8),
     {"mask": np.array([[1] * 5 + [0] * 3, [0] * 8, [1] * 8], dtype=bool)}),
    ("up1d", lambda: L.UpSampling1D(3), lambda k: k.layers.UpSampling1D(3), (2, 4, 3), {}),
    ("up2d", lambda: L.UpSampling2D((2, 3)), lambda k: k.layers.UpSampling2D((2, 3)),
     (2, 4, 3, 2), {}),
    ("up2d_bilinear", lambda: L.UpSampling2D(2, interpolation="bilinear"),
     lambda k: k.layers.UpSampling2D(2, interpolation="bilinear"), (2, 4, 3, 2), {}),
    ("up2d_cf", lambda: L.UpSampling2D(2, data_format="channels_first"),
     lambda k: k.layers.UpSampling2D(2, data_format="channels_first"), (2, 3, 4, 5), {}),
]

CONVT = [
    dict(filters=3, kernel_size=3),
    dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="valid"),
    dict(filters=2, kernel_size=2, strides=3),
    dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(filters=2, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=3, strides=2, output_padding=1),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=3, activation="relu", data_format="channels_first"),
]
for i, a in enumerate(CONVT):
    a1 = {k: (v[0] if isinstance(v, tuple) else v) for k, v in a.items()}
    CASES.append((f"conv2dT_{i}", lambda a=a: L.Conv2DTranspose(**a),
                  lambda k, a=a: k.layers.Conv2DTranspose(**a), (2, 5, 6, 3), {}))
    CASES.append((f"conv1dT_{i}", lambda a=a1: L.Conv1DTranspose(**a),
                  lambda k, a=a1: k.layers.Conv1DTranspose(**a),
                  (2, 3, 5) if "data_format" in a1 else (2, 5, 3), {}))

CASES += [
    ("td_dense", lambda: L.TimeDistributed(L.Dense(3)),
     lambda k: k.layers.TimeDistributed(k.layers.Dense(3)), (2, 4, 5), {}),
    ("td_conv", lambda: L.TimeDistributed(L.Conv2D(3, 3)),
     lambda k: k.layers.TimeDistributed(k.layers.Conv2D(3, 3)), (2, 3, 5, 5, 2), {}),
    ("bi_srnn_back", lambda: L.Bidirectional(L.SimpleRNN(3), backward_layer=L.SimpleRNN(
        2, go_backwards=True)), lambda k: k.layers.Bidirectional(k.layers.SimpleRNN(3),
                                                                 backward_layer=k.layers.SimpleRNN(
                                                                     2, go_backwards=True)),
     (2, 5, 4), {}),
    ("bi_gru_state", lambda: L.Bidirectional(L.GRU(3, return_state=True)),
     lambda k: k.layers.Bidirectional(k.layers.GRU(3, return_state=True)), (2, 5, 4), {}),
    ("bi_lstm_seq_state", lambda: L.Bidirectional(L.LSTM(3, return_sequences=True,
                                                         return_state=True)),
     lambda k: k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True,
                                                    return_state=True)), (2, 5, 4), {}),
    ("rnn_lstmcell", lambda: L.RNN(L.LSTMCell(4), return_sequences=True, return_state=True),
     lambda k: k.layers.RNN(k.layers.LSTMCell(4), return_sequences=True, return_state=True),
     (2, 5, 3), {}),
    ("rnn_grucell_back", lambda: L.RNN(L.GRUCell(4), go_backwards=True, return_sequences=True),
     lambda k: k.layers.RNN(k.layers.GRUCell(4), go_backwards=True, return_sequences=True),
     (2, 5, 3), {}),
    ("rnn_grucell_v1", lambda: L.RNN(L.GRUCell(4, reset_after=False), return_state=True),
     lambda k: k.layers.RNN(k.layers.GRUCell(4, reset_after=False), return_state=True),
     (2, 5, 3), {}),
    ("rnn_simplecell_relu", lambda: L.RNN(L.SimpleRNNCell(4, activation="relu"),
                                          return_state=True),
     lambda k: k.layers.RNN(k.layers.SimpleRNNCell(4, activation="relu"), return_state=True),
     (2, 5, 3), {}),
    ("rnn_stacked", lambda: L.RNN([L.LSTMCell(4), L.SimpleRNNCell(3), L.GRUCell(2)],
                                  return_state=True),
     lambda k: k.layers.RNN([k.layers.LSTMCell(4), k.layers.SimpleRNNCell(3),
                             k.layers.GRUCell(2)], return_state=True), (2, 5, 3), {}),
    ("rnn_custom_cell", lambda: L.RNN(MinimalRNNCell(4), return_sequences=True),
     lambda k: k.layers.RNN(_keras_minimal_cell(k)(4), return_sequences=True), (2, 5, 3), {}),
    ("bi_rnn_cell", lambda: L.Bidirectional(L.RNN(L.LSTMCell(3), return_sequences=True),
                                            merge_mode="ave"),
     lambda k: k.layers.Bidirectional(k.layers.RNN(k.layers.LSTMCell(3),
                                                   return_sequences=True), merge_mode="ave"),
     (2, 5, 4), {}),
] + [(f"bi_lstm_{m}", lambda m=m: L.Bidirectional(L.LSTM(3, return_sequences=True),
                                                   merge_mode=m),
      lambda k, m=m: k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True),
                                            merge_mode=m), (2, 5, 4), {})
     for m in ("concat", "sum", "mul", None)]


def _flat(y):
    if isinstance(y, (list, tuple)):
        return [t for e in y for t in _flat(e)]
    return [y]


@pytest.mark.parametrize("name, ours, theirs, shape, kw", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients_match_keras(name, ours, theirs, shape, kw, rng):
    keras = _keras()
    import torch

    x = rng.normal(size=shape).astype(np.float32)
    ref_layer, layer = theirs(keras), ours()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' torch conv-transpose padding notes
        xt = torch.tensor(x, requires_grad=True)
        ref = _flat(ref_layer(xt, **kw))
    layer(x)  # build
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in ref_layer.get_weights()]
    layer.set_weights(ref_layer.get_weights())
    xc = cr.tensor(x, requires_grad=True)
    got = _flat(layer(xc, **kw))
    assert len(got) == len(ref)
    coefs = [rng.normal(size=tuple(r.shape)).astype(np.float32) for r in ref]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.numpy(), r.detach().numpy(), rtol=RTOL, atol=ATOL)
    sum((r * torch.tensor(c)).sum() for r, c in zip(ref, coefs)).backward()
    sum((g * cr.tensor(c)).sum() for g, c in zip(got, coefs)).backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    ref_w, our_w = ref_layer.trainable_weights, layer.trainable_weights
    assert len(ref_w) == len(our_w)
    for a, b in zip(our_w, ref_w):
        np.testing.assert_allclose(a.value.grad.numpy(), b.value.grad.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=b.path)


# the guide's cell computes with keras.ops, which narrow float64 to float32 as Keras' own do:
# its gradients are held to Keras' above instead
F64_CASES = [c for c in CASES if c[0] != "rnn_custom_cell"]


@pytest.mark.parametrize("name, ours, theirs, shape, kw", F64_CASES,
                         ids=[c[0] for c in F64_CASES])
def test_gradcheck_float64(name, ours, theirs, shape, kw, rng):
    """Gradients w.r.t. the input and every weight against finite differences (float64)."""
    layer = ours()
    x = rng.normal(size=shape)
    layer(x.astype(np.float32))
    layer.to(cr.float64)
    with cr.no_grad():  # weights away from zero, so PReLU's alpha is not 0
        for p in layer.parameters():
            p.copy_(cr.tensor(rng.uniform(-0.5, 0.5, size=p.shape)))
    params = [p for p in layer.parameters() if p.requires_grad]

    def f(t, *ps):
        # finite differences pass perturbed copies of the weights: run the layer on them,
        # then put the originals back (the analytic pass gets the Parameters themselves)
        saved = [(p, p.detach().clone()) for p, q in zip(params, ps) if q is not p]
        with cr.no_grad():
            for (p, _), q in zip(saved, [q for p, q in zip(params, ps) if q is not p]):
                p.copy_(q)
        try:
            return [y.detach().clone() if saved else y for y in _flat(layer(t, **kw))]
        finally:
            with cr.no_grad():
                for p, old in saved:
                    p.copy_(old)

    x = x + np.sign(x) * 0.05  # keep inputs off the kinks of the ReLUs
    assert cr.gradcheck(f, x, *params)


@pytest.mark.parametrize("make", [lambda: L.ReLU(3.0, 0.1, 0.2), lambda: L.LeakyReLU(),
                                  lambda: L.ELU(), lambda: L.Softmax(axis=(0, 1))])
def test_activation_layers_gradgradcheck(make, rng):
    layer = make()
    x = rng.normal(size=(3, 4)) + 0.05
    assert cr.gradgradcheck(lambda t: layer(t), x)


# -- config and saving ---------------------------------------------------------------------------
SAVE_CASES = [c for c in CASES if c[0] not in ("rnn_custom_cell", "rnn_stacked")] + [
    ("rnn_stacked_seq", lambda: L.RNN([L.LSTMCell(4), L.GRUCell(2)], return_sequences=True),
     None, (2, 5, 3), {})]


@pytest.mark.parametrize("name, ours, theirs, shape, kw", SAVE_CASES,
                         ids=[c[0] for c in SAVE_CASES])
def test_config_and_save_round_trip(name, ours, theirs, shape, kw, rng, tmp_path):
    layer = ours()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = rng.normal(size=shape).astype(np.float32)
    inputs = L.Input(shape[1:])
    sym = _flat(layer(inputs))
    model = Model(inputs, sym if len(sym) > 1 else sym[0])
    y = _flat(layer(x))
    assert [s.shape for s in sym] == [(None,) + tuple(t.shape[1:]) for t in y]
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    for a, b in zip(y, _flat(loaded(x))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def test_keras_config_names_and_defaults():
    keras = _keras()
    keras.backend.clear_session()  # Keras' own layer-name counters, as ours start fresh
    pairs = [(L.ReLU(), keras.layers.ReLU()), (L.LeakyReLU(), keras.layers.LeakyReLU()),
             (L.ELU(), keras.layers.ELU()), (L.Softmax(), keras.layers.Softmax()),
             (L.PReLU(), keras.layers.PReLU()), (L.UpSampling1D(), keras.layers.UpSampling1D()),
             (L.UpSampling2D(), keras.layers.UpSampling2D()),
             (L.Conv2DTranspose(2, 3), keras.layers.Conv2DTranspose(2, 3)),
             (L.Conv1DTranspose(2, 3), keras.layers.Conv1DTranspose(2, 3)),
             (L.LSTMCell(3), keras.layers.LSTMCell(3)), (L.GRUCell(3), keras.layers.GRUCell(3)),
             (L.SimpleRNNCell(3), keras.layers.SimpleRNNCell(3)),
             (L.RNN(L.LSTMCell(3)), keras.layers.RNN(keras.layers.LSTMCell(3))),
             (L.Bidirectional(L.LSTM(3)), keras.layers.Bidirectional(keras.layers.LSTM(3))),
             (L.TimeDistributed(L.Dense(3)), keras.layers.TimeDistributed(
                 keras.layers.Dense(3)))]
    for ours, theirs in pairs:
        ref = theirs.get_config()
        got = ours.get_config()
        unsupported = {"dtype", "activity_regularizer", "kernel_constraint", "bias_constraint",
                       "recurrent_constraint"}  # options that only None is accepted for
        assert set(ref) - unsupported <= set(got), (type(ours).__name__, set(ref) - set(got))
        assert got["name"] == ref["name"]
        for key in ("negative_slope", "alpha", "axis", "max_value", "threshold", "size",
                    "interpolation", "units", "merge_mode", "return_sequences", "padding",
                    "unit_forget_bias", "reset_after"):
            if key in ref:
                want = list(ref[key]) if isinstance(ref[key], tuple) else ref[key]
                assert got[key] == want, (type(ours).__name__, key)
    assert L.LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3
    inner = L.LSTM(3)
    b = L.Bidirectional(inner)
    assert (b.forward_layer.name, b.backward_layer.name) == ("forward_" + inner.name,
                                                              "backward_" + inner.name)
    assert b.backward_layer.go_backwards and not b.forward_layer.go_backwards


def test_errors_name_the_layer_and_the_fix():
    with pytest.raises(ValueError, match="negative"):
        L.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        L.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="output_padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="state_size"):
        L.RNN(L.Dense(3))
    with pytest.raises(ValueError, match="Keras Layer"):
        L.TimeDistributed("dense")
    with pytest.raises(ValueError, match="broadcastable"):
        L.Softmax()(np.zeros((2, 3), np.float32), mask=np.ones((2, 4), bool))
    with pytest.raises(NotImplementedError, match="nested states"):
        L.RNN([L.LSTMCell(2), L.LSTMCell(2)], return_state=True)(L.Input((3, 2)))
    with pytest.warns(UserWarning, match="negative_slope"):
        assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1


# -- programs as the Keras guides write them -----------------------------------------------------
def _dcgan_generator(layers, keras_sequential, Input, latent_dim=8):
    """The DCGAN example's generator (keras.io/examples/generative/dcgan_overriding_train_step),
    smaller."""
    return keras_sequential([
        Input(shape=(latent_dim,)),
        layers.Dense(4 * 4 * 16),
        layers.Reshape((4, 4, 16)),
        layers.Conv2DTranspose(16, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(8, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(3, kernel_size=5, padding="same", activation="sigmoid"),
    ], name="generator")


def _bidirectional_lstm(layers, keras_sequential, Input):
    """The RNN guide's "Bidirectional RNNs" model."""
    model = keras_sequential()
    model.add(Input((5, 10)))
    model.add(layers.Bidirectional(layers.LSTM(16, return_sequences=True)))
    model.add(layers.Bidirectional(layers.LSTM(8)))
    model.add(layers.Dense(10))
    return model


def _video_classifier(layers, keras_sequential, Input):
    """A frame-wise CNN over clips (TimeDistributed), then an LSTM over the frames."""
    return keras_sequential([
        Input((4, 8, 8, 1)),
        layers.TimeDistributed(layers.Conv2D(4, 3, activation="relu")),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()),
        layers.LSTM(8),
        layers.Dense(3, activation="softmax"),
    ])


def _autoencoder(layers, keras_sequential, Input):
    """A small convolutional autoencoder: down with pooling, up with UpSampling2D, PReLU / ELU
    / ReLU activation layers."""
    return keras_sequential([
        Input((8, 8, 2)),
        layers.Conv2D(4, 3, padding="same"),
        layers.PReLU(shared_axes=[1, 2]),
        layers.MaxPooling2D(2),
        layers.Conv2D(4, 3, padding="same"),
        layers.ELU(),
        layers.UpSampling2D(2, interpolation="bilinear"),
        layers.Conv2D(2, 3, padding="same"),
        layers.ReLU(max_value=6.0),
    ])


PROGRAMS = [("dcgan_generator", _dcgan_generator, (3, 8)),
            ("bidirectional_lstm", _bidirectional_lstm, (3, 5, 10)),
            ("video_classifier", _video_classifier, (3, 4, 8, 8, 1)),
            ("autoencoder", _autoencoder, (3, 8, 8, 2))]


@pytest.mark.parametrize("name, program, shape", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_guide_programs_match_keras(name, program, shape, rng):
    keras = _keras()
    x = rng.normal(size=shape).astype(np.float32)
    theirs = program(keras.layers, keras.Sequential, keras.Input)
    ours = program(L, Sequential, L.Input)
    ours.set_weights(theirs.get_weights())
    ref = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)


def test_video_classifier_trains(rng):
    """compile / fit as a user writes it: the loss goes down."""
    model = _video_classifier(L, Sequential, L.Input)
    x = rng.normal(size=(32, 4, 8, 8, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3, 4)) > 0).astype(np.int64) + (x[:, 0].mean(axis=(1, 2, 3)) > 0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


def test_rnn_guide_custom_cells(rng, tmp_path):
    """The RNN guide's custom cell in RNN(cell) and RNN([cell, cell]), with a variable number of
    time steps, trained with fit, saved and loaded in a custom_object_scope."""
    cell = MinimalRNNCell(32)
    x = L.Input((None, 5))
    layer = L.RNN(cell)
    y = layer(x)
    assert y.shape == (None, 32)
    cells = [MinimalRNNCell(32), MinimalRNNCell(64)]
    x = L.Input((None, 5))
    layer = L.RNN(cells)
    y = layer(x)
    assert y.shape == (None, 64)

    model = Model(x, L.Dense(1)(y))
    model.compile(optimizer="sgd", loss="mse")
    data = rng.normal(size=(16, 7, 5)).astype(np.float32) * 0.1
    target = data.sum(axis=(1, 2))[:, None]
    before = model.evaluate(data, target, verbose=0)
    model.fit(data, target, epochs=3, batch_size=4, verbose=0)
    assert model.evaluate(data, target, verbose=0) < before
    assert model.predict(data[:, :3], verbose=0).shape == (16, 1)  # another length
    model.save(tmp_path / "rnn.keras")
    # a cell nested in RNN is rebuilt by RNN.from_config: custom_object_scope reaches it
    with custom_object_scope({"MinimalRNNCell": MinimalRNNCell}):
        loaded = load_model(tmp_path / "rnn.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_bidirectional_with_initial_state_and_stacked_cells_match_keras(rng):
    keras = _keras()
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    h = [rng.normal(size=(2, 4)).astype(np.float32) for _ in range(4)]
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    ref = np.asarray(theirs(x, initial_state=h).detach())
    ours = L.Bidirectional(L.LSTM(4, return_sequences=True))
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x, initial_state=h).numpy(), ref, rtol=1e-5, atol=1e-5)
    cell_theirs = keras.layers.RNN(keras.layers.StackedRNNCells(
        [keras.layers.GRUCell(3), keras.layers.LSTMCell(2)]), return_sequences=True)
    cell_ours = L.RNN(L.StackedRNNCells([L.GRUCell(3), L.LSTMCell(2)]), return_sequences=True)
    ref = np.asarray(cell_theirs(x).detach())
    cell_ours(x)
    cell_ours.set_weights(cell_theirs.get_weights())
    np.testing.assert_allclose(cell_ours(x).numpy(), ref, rtol=1e-5, atol=1e-5)
