"""Keras 3's confusion metrics (TruePositives ... FalseNegatives, Precision, Recall, AUC,
F1Score, FBetaScore) and custom Metric subclasses with add_variable, streamed over several
batches beside real Keras 3 on its torch backend."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule.keras as ck
from chainrule.keras import ops


def _batches(shape, n=3, seed=0, weights=False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = (rng.random(shape) > 0.6).astype(np.float32)
        p = rng.random(shape).astype(np.float32)
        p[rng.random(shape) < 0.1] = 0.5  # exactly at the threshold: not positive
        p[rng.random(shape) < 0.05] = 0.0
        p[rng.random(shape) < 0.05] = 1.0
        w = rng.random(shape[0]).astype(np.float32) if weights else None
        out.append((t, p, w))
    return out


def _stream(metric, batches):
    values = []
    for t, p, w in batches:
        metric.update_state(t, p, sample_weight=w)
        values.append(np.asarray(ops.convert_to_numpy(metric.result())
                                 if hasattr(metric.result(), "shape") else metric.result(),
                                 dtype=np.float64))
    return values


def _np_of(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy() if hasattr(v, "cpu") else v.detach().numpy()
    return np.asarray(v, dtype=np.float64)


def _compare(keras_metric, our_metric, batches, atol=1e-6):
    for t, p, w in batches:
        keras_metric.update_state(t, p, sample_weight=w)
        our_metric.update_state(t, p, sample_weight=w)
        np.testing.assert_allclose(_np_of(our_metric.result()),
                                   _np_of(keras_metric.result()), atol=atol, rtol=1e-6)
    keras_metric.reset_state()
    our_metric.reset_state()
    np.testing.assert_allclose(_np_of(our_metric.result()), _np_of(keras_metric.result()),
                               atol=atol)


CASES = [
    ("TruePositives", {}), ("FalsePositives", {}), ("TrueNegatives", {}),
    ("FalseNegatives", {}), ("TruePositives", {"thresholds": [0.1, 0.5, 0.9]}),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}),
    ("Precision", {}), ("Recall", {}), ("Precision", {"thresholds": 0.3}),
    ("Recall", {"thresholds": [0.2, 0.7]}), ("Precision", {"top_k": 2}),
    ("Recall", {"top_k": 2}), ("Precision", {"class_id": 1}),
    ("Recall", {"class_id": 2, "thresholds": 0.4}), ("Precision", {"top_k": 1, "class_id": 0}),
    ("AUC", {}), ("AUC", {"curve": "PR"}), ("AUC", {"num_thresholds": 7}),
    ("AUC", {"summation_method": "minoring"}), ("AUC", {"curve": "PR",
                                                        "summation_method": "majoring"}),
    ("AUC", {"thresholds": [0.25, 0.5, 0.8]}), ("AUC", {"multi_label": True}),
    ("AUC", {"multi_label": True, "curve": "PR"}),
    ("AUC", {"label_weights": [0.2, 1.0, 0.5]}),
    ("F1Score", {}), ("F1Score", {"average": "micro"}), ("F1Score", {"average": "macro"}),
    ("F1Score", {"average": "weighted", "threshold": 0.5}),
    ("FBetaScore", {"beta": 2.0}), ("FBetaScore", {"beta": 0.5, "average": "macro"}),
]


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_confusion_metrics_stream_like_keras(name, kwargs, weights):
    keras = _keras()
    batches = _batches((16, 3), weights=weights)
    _compare(getattr(keras.metrics, name)(**kwargs), getattr(ck.metrics, name)(**kwargs),
             batches)


@pytest.mark.parametrize("shape", [(20,), (20, 1)])
def test_binary_auc_and_counts_on_vectors_like_keras(shape):
    keras = _keras()
    batches = _batches(shape, n=4, seed=3, weights=True)
    for name in ("AUC", "TruePositives", "Precision", "Recall"):
        _compare(getattr(keras.metrics, name)(), getattr(ck.metrics, name)(), batches)
    logits = [(t, (p - 0.5) * 8, w) for t, p, w in batches]
    _compare(keras.metrics.AUC(from_logits=True), ck.metrics.AUC(from_logits=True), logits)


def test_names_defaults_and_errors_are_keras():
    keras = _keras()
    keras.backend.clear_session()
    for name in ("TruePositives", "Precision", "Recall", "AUC", "F1Score", "FBetaScore") * 2:
        assert getattr(ck.metrics, name)().name == getattr(keras.metrics, name)().name
    assert ck.metrics.AUC().thresholds == pytest.approx(keras.metrics.AUC().thresholds)
    assert ck.metrics.Precision(top_k=3).thresholds == [-1e10]
    with pytest.raises(ValueError, match="Threshold values must be in"):
        ck.metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="Invalid AUC curve"):
        ck.metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="beta"):
        ck.metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="2D inputs"):
        ck.metrics.F1Score().update_state(np.ones(3), np.ones(3))


def _binary_model(lib):
    return lib.Sequential([lib.Input((5,)), lib.layers.Dense(1, activation="sigmoid")])


def test_compile_string_names_log_like_keras():
    keras = _keras()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, :1] + 0.3 * rng.normal(size=(64, 1)) > 0).astype(np.float32)
    metrics = ["auc", "precision", "recall", "true_positives", "false_negatives",
               keras.metrics.AUC(curve="PR", name="pr_auc")]
    ours = ["auc", "precision", "recall", "true_positives", "false_negatives",
            ck.metrics.AUC(curve="PR", name="pr_auc")]
    km, cm = _binary_model(keras), _binary_model(ck)
    cm.set_weights(km.get_weights())
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=metrics)
    cm.compile(optimizer=ck.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=ours)
    hk = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    hc = cm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert set(hc) == set(hk)
    for k in hk:
        np.testing.assert_allclose(hc[k], hk[k], rtol=1e-4, atol=1e-5, err_msg=k)
    ek = km.evaluate(x, y, verbose=0, return_dict=True)
    ec = cm.evaluate(x, y, verbose=0, return_dict=True)
    for k in ek:
        np.testing.assert_allclose(ec[k], ek[k], rtol=1e-4, atol=1e-5, err_msg=k)


def _binary_true_positives(lib):
    """The Keras guide's custom metric, written with lib.ops and add_variable."""
    o = lib.ops

    class BinaryTruePositives(lib.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = o.cast(y_true, "bool")
            y_pred = o.cast(y_pred > 0.5, "bool")
            values = o.logical_and(o.equal(y_true, True), o.equal(y_pred, True))
            values = o.cast(values, self.dtype)
            if sample_weight is not None:
                sample_weight = o.cast(sample_weight, self.dtype)
                sample_weight = o.broadcast_to(sample_weight, values.shape)
                values = o.multiply(values, sample_weight)
            self.true_positives.assign_add(o.sum(values))

        def result(self):
            return self.true_positives

    return BinaryTruePositives


def test_custom_metric_with_add_variable_like_keras():
    keras = _keras()
    batches = _batches((8,), n=3, seed=5, weights=True)
    km, cm = _binary_true_positives(keras)(), _binary_true_positives(ck)()
    _compare(km, cm, batches)
    assert [v.shape for v in cm.variables] == [()]
    assert cm.name == "binary_true_positives"
    # the guide's metric in compile(): logged under its name, reset each epoch
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)[:, None]
    kmod, cmod = _binary_model(keras), _binary_model(ck)
    cmod.set_weights(kmod.get_weights())
    kmod.compile(loss="binary_crossentropy", metrics=[_binary_true_positives(keras)()])
    cmod.compile(loss="binary_crossentropy", metrics=[_binary_true_positives(ck)()])
    hk = kmod.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    hc = cmod.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hc["binary_true_positives"], hk["binary_true_positives"])


def test_metric_variable_api():
    class Total(ck.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.total = self.add_variable((2,), "ones", name="total")

        def update_state(self, values):
            self.total.assign_add(values)

        def result(self):
            return self.total

    m = Total(name="t")
    m.update_state(np.array([1.0, 2.0]))
    np.testing.assert_allclose(m.result().numpy(), [2.0, 3.0])
    np.testing.assert_allclose(m(np.array([1.0, 1.0])).numpy(), [3.0, 4.0])
    m.reset_state()  # Keras' default reset: every variable to zeros
    np.testing.assert_allclose(m.result().numpy(), [0.0, 0.0])
    assert m.total.dtype == ck.ops.convert_to_tensor(np.float32(0)).dtype
    assert m.variables[0].name == "t/total"


def test_early_stopping_auto_mode_maximises_f1_and_auc():
    """Keras' metrics carry a direction: EarlyStopping(monitor='f1_score') in mode 'auto'
    stops when F1 stops going *up*."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    model = ck.Sequential([ck.Input((5,)), ck.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=[ck.metrics.F1Score(average="macro"), "auc"])
    model.fit(x, y, epochs=1, verbose=0)
    assert model._metric_direction("f1_score") == "up"
    assert model._metric_direction("auc") == "up"
    stop = ck.callbacks.EarlyStopping(monitor="f1_score", patience=0)
    stop.set_model(model)
    assert stop._higher_is_better()
