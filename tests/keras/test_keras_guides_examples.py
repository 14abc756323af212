"""Keras 3 examples (keras-io/examples) run unchanged but for the imports, on synthetic data of
the downloads' shapes and dtypes, against real Keras 3 (torch backend) on the same weights:
timeseries/timeseries_classification_from_scratch (trained, checkpointed, reloaded),
vision/mnist_convnet and nlp/text_classification_from_scratch (their models, whose Dropout
draws differ between the libraries, compared in inference and trained for an epoch)."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import close, keras_or_skip, same_draws_each_run  # noqa: F401

import chainrule.keras as ck

pytestmark = pytest.mark.usefixtures("same_draws_each_run")


def _timeseries_example(keras, weights, path, x_train, y_train, x_test, y_test):
    num_classes = len(np.unique(y_train))

    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)
        conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)
        conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)
        conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)
        gap = keras.layers.GlobalAveragePooling1D()(conv3)
        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    model = make_model(input_shape=x_train.shape[1:])
    if weights is not None:
        model.set_weights(weights)
    start = model.get_weights()
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(path / "best_model.keras"), save_best_only=True,
                                        monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1,
                                          min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, verbose=0),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(x_train, y_train, batch_size=16, epochs=4, callbacks=callbacks,
                        validation_split=0.2, verbose=0, shuffle=False)
    model = keras.models.load_model(path / "best_model.keras")
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    return start, history.history, test_loss, test_acc


def test_timeseries_classification_example_like_keras(tmp_path):
    keras = keras_or_skip()
    rng = np.random.default_rng(0)
    x_train, y_train = rng.normal(size=(48, 50, 1)).astype("float32"), rng.integers(0, 2, 48)
    x_test, y_test = rng.normal(size=(16, 50, 1)).astype("float32"), rng.integers(0, 2, 16)
    data = (x_train, y_train, x_test, y_test)
    (tmp_path / "k").mkdir()
    (tmp_path / "c").mkdir()
    start, hk, lk, ak = _timeseries_example(keras, None, tmp_path / "k", *data)
    _, hc, lc, ac = _timeseries_example(ck, start, tmp_path / "c", *data)
    assert sorted(hc) == sorted(hk)  # learning_rate logged by ReduceLROnPlateau too
    for name in hk:
        close(hc[name], hk[name], 2e-5)
    close([lc, ac], [lk, ak], 2e-5)


def _mnist_convnet(keras):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def _text_classifier(keras, max_features=200, embedding_dim=16):
    layers = keras.layers
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return keras.Model(inputs, predictions)


def test_mnist_convnet_and_text_classification_examples_like_keras():
    keras = keras_or_skip()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (32, 28, 28)).astype("uint8")
    x = np.expand_dims(images.astype("float32") / 255, -1)
    y = keras.utils.to_categorical(rng.integers(0, 10, 32), 10)
    close(ck.utils.to_categorical(np.argmax(y, 1), 10), y)
    texts = rng.integers(0, 200, (32, 60)).astype("int64")
    labels = rng.integers(0, 2, (32, 1)).astype("float32")
    for build, loss, xs, ys in ((_mnist_convnet, "categorical_crossentropy", x, y),
                                (_text_classifier, "binary_crossentropy", texts, labels)):
        km, cm = build(keras), build(ck)
        cm.set_weights(km.get_weights())
        for model in (km, cm):
            model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
        close(cm.predict(xs, verbose=0), km.predict(xs, verbose=0))
        close(cm.evaluate(xs, ys, verbose=0), km.evaluate(xs, ys, verbose=0))
        h = cm.fit(xs, ys, batch_size=16, epochs=1, validation_split=0.25, verbose=0)
        assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
        assert np.isfinite(h.history["loss"][0])
