"""fit on real MNIST (the t10k files beside the checkout: first 8 000 images to train, last
2 000 to test) with Dense 256-256-10 and Adam reaches >= 95.5 % test accuracy in 10 epochs.
Takes a few seconds on an idle machine; deselect with -m "not slow"."""

from __future__ import annotations

import pytest

from chainrule.data.datasets.idx import read_idx
from chainrule.keras.layers import Dense, Input
from chainrule.keras.models import Sequential
from chainrule.keras.utils import set_random_seed


@pytest.mark.slow
def test_mnist_mlp_reaches_95_5_percent(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    x = images.reshape(len(images), 784).astype("float32") / 255.0
    y = labels.astype("int64")
    x_train, y_train, x_test, y_test = x[:8000], y[:8000], x[-2000:], y[-2000:]

    set_random_seed(0)
    model = Sequential([
        Input(shape=(784,)),
        Dense(256, activation="relu"),
        Dense(256, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

    assert history.history["accuracy"][-1] > 0.97
    assert accuracy >= 0.955, f"test accuracy {accuracy:.4f}"
    assert (model.predict(x_test, verbose=0).argmax(1) == y_test).mean() == accuracy
