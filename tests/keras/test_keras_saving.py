"""model.save / load_model and save_weights / load_weights: round trips, and clear errors for
truncated, tampered or foreign files (nothing is unpickled or executed on load)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule import io
from chainrule.io import CheckpointError
from chainrule.keras import optimizers
from chainrule.keras.layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    Input,
    Lambda,
    LayerNormalization,
    MaxPooling2D,
)
from chainrule.keras.models import (
    Model,
    ModelFormatError,
    Sequential,
    load_model,
    model_from_json,
)


def _two_headed():
    a, b = Input((6,), name="a"), Input((4, 3), name="b")
    x = Dense(8, activation="relu")(a)
    y = GRU(5)(b)
    z = BatchNormalization()(Concatenate()([x, y]))
    model = Model([a, b], [Dense(3, activation="softmax", name="cls")(z),
                           Dense(1, name="reg")(z)])
    model.compile(optimizer=optimizers.Adam(1e-2),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics={"cls": ["accuracy"]})
    return model


def _data(rng):
    return ([rng.random((64, 6)), rng.random((64, 4, 3))],
            [rng.integers(0, 3, 64), rng.random(64)])


def test_round_trip_keeps_architecture_weights_compile_and_optimizer_state(tmp_path, rng):
    model = _two_headed()
    x, y = _data(rng)
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.to_json() == model.to_json()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)[0], model.predict(x, verbose=0)[0])
    # training goes on exactly as it would have (Adam's moments and step count came along)
    h1 = model.fit(x, y, epochs=1, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, y, epochs=1, shuffle=False, verbose=0).history
    assert h1 == h2 and set(h1) == {"loss", "cls_loss", "reg_loss", "cls_accuracy"}


def test_round_trip_of_many_layer_kinds(tmp_path, rng):
    cnn = Sequential([Input((8, 8, 1)), Conv2D(4, 3, padding="same", activation="relu"),
                      MaxPooling2D(), Flatten(), Dropout(0.2), Dense(3, activation="softmax")])
    text = Sequential([Input((5,)), Embedding(20, 4), LSTM(3, return_sequences=True),
                       LayerNormalization(), GlobalAveragePooling1D(), Dense(1)])
    for model, x in ((cnn, rng.random((2, 8, 8, 1))), (text, rng.integers(0, 20, (2, 5)))):
        model.save(tmp_path / "m.keras")
        loaded = load_model(tmp_path / "m.keras")
        assert loaded.compiled is None  # it was never compiled
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        clone = model_from_json(model.to_json())
        assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]


def test_weights_only(tmp_path, rng):
    model = _two_headed()
    model.save_weights(tmp_path / "w.safetensors")
    other = _two_headed()
    other.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    small = Sequential([Input((6,)), Dense(2)])
    with pytest.raises(ModelFormatError, match="holds 13 weights, the model has 2"):
        small.load_weights(tmp_path / "w.safetensors")


def test_truncated_file(tmp_path):
    model = Sequential([Input((4,)), Dense(3)])
    path = tmp_path / "m.keras"
    model.save(path)
    data = path.read_bytes()
    for cut in (4, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated"):
            load_model(path)


def test_tampered_file(tmp_path):
    model = Sequential([Input((4,)), Dense(3)])
    path = tmp_path / "m.keras"
    model.save(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x55  # one weight byte
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered or corrupted"):
        load_model(path)
    # the JSON header edited in place, e.g. a layer swapped for another class
    text = path.read_bytes()
    edited = text.replace(b'\\"Dense\\"', b'\\"Dence\\"')
    assert edited != text
    path.write_bytes(edited)
    with pytest.raises(CheckpointError, match="tampered"):
        load_model(path)


def test_closed_registry_even_for_a_consistent_file(tmp_path):
    """A well-formed file (valid hash) naming a class outside the registry is refused."""
    model = Sequential([Input((4,)), Dense(3)])
    path = tmp_path / "m.keras"
    model.save(path)
    doc = io.load_raw(path)
    doc["model"]["config"]["layers"][0]["class_name"] = "os.system"
    io.save(doc, path)
    with pytest.raises(ModelFormatError, match="unknown layer class 'os.system'.*Dense"):
        load_model(path)
    doc["model"]["config"]["layers"][0] = {"class_name": "Dense",
                                           "config": {"units": 3, "evil": "payload"}}
    io.save(doc, path)
    with pytest.raises(ModelFormatError, match="unknown option.*evil"):
        load_model(path)
    io.save({"not": "a model"}, path)
    with pytest.raises(ModelFormatError, match="not a chainrule.keras model file"):
        load_model(path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


def test_unsaveable_parts_say_why(tmp_path):
    x = Input((3,))
    model = Model(x, Lambda(lambda t: t * 2)(x))
    with pytest.raises(ValueError, match="Lambda.*cannot be saved.*save_weights"):
        model.save(tmp_path / "m.keras")

    class Custom(Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, inputs, training=None):
            return self.d(inputs)

    sub = Custom()
    sub(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="subclassed Model.*save_weights"):
        sub.save(tmp_path / "m.keras")
    sub.save_weights(tmp_path / "w.st")  # weights-only works
    assert len(io.load_raw(tmp_path / "w.st")["weights"]) == 2


def test_custom_activation_needs_custom_objects(tmp_path):
    def scaled_tanh(t):
        return t.tanh() * 1.5

    model = Sequential([Input((2,)), Dense(2, activation=scaled_tanh)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ModelFormatError, match="custom_objects"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"scaled_tanh": scaled_tanh})
    x = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_overwrite_false_and_json_is_plain(tmp_path):
    model = Sequential([Input((4,)), Dense(3)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    cfg = json.loads(model.to_json())
    assert cfg["class_name"] == "Sequential"
    assert cfg["config"]["layers"][0]["config"]["units"] == 3
