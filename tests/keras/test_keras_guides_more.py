"""More Keras 3 developer guides run unchanged but for the imports, against real Keras 3
(torch backend) on the same weights and batches: understanding_masking_and_padding,
writing_your_own_callbacks, writing_a_custom_training_loop_in_torch (its Keras-optimizer
loops, fed by a torch DataLoader) and serialization_and_saving."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _keras_oracle import close, keras_or_skip, same_draws_each_run  # noqa: F401

import chainrule.keras as ck

pytestmark = pytest.mark.usefixtures("same_draws_each_run")


# -- understanding_masking_and_padding.py ---------------------------------------------------------
def _masking_guide(keras):
    layers, ops = keras.layers, keras.ops
    out = {}
    raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded_inputs)
    out["embedding_mask"] = ops.convert_to_numpy(masked_output._keras_mask)
    masking_layer = layers.Masking()
    unmasked_embedding = ops.cast(
        ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), dtype="float32")
    masked_embedding = masking_layer(unmasked_embedding)
    out["masking_mask"] = ops.convert_to_numpy(masked_embedding._keras_mask)

    class TemporalSplit(keras.layers.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            if mask is None:
                return None
            return ops.split(mask, 2, axis=1)

    first_half, second_half = TemporalSplit()(masked_embedding)
    out["split_masks"] = [ops.convert_to_numpy(first_half._keras_mask),
                          ops.convert_to_numpy(second_half._keras_mask)]

    class MyActivation(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)
    out["mask_found"] = x._keras_mask is not None
    outputs = layers.LSTM(32)(x)
    out["lstm_model"] = keras.Model(inputs, outputs)

    class TemporalSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    out["softmax_model"] = keras.Model(inputs, outputs)
    return out


def test_masking_guide_like_keras():
    keras = keras_or_skip()
    k, c = _masking_guide(keras), _masking_guide(ck)
    for name in ("embedding_mask", "masking_mask"):  # read as the guide reads them
        np.testing.assert_array_equal(c[name], k[name])
    for a, b in zip(c["split_masks"], k["split_masks"]):
        np.testing.assert_array_equal(a, b)
    assert c["mask_found"] and k["mask_found"]
    x = np.random.default_rng(0).integers(1, 10, (8, 12))
    x[:, 7:] = 0
    for name in ("lstm_model", "softmax_model"):
        c[name].set_weights(k[name].get_weights())
        close(c[name].predict(x, verbose=0), k[name].predict(x, verbose=0))


# -- writing_your_own_callbacks.py ---------------------------------------------------------------
def _callbacks_guide(keras, weights):
    rng = np.random.default_rng(1)
    x_train, y_train = rng.random((256, 784)).astype("float32"), rng.integers(0, 10, 256)
    x_test, y_test = rng.random((100, 784)).astype("float32"), rng.integers(0, 10, 100)
    events, printed = [], []

    def get_model():
        model = keras.Sequential()
        model.add(keras.layers.Dense(1))
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                      loss="mean_squared_error", metrics=["mean_absolute_error"])
        model.build((None, 784))
        if weights is None:
            weights_seen.append(model.get_weights())
        else:
            model.set_weights(weights.pop(0))
        return model

    class CustomCallback(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", sorted(logs.keys())))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs.keys())))

        def on_test_begin(self, logs=None):
            events.append(("test_begin", sorted(logs.keys())))

        def on_test_end(self, logs=None):
            events.append(("test_end", sorted(logs.keys())))

        def on_predict_end(self, logs=None):
            events.append(("predict_end", sorted(logs.keys())))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("train_batch_end", batch, sorted(logs.keys())))

        def on_test_batch_end(self, batch, logs=None):
            events.append(("test_batch_end", batch, sorted(logs.keys())))

        def on_predict_batch_end(self, batch, logs=None):
            events.append(("predict_batch_end", batch, sorted(logs.keys())))

    model = get_model()
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0, validation_split=0.5,
              callbacks=[CustomCallback()], shuffle=False)
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])
    model.predict(x_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])

    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            printed.append(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

        def on_epoch_end(self, epoch, logs=None):
            printed.append(f"The average loss for epoch {epoch} is {logs['loss']:7.2f} and mean "
                           f"absolute error is {logs['mean_absolute_error']:7.2f}.")

    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait = 0
            self.stopped_epoch = 0
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best = current
                self.wait = 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

        def on_train_end(self, logs=None):
            if self.stopped_epoch > 0:
                printed.append(f"Epoch {self.stopped_epoch + 1}: early stopping")

    model = get_model()
    h = model.fit(x_train, y_train, batch_size=64, epochs=30, verbose=0, shuffle=False,
                  callbacks=[LossAndErrorPrintingCallback(), EarlyStoppingAtMinLoss()])
    return events, printed, h.history, model.get_weights()


weights_seen: list = []


def test_callbacks_guide_like_keras():
    keras = keras_or_skip()
    weights_seen.clear()
    k = _callbacks_guide(keras, None)
    c = _callbacks_guide(ck, list(weights_seen))
    assert c[0] == k[0]  # the same hooks, in the same order, with the same log keys
    # the guide's printed lines, early stopping included (numbers to rounding: the losses
    # reach thousands, where float32 sums may differ in the printed second decimal)
    assert [re.sub(r"[\d.]+", "#", line) for line in c[1]] == \
        [re.sub(r"[\d.]+", "#", line) for line in k[1]]
    for a, b in zip(c[1], k[1]):
        np.testing.assert_allclose([float(v) for v in re.findall(r"\d+\.\d+", a)],
                                   [float(v) for v in re.findall(r"\d+\.\d+", b)],
                                   rtol=1e-4, atol=0.011)
    assert sorted(c[2]) == sorted(k[2])
    for name in k[2]:
        close(c[2][name], k[2][name], 1e-4)
    for a, b in zip(c[3], k[3]):
        close(a, b, 1e-4)


# -- writing_a_custom_training_loop_in_torch.py ----------------------------------------------------
def _custom_loop(keras, weights, train_dataloader, val_dataloader):
    import torch

    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    if weights is not None:
        model.set_weights(weights)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.CategoricalAccuracy()
    val_acc_metric = keras.metrics.CategoricalAccuracy()
    seen = []
    for _epoch in range(2):
        for _step, (inputs, targets) in enumerate(train_dataloader):
            logits = model(inputs)
            loss = loss_fn(targets, logits)
            model.zero_grad()
            trainable_weights = [v for v in model.trainable_weights]
            loss.backward()
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                optimizer.apply(gradients, trainable_weights)
            train_acc_metric.update_state(targets, logits)
            seen.append(float(loss.detach().numpy()))
        seen.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
        for x_batch_val, y_batch_val in val_dataloader:
            val_logits = model(x_batch_val, training=False)
            val_acc_metric.update_state(y_batch_val, val_logits)
        seen.append(float(val_acc_metric.result()))
        val_acc_metric.reset_state()
    return model, seen


def test_custom_training_loop_guide_with_a_torch_dataloader_like_keras():
    keras = keras_or_skip()
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x_train = rng.random((128, 784)).astype("float32")
    y_train = np.eye(10, dtype="float32")[rng.integers(0, 10, 128)]
    train_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train),
                                                   torch.from_numpy(y_train))
    val_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train[:32]),
                                                 torch.from_numpy(y_train[:32]))
    loaders = (torch.utils.data.DataLoader(train_dataset, batch_size=32, shuffle=False),
               torch.utils.data.DataLoader(val_dataset, batch_size=32, shuffle=False))
    start = _first_weights(keras)  # the same starting weights for both
    _, k = _custom_loop(keras, start, *loaders)
    _, c = _custom_loop(ck, start, *loaders)
    close(c, k)


def _first_weights(keras):
    inputs = keras.Input(shape=(784,))
    x = keras.layers.Dense(64, activation="relu")(inputs)
    x = keras.layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x)).get_weights()


# -- serialization_and_saving.py -----------------------------------------------------------------
def _saving_guide(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="MyLayers")
    class CustomLayer(keras.layers.Layer):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}

    @keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
    def custom_fn(x):
        return x**2

    inputs = keras.Input(shape=(4,))
    mid = CustomLayer(0.5)(inputs)
    outputs = keras.layers.Dense(3, activation=custom_fn)(mid)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    rng = np.random.default_rng(3)
    model.fit(rng.random((4, 4)), rng.random((4, 3)), verbose=0)
    test_input = rng.random((4, 4))
    model.save(tmp_path / "custom_model.keras")
    reconstructed_model = keras.models.load_model(tmp_path / "custom_model.keras")
    np.testing.assert_allclose(model.predict(test_input, verbose=0),
                               reconstructed_model.predict(test_input, verbose=0))
    custom_objects = {"CustomLayer": CustomLayer, "custom_fn": custom_fn}
    with keras.saving.custom_object_scope(custom_objects):
        new_model = keras.models.clone_model(model)  # a registered activation by its name
    assert len(new_model.weights) == len(model.weights)
    my_reg = keras.regularizers.L1(0.005)
    config = keras.saving.serialize_keras_object(my_reg)
    new_reg = keras.saving.deserialize_keras_object(config)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    new_model = keras.models.model_from_json(model.to_json())
    return config, type(new_reg).__name__, len(new_model.weights)


def test_saving_guide_like_keras(tmp_path):
    keras = keras_or_skip()
    (tmp_path / "k").mkdir()
    (tmp_path / "c").mkdir()
    kc, kname, kn = _saving_guide(keras, tmp_path / "k")
    cc, cname, cn = _saving_guide(ck, tmp_path / "c")
    assert (cc["module"], cc["class_name"]) == (kc["module"], kc["class_name"]) \
        == ("keras.regularizers", "L1")
    assert (cname, cn) == (kname, kn) == ("L1", 2)
