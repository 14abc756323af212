"""The Keras 3 guide "Training & evaluation with the built-in methods"
(keras-io/guides/training_with_built_in_methods.py), its code run on real Keras 3 (torch
backend) and on chainrule.keras with only the imports changed, on the same weights and batches;
and Keras' cross-entropies on saturated outputs (clipped probabilities), fused or not."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import close, keras_or_skip, same_draws_each_run  # noqa: F401

import chainrule.keras as ck

pytestmark = pytest.mark.usefixtures("same_draws_each_run")


def _same_history(hk, hc, tol=1e-5):
    assert sorted(hc.history) == sorted(hk.history)
    for k in hk.history:
        close(hc.history[k], hk.history[k], tol)


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.random((n, 784)).astype("float32")
    y = rng.integers(0, 10, n).astype("uint8")
    return x, y


def _uncompiled(keras):
    layers = keras.layers
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def _twins(keras):
    km, cm = _uncompiled(keras), _uncompiled(ck)
    cm.set_weights(km.get_weights())
    return km, cm


def _custom_loss_and_metric(keras):
    ops = keras.ops

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    return CustomMSE, CategoricalTruePositives


def test_training_guide_custom_losses_and_metric_like_keras():
    keras = keras_or_skip()
    x, y = _data()
    results = []
    for lib, model in zip((keras, ck), _twins(keras)):
        ops = lib.ops
        custom_mse, true_positives = _custom_loss_and_metric(lib)

        def custom_mean_squared_error(y_true, y_pred, ops=ops):
            return ops.mean(ops.square(y_true - y_pred), axis=-1)

        y_one_hot = ops.one_hot(y, num_classes=10)
        model.compile(optimizer=lib.optimizers.Adam(), loss=custom_mean_squared_error)
        h1 = model.fit(x, y_one_hot, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.compile(optimizer=lib.optimizers.Adam(), loss=custom_mse())
        h2 = model.fit(x, y_one_hot, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.compile(optimizer=lib.optimizers.RMSprop(learning_rate=1e-3),
                      loss=lib.losses.SparseCategoricalCrossentropy(),
                      metrics=[true_positives()])
        h3 = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        results.append((h1, h2, h3))
    for hk, hc in zip(*results):
        _same_history(hk, hc)


def test_training_guide_py_dataset_and_weights_like_keras():
    keras = keras_or_skip()
    x, y = _data()
    results = []
    for lib, model in zip((keras, ck), _twins(keras)):

        class ExamplePyDataset(lib.utils.PyDataset):
            def __init__(self, x, y, batch_size, **kwargs):
                super().__init__(**kwargs)
                self.x = x
                self.y = y
                self.batch_size = batch_size

            def __len__(self):
                return int(np.ceil(len(self.x) / float(self.batch_size)))

            def __getitem__(self, idx):
                batch_x = self.x[idx * self.batch_size:(idx + 1) * self.batch_size]
                batch_y = self.y[idx * self.batch_size:(idx + 1) * self.batch_size]
                return batch_x, batch_y

        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["sparse_categorical_accuracy"])
        train, val = ExamplePyDataset(x[:64], y[:64], 32), ExamplePyDataset(x[64:], y[64:], 32)
        # shuffle=False: by default Keras shuffles a PyDataset's batch order
        h1 = model.fit(train, validation_data=val, epochs=1, shuffle=False, verbose=0)
        class_weight = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 2.0,
                        6: 1.0, 7: 1.0, 8: 1.0, 9: 1.0}
        h2 = model.fit(x, y, class_weight=class_weight, batch_size=32, epochs=1,
                       shuffle=False, verbose=0)
        sample_weight = np.ones(shape=(len(y),))
        sample_weight[y == 5] = 2.0
        h3 = model.fit(x, y, sample_weight=sample_weight, batch_size=32, epochs=1,
                       shuffle=False, verbose=0)
        results.append((h1, h2, h3, model.evaluate(val, verbose=0)))
    for hk, hc in zip(results[0][:3], results[1][:3]):
        _same_history(hk, hc)
    close(results[1][3], results[0][3])


def test_training_guide_checkpoints_and_a_decaying_learning_rate_like_keras(tmp_path):
    keras = keras_or_skip()
    x, y = _data()
    results = []
    for lib, model in zip((keras, ck), _twins(keras)):
        d = tmp_path / lib.__name__
        d.mkdir()
        lr_schedule = lib.optimizers.schedules.ExponentialDecay(
            0.1, decay_steps=100000, decay_rate=0.96, staircase=True)
        model.compile(optimizer=lib.optimizers.RMSprop(learning_rate=lr_schedule),
                      loss="sparse_categorical_crossentropy")
        callbacks = [lib.callbacks.ModelCheckpoint(
            filepath=str(d) + "/model-loss={loss:.2f}.keras", save_freq=2)]
        # lr 0.1 saturates the softmax: Keras clips the probabilities, and so do we
        h = model.fit(x, y, epochs=2, batch_size=32, callbacks=callbacks, shuffle=False,
                      verbose=0)
        results.append((h, sorted(p.name for p in d.iterdir())))
    _same_history(results[0][0], results[1][0], 1e-4)
    assert results[1][1] == results[0][1]


@pytest.mark.parametrize("activation,loss", [
    ("softmax", "sparse_categorical_crossentropy"),
    ("softmax", "categorical_crossentropy"),
    ("sigmoid", "binary_crossentropy"),
])
def test_saturated_outputs_give_keras_clipped_losses(activation, loss):
    keras = keras_or_skip()
    rng = np.random.default_rng(1)
    x = rng.random((16, 20)).astype("float32")
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 5, 16)
    elif loss == "categorical_crossentropy":
        y = np.eye(5, dtype="float32")[rng.integers(0, 5, 16)]
    else:
        y = rng.integers(0, 2, (16, 5)).astype("float32")
    values = []
    for lib in (keras, ck):
        model = lib.Sequential([lib.Input((20,)), lib.layers.Dense(5, activation=activation)])
        if lib is keras:
            w = [a * 40.0 for a in model.get_weights()]  # far into saturation
        model.set_weights(w)
        model.compile(optimizer="sgd", loss=loss)
        p = model.predict(x, verbose=0)
        direct = getattr(lib.losses, loss)(y, p)  # a NumPy y_pred, as Keras takes it
        values.append([model.evaluate(x, y, verbose=0), model.train_on_batch(x, y),
                       float(np.mean(lib.ops.convert_to_numpy(direct)))])
    assert values[0][0] > 5.0  # saturated indeed
    close(values[1], values[0])
