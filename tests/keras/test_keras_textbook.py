"""The examples textbooks print for Keras run unchanged but for their imports, and the facade
adds nothing numerically: a Keras-front-door model and the same chainrule.nn model, from the
same weights on the same batches, produce identical losses."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.keras import optimizers
from chainrule.keras.layers import Activation, Add, BatchNormalization, Dense, Input
from chainrule.keras.models import Model, Sequential
from chainrule.keras.utils import to_categorical
from chainrule.nn import functional as F


# -- the textbook code, verbatim but for the imports above ---------------------------------------
def residual_block(input_tensor, output_dim):
    x = Dense(output_dim, activation='relu')(input_tensor)
    x = Dense(output_dim)(x)
    output_tensor = Add()([x, input_tensor])
    return output_tensor


def test_residual_block_example(rng):
    input_tensor = Input(shape=(64,))
    output_tensor = residual_block(input_tensor, 64)
    model = Model(input_tensor, output_tensor)
    model.compile(optimizer='adam', loss='mse')

    x = rng.normal(size=(256, 64)).astype("float32")
    y = x + 0.1 * np.sin(x)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    pred = model.predict(x[:10], verbose=0)

    assert pred.shape == (10, 64)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense",
                                                                 "Add"]
    assert model.count_params() == 2 * (64 * 64 + 64)
    losses = history.history["loss"]
    assert len(losses) == 5 and losses[-1] < 0.5 * losses[0]
    # the skip connection is real: zero the branch and the block is the identity
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    np.testing.assert_allclose(model.predict(x[:4], verbose=0), x[:4], atol=1e-6)


def test_batchnorm_sequential_example(rng):
    model = Sequential()
    model.add(Dense(64, input_dim=20))
    model.add(BatchNormalization())
    model.add(Activation('relu'))
    model.add(Dense(10))
    model.add(BatchNormalization())
    model.add(Activation('softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])

    x_train = rng.normal(size=(600, 20)).astype("float32")
    labels = x_train[:, :10].argmax(1)
    y_train = to_categorical(labels, num_classes=10)
    history = model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    score = model.evaluate(x_train, y_train, batch_size=128, verbose=0)
    probs = model.predict(x_train[:5], verbose=0)

    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert history.history["accuracy"][-1] > history.history["accuracy"][0]
    assert score[1] > 0.6
    bn = model.layers[1]
    assert (bn.momentum, bn.epsilon) == (0.99, 1e-3)
    assert [w.shape for w in bn.get_weights()] == [(64,)] * 4
    assert not np.allclose(bn.get_weights()[2], 0)  # the moving mean moved


# -- the facade adds nothing numerically ---------------------------------------------------------
def _twins(rng, batchnorm: bool):
    """A Keras model and the chainrule.nn model with the same weights."""
    keras_layers = [Input((12,)), Dense(16, activation="relu")]
    if batchnorm:
        keras_layers.append(BatchNormalization())
    keras_layers.append(Dense(4, activation="softmax"))
    kmodel = Sequential(keras_layers)
    mods = [nn.Linear(12, 16), nn.ReLU()]
    if batchnorm:
        mods.append(nn.BatchNorm1d(16, eps=1e-3, momentum=0.01))
    mods.append(nn.Linear(16, 4))
    net = nn.Sequential(*mods)
    state, w = {}, kmodel.get_weights()
    state["0.weight"], state["0.bias"] = w[0].T, w[1]
    if batchnorm:
        state.update({"2.weight": w[2], "2.bias": w[3], "2.running_mean": w[4],
                      "2.running_var": w[5], "2.num_batches_tracked": np.array(0)})
        state["3.weight"], state["3.bias"] = w[6].T, w[7]
    else:
        state["2.weight"], state["2.bias"] = w[2].T, w[3]
    net.load_state_dict(state)
    return kmodel, net


@pytest.mark.parametrize("batchnorm", [False, True])
def test_same_losses_as_chainrule_nn_over_an_epoch(rng, batchnorm):
    x = rng.normal(size=(160, 12)).astype("float32")
    y = rng.integers(0, 4, size=160)
    kmodel, net = _twins(rng, batchnorm)
    batch_losses = []
    kmodel.compile(optimizer=optimizers.SGD(learning_rate=0.1),
                   loss="sparse_categorical_crossentropy")
    for s in range(0, 160, 32):
        batch_losses.append(kmodel.train_on_batch(x[s:s + 32], y[s:s + 32]))

    opt = optim.SGD(net.parameters(), lr=0.1)
    net.train()
    ref = []
    for s in range(0, 160, 32):
        loss = F.cross_entropy(net(cr.tensor(x[s:s + 32])), y[s:s + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref.append(float(loss.data))
    assert batch_losses == ref  # bit for bit


def test_fit_epoch_loss_equals_hand_loop(rng):
    """fit() (no shuffling) against a hand-written loop over the same batches: the logged epoch
    losses are the batch-size-weighted means of identical batch losses."""
    x = rng.normal(size=(200, 12)).astype("float32")
    y = rng.integers(0, 4, size=200)
    kmodel, net = _twins(rng, batchnorm=False)
    kmodel.compile(optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.0),
                   loss="sparse_categorical_crossentropy")
    logs = kmodel.fit(x, y, batch_size=50, epochs=2, shuffle=False, verbose=0).history["loss"]
    opt = optim.SGD(net.parameters(), lr=0.05)
    epoch_means = []
    for _ in range(2):
        total = 0.0
        for s in range(0, 200, 50):
            loss = F.cross_entropy(net(cr.tensor(x[s:s + 50])), y[s:s + 50])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.data) * 50
        epoch_means.append(total / 200)
    assert logs == pytest.approx(epoch_means, rel=1e-12)
    for (a, b) in zip(kmodel.get_weights()[::2], [net[0].weight.data, net[2].weight.data]):
        np.testing.assert_array_equal(a, b.T)
