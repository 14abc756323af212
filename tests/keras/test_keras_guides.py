"""The Keras 3 developer guides (keras-io/guides: functional_api, sequential_model,
making_new_layers_and_models_via_subclassing, training_with_built_in_methods), their code run
on real Keras 3 (torch backend) and on chainrule.keras with only the imports changed (`keras`
is either module), small synthetic data in place of the downloads, the same weights and
batches: losses, metrics and predictions agree to 1e-5."""

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


# -- functional_api.py ---------------------------------------------------------------------------
def _ticket_model(keras, num_tags=12, num_words=100, num_departments=4):
    layers = keras.layers
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input],
                        outputs={"priority": priority_pred, "department": department_pred})
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
              "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2})
    return model


def test_functional_guide_multi_input_output_model_like_keras():
    keras = keras_or_skip()
    km, cm = _ticket_model(keras), _ticket_model(ck)
    # Keras' layer order (deepest first, then by traversal; dict outputs by sorted key) is
    # the order of model.layers, model.weights and get_weights
    named = {"title", "body", "tags", "priority", "department"}  # others count per library
    assert [x.name for x in cm.layers if x.name in named] == \
        [x.name for x in km.layers if x.name in named] == \
        ["title", "body", "tags", "department", "priority"]
    assert [type(x).__name__ for x in cm.layers] == [type(x).__name__ for x in km.layers]
    assert [tuple(w.shape) for w in cm.weights] == [tuple(w.shape) for w in km.weights]
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(0)
    title_data = rng.integers(100, size=(64, 10))
    body_data = rng.integers(100, size=(64, 20))
    tags_data = rng.integers(2, size=(64, 12)).astype("float32")
    priority_targets = rng.random(size=(64, 1))
    dept_targets = rng.integers(2, size=(64, 4))
    fit = dict(epochs=2, batch_size=32, shuffle=False, verbose=0)
    hk = km.fit({"title": title_data, "body": body_data, "tags": tags_data},
                {"priority": priority_targets, "department": dept_targets}, **fit)
    hc = cm.fit({"title": title_data, "body": body_data, "tags": tags_data},
                {"priority": priority_targets, "department": dept_targets}, **fit)
    _same_history(hk, hc)


def _custom_rnn_model(keras, units=32, timesteps=10, input_dim=5, batch_size=16):
    layers, ops = keras.layers, keras.ops

    class CustomRNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = layers.Dense(1)

        def call(self, inputs):
            outputs = []
            state = ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = ops.stack(outputs, axis=1)
            return self.classifier(features)

    # a static batch size (batch_shape) reaches call(): inputs.shape[0] is 16, not None
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(32, 3)(inputs)
    outputs = CustomRNN()(x)
    return keras.Model(inputs, outputs)


def test_functional_guide_custom_rnn_with_a_static_batch_like_keras():
    keras = keras_or_skip()
    km, cm = _custom_rnn_model(keras), _custom_rnn_model(ck)
    assert tuple(cm.output.shape) == tuple(km.output.shape) == (16, 8, 1)
    cm.set_weights(km.get_weights())
    x = np.random.default_rng(1).random((16, 10, 5)).astype("float32")
    close(cm.predict(x, verbose=0), km.predict(x, verbose=0))


def _custom_dense_models(keras):
    layers, ops = keras.layers, keras.ops

    class CustomDense(layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    return model, new_model


def test_functional_guide_custom_layer_config_round_trip_like_keras():
    keras = keras_or_skip()
    (km, km2), (cm, cm2) = _custom_dense_models(keras), _custom_dense_models(ck)
    assert [tuple(w.shape) for w in cm2.weights] == [tuple(w.shape) for w in km2.weights]
    cm.set_weights(km.get_weights())
    cm2.set_weights(km.get_weights())
    x = np.random.default_rng(2).random((3, 4)).astype("float32")
    close(cm2.predict(x, verbose=0), km.predict(x, verbose=0))
    close(cm.predict(x, verbose=0), km.predict(x, verbose=0))


# -- making_new_layers_and_models_via_subclassing.py ---------------------------------------------
def _activity_model(keras):
    ops = keras.ops

    class ActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    inputs = keras.Input(shape=(3,))
    x = keras.layers.Dense(3)(inputs)
    outputs = ActivityRegularizationLayer()(x)
    return keras.Model(inputs, outputs)


def test_subclassing_guide_add_loss_with_and_without_a_compiled_loss_like_keras():
    keras = keras_or_skip()
    km, cm = _activity_model(keras), _activity_model(ck)
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(3)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 3)).astype("float32")
    hs = []
    for model in (km, cm):
        # "If there is a loss passed in compile, the regularization losses get added to it"
        model.compile(optimizer="adam", loss="mse")
        h1 = model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
        # compiling again without a loss keeps the compiled one, as Keras does
        model.compile(optimizer="adam")
        h2 = model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
        hs.append((h1, h2))
    _same_history(hs[0][0], hs[1][0])
    _same_history(hs[0][1], hs[1][1])


def test_a_model_compiled_without_a_loss_trains_on_its_add_loss_losses_like_keras():
    keras = keras_or_skip()
    km, cm = _activity_model(keras), _activity_model(ck)
    cm.set_weights(km.get_weights())
    x = np.random.default_rng(4).random((8, 3)).astype("float32")
    for model in (km, cm):
        model.compile(optimizer="sgd")
    hk = km.fit(x, epochs=2, batch_size=4, shuffle=False, verbose=0)  # no targets at all
    hc = cm.fit(x, epochs=2, batch_size=4, shuffle=False, verbose=0)
    _same_history(hk, hc)
    close(cm.evaluate(x, verbose=0), km.evaluate(x, verbose=0))
    # no loss anywhere: Keras' error, at the first step
    plain = ck.Sequential([ck.Input((3,)), ck.layers.Dense(1)])
    plain.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        plain.fit(x, x[:, :1], verbose=0)


def _vae(keras, original_dim=784, intermediate_dim=64, latent_dim=32):
    layers, ops = keras.layers, keras.ops

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = ops.shape(z_mean)[0]
            dim = ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            epsilon = epsilon * 0.0  # the two libraries draw different numbers
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            z = self.sampling((z_mean, z_log_var))
            return z_mean, z_log_var, z

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            x = self.dense_proj(inputs)
            return self.dense_output(x)

    class VariationalAutoEncoder(keras.Model):
        def __init__(self, original_dim, intermediate_dim=64, latent_dim=32,
                     name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    vae = VariationalAutoEncoder(original_dim, intermediate_dim, latent_dim)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
    return vae


def test_subclassing_guide_vae_like_keras():
    keras = keras_or_skip()
    x_train = np.random.default_rng(5).random((128, 784)).astype("float32")
    km, cm = _vae(keras), _vae(ck)
    km(x_train[:2])
    cm(x_train[:2])
    cm.set_weights(km.get_weights())
    hk = km.fit(x_train, x_train, epochs=2, batch_size=64, shuffle=False, verbose=0)
    hc = cm.fit(x_train, x_train, epochs=2, batch_size=64, shuffle=False, verbose=0)
    _same_history(hk, hc)


def _endpoint_model(keras):
    ops = keras.ops

    class LogisticEndpoint(keras.layers.Layer):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            loss = self.loss_fn(targets, logits, sample_weights)
            self.add_loss(loss)
            return ops.softmax(logits)

    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)  # two tensors
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")
    return model


def test_training_guide_layer_called_with_two_tensors_like_keras():
    keras = keras_or_skip()
    km, cm = _endpoint_model(keras), _endpoint_model(ck)
    assert [type(x).__name__ for x in cm.layers] == [type(x).__name__ for x in km.layers]
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(6)
    data = {"inputs": rng.random((6, 3)).astype("float32"),
            "targets": rng.random((6, 10)).astype("float32")}
    hk = km.fit(data, batch_size=3, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(data, batch_size=3, epochs=2, shuffle=False, verbose=0)
    _same_history(hk, hc)
    close(cm.predict(data, verbose=0), km.predict(data, verbose=0))


# -- sequential_model.py -------------------------------------------------------------------------
def _sequential_guide(keras):
    layers, ops = keras.layers, keras.ops
    seen = {}
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    model.pop()
    seen["after_pop"] = len(model.layers)
    layer = layers.Dense(3)
    seen["unbuilt_weights"] = list(layer.weights)
    layer(ops.ones((1, 4)))
    seen["built_weights"] = [tuple(w.shape) for w in layer.weights]
    model = keras.Sequential([layers.Dense(2, activation="relu"),
                              layers.Dense(3, activation="relu"), layers.Dense(4)])
    model(ops.ones((1, 4)))
    seen["n_weights"] = len(model.weights)
    initial_model = keras.Sequential([
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(32, 3, activation="relu"),
    ])
    feature_extractor = keras.Model(
        inputs=initial_model.inputs,
        outputs=[layer.output for layer in initial_model.layers])
    features = feature_extractor(ops.ones((1, 250, 250, 3)))
    seen["features"] = [tuple(f.shape) for f in features]
    feature_extractor = keras.Model(
        inputs=initial_model.inputs,
        outputs=initial_model.get_layer(name="my_intermediate_layer").output)
    seen["intermediate"] = tuple(feature_extractor(ops.ones((1, 250, 250, 3))).shape)
    model = keras.Sequential([
        keras.Input(shape=(784,)), layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
        layers.Dense(10)])
    for layer in model.layers[:-1]:  # transfer learning: freeze all but the last
        layer.trainable = False
    seen["n_trainable"] = len(model.trainable_weights)
    model.compile(optimizer="sgd", loss="mse")
    return seen, model


def test_sequential_guide_like_keras():
    keras = keras_or_skip()
    (k, km), (c, cm) = _sequential_guide(keras), _sequential_guide(ck)
    assert c == k
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(7)
    x, y = rng.random((32, 784)).astype("float32"), rng.random((32, 10)).astype("float32")
    hk = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    _same_history(hk, hc)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        close(a, b)
