"""The facade against real Keras (3.x on its torch backend), where Keras is importable: layer
outputs with the same weights, loss values, and optimizer updates agree.

Skipped when keras (or torch) is missing; run with the Keras package on PYTHONPATH.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if not hasattr(keras, "backend"):  # only this tests/keras folder, seen as a namespace package
    pytest.skip("keras is not installed", allow_module_level=True)
if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen
    pytest.skip("these comparisons run Keras on its torch backend", allow_module_level=True)

from chainrule.keras import layers as L  # noqa: E402
from chainrule.keras import losses as CL  # noqa: E402
from chainrule.keras import optimizers as CO  # noqa: E402
from chainrule.keras.models import Sequential  # noqa: E402

RTOL, ATOL = 2e-5, 2e-5


def _pair(ours, theirs, shape, rng, training=False):
    """Build both on `shape` (batch first), copy Keras' weights into ours, compare outputs."""
    x = rng.normal(size=shape).astype(np.float32)
    ref_out = theirs(x, training=training)
    ours(x)  # build
    ours.set_weights(theirs.get_weights())
    ours.train(training)
    got = ours(x)
    if isinstance(ref_out, (list, tuple)):
        ref = [np.asarray(r.detach().cpu()) for r in ref_out]
    else:
        ref = np.asarray(ref_out.detach().cpu())
    return got, ref


CASES = [
    ("dense", lambda: L.Dense(7, activation="tanh"), lambda: keras.layers.Dense(7, "tanh"),
     (4, 5)),
    ("dense3d", lambda: L.Dense(3), lambda: keras.layers.Dense(3), (2, 4, 5)),
    ("conv2d_same_s2", lambda: L.Conv2D(4, 3, strides=2, padding="same"),
     lambda: keras.layers.Conv2D(4, 3, strides=2, padding="same"), (2, 7, 8, 3)),
    ("conv2d_valid_dil", lambda: L.Conv2D(2, (3, 2), dilation_rate=2, activation="relu"),
     lambda: keras.layers.Conv2D(2, (3, 2), dilation_rate=2, activation="relu"), (2, 9, 8, 3)),
    ("conv1d_causal", lambda: L.Conv1D(3, 3, padding="causal"),
     lambda: keras.layers.Conv1D(3, 3, padding="causal"), (2, 10, 4)),
    ("conv1d_same_s2", lambda: L.Conv1D(3, 4, strides=2, padding="same"),
     lambda: keras.layers.Conv1D(3, 4, strides=2, padding="same"), (2, 9, 4)),
    ("maxpool_same", lambda: L.MaxPooling2D(3, 2, padding="same"),
     lambda: keras.layers.MaxPooling2D(3, 2, padding="same"), (2, 7, 6, 3)),
    ("avgpool_same", lambda: L.AveragePooling2D(3, 2, padding="same"),
     lambda: keras.layers.AveragePooling2D(3, 2, padding="same"), (2, 7, 7, 3)),
    ("avgpool_valid", lambda: L.AveragePooling2D(), lambda: keras.layers.AveragePooling2D(2),
     (2, 6, 6, 2)),
    ("maxpool1d", lambda: L.MaxPooling1D(2), lambda: keras.layers.MaxPooling1D(2), (2, 7, 3)),
    ("gap2d", lambda: L.GlobalAveragePooling2D(), lambda: keras.layers.GlobalAveragePooling2D(),
     (2, 4, 5, 3)),
    ("flatten", lambda: L.Flatten(), lambda: keras.layers.Flatten(), (2, 3, 4, 2)),
    ("layernorm", lambda: L.LayerNormalization(), lambda: keras.layers.LayerNormalization(),
     (3, 4, 6)),
    ("bn_infer", lambda: L.BatchNormalization(), lambda: keras.layers.BatchNormalization(),
     (6, 5)),
    ("simplernn", lambda: L.SimpleRNN(4, return_sequences=True),
     lambda: keras.layers.SimpleRNN(4, return_sequences=True), (2, 5, 3)),
    ("lstm", lambda: L.LSTM(4), lambda: keras.layers.LSTM(4), (2, 5, 3)),
    ("lstm_state", lambda: L.LSTM(3, return_sequences=True, return_state=True),
     lambda: keras.layers.LSTM(3, return_sequences=True, return_state=True), (2, 4, 3)),
    ("gru", lambda: L.GRU(4, return_sequences=True, go_backwards=True),
     lambda: keras.layers.GRU(4, return_sequences=True, go_backwards=True), (2, 5, 3)),
]


@pytest.mark.parametrize("name, ours, theirs, shape", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_keras(name, ours, theirs, shape, rng):
    theirs_layer = theirs()
    ours_layer = ours()
    if name == "bn_infer":  # move the statistics away from 0 / 1 first
        theirs_layer(rng.normal(size=shape).astype(np.float32))
        w = [rng.normal(size=a.shape).astype(np.float32) for a in theirs_layer.get_weights()]
        w[3] = np.abs(w[3]) + 0.5
        theirs_layer.set_weights(w)
    got, ref = _pair(ours_layer, theirs_layer, shape, rng)
    if isinstance(ref, list):
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g.numpy(), r, rtol=RTOL, atol=ATOL)
    else:
        np.testing.assert_allclose(got.numpy(), ref, rtol=RTOL, atol=ATOL)
    assert [w.shape for w in ours_layer.get_weights()] == \
        [w.shape for w in theirs_layer.get_weights()]


def test_batchnorm_training_update_matches_keras(rng):
    x = (rng.normal(size=(16, 3)) * 3 + 1).astype(np.float32)
    theirs = keras.layers.BatchNormalization()
    y_ref = np.asarray(theirs(x, training=True).detach())
    ours = L.BatchNormalization()
    ours.train(True)
    y = ours(x)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


LOSSES = [
    ("mse", {}), ("mae", {}), ("huber", {}), ("binary_crossentropy", {}),
    ("categorical_crossentropy", {}), ("sparse_categorical_crossentropy", {}),
    ("kl_divergence", {}), ("poisson", {}), ("log_cosh", {}), ("hinge", {}),
    ("squared_hinge", {}), ("mape", {}), ("msle", {}),
]


@pytest.mark.parametrize("name", [n for n, _ in LOSSES])
def test_loss_values_match_keras(name, rng):
    p = rng.uniform(0.05, 1, size=(6, 4)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    if name == "sparse_categorical_crossentropy":
        y = rng.integers(0, 4, size=6)
    elif name in ("categorical_crossentropy",):
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=6)]
    else:
        y = rng.uniform(0, 1, size=(6, 4)).astype(np.float32)
        if name in ("binary_crossentropy", "hinge", "squared_hinge"):
            y = (y > 0.5).astype(np.float32)
    sw = rng.uniform(0.5, 2, size=6).astype(np.float32)
    from keras.src.losses.losses import LossFunctionWrapper

    ref_loss = LossFunctionWrapper(keras.losses.get(name))
    for weights in (None, sw):
        ref = float(ref_loss(y, p, sample_weight=weights))
        got = CL.get(name)(y, p, sample_weight=weights).item()
        assert got == pytest.approx(ref, rel=2e-5, abs=1e-6), (name, weights is None)


OPTS = [
    ("SGD", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}), ("Adadelta", {"learning_rate": 1.0}),
    ("Adam", {}), ("Adam", {"amsgrad": True, "learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01}), ("Adamax", {}), ("Nadam", {"learning_rate": 0.01}),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 0.5}),
    ("Adam", {"global_clipnorm": 0.3, "weight_decay": 0.1}),
    ("SGD", {"learning_rate": 0.1, "clipvalue": 0.05}),
]


@pytest.mark.parametrize("name, kwargs", OPTS, ids=[f"{n}{k}" for n, k in OPTS])
def test_optimizer_trajectory_matches_keras(name, kwargs, rng):
    import torch

    w0 = rng.normal(size=(3, 4)).astype(np.float32)
    grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(20)]
    ref_opt = getattr(keras.optimizers, name)(**kwargs)
    v = keras.Variable(w0.copy())
    for g in grads:
        ref_opt.apply_gradients([(torch.tensor(g), v)])
    from chainrule.nn import Parameter

    p = Parameter(w0.copy())
    opt = getattr(CO, name)(**kwargs)
    for g in grads:
        opt.apply_gradients([(g, p)])
    np.testing.assert_allclose(p.numpy(), np.asarray(v.value.detach()), rtol=1e-5, atol=1e-6)


def test_sequential_fit_one_epoch_matches_keras(rng):
    """Same weights, same batches, Adam: the per-epoch loss and the weights agree."""
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    ref = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.BatchNormalization(),
                            keras.layers.Dense(3, activation="softmax")])
    ours = Sequential([L.Input((6,)), L.Dense(8, activation="relu"), L.BatchNormalization(),
                       L.Dense(3, activation="softmax")])
    ours.set_weights(ref.get_weights())
    for m, opt in ((ref, keras.optimizers.Adam(0.01)), (ours, CO.Adam(0.01))):
        m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h_ref = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    h = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h["loss"], h_ref["loss"], rtol=1e-4)
    np.testing.assert_allclose(h["accuracy"], h_ref["accuracy"])
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
