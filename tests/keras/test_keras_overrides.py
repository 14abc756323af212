"""train_step / test_step / predict_step / compute_loss overrides, as the Keras guide
"Customizing what happens in fit() with PyTorch" writes them, run side by side with real Keras 3
(torch backend): the same code, the same weights, the same batches."""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule
import chainrule.keras as ck


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if not hasattr(keras, "backend"):  # tests/keras itself, seen as a namespace package
        pytest.skip("keras is not installed")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend")
    import torch

    return keras, torch


def _guide_model(keras, torch):
    """The guide's first example, verbatim but for the names of the two modules."""

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    outputs = keras.layers.Dense(1)(hidden)
    return CustomModel(inputs, outputs)


def _data(n=96):
    rng = np.random.default_rng(0)
    return (rng.random((n, 32)).astype(np.float32), rng.random((n, 1)).astype(np.float32))


def _run_both(build, compile_kwargs, fit_kwargs):
    keras, torch = _keras()
    x, y = _data()
    km = build(keras, torch)
    cm = build(ck, chainrule)
    cm.set_weights(km.get_weights())
    km.compile(**compile_kwargs(keras))
    cm.compile(**compile_kwargs(ck))
    kh = km.fit(x, y, shuffle=False, verbose=0, **fit_kwargs)
    ch = cm.fit(x, y, shuffle=False, verbose=0, **fit_kwargs)
    return km, cm, kh, ch, x, y


def test_the_guides_train_and_test_step_match_keras():
    km, cm, kh, ch, x, y = _run_both(
        _guide_model, lambda k: {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
        {"epochs": 3, "batch_size": 32, "validation_data": _data(32)})
    assert sorted(ch.history) == sorted(kh.history) == ["loss", "mae", "val_loss", "val_mae"]
    for k in kh.history:
        np.testing.assert_allclose(ch.history[k], kh.history[k], rtol=1e-5, atol=1e-6)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ke = km.evaluate(x, y, verbose=0, return_dict=True)
    ce = cm.evaluate(x, y, verbose=0, return_dict=True)
    assert list(ce) == list(ke) == ["mae", "loss"]  # flattened and sorted, as Keras does
    for k in ke:
        np.testing.assert_allclose(ce[k], ke[k], rtol=1e-5)
    # the list: model.metrics' order (loss, then compile_metrics' own), not the sorted one
    np.testing.assert_allclose(cm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    assert cm.metrics_names == km.metrics_names == ["loss", "compile_metrics"]


def test_a_train_step_override_is_what_fit_runs():
    """The override is not decoration: fit runs it, and what it returns is what callbacks see."""
    calls = []

    class Counting(ck.Model):
        def train_step(self, data):
            calls.append(len(data[0]))
            return {"seen": float(len(calls))}

    inputs = ck.Input((32,))
    model = Counting(inputs, ck.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd")  # no loss: the step does not need one
    before = model.get_weights()
    seen = []
    cb = ck.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs))
    h = model.fit(*_data(), batch_size=40, epochs=2, verbose=0, callbacks=[cb])
    assert calls == [40, 40, 16] * 2
    assert seen[0] == {"seen": 1.0} and h.history == {"seen": [3.0, 6.0]}
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # that step trains nothing


def _low_level_model(keras, torch):
    """The guide's lower-level variant: its own loss and metrics, compile(optimizer) only."""
    loss_fn = keras.losses.MeanSquaredError()
    loss_tracker = keras.metrics.Mean(name="loss")
    mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            loss_tracker.update_state(loss)
            mae_metric.update_state(y, y_pred)
            return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

        @property
        def metrics(self):
            return [loss_tracker, mae_metric]

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    return CustomModel(inputs, outputs)


def test_the_guides_lower_level_variant_matches_keras():
    km, cm, kh, ch, _, _ = _run_both(_low_level_model, lambda k: {"optimizer": "adam"},
                                     {"epochs": 3, "batch_size": 32})
    assert sorted(ch.history) == sorted(kh.history) == ["loss", "mae"]
    for k in kh.history:  # the trackers are reset at each epoch's start, as in Keras
        np.testing.assert_allclose(ch.history[k], kh.history[k], rtol=1e-5, atol=1e-6)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _compute_loss_model(keras, torch):
    class CustomModel(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                        training=training)
            return loss + 0.1 * y_pred.abs().mean()  # a torch / chainrule tensor alike

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    return CustomModel(inputs, outputs)


def test_a_compute_loss_override_is_honoured_by_the_built_in_step():
    km, cm, kh, ch, x, y = _run_both(
        _compute_loss_model, lambda k: {"optimizer": "sgd", "loss": "mse", "metrics": ["mae"]},
        {"epochs": 2, "batch_size": 32})
    for k in kh.history:
        np.testing.assert_allclose(ch.history[k], kh.history[k], rtol=1e-5, atol=1e-6)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    plain = ck.Model.compute_loss(cm, y=y, y_pred=cm(x))
    assert float(cm.compute_loss(y=y, y_pred=cm(x)).item()) > float(plain.item())


def test_predict_step_override_and_sample_weights_reach_train_step():
    got = []

    class Custom(ck.Model):
        def train_step(self, data):
            x, y, sw = ck.utils.unpack_x_y_sample_weight(data)
            got.append((tuple(x.shape), tuple(y.shape), None if sw is None else sw.numpy()))
            return super().train_step(data)

        def predict_step(self, data):
            return {"doubled": 2 * self(data)}

    inputs = ck.Input((32,))
    model = Custom(inputs, ck.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x, y = _data(8)
    model.fit(x, y, sample_weight=np.arange(8.0), batch_size=8, shuffle=False, verbose=0)
    assert got[0][:2] == ((8, 32), (8, 1)) and got[0][2].tolist() == list(range(8))
    out = model.predict(x, batch_size=3, verbose=0)
    np.testing.assert_allclose(out["doubled"], 2 * model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_optimizer_apply_takes_keras_layout_gradients():
    """apply(grads, model.trainable_weights) with the kernel seen as (in, out), as in Keras."""
    keras, _ = _keras()
    x, y = _data(16)
    km = keras.Sequential([keras.Input((32,)), keras.layers.Dense(3)])
    cm = ck.Sequential([ck.Input((32,)), ck.layers.Dense(3)])
    cm.set_weights(km.get_weights())
    kopt, copt = keras.optimizers.Adam(0.1), ck.optimizers.Adam(0.1)
    grads = [np.full(w.shape, 0.5, np.float32) for w in km.get_weights()]
    kopt.build(km.trainable_variables)
    kopt.apply([keras.ops.convert_to_tensor(g) for g in grads], km.trainable_variables)
    copt.apply(grads, cm.trainable_weights)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        copt.apply(grads, cm.trainable_weights[:1])


def _tracking(lib):
    class Tracking(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(1)
            self.tracker = lib.metrics.Mean(name="batch")  # tracked without a metrics property

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, _ = data
            self.tracker.update_state(np.float32(len(x)))
            return {"batch": self.tracker.result()}

    model = Tracking()
    model(np.zeros((1, 32), np.float32))
    return model


def test_metrics_held_as_attributes_are_tracked_and_reset_each_epoch():
    keras, _ = _keras()
    x, y = _data(40)
    names, hist = {}, {}
    for lib in (keras, ck):
        m = _tracking(lib)
        before = [t.name for t in m.metrics]
        m.compile(optimizer="sgd")
        names[lib] = (before, [t.name for t in m.metrics], m.metrics_names)
        hist[lib] = m.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert names[ck] == names[keras] == (["batch"], ["loss", "batch"], ["loss", "batch"])
    np.testing.assert_allclose(hist[ck]["batch"], hist[keras]["batch"], rtol=1e-6)
    np.testing.assert_allclose(hist[ck]["batch"], [40 / 3] * 2, rtol=1e-6)
