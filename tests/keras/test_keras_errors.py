"""Mistakes give errors that name the problem and list the valid choices."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import activations, losses, metrics, optimizers
from chainrule.keras.layers import (
    LSTM,
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    Embedding,
    Input,
)
from chainrule.keras.models import Model, Sequential


def _mlp() -> Sequential:
    return Sequential([Input((784,)), Dense(32, activation="relu"), Dense(10)])


def test_fit_before_compile_says_to_compile_and_lists_choices():
    model = _mlp()
    for call in (lambda: model.fit(np.zeros((4, 784)), np.zeros(4)),
                 lambda: model.evaluate(np.zeros((4, 784)), np.zeros(4)),
                 lambda: model.train_on_batch(np.zeros((4, 784)), np.zeros(4))):
        with pytest.raises(RuntimeError, match="must be compiled first") as e:
            call()
        assert "'adam'" in str(e.value) and "'sparse_categorical_crossentropy'" in str(e.value)
    assert model.predict(np.zeros((3, 784)), verbose=0).shape == (3, 10)  # needs no compile


@pytest.mark.parametrize("kind, call, listed", [
    ("optimizer", lambda m: m.compile(optimizer="adamm", loss="mse"), ["'sgd'", "'nadam'"]),
    ("loss", lambda m: m.compile(optimizer="adam", loss="mean_square_error"),
     ["'mse'", "'categorical_crossentropy'", "'huber'"]),
    ("metric", lambda m: m.compile(optimizer="adam", loss="mse", metrics=["acuracy"]),
     ["'accuracy'", "'mae'"]),
])
def test_unknown_strings_in_compile(kind, call, listed):
    with pytest.raises(ValueError, match=f"unknown {kind}") as e:
        call(_mlp())
    for name in listed:
        assert name in str(e.value)


def test_unknown_activation_and_initializer():
    with pytest.raises(ValueError, match="unknown activation 'rellu'") as e:
        Dense(3, activation="rellu")
    assert "relu" in str(e.value) and "softmax" in str(e.value)
    with pytest.raises(ValueError, match="unknown activation"):
        Activation("soft_max")
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*glorot_uniform"):
        Dense(3, kernel_initializer="glorot")
    with pytest.raises(TypeError, match="unexpected keyword argument.*unit"):
        Dense(3, unit=3)


def test_registries_agree_with_the_issue():
    for name in ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam"):
        assert isinstance(optimizers.get(name), optimizers.Optimizer)
    for name in ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy"):
        assert isinstance(losses.get(name), losses.Loss)
    assert metrics.get("mae").name == "mae"  # Keras 3 logs a metric under the name asked
    assert activations.get(None) is activations.linear


def test_wrong_input_shape_for_fit_names_input_and_fix():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(cr.ShapeError, match=r"expects data of shape \(None, 784\).*"
                                            r"\(8, 28, 28\).*x.reshape\(len\(x\), 784\)"):
        model.fit(np.zeros((8, 28, 28)), np.zeros(8), verbose=0)
    with pytest.raises(cr.ShapeError, match=r"\(None, 784\).*\(8, 100\)"):
        model.evaluate(np.zeros((8, 100)), np.zeros(8), verbose=0)
    with pytest.raises(cr.ShapeError, match=r"\(None, 784\).*\(2, 783\)"):
        model.predict(np.zeros((2, 783)), verbose=0)
    with pytest.raises(cr.ShapeError, match=r"\(None, 784\).*\(2, 783\)"):
        model(np.zeros((2, 783), dtype=np.float32))


def test_wrong_shapes_when_wiring_layers():
    dense = Dense(4)
    dense(Input((3,)))
    with pytest.raises(cr.ShapeError, match=r"Dense 'dense'.*last dimension 3.*\(None, 5\)"):
        dense(Input((5,)))
    with pytest.raises(cr.ShapeError, match=r"Conv2D.*4-D input.*\(None, 784\).*Reshape"):
        Conv2D(8, 3)(Input((784,)))
    with pytest.raises(cr.ShapeError, match=r"Add.*same shape.*\(None, 3\), \(None, 4\)"):
        Add()([Input((3,)), Input((4,))])
    with pytest.raises(cr.ShapeError, match=r"LSTM.*3-D input.*\(None, 8\)"):
        LSTM(4)(Input((8,)))
    with pytest.raises(cr.ShapeError, match=r"Conv2D.*kernel.*padding='same'"):
        Conv2D(2, 5)(Input((3, 3, 1)))
    with pytest.raises(cr.ShapeError, match=r"BatchNormalization.*4 features.*\(None, 6\)"):
        bn = BatchNormalization()
        bn(Input((4,)))
        bn(Input((6,)))


def test_wrong_targets_name_the_loss_and_suggest_the_sparse_one():
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(cr.ShapeError, match="categorical_crossentropy.*\\(4, 1\\).*sparse"):
        model.fit(np.zeros((4, 4)), np.array([0, 1, 2, 0]), verbose=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(cr.ShapeError, match="one-hot targets: use 'categorical_crossentropy'"):
        model.fit(np.zeros((4, 4)), np.eye(3)[[0, 1, 2, 0]], verbose=0)
    with pytest.raises(ValueError, match="x has 4 samples, y has 5 samples"):
        model.fit(np.zeros((4, 4)), np.zeros(5), verbose=0)


def test_graph_errors():
    a, b = Input((3,)), Input((3,))
    out = Dense(2)(Add()([a, b]))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        Model(a, out)
    with pytest.raises(ValueError, match="inputs must come straight from Input"):
        Model(Dense(3)(a), out)
    with pytest.raises(ValueError, match="layer names must be unique"):
        x = Input((3,))
        Model(x, Dense(3, name="d")(Dense(3, name="d")(x)))
    with pytest.raises(ValueError, match="Embedding: input_dim must be a positive integer"):
        Embedding(0, 4)
    with pytest.raises(ValueError, match="recurrent_dropout must be in"):
        LSTM(4, recurrent_dropout=1.5)
    with pytest.raises(TypeError, match="Keras optimizer"):
        _mlp().compile(optimizer=cr.optim.Adam([cr.nn.Parameter(np.zeros(2))]), loss="mse")


def test_count_params_before_build():
    model = Sequential([Dense(3), Dense(2)])
    with pytest.raises(ValueError, match="not built yet"):
        model.layers[0].count_params()
    lines = []
    model.summary(print_fn=lines.append)
    assert any("unbuilt" in ln for ln in lines)
    model.build((None, 5))
    assert model.count_params() == 5 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("alias, cls", [("uniform", "RandomUniform"), ("normal", "RandomNormal"),
                                        ("zero", "Zeros"), ("one", "Ones")])
def test_keras_initializer_aliases(alias, cls):
    # Keras 3 accepts these short names (the RNN guide's custom cell uses "uniform")
    from chainrule.keras import initializers

    assert type(initializers.get(alias)).__name__ == cls
    assert Dense(2, kernel_initializer=alias).get_config()["kernel_initializer"] is not None
