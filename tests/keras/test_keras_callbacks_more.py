"""Metric names as Keras 3 logs them, the callbacks that watch them, the logs callbacks get,
and the data fit() accepts (DataLoaders of [x, y], PyDataset), each run beside real Keras 3 on
its torch backend where Keras is installed."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule
import chainrule.keras as ck


def _pair(build, keras):
    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    return km, cm


def _regressor(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="softmax")])


def _xy(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    y = rng.random((n, 3)).astype(np.float32)
    return x, y / y.sum(1, keepdims=True)


ALIASES = ["mae", "mse", "mape", "acc", "accuracy", "binary_accuracy", "categorical_accuracy",
           "root_mean_squared_error", "mean_absolute_error", "mean_squared_error",
           "mean_absolute_percentage_error", "binary_crossentropy", "categorical_crossentropy"]


@pytest.mark.parametrize("alias", ALIASES)
def test_a_metric_is_logged_under_the_name_it_was_asked_by(alias):
    keras = _keras()
    x, y = _xy()
    km, cm = _pair(_regressor, keras)
    for m in (km, cm):
        m.compile("sgd", "mse", metrics=[alias])
    kh = km.fit(x, y, validation_data=(x, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    ch = cm.fit(x, y, validation_data=(x, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert list(ch.history) == list(kh.history)  # the names, and Keras' (sorted) order
    for k in kh.history:
        np.testing.assert_allclose(ch.history[k], kh.history[k], rtol=1e-4, atol=1e-6)
    ke = km.evaluate(x, y, verbose=0)
    ce = cm.evaluate(x, y, verbose=0)  # the list: loss first, then the metrics
    np.testing.assert_allclose(ce, ke, rtol=1e-4, atol=1e-6)


def test_a_name_keras_does_not_know_is_refused():
    keras = _keras()
    with pytest.raises(ValueError):
        m = _regressor(keras)
        m.compile("sgd", "mse", metrics=["rmse"])
        m.fit(*_xy(), verbose=0)
    with pytest.raises(ValueError, match="unknown metric 'rmse'"):
        _regressor(ck).compile("sgd", "mse", metrics=["rmse"])


def _drifting(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(1)])


def _drift_data():
    """Training pulls the outputs to +1, validation wants -1: val_mae grows every epoch."""
    rng = np.random.default_rng(1)
    x = rng.random((32, 4)).astype(np.float32)
    return x, np.ones((32, 1), np.float32), (x, -np.ones((32, 1), np.float32))


def _fit_both(callbacks, epochs=6, metrics=("mae",)):
    keras = _keras()
    x, y, val = _drift_data()
    km, cm = _pair(_drifting, keras)
    for m in (km, cm):  # outputs start at 0: val_mae grows from the first step on
        m.set_weights([np.zeros_like(w) for w in km.get_weights()])
        m.compile(keras.optimizers.SGD(0.05) if m is km else ck.optimizers.SGD(0.05), "mse",
                  metrics=list(metrics))
    kh = km.fit(x, y, validation_data=val, epochs=epochs, batch_size=8, shuffle=False,
                verbose=0, callbacks=callbacks(keras))
    ch = cm.fit(x, y, validation_data=val, epochs=epochs, batch_size=8, shuffle=False,
                verbose=0, callbacks=callbacks(ck))
    return kh, ch


def test_early_stopping_on_val_mae_acts_as_in_keras():
    kh, ch = _fit_both(lambda lib: [lib.callbacks.EarlyStopping(monitor="val_mae", patience=2)])
    assert len(kh.epoch) < 6  # Keras stops: the test is not vacuous
    assert ch.epoch == kh.epoch
    np.testing.assert_allclose(ch.history["val_mae"], kh.history["val_mae"], rtol=1e-5)


def test_reduce_lr_on_plateau_on_val_mae_acts_as_in_keras():
    kh, ch = _fit_both(lambda lib: [lib.callbacks.ReduceLROnPlateau(
        monitor="val_mae", patience=1, factor=0.5)])
    assert kh.history["learning_rate"][-1] < kh.history["learning_rate"][0]
    np.testing.assert_allclose(ch.history["learning_rate"], kh.history["learning_rate"],
                               rtol=1e-6)
    np.testing.assert_allclose(ch.history["val_mae"], kh.history["val_mae"], rtol=1e-5)


def test_model_checkpoint_save_best_only_on_val_mae_acts_as_in_keras(tmp_path):
    saved = {}
    for lib in ("keras", "chainrule"):
        (tmp_path / lib).mkdir()

    def callbacks(lib):
        where = tmp_path / ("keras" if lib is not ck else "chainrule")
        return [lib.callbacks.ModelCheckpoint(str(where / "m-{epoch}.weights.h5")
                                              if lib is not ck else str(where / "m-{epoch}.cr"),
                                              monitor="val_mae", save_best_only=True,
                                              save_weights_only=True)]

    _fit_both(callbacks, epochs=3)
    for lib in ("keras", "chainrule"):
        saved[lib] = sorted(p.name.split(".")[0] for p in (tmp_path / lib).iterdir())
    assert saved["keras"] == ["m-1"] and saved["chainrule"] == saved["keras"]


def test_an_unknown_monitor_raises_in_auto_mode_and_warns_otherwise():
    for mode in ("auto", "min"):
        results = {}
        for name in ("keras", "chainrule"):
            lib = _keras() if name == "keras" else ck
            x, y, val = _drift_data()
            m = _drifting(lib)
            m.compile("sgd", "mse", metrics=["mae"])
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                try:
                    m.fit(x, y, epochs=2, verbose=0, callbacks=[
                        lib.callbacks.EarlyStopping(monitor="val_nope", mode=mode)])
                    results[name] = ("ran", any("val_nope" in str(i.message) for i in w))
                except ValueError as e:
                    results[name] = ("raised", "mode='max'" in str(e))
        assert results["chainrule"] == results["keras"]
        assert results["keras"] == (("raised", True) if mode == "auto" else ("ran", True))


def _recorder(lib):
    calls = []

    class Rec(lib.callbacks.Callback):
        pass

    rec = Rec()
    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
             "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"]
    for h in hooks:
        def hook(*args, _h=h, **kwargs):
            logs = kwargs.get("logs", args[-1] if args and not isinstance(args[-1], int)
                              else None)
            calls.append((_h, None if logs is None else sorted(logs)))
        setattr(rec, h, hook)
    return rec, calls


def test_callbacks_get_the_logs_keras_passes():
    keras = _keras()
    x, y = _xy(16)
    seen = {}
    for lib in (keras, ck):
        rec, calls = _recorder(lib)
        m = _regressor(lib)
        m.compile("sgd", "mse", metrics=["mae"])
        m.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y), callbacks=[rec])
        m.evaluate(x, y, batch_size=8, verbose=0, callbacks=[rec])
        m.predict(x, batch_size=8, verbose=0, callbacks=[rec])
        seen[lib.__name__] = calls
    assert seen["chainrule.keras"] == seen["keras"]
    assert ("on_train_begin", []) in seen["keras"]  # {} where the old code passed None


def test_fit_on_a_dataloader_of_x_y_lists_uses_the_targets():
    from chainrule.data import DataLoader, TensorDataset

    x, y = _xy(32)
    model = _regressor(ck)
    model.compile("sgd", "mse")
    w0 = model.get_weights()
    loader = DataLoader(TensorDataset(chainrule.tensor(x), chainrule.tensor(y)), batch_size=8)
    assert isinstance(next(iter(loader)), list)
    h1 = model.fit(loader, epochs=2, verbose=0)
    model.set_weights(w0)
    h2 = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)


def _py_dataset(lib, x, y, log):
    class Batches(lib.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return math.ceil(len(x) / 8)

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]

        def on_epoch_end(self):
            log.append("end")

    return Batches()


def test_fit_on_a_py_dataset_matches_keras():
    keras = _keras()
    assert ck.utils.Sequence is ck.utils.PyDataset
    x, y = _xy(28)
    km, cm = _pair(_regressor, keras)
    logs = {"keras": [], "chainrule": []}
    for m in (km, cm):
        m.compile("sgd", "mse", metrics=["mae"])
    kh = km.fit(_py_dataset(keras, x, y, logs["keras"]), epochs=2, shuffle=False, verbose=0)
    ch = cm.fit(_py_dataset(ck, x, y, logs["chainrule"]), epochs=2, shuffle=False, verbose=0)
    for k in kh.history:
        np.testing.assert_allclose(ch.history[k], kh.history[k], rtol=1e-5)
    # once per epoch (Keras also peeks at the first batch once, an extra pass of one batch)
    assert logs["chainrule"] == ["end", "end"] and logs["keras"].count("end") >= 2
    np.testing.assert_allclose(cm.predict(_py_dataset(ck, x, y, []), verbose=0),
                               km.predict(_py_dataset(keras, x, y, []), verbose=0), rtol=1e-5)
    # a plain object with __len__ / __getitem__ is read by batches, not as one array
    plain = type("Plain", (), {"__len__": lambda s: 4,
                               "__getitem__": lambda s, i: (x[i * 7:(i + 1) * 7],
                                                            y[i * 7:(i + 1) * 7])})()
    assert len(cm.fit(plain, epochs=1, verbose=0).history["loss"]) == 1


def test_fit_runs_on_a_model_with_nothing_trainable():
    keras = _keras()
    x, y = _xy(16)
    hist = {}
    keep = _regressor(keras).get_weights()
    for lib in (keras, ck):
        m = _regressor(lib)
        m.set_weights(keep)
        m.trainable = False
        m.compile("sgd", "mse")
        with pytest.warns(UserWarning, match="does not have any trainable weights"):
            hist[lib] = m.fit(x, y, epochs=2, verbose=0).history
        for a, b in zip(m.get_weights(), keep):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(hist[ck]["loss"], hist[keras]["loss"], rtol=1e-5)


def test_a_custom_layer_whose_config_omits_the_name_loads_back(tmp_path):
    class Scale(ck.layers.Layer):  # the guides' pattern: get_config without super()
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal")

        def call(self, x):
            return x @ self.w

        def get_config(self):
            return {"units": self.units}

    inputs = ck.Input((3,))
    model = ck.Model(inputs, ck.layers.Dense(2)(Scale(4)(inputs)))
    model.compile("sgd", "mse")
    path = tmp_path / "m.keras"
    model.save(path)
    back = ck.models.load_model(path, custom_objects={"Scale": Scale})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("kwargs", [{}, {"maxlen": 2}, {"maxlen": 5, "padding": "post"},
                                    {"maxlen": 2, "truncating": "post", "value": -1},
                                    {"dtype": "float32", "padding": "post", "value": 0.5}])
def test_pad_sequences_matches_keras(kwargs):
    keras = _keras()
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8]]
    want = keras.utils.pad_sequences(seqs, **kwargs)
    got = ck.utils.pad_sequences(seqs, **kwargs)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    vectors = [np.ones((2, 3)), np.zeros((1, 3))]  # sequences of vectors
    np.testing.assert_array_equal(ck.utils.pad_sequences(vectors, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, dtype="float32"))
    with pytest.raises(ValueError, match="padding"):
        ck.utils.pad_sequences(seqs, padding="middle")


def test_to_categorical_matches_keras():
    keras = _keras()
    for labels, n in (([2, 0, 1], None), (np.array([[1], [0]]), 3),
                      (np.array([[1, 2], [0, 1]]), None)):
        want = keras.utils.to_categorical(labels, n)
        got = ck.utils.to_categorical(labels, n)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_csv_logger_writes_keras_columns(tmp_path):
    keras = _keras()
    x, y = _xy(16)
    rows = {}
    for lib in (keras, ck):
        m = _regressor(lib)
        m.compile("sgd", "mse", metrics=["mae"])
        path = tmp_path / f"{lib.__name__}.csv"
        m.fit(x, y, epochs=2, verbose=0, callbacks=[lib.callbacks.CSVLogger(str(path))])
        rows[lib] = [r.split(",") for r in path.read_text().splitlines()]
    assert rows[ck][0] == rows[keras][0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[ck]] == [r[0] for r in rows[keras]]
    assert [r[3:] for r in rows[ck][1:]] == [r[3:] for r in rows[keras][1:]] == [["NA", "NA"]] * 2


def test_terminate_on_nan_and_lambda_callback_as_in_keras():
    keras = _keras()
    x, y = _xy(32)
    bad = x.copy()
    bad[20] = np.nan
    for lib in (keras, ck):
        m = _regressor(lib)
        m.compile("sgd", "mse")
        ends: list = []
        lam = lib.callbacks.LambdaCallback(on_epoch_end=lambda e, logs, ends=ends: ends.append(e),
                                           on_train_end=lambda logs, ends=ends: ends.append("end"))
        h = m.fit(bad, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[lib.callbacks.TerminateOnNaN(), lam])
        assert len(h.epoch) == 1 and math.isnan(h.history["loss"][0]) and ends == [0, "end"]
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
            m.fit(bad, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[lib.callbacks.TerminateOnNaN(raise_error=True)])


def test_evaluate_orders_several_outputs_as_keras():
    keras = _keras()

    def build(lib):
        i = lib.Input((4,))
        return lib.Model(i, [lib.layers.Dense(1, name="a")(i), lib.layers.Dense(1, name="b")(i)])

    km, cm = _pair(build, keras)
    x, _ = _xy(8)
    y = [np.zeros((8, 1), np.float32), np.ones((8, 1), np.float32)]
    for m in (km, cm):
        m.compile("sgd", ["mse", "mse"], metrics=[["mae"], ["mse"]])
    kd, cd = km.evaluate(x, y, verbose=0, return_dict=True), cm.evaluate(x, y, verbose=0,
                                                                          return_dict=True)
    assert list(cd) == list(kd)
    np.testing.assert_allclose(list(cd.values()), list(kd.values()), rtol=1e-5)
    np.testing.assert_allclose(cm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    assert cm.metrics_names == km.metrics_names == ["loss", "compile_metrics", "a_loss", "b_loss"]
