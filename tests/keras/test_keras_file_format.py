"""load_model on files saved by real Keras 3 (.keras: config.json + model.weights.h5):
the rebuilt chainrule.keras model predicts what the Keras model predicts. Reading the HDF5
weights needs h5py (optional); without it the error says so."""

from __future__ import annotations

import builtins
import zipfile

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule.keras as ck

R = np.random.default_rng(0)


def _sequential_rnn(K):
    return K.Sequential([K.Input((6, 4)), K.layers.LSTM(5, return_sequences=True),
                         K.layers.BatchNormalization(), K.layers.GRU(3, reset_after=False),
                         K.layers.Dense(2, activation="softmax", kernel_regularizer="l2")])


def _convnet(K):
    return K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(4, 3, activation="relu"),
                         K.layers.MaxPooling2D(), K.layers.Flatten(), K.layers.Dropout(0.5),
                         K.layers.Dense(3)])


def _text(K):
    return K.Sequential([K.Input((7,), dtype="int32"), K.layers.Embedding(20, 4, mask_zero=True),
                         K.layers.Bidirectional(K.layers.LSTM(3)),
                         K.layers.Dense(1, activation="sigmoid")])


def _two_inputs(K):
    a, b = K.Input((6,), name="a"), K.Input((4,), name="b")
    x = K.layers.Dense(8, activation="relu")(a)
    y = K.layers.Dense(8)(b)
    z = K.layers.Concatenate()([x, K.layers.Add()([x, y])])
    return K.Model([a, b], K.layers.Dense(1)(K.layers.LayerNormalization()(z)))


def _seq2seq(K):
    enc_in, dec_in = K.Input((None, 5)), K.Input((None, 4))
    _, h, c = K.layers.LSTM(6, return_state=True)(enc_in)
    out = K.layers.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    return K.Model([enc_in, dec_in], K.layers.Dense(4, activation="softmax")(out))


CASES = [
    ("sequential_rnn", _sequential_rnn, lambda: R.normal(size=(3, 6, 4))),
    ("convnet", _convnet, lambda: R.normal(size=(2, 8, 8, 1))),
    ("text", _text, lambda: np.array([[3, 4, 5, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]])),
    ("two_inputs", _two_inputs, lambda: [R.normal(size=(3, 6)), R.normal(size=(3, 4))]),
    ("seq2seq", _seq2seq, lambda: [R.normal(size=(2, 3, 5)), R.normal(size=(2, 4, 4))]),
]


def _f32(x):
    if isinstance(x, list):
        return [_f32(a) for a in x]
    return x.astype("float32") if x.dtype.kind == "f" else x


@pytest.mark.parametrize("name,build,data", CASES, ids=[c[0] for c in CASES])
def test_load_a_real_keras_file(tmp_path, name, build, data):
    keras = _keras()
    pytest.importorskip("h5py")
    km = build(keras)
    path = tmp_path / f"{name}.keras"
    km.save(path)
    cm = ck.models.load_model(path)
    x = _f32(data())
    np.testing.assert_allclose(cm.predict(x, verbose=0), km.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert [w.shape for w in cm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    cm.compile(optimizer="adam", loss="mse")  # and it trains like any other model
    cm.save(tmp_path / "again.keras")  # chainrule's own format from here on
    again = ck.models.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), cm.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_keras_file_needs_h5py_and_refuses_lambda(tmp_path, monkeypatch):
    keras = _keras()
    km = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2),
                           keras.layers.Dense(1)])
    km.save(tmp_path / "lam.keras")
    assert {"config.json", "model.weights.h5"} <= set(
        zipfile.ZipFile(tmp_path / "lam.keras").namelist())
    if pytest.importorskip("h5py"):
        with pytest.raises(ValueError, match="never runs code from a file"):
            ck.models.load_model(tmp_path / "lam.keras")
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError, match="pip install h5py"):
        ck.models.load_model(tmp_path / "lam.keras")


def test_a_zip_bomb_entry_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    """An entry that inflates past the cap is refused as a damaged file, whatever its header
    declares (the cap is lowered here so that the test writes a small file)."""
    pytest.importorskip("h5py")
    from chainrule.keras.models import keras_format

    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b" " * (3 << 20))  # 3 MB of spaces: a few KB compressed
        z.writestr("model.weights.h5", b"")
        z.writestr("metadata.json", b"{}")
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(keras_format, "MAX_CONFIG", 1 << 20)
    from chainrule.keras.saving import load_model

    with pytest.raises(Exception, match="inflates past"):
        load_model(str(path))
