"""keras.saving (register_keras_serializable, custom_object_scope, serialize_keras_object),
keras.models.clone_model, Layer.add_loss and keras.backend, written as the Keras guides write
them and checked beside real Keras 3 on its torch backend where it is installed."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule.keras as ck
from chainrule.keras import ops


@pytest.fixture
def registry():
    """Registered objects are global: each test's registrations are removed afterwards."""
    before = dict(ck.saving.get_custom_objects())
    yield
    objs = ck.saving.get_custom_objects()
    objs.clear()
    objs.update(before)


def _custom_dense(lib, register=True):
    """The 'making new layers' guide's Linear layer (its get_config omits name)."""
    dec = lib.saving.register_keras_serializable(package="MyLayers") if register else (
        lambda c: c)

    @dec
    class Linear(lib.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return lib.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    return Linear


def test_registered_layer_saves_and_loads_without_custom_objects(tmp_path, registry):
    Linear = _custom_dense(ck)
    assert ck.saving.get_registered_name(Linear) == "MyLayers>Linear"
    assert ck.saving.get_custom_objects()["MyLayers>Linear"] is Linear
    inputs = ck.Input((4,))
    model = ck.Model(inputs, ck.layers.Dense(2)(Linear(3)(inputs)))
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    path = tmp_path / "m.keras"
    ck.saving.save_model(model, path)
    loaded = ck.saving.load_model(path)
    assert isinstance(loaded.layers[1], Linear)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # an unregistered class needs custom_objects= or a custom_object_scope
    Plain = _custom_dense(ck, register=False)
    inputs = ck.Input((4,))
    plain = ck.Model(inputs, Plain(3)(inputs))
    plain.save(tmp_path / "p.keras")
    with pytest.raises(ValueError, match="register_keras_serializable"):
        ck.saving.load_model(tmp_path / "p.keras")
    with ck.saving.custom_object_scope({"Linear": Plain}):
        again = ck.saving.load_model(tmp_path / "p.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), plain.predict(x, verbose=0))
    with pytest.raises(ValueError, match="Linear"):
        ck.saving.load_model(tmp_path / "p.keras")  # the scope has ended


def test_registered_function_and_get_custom_objects(tmp_path, registry):
    @ck.saving.register_keras_serializable()
    def scaled_tanh(x):
        return ops.tanh(x) * 2.0

    assert "Custom>scaled_tanh" in ck.saving.get_custom_objects()
    model = ck.Sequential([ck.Input((3,)), ck.layers.Dense(2, activation=scaled_tanh)])
    model.save(tmp_path / "f.keras")
    x = np.ones((2, 3), np.float32)
    loaded = ck.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="get_config"):
        ck.saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_serialize_keras_object_has_keras_shape(registry):
    keras = _keras()
    for make in (lambda lib: lib.metrics.AUC(name="auc"),
                 lambda lib: lib.losses.MeanSquaredError()):
        ours, theirs = (ck.saving.serialize_keras_object(make(ck)),
                        keras.saving.serialize_keras_object(make(keras)))
        assert {k: ours[k] for k in ("module", "class_name", "registered_name")} == \
            {k: theirs[k] for k in ("module", "class_name", "registered_name")}
    relu = ck.saving.serialize_keras_object(ck.activations.relu)
    assert relu == keras.saving.serialize_keras_object(keras.activations.relu)
    assert ck.saving.deserialize_keras_object(relu) is ck.activations.relu
    d = ck.layers.Dense(3, activation="relu", name="d")
    cfg = ck.saving.serialize_keras_object(d)
    assert (cfg["module"], cfg["class_name"], cfg["registered_name"]) == (
        "keras.layers", "Dense", None)
    back = ck.saving.deserialize_keras_object(cfg)
    assert isinstance(back, ck.layers.Dense) and back.units == 3 and back.name == "d"
    auc = ck.saving.deserialize_keras_object(
        ck.saving.serialize_keras_object(ck.metrics.AUC(curve="PR", name="pr")))
    assert isinstance(auc, ck.metrics.AUC) and auc.curve == "PR" and auc.name == "pr"
    Linear = _custom_dense(ck)
    cfg = ck.saving.serialize_keras_object(Linear(4))
    assert cfg["registered_name"] == "MyLayers>Linear" and cfg["module"] is None
    assert isinstance(ck.saving.deserialize_keras_object(cfg), Linear)
    assert ck.saving.serialize_keras_object([1, "a", None]) == [1, "a", None]
    with pytest.raises(TypeError, match="Could not locate class"):
        ck.saving.deserialize_keras_object({"class_name": "Nope", "config": {},
                                            "module": "keras.metrics"})


def _functional(lib):
    inputs = lib.Input((6,))
    h = lib.layers.Dense(8, activation="relu")(inputs)
    shared = lib.layers.Dense(8)
    a, b = shared(h), shared(lib.layers.Dense(8)(h))
    return lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Add()([a, b])), name="net")


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_clone_model_same_architecture_new_weights(kind):
    if kind == "sequential":
        model = ck.Sequential([ck.Input((6,)), ck.layers.Dense(5, activation="relu"),
                               ck.layers.Dense(2)])
    else:
        model = _functional(ck)
    clone = ck.models.clone_model(model)
    assert type(clone) is type(model)
    assert [type(la).__name__ for la in clone.layers] == [type(la).__name__ for la in model.layers]
    assert [la.name for la in clone.layers] == [la.name for la in model.layers]
    assert all(a.shape == b.shape for a, b in zip(clone.get_weights(), model.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights())
                   if a.size > 1 and a.any())
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    # the clone is independent: training it leaves the original alone
    before = [w.copy() for w in model.get_weights()]
    clone.compile(optimizer="sgd", loss="mse")
    clone.fit(x, np.zeros((3, 2), np.float32), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_clone_model_clone_function_and_errors():
    model = ck.Sequential([ck.Input((3,)), ck.layers.Dense(4), ck.layers.Dense(1)])
    seen = []

    def clone_fn(layer):
        seen.append(layer.name)
        cfg = layer.get_config()
        cfg["name"] = "c_" + cfg["name"]
        return layer.__class__.from_config(cfg)

    clone = ck.models.clone_model(model, clone_function=clone_fn)
    assert seen == [la.name for la in model.layers]
    assert [la.name for la in clone.layers] == ["c_" + la.name for la in model.layers]

    class Sub(ck.Model):
        def __init__(self):
            super().__init__()
            self.d = ck.layers.Dense(1)

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="subclassed"):
        ck.models.clone_model(Sub())


def test_layers_serialize_deserialize_round_trip():
    keras = _keras()
    if not hasattr(ck.layers, "serialize"):
        pytest.skip("keras.layers.serialize is exported by chainrule/keras/layers/__init__.py")
    d = ck.layers.Dense(3, name="d")
    cfg = ck.layers.serialize(d)
    kcfg = keras.layers.serialize(keras.layers.Dense(3, name="d"))
    assert (cfg["module"], cfg["class_name"]) == (kcfg["module"], kcfg["class_name"])
    assert isinstance(ck.layers.deserialize(cfg), ck.layers.Dense)


def _act_reg(lib):
    """The 'making new layers' guide's ActivityRegularizationLayer."""
    class ActivityRegularizationLayer(lib.layers.Layer):
        def __init__(self, rate=1e-2, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * lib.ops.mean(inputs))
            return inputs

    return ActivityRegularizationLayer


def _add_loss_model(lib):
    inputs = lib.Input((4,))
    h = lib.layers.Dense(5, activation="relu")(inputs)
    h = _act_reg(lib)(0.5)(h)
    return lib.Model(inputs, lib.layers.Dense(1)(h))


def test_add_loss_is_added_to_the_training_loss_like_keras():
    keras = _keras()
    km, cm = _add_loss_model(keras), _add_loss_model(ck)
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    km.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    cm.compile(optimizer=ck.optimizers.SGD(0.05), loss="mse")
    hk = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    hc = cm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hc["loss"], hk["loss"], rtol=1e-5)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    # model.losses: the last call's add_loss values (one per call, not accumulated)
    cm(x[:4])
    cm(x[:4])
    km(x[:4])
    km(x[:4])
    assert len(cm.losses) == len(km.losses) == 1
    np.testing.assert_allclose(float(cm.losses[0]), float(km.losses[0].detach()), rtol=1e-5)


def test_add_loss_in_a_subclassed_model_and_errors():
    class Net(ck.Model):
        def __init__(self):
            super().__init__()
            self.reg = _act_reg(ck)(1.0)
            self.out = ck.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.out(self.reg(x))

    net = Net()
    x = np.ones((2, 3), np.float32)
    net(x)
    np.testing.assert_allclose([float(v) for v in net.losses], [1.0])
    net.compile(optimizer="sgd", loss="mse")
    loss = net.evaluate(x, np.full((2, 1), 3.0, np.float32), verbose=0)
    assert loss == pytest.approx(0.0 + 1.0, abs=1e-6)  # mse 0 (3 - 3) + the added 1.0
    with pytest.raises(ValueError, match="add_loss"):
        ck.layers.Dense(1).add_loss(0.5)


def test_backend_functions_like_keras():
    keras = _keras()
    for name in ("floatx", "epsilon", "image_data_format"):
        assert getattr(ck.backend, name)() == getattr(keras.backend, name)()
    assert ck.backend.standardize_dtype(np.float64) == keras.backend.standardize_dtype(
        np.float64) == "float64"
    assert ck.backend.is_float_dtype("float16") and ck.backend.is_int_dtype("uint8")
    assert ck.backend.is_keras_tensor(ck.Input((2,)))
    assert not ck.backend.is_keras_tensor(np.ones(2))
    ck.backend.clear_session()
    assert [ck.backend.get_uid("x"), ck.backend.get_uid("x")] == [1, 2]
    ck.backend.clear_session()
    assert ck.layers.Dense(1).name == "dense"
    ck.backend.set_floatx("float32")
    with pytest.raises(ValueError, match="float32"):
        ck.backend.set_floatx("float64")
    with pytest.raises(ValueError, match="channels-last"):
        ck.backend.set_image_data_format("channels_first")
    assert ck.backend.backend() == "chainrule"


# -- callbacks that write files -------------------------------------------------------------
def _ckpt_model(lib):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1)])
    model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
    return model


def test_model_checkpoint_save_freq_batches_like_keras(tmp_path):
    keras = _keras()
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = x[:, :1] * 2
    saved = {}
    for name, lib in (("keras", keras), ("chainrule", ck)):
        where = tmp_path / name
        path = str(where / "m-{epoch}-{batch}.weights.h5")
        cb = lib.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=3)
        _ckpt_model(lib).fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                             callbacks=[cb])
        saved[name] = sorted(p.name for p in where.iterdir())
    # 5 batches an epoch, every 3rd batch counted across epochs: epoch 1 batch 3, epoch 2
    # batches 1 and 4
    assert saved["chainrule"] == saved["keras"] == [
        "m-1-3.weights.h5", "m-2-1.weights.h5", "m-2-4.weights.h5"]
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "x.keras"), save_freq="batch")


def test_model_checkpoint_every_batch_saves_a_loadable_model(tmp_path):
    x = np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32)
    model = _ckpt_model(ck)
    path = tmp_path / "latest.keras"
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0, shuffle=False,
              callbacks=[ck.callbacks.ModelCheckpoint(str(path), save_freq=2)])
    loaded = ck.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


class _Interrupt(ck.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("Interrupting!")


def test_backup_and_restore_resumes_where_keras_does(tmp_path):
    """The Keras docs' example: interrupted at epoch 4 of 10, the second fit runs 6 epochs,
    and ends with the weights of an uninterrupted run (optimizer state restored too)."""
    keras = _keras()
    x = np.arange(100, dtype=np.float32).reshape(5, 20) / 100
    y = np.zeros((5, 10), np.float32)

    def run(lib):
        model = lib.Sequential([lib.Input((20,)), lib.layers.Dense(10)])
        model.compile(lib.optimizers.SGD(0.1, momentum=0.9), loss="mse")
        return model

    lengths = {}
    for name, lib in (("keras", keras), ("chainrule", ck)):
        backup = str(tmp_path / name)
        model = run(lib)
        if name == "keras":
            class Interrupt(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    if epoch == 4:
                        raise RuntimeError("Interrupting!")
            stop = Interrupt()
        else:
            stop = _Interrupt(4)
            reference = run(ck)
            reference.set_weights(model.get_weights())
        callback = lib.callbacks.BackupAndRestore(backup_dir=backup)
        with pytest.raises(RuntimeError, match="Interrupting"):
            model.fit(x, y, epochs=10, batch_size=1, callbacks=[callback, stop], verbose=0,
                      shuffle=False)
        history = model.fit(x, y, epochs=10, batch_size=1, callbacks=[callback], verbose=0,
                            shuffle=False)
        lengths[name] = (len(history.history["loss"]), history.epoch)
        assert not os.path.exists(backup)  # deleted when fit ends normally
    assert lengths["chainrule"] == lengths["keras"] == (6, [4, 5, 6, 7, 8, 9])
    reference.fit(x, y, epochs=10, batch_size=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        ck.callbacks.BackupAndRestore("")


class _FakeWriter:
    log: list = []

    def __init__(self, logdir):
        self.logdir = logdir

    def add_scalar(self, tag, value, step):
        self.log.append((os.path.basename(self.logdir), tag, float(value), step))

    def flush(self):
        pass

    def close(self):
        self.log.append((os.path.basename(self.logdir), "closed", 0.0, 0))


def test_tensorboard_writes_keras_scalars_through_tensorboardx(tmp_path, monkeypatch):
    import sys
    import types

    fake = types.ModuleType("tensorboardX")
    fake.SummaryWriter = _FakeWriter
    monkeypatch.setitem(sys.modules, "tensorboardX", fake)
    _FakeWriter.log = []
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    model = _ckpt_model(ck)
    model.compile(optimizer=ck.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    tb = ck.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"), update_freq=2)
    h = model.fit(x, x[:, :1], batch_size=4, epochs=2, validation_split=0.25, verbose=0,
                  shuffle=False, callbacks=[tb]).history
    epoch_tags = [(w, t, s) for w, t, _, s in _FakeWriter.log if t.startswith("epoch_")]
    assert epoch_tags == [(w, t, e) for e in (0, 1) for w, t in (
        ("train", "epoch_loss"), ("train", "epoch_mae"), ("train", "epoch_learning_rate"),
        ("validation", "epoch_loss"), ("validation", "epoch_mae"))]
    values = {(w, t, s): v for w, t, v, s in _FakeWriter.log}
    assert values[("validation", "epoch_mae", 1)] == pytest.approx(h["val_mae"][1])
    assert values[("train", "epoch_loss", 0)] == pytest.approx(h["loss"][0])
    batch_steps = sorted({s for w, t, _, s in _FakeWriter.log if t == "batch_loss"})
    assert batch_steps == [2, 4, 6]  # 3 batches an epoch, 6 in all, every 2nd
    assert ("validation", "evaluation_loss_vs_iterations", h["val_loss"][0], 3) in [
        (w, t, pytest.approx(v), s) for w, t, v, s in _FakeWriter.log]
    assert [w for w, t, _, _ in _FakeWriter.log if t == "closed"] == ["train", "validation"]


def test_tensorboard_without_tensorboardx_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails: not installed
    with pytest.raises(ImportError, match=r"chainrule\[tensorboard\]"):
        ck.callbacks.TensorBoard(log_dir="logs")


def test_saved_compile_keeps_metric_configs(tmp_path, registry):
    @ck.saving.register_keras_serializable()
    class Total(ck.metrics.Metric):
        def __init__(self, name="total", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable((), "zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(ops.sum(y_pred))

        def result(self):
            return self.total

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = ck.Sequential([ck.Input((5,)), ck.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[ck.metrics.AUC(curve="PR", num_thresholds=50, name="pr"),
                           ck.metrics.Precision(thresholds=0.3), "accuracy", Total(),
                           ck.metrics.BinaryAccuracy(threshold=0.7, name="acc7")])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = ck.saving.load_model(tmp_path / "m.keras")
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)
    want = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(got) == set(want) == {"loss", "pr", "precision", "accuracy", "total", "acc7"}
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-6), k
    auc = next(m for _, m, _, _ in loaded.compiled._metrics if m.name == "pr")
    assert (auc.curve, auc.num_thresholds) == ("PR", 50)
