"""Learning-rate schedules against real Keras 3: CosineDecay with warmup_target /
warmup_steps, PolynomialDecay (cycle or not), CosineDecayRestarts, step by step; and a
warmed-up cosine schedule driving Adam in fit, compared weight for weight."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule.keras as ck

CASES = [
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=20, warmup_target=0.1,
                         warmup_steps=7)),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=15, alpha=0.2,
                         warmup_target=0.05, warmup_steps=5)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, power=0.5,
                             end_learning_rate=0.01, cycle=True)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4, t_mul=1.0,
                                 m_mul=0.5, alpha=0.05)),
]


@pytest.mark.parametrize("name,kw", CASES)
def test_schedule_values_like_keras(name, kw):
    keras = _keras()
    ks = getattr(keras.optimizers.schedules, name)(**kw)
    cs = getattr(ck.optimizers.schedules, name)(**kw)
    for step in range(40):
        np.testing.assert_allclose(cs(step), float(ks(step)), rtol=1e-5, atol=1e-7)
    cfg = ks.get_config()
    assert {k: v for k, v in cs.get_config().items() if k in cfg} == {
        k: v for k, v in cfg.items() if k in cs.get_config()}
    assert set(cfg) <= set(cs.get_config()) | {"t_mul", "m_mul"}


def test_warmup_cosine_drives_fit_like_keras():
    keras = _keras()
    keras.utils.set_random_seed(0)  # Keras' initial weights: fixed, so the tolerance holds

    def build(M):
        sched = M.optimizers.schedules.CosineDecay(0.0, decay_steps=6, warmup_target=0.05,
                                                   warmup_steps=3)
        m = M.Sequential([M.Input((4,)), M.layers.Dense(8, activation="relu"),
                          M.layers.Dense(1)])
        m.compile(optimizer=M.optimizers.Adam(learning_rate=sched), loss="mse")
        return m

    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.normal(size=(40, 1)).astype("f")
    hk = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_schedule_errors():
    with pytest.raises(ValueError, match="decay_steps"):
        ck.optimizers.schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="first_decay_steps"):
        ck.optimizers.schedules.CosineDecayRestarts(0.1, 0)
