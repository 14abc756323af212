"""compile / fit / evaluate / predict / train_on_batch, the progress display, and callbacks."""

from __future__ import annotations

import io as _io
import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.keras import callbacks as cb
from chainrule.keras import optimizers, regularizers
from chainrule.keras.layers import BatchNormalization, Dense, Input
from chainrule.keras.models import Model, Sequential


def _model(metrics=("accuracy",), lr=0.05):
    model = Sequential([Input((5,)), Dense(8, activation="relu"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _xy(rng, n=96):
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, x[:, :3].argmax(1)


# -- the loop and its numbers --------------------------------------------------------------------
def test_history_and_evaluate_forms(rng):
    x, y = _xy(rng)
    model = _model()
    h = model.fit(x, y, epochs=3, batch_size=16, verbose=0, initial_epoch=1)
    assert h.epoch == [1, 2] and set(h.history) == {"loss", "accuracy"}
    assert model.history is h
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss, "accuracy": acc}
    assert model.metrics_names == ["loss", "compile_metrics"]  # Keras 3's model.metrics names
    plain = _model(metrics=())
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    # evaluate's loss is the mean of the per-sample losses (batch-size weighted)
    p = model.predict(x, batch_size=7, verbose=0)
    assert loss == pytest.approx(float(-np.log(p[np.arange(len(y)), y]).mean()), rel=1e-5)
    np.testing.assert_allclose(p, model.predict(x, batch_size=96, verbose=0), rtol=1e-6)


def test_validation_split_takes_the_last_samples(rng):
    x, y = _xy(rng, 100)
    model = _model()
    seen = []
    model.fit(x, y, epochs=1, batch_size=10, validation_split=0.2, verbose=0,
              callbacks=[cb.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs))])
    val = model.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    assert seen[0]["val_loss"] == pytest.approx(val["loss"])
    assert seen[0]["val_accuracy"] == pytest.approx(val["accuracy"])


def test_sample_and_class_weights(rng):
    x, y = _xy(rng, 32)
    model = _model(metrics=())
    w = rng.uniform(0, 2, size=32).astype(np.float32)
    p = model.predict(x, verbose=0)
    per = -np.log(p[np.arange(32), y])
    got = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0)
    assert got == pytest.approx(float((per * w).sum() / 32), rel=1e-5)  # Keras: / batch size
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    twin = _model(metrics=())
    twin.set_weights(model.get_weights())
    a = model.train_on_batch(x, y, class_weight=cw)
    b = twin.train_on_batch(x, y, sample_weight=np.array([cw[int(c)] for c in y]))
    assert a == b


def test_train_on_batch_and_test_on_batch(rng):
    x, y = _xy(rng, 16)
    model = _model()
    before = model.test_on_batch(x, y)
    for _ in range(30):
        model.train_on_batch(x, y)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < before[0] and set(after) == {"loss", "accuracy"}
    assert model.predict_on_batch(x).shape == (16, 3)


def test_iterables_of_batches(rng):
    x, y = _xy(rng, 64)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False)
    model = _model()
    h = model.fit(loader, epochs=2, verbose=0, validation_data=loader)
    assert len(h.history["val_loss"]) == 2

    def stream():
        while True:
            for s in range(0, 64, 16):
                yield x[s:s + 16], y[s:s + 16]
    steps = []
    model.fit(stream(), steps_per_epoch=3, epochs=2, verbose=0,
              callbacks=[cb.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))])
    assert steps == [0, 1, 2, 0, 1, 2]


def test_regularization_and_frozen_layers(rng):
    x, y = _xy(rng, 32)
    model = Sequential([Input((5,)), Dense(4, kernel_regularizer=regularizers.l2(0.1)),
                        Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    base = model.evaluate(x, y, batch_size=32, verbose=0)
    penalty = 0.1 * float((model.layers[0].get_weights()[0] ** 2).sum())
    plain = Sequential([Input((5,)), Dense(4), Dense(3, activation="softmax")])
    plain.set_weights(model.get_weights())
    plain.compile("sgd", "sparse_categorical_crossentropy")
    assert base == pytest.approx(plain.evaluate(x, y, batch_size=32, verbose=0) + penalty,
                                 rel=1e-5)
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_frozen_batchnorm_uses_moving_statistics(rng):
    x = rng.normal(size=(16, 4)).astype(np.float32) * 3 + 2
    bn = BatchNormalization()
    bn(x)  # a layer called on its own runs in inference mode, as in Keras
    assert bn.get_weights()[2].tolist() == [0.0] * 4
    bn.train(True)
    bn(x)
    assert bn.get_weights()[2] == pytest.approx(0.01 * x.mean(0), rel=1e-5)
    bn.set_weights([np.ones(4), np.zeros(4), np.zeros(4), np.ones(4)])
    bn.trainable = False
    bn.train(True)
    y = bn(x).numpy()
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-5)  # moving mean 0, var 1
    assert bn.get_weights()[2].tolist() == [0.0] * 4


def test_multi_input_output_with_dicts(rng):
    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = Dense(4, activation="relu")(a) + Dense(4)(b)
    model = Model({"a": a, "b": b}, {"p": Dense(1, activation="sigmoid", name="p")(h),
                                     "q": Dense(2, name="q")(h)})
    model.compile("adam", loss={"p": "binary_crossentropy", "q": "mse"},
                  metrics={"p": ["accuracy"]})
    xa, xb = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    logs = model.fit({"a": xa, "b": xb}, {"p": (xa[:, 0] > 0) * 1.0, "q": xb}, epochs=2,
                     verbose=0).history
    assert set(logs) == {"loss", "p_loss", "q_loss", "p_accuracy"}
    assert logs["loss"][0] == pytest.approx(logs["p_loss"][0] + logs["q_loss"][0], rel=1e-5)
    out = model.predict({"a": xa, "b": xb}, verbose=0)
    assert {k: o.shape for k, o in out.items()} == {"p": (40, 1), "q": (40, 2)}
    assert set(model({"a": xa[:2], "b": xb[:2]})) == {"p", "q"}


def test_subclassed_model_trains(rng):
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="tanh")
            self.out = Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    model = TwoLayer()
    model.compile(optimizers.Adam(0.02), "mse")
    h = model.fit(x, y, epochs=20, batch_size=16, verbose=0).history["loss"]
    assert h[-1] < 0.1 * h[0]
    assert model.count_params() == 3 * 8 + 8 + 8 + 1 and model.name == "two_layer"


def test_sequential_add_pop_and_deferred_build(rng):
    model = Sequential()
    model.add(Dense(4, activation="relu"))
    model.add(Dense(2))
    assert not model.built
    model.compile("sgd", "mse")
    model.fit(rng.normal(size=(8, 7)), rng.normal(size=(8, 2)), verbose=0)
    assert model.built and model.layers[0].get_weights()[0].shape == (7, 4)
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 4)
    model.add(Dense(1))
    assert model.predict(np.zeros((3, 7)), verbose=0).shape == (3, 1)


def test_weights_in_keras_layout(rng):
    d = Dense(3)
    d(np.zeros((1, 4), dtype=np.float32))
    kernel, bias = d.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(d(x).numpy(), x @ kernel + bias, rtol=1e-6)
    d.set_weights([np.ones((4, 3)), np.arange(3)])
    np.testing.assert_allclose(d(x).numpy(), x.sum(1, keepdims=True) + np.arange(3), rtol=1e-6)
    assert d.kernel.numpy().shape == (4, 3) and np.shares_memory(d.kernel.numpy(), d.weight.numpy())
    with pytest.raises(ValueError, match=r"expects 2 arrays of shapes \[\(4, 3\), \(3,\)\]"):
        d.set_weights([np.ones((4, 3))])


def test_in_place_weight_changes_are_seen_by_a_saved_graph(rng):
    """set_weights, an optimizer step and the moving statistics change weights in place; a
    graph that saved them refuses a stale backward, as PyTorch's version counters do."""
    d = Dense(3)
    x = cr.tensor(rng.normal(size=(2, 4)).astype(np.float32), requires_grad=True)
    y = d(x)  # saves the kernel, for x's gradient
    d.set_weights(d.get_weights())
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    loss = (d(x) ** 2).sum()
    loss.backward(retain_graph=True)
    sgd = optimizers.SGD(learning_rate=0.1, weight_decay=0.1)
    sgd.apply_gradients([(p.grad, p) for p in (d.weight, d.bias)])
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    y = d(x)
    sgd.apply_gradients([(np.ones((4, 3), dtype=np.float32), d.kernel)])  # Keras' layout view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    bn = BatchNormalization()
    bn.train(True)
    bn(x.detach())
    before = bn.moving_mean._version, bn.moving_variance._version
    bn(x.detach())
    assert (bn.moving_mean._version, bn.moving_variance._version) == tuple(v + 1 for v in before)


# -- the progress display ----------------------------------------------------------------------
class _Terminal(_io.StringIO):
    def isatty(self):
        return True


def test_progress_one_line_per_epoch_when_not_a_terminal(rng, capsys):
    x, y = _xy(rng)
    _model().fit(x, y, epochs=3, batch_size=16, validation_data=(x, y))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"Epoch {i + 1}/3 - 6/6 - ")
        # Keras sorts the logs: accuracy before loss
        assert "/step - accuracy: " in line and " - loss: " in line and "val_accuracy" in line
    _model().fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal(rng, monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    x, y = _xy(rng)
    _model().fit(x, y, epochs=2, batch_size=16)
    out = term.getvalue()
    assert out.count("Epoch 1/2\n") == 1 and out.count("Epoch 2/2\n") == 1
    assert "\r6/6 ━━━━━━━━━━━━━━━━━━━━ " in out and "loss: " in out
    assert out.endswith("\n")


# -- callbacks ---------------------------------------------------------------------------------
class Script(cb.Callback):
    """Overwrites a logged value with a scripted sequence (runs before the callbacks it feeds)
    and records the weights after every epoch."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values, self.weights = key, values, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_early_stopping_restores_best_weights(rng):
    x, y = _xy(rng)
    model = _model()
    script = Script("val_loss", [1.0, 0.5, 0.7, 0.6, 0.8, 0.9, 0.1])
    stop = cb.EarlyStopping(patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=7, verbose=0, callbacks=[script, stop])
    assert h.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_best_only(tmp_path, rng):
    x, y = _xy(rng)
    model = _model()
    script = Script("val_accuracy", [0.5, 0.7, 0.6, 0.8])
    ckpt = cb.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.keras"), monitor="val_accuracy",
                              save_best_only=True)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[script, ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-01.keras", "m-02.keras",
                                                          "m-04.keras"]


def test_reduce_lr_on_plateau_and_scheduler(rng):
    x, y = _xy(rng)
    model = _model(lr=0.1)
    script = Script("val_loss", [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5])
    reduce = cb.ReduceLROnPlateau(factor=0.5, patience=2)
    h = model.fit(x, y, epochs=7, verbose=0, callbacks=[script, reduce])
    # logged before the reduction of that epoch, as Keras logs it
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    lrs = []
    sched = cb.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    model.fit(x, y, epochs=3, verbose=0, callbacks=[
        sched, cb.LambdaCallback(on_epoch_begin=lambda e, logs: lrs.append(
            model.optimizer.learning_rate))])
    assert lrs == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger_nan_terminator_and_hook_order(tmp_path, rng):
    x, y = _xy(rng, 32)
    model = _model()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb.CSVLogger(path)])
    rows = path.read_text().splitlines()
    # Keras' columns: sorted, and val_ ones (NA) when there is no validation
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert rows[1].startswith("0,") and len(rows) == 3

    bad = x.copy()
    bad[20] = np.nan
    h = model.fit(bad, y, epochs=5, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[cb.TerminateOnNaN()])
    assert len(h.epoch) == 1 and math.isnan(h.history["loss"][0])

    calls = []

    class Spy(cb.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_") and name in cb.HOOKS:
                return lambda *a: calls.append((name,) + tuple(a[:1]))
            return super().__getattribute__(name)

    spy = Spy()
    for hook in cb.HOOKS:  # make every hook count as overridden
        setattr(spy, hook, getattr(spy, hook))
    _model().fit(x, y, epochs=1, batch_size=16, verbose=0, validation_data=(x[:16], y[:16]),
                 callbacks=[spy])
    names = [c[0] for c in calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names[1:6] == ["on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                          "on_train_batch_begin", "on_train_batch_end"]
    assert names.index("on_test_begin") < names.index("on_epoch_end")


def test_custom_layer_nested_models_summary_and_config(rng, tmp_path):
    from chainrule.keras.layers import Layer
    from chainrule.keras.models import load_model

    class Scale(Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, inputs):
            return inputs @ self.w + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    x = Input((4,))
    inner = Model(x, Scale(3)(x), name="inner")
    a, b = Input((4,)), Input((4,))
    model = Model([a, b], Dense(1)(inner(a) - inner(b)))  # one shared inner model, twice
    model.compile("adam", "mse")
    model.fit([rng.random((16, 4)), rng.random((16, 4))], rng.random(16), epochs=1, verbose=0)
    assert model.count_params() == 4 * 3 + 3 + 3 + 1
    assert model.get_layer("inner") is inner and model.get_layer(index=-1).units == 1
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "inner (Functional)" in text and "inner[1][0]" in text
    assert "Total params: 19 (76.00 B)" in text and "Connected to" in text
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    xs = [rng.random((3, 4)), rng.random((3, 4))]
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))
    clone = Model.from_config(model.get_config(), custom_objects={"Scale": Scale})
    assert clone.count_params() == model.count_params()
