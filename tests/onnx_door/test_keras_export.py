"""The Keras door's ONNX export (chainrule.onnx.keras_export.export_keras, Keras 3's
model.export(path, format="onnx")): onnxruntime agrees with model.predict at other batch sizes."""

from __future__ import annotations

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.onnx.keras_export import export_keras

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = keras.layers


def _ort(model, x):
    buf = io.BytesIO()
    export_keras(model, buf)
    onnx.checker.check_model(onnx.load_model_from_string(buf.getvalue()), full_check=True)
    sess = ort.InferenceSession(buf.getvalue())
    assert [o.name for o in sess.get_outputs()] == ["output_0"]
    assert sess.get_inputs()[0].shape[0] == "batch"
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_keras_cnn_with_batchnorm_statistics_matches_predict():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(),
        L.MaxPooling2D(padding="same"),
        L.Conv2D(6, 3, strides=2, padding="same", activation="gelu"),
        L.AveragePooling2D(padding="same"), L.GlobalAveragePooling2D(), L.Dropout(0.2),
        L.Dense(5, activation="softmax")])
    bn = model.layers[1]  # statistics and affine weights that are not the defaults
    for k, w in enumerate(("gamma", "beta", "moving_mean", "moving_variance")):
        value = np.abs(_x(4, seed=10 + k)) + 0.5 if w == "moving_variance" else _x(4, seed=k)
        with cr.no_grad():
            getattr(bn, w).copy_(cr.from_numpy(value))
    x = _x(7, 8, 8, 3, seed=1)
    np.testing.assert_allclose(_ort(model, x), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_keras_sequence_layers_match_predict():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input(shape=(6, 7)), L.Conv1D(4, 3, padding="causal", activation="silu"),
        L.MaxPooling1D(2, padding="same"), L.GlobalMaxPooling1D(keepdims=True), L.Flatten(),
        L.Reshape((2, -1)), L.LayerNormalization(), L.Dense(4, activation="leaky_relu"),
        L.Activation("tanh"), L.Flatten(), L.Dense(3, activation="log_softmax")])
    x = _x(5, 6, 7)
    np.testing.assert_allclose(_ort(model, x), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_keras_embedding_mlp_and_unsupported_layers():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(4,), dtype="int64"), L.Embedding(10, 3),
                              L.Flatten(), L.Dense(2, activation="hard_sigmoid")])
    x = np.array([[1, 2, 3, 9], [0, 0, 5, 4], [7, 7, 7, 7]], np.int64)
    np.testing.assert_allclose(_ort(model, x), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    floats = keras.Sequential([keras.Input(shape=(4,)), L.Embedding(10, 3), L.Flatten()])
    np.testing.assert_allclose(_ort(floats, x.astype(np.float32)),
                               floats.predict(x.astype(np.float32), verbose=0), rtol=1e-6)
    odd = keras.Sequential([keras.Input(shape=(3,)), L.Lambda(lambda t: t * 2)])
    with pytest.raises(Exception, match="Lambda\\) has no ONNX export; supported: "):
        export_keras(odd, io.BytesIO())


def test_keras_program_compiles_fits_and_exports_as_keras_3(tmp_path):
    # the Keras 3 habit: compile (Keras', not torch.compile), fit, model.export(format="onnx")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), L.Dense(8, activation="relu"),
                              L.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(_x(32, 4), _x(32, 3, seed=1), epochs=2, verbose=0)
    path = tmp_path / "model.onnx"
    model.export(str(path), format="onnx")
    sess = ort.InferenceSession(str(path))
    x = _x(5, 4, seed=2)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="format='onnx'"):
        model.export(str(tmp_path / "saved"))
