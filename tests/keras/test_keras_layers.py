"""The layers, losses, metrics, initializers and optimizers of the facade on their own: shapes,
Keras' formulas (checked against NumPy), gradients through the adapters."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import initializers, losses, metrics, optimizers
from chainrule.keras import layers as L
from chainrule.keras.utils import set_random_seed, to_categorical


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


SHAPE_CASES = [
    (lambda: L.Dense(3), (4, 5)), (lambda: L.Dense(3), (2, 4, 5)),
    (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (2, 7, 6, 3)),
    (lambda: L.Conv2D(4, (3, 2), data_format="channels_first"), (2, 3, 7, 6)),
    (lambda: L.Conv1D(2, 3, padding="causal", dilation_rate=2), (2, 9, 3)),
    (lambda: L.MaxPooling2D(3, 2, padding="same"), (2, 7, 5, 2)),
    (lambda: L.AveragePooling2D((2, 3)), (2, 6, 7, 2)),
    (lambda: L.AveragePooling1D(2, padding="same"), (2, 7, 3)),
    (lambda: L.GlobalMaxPooling2D(keepdims=True), (2, 4, 4, 3)),
    (lambda: L.GlobalAveragePooling1D(), (2, 5, 3)),
    (lambda: L.Flatten(), (2, 3, 4, 5)), (lambda: L.Reshape((-1, 2)), (2, 3, 4)),
    (lambda: L.Embedding(10, 4), (3, 6)), (lambda: L.Dropout(0.5), (2, 3)),
    (lambda: L.LayerNormalization(axis=[-2, -1]), (2, 3, 4)),
    (lambda: L.BatchNormalization(axis=1), (4, 3, 5)),
    (lambda: L.SimpleRNN(3, activation="relu"), (2, 4, 5)),
    (lambda: L.LSTM(3, return_sequences=True), (2, 4, 5)),
    (lambda: L.GRU(3, return_state=True), (2, 4, 5)),
]


@pytest.mark.parametrize("make, shape", SHAPE_CASES)
def test_symbolic_shapes_match_eager_shapes(make, shape, rng):
    layer = make()
    sym = layer(L.Input(shape[1:]))
    x = rng.integers(0, 10, shape) if isinstance(layer, L.Embedding) else rng.normal(size=shape)
    out = layer(x.astype(np.float32))
    sym, out = (sym, out) if isinstance(sym, list) else ([sym], [out])
    for s, o in zip(sym, out):
        assert s.shape == (None,) + o.shape[1:]


def test_gradients_flow_through_the_adapters(rng):
    """float64 gradcheck of d(sum of a Conv2D -> BN -> pool -> LSTM -> Dense stack)/d input."""
    conv, bn, pool = L.Conv2D(2, 3, strides=2, padding="same"), L.BatchNormalization(), \
        L.MaxPooling2D(2, padding="same")
    lstm, dense = L.LSTM(3, go_backwards=True), L.Dense(2, activation="tanh")
    x = rng.normal(size=(2, 5, 6, 2))

    def f(t):
        h = pool(bn(conv(t)))  # (2, 2, 2, 2)
        return dense(lstm(h.reshape(2, 4, 2)))

    f(x.astype(np.float32))
    for layer in (conv, bn, pool, lstm, dense):
        layer.to(cr.float64)
    bn.train(True)
    assert cr.gradcheck(f, x)


def _keras_gru(x, K, R, b):
    """Keras' GRU (reset_after=True), gates z, r, h, in NumPy."""
    u = R.shape[0]
    h = np.zeros((x.shape[0], u))
    for t in range(x.shape[1]):
        xi, hr = x[:, t] @ K + b[0], h @ R + b[1]
        z = _sigmoid(xi[:, :u] + hr[:, :u])
        r = _sigmoid(xi[:, u:2 * u] + hr[:, u:2 * u])
        hh = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
        h = z * h + (1 - z) * hh
    return h


def _keras_lstm(x, K, R, b):
    """Keras' LSTM, gates i, f, c, o, in NumPy."""
    u = R.shape[0]
    h = c = np.zeros((x.shape[0], u))
    for t in range(x.shape[1]):
        g = x[:, t] @ K + h @ R + b
        i, f, o = _sigmoid(g[:, :u]), _sigmoid(g[:, u:2 * u]), _sigmoid(g[:, 3 * u:])
        c = f * c + i * np.tanh(g[:, 2 * u:3 * u])
        h = o * np.tanh(c)
    return h


@pytest.mark.parametrize("kind, ref", [("GRU", _keras_gru), ("LSTM", _keras_lstm)])
def test_recurrent_layers_follow_keras_gate_layout(kind, ref, rng):
    layer = getattr(L, kind)(4)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    layer(x)
    weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]
    layer.set_weights(weights)
    np.testing.assert_allclose(layer(x).numpy(), ref(x.astype(np.float64), *weights),
                               rtol=1e-5, atol=1e-5)
    for a, b in zip(layer.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert len(layer.trainable_weights) == 3


def test_keras_initialisation_conventions(rng):
    lstm = L.LSTM(5)
    lstm(np.zeros((1, 2, 3), dtype=np.float32))
    kernel, recurrent, bias = lstm.get_weights()
    assert bias.tolist() == [0.0] * 5 + [1.0] * 5 + [0.0] * 10  # unit_forget_bias
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(5), atol=1e-5)  # orthogonal
    limit = np.sqrt(6 / (3 + 20))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
    he = initializers.get("he_normal")((400, 300))
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert np.abs(he).max() <= 2 * np.sqrt(2 / 400) / 0.8796 + 1e-6  # truncated
    conv = initializers.compute_fans((3, 3, 4, 8))
    assert conv == (36.0, 72.0)
    emb = L.Embedding(50, 4)
    emb(np.zeros((1, 1)))
    assert np.abs(emb.get_weights()[0]).max() <= 0.05


def test_dropout_only_while_training(rng):
    layer = L.Dropout(0.25)
    x = np.ones((200, 50), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference by default, as Keras
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)


def test_dropout_seed_gives_the_layer_its_own_generator():
    x = np.ones((20, 30), dtype=np.float32)
    a = L.Dropout(0.5, seed=7)(x, training=True).numpy()
    set_random_seed(123)  # the global generator plays no part
    b = L.Dropout(0.5, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert 0 < (a == 0).mean() < 1
    np.testing.assert_array_equal(x, 1.0)  # the input is not changed in place


def test_conv_channels_first_equals_channels_last(rng):
    last, first = L.Conv2D(3, 2, strides=(1, 2)), L.Conv2D(3, 2, strides=(1, 2),
                                                            data_format="channels_first")
    x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    last(x)
    first(x.transpose(0, 3, 1, 2))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(x.transpose(0, 3, 1, 2)).numpy().transpose(0, 2, 3, 1),
                               last(x).numpy(), rtol=1e-5, atol=1e-6)
    assert last.kernel.shape == (2, 2, 4, 3)


def test_merge_layers(rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    np.testing.assert_allclose(L.Subtract()([a, b]).numpy(), a - b, rtol=1e-6)
    np.testing.assert_allclose(L.Average()([a, b]).numpy(), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(L.Maximum()([a, b]).numpy(), np.maximum(a, b))
    c = L.concatenate([L.Input((3,)), L.Input((4,))])
    assert c.shape == (None, 7)
    with pytest.raises(cr.ShapeError, match="exactly 2"):
        L.Subtract()([L.Input((3,))] * 3)


def test_fused_and_plain_cross_entropy_agree(rng):
    logits = cr.tensor(rng.normal(size=(8, 5)).astype(np.float32))
    probs = logits.softmax(-1)
    y = rng.integers(0, 5, 8)
    for loss, target in ((losses.SparseCategoricalCrossentropy(), y),
                         (losses.CategoricalCrossentropy(), to_categorical(y, 5))):
        plain = loss(target, probs).item()
        fused = loss.from_logits_call(target, logits).item()
        assert fused == pytest.approx(plain, rel=1e-5)
        by_flag = type(loss)(from_logits=True)(target, logits).item()
        assert by_flag == pytest.approx(fused, rel=1e-6)
    p = cr.tensor(np.array([[0.0], [1.0]], dtype=np.float32))
    assert np.isfinite(losses.BinaryCrossentropy()(np.array([1.0, 0.0]), p).item())


def test_accuracy_is_resolved_like_keras():
    assert metrics.get("accuracy", None, np.zeros((4, 1)), np.zeros((4, 1))).fn is \
        metrics.binary_accuracy
    assert metrics.get("acc", None, np.zeros(4), np.zeros((4, 3))).fn is \
        metrics.sparse_categorical_accuracy
    assert metrics.get("accuracy", None, np.zeros((4, 3)), np.zeros((4, 3))).fn is \
        metrics.categorical_accuracy
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    m.update_state(np.array([0, 1]), np.array([[0.1, 0.5, 0.4], [0.2, 0.1, 0.7]]))
    assert m.result() == 0.0
    m.update_state(np.array([2]), np.array([[0.1, 0.5, 0.4]]))
    assert m.result() == pytest.approx(1 / 3)
    rec = metrics.Recall()
    rec.update_state(np.array([1, 1, 0, 1]), np.array([0.9, 0.2, 0.8, 0.7]))
    assert rec.result() == pytest.approx(2 / 3)


def test_keras_update_rules_by_hand():
    """One or two steps of Keras' Adam and momentum SGD computed by hand."""
    p = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
    g = np.array([0.5, -0.1])
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply_gradients([(g, p)])
    m, v = 0.1 * g, 0.001 * g * g
    alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(p.numpy(), [1.0, -2.0] - alpha * m / (np.sqrt(v) + 1e-7))
    q = cr.nn.Parameter(cr.tensor([1.0], dtype=cr.float64))
    sgd = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    for _ in range(2):
        sgd.apply_gradients([(np.array([1.0]), q)])
    np.testing.assert_allclose(q.numpy(), [1.0 - 0.1 - (0.9 * 0.1 + 0.1)])
    assert optimizers.Adam().learning_rate == 0.001 and optimizers.SGD().learning_rate == 0.01
    assert optimizers.Adam().epsilon == 1e-7 and optimizers.RMSprop().rho == 0.9


def test_weight_decay_skips_variables_without_a_gradient():
    """As Keras: a None gradient leaves its variable alone, weight decay included."""
    used, unused = cr.nn.Parameter(cr.ones(2)), cr.nn.Parameter(cr.ones(2))
    sgd = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    sgd.apply_gradients([(np.ones(2, dtype=np.float32), used), (None, unused)])
    np.testing.assert_allclose(used.numpy(), [0.85, 0.85], rtol=1e-6)  # (1 - 0.05) - 0.1
    np.testing.assert_array_equal(unused.numpy(), [1.0, 1.0])


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match="labels must lie in"):
        to_categorical([3], 3)
