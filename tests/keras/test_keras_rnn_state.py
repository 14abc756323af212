"""Keras recurrent layers against real Keras 3 (torch backend), same weights: stateful=True
(states carried across calls, reset_state / reset_states, fixed batch size), dropout and
recurrent_dropout (inference untouched; in training the same masks give the same numbers:
one mask per sequence, shared by the time steps, one per gate with recurrent_dropout) and
GRU(reset_after=False). float64 gradchecks run without Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck
from chainrule.keras import layers as L

os.environ.setdefault("KERAS_BACKEND", "torch")


def _np(t):
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _pair(keras, kind, **kw):
    """The same layer in Keras and in chainrule.keras, built on (2, 5, 3), Keras' weights."""
    kl, cl = getattr(keras.layers, kind)(4, **kw), getattr(L, kind)(4, **kw)
    x = _x((2, 5, 3))
    kl(x)
    cl(x)
    cl.set_weights(kl.get_weights())
    return kl, cl


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_stateful_layer_carries_states_like_keras(kind):
    keras = _keras()
    kl, cl = _pair(keras, kind, stateful=True, return_sequences=True)
    kl.reset_state()
    cl.reset_state()
    for step in range(3):  # each call starts where the last one ended
        x = _x((2, 5, 3), seed=step + 1)
        _close(cl(x), kl(x))
        for a, b in zip(cl.states, kl.states):
            _close(a, b)
    kl.reset_states()
    cl.reset_states()
    assert all(not np.any(_np(s)) for s in cl.states)
    x = _x((2, 5, 3), seed=9)
    _close(cl(x), kl(x))
    assert len(cl.weights) == len(kl.weights)  # the states are not weights
    with pytest.raises(ValueError, match="Expected batch size: 2"):
        cl(_x((3, 5, 3)))


def test_stateful_differs_from_stateless():
    """A check that can fail: the second call of a stateful layer is not a fresh start."""
    layer = L.LSTM(3, stateful=True)
    x = _x((2, 4, 2))
    first, second = layer(x), layer(x)
    assert not np.allclose(_np(first), _np(second))
    layer.reset_state()
    np.testing.assert_allclose(_np(layer(x)), _np(first), rtol=1e-6)


def test_stateful_sequential_predict_like_keras():
    """The Keras RNN guide's pattern: Input(batch_size=...), predict over consecutive chunks,
    reset the layer between sequences."""
    keras = _keras()

    def build(M):
        return M.Sequential([M.Input(shape=(4, 2), batch_size=3),
                             M.layers.LSTM(5, stateful=True), M.layers.Dense(1)])

    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    chunks = [_x((3, 4, 2), seed=s) for s in range(3)]
    for c in chunks:
        _close(cm.predict(c, batch_size=3, verbose=0), km.predict(c, batch_size=3, verbose=0))
    km.layers[0].reset_states()
    cm.layers[0].reset_states()
    _close(cm.predict(chunks[0], batch_size=3, verbose=0),
           km.predict(chunks[0], batch_size=3, verbose=0))
    assert not hasattr(keras.Model, "reset_states")  # Keras 3: reset each layer, not the model


def test_stateful_needs_a_static_batch_size():
    with pytest.raises(ValueError, match="batch size must be static"):
        L.GRU(2, stateful=True)(ck.Input((4, 2)))


def _stateful_model(M, kind):
    m = M.Sequential([M.Input(shape=(4, 2), batch_size=2),
                      getattr(M.layers, kind)(3, stateful=True), M.layers.Dense(1)])
    m.compile(optimizer=M.optimizers.SGD(0.1), loss="mse")
    return m


def test_stateful_fit_trains_like_keras():
    """SimpleRNN only: Keras 3.15's own fit of a stateful LSTM / GRU on the torch backend
    fails (its state assign is in place, under the graph: 'modified by an inplace
    operation')."""
    keras = _keras()
    km, cm = _stateful_model(keras, "SimpleRNN"), _stateful_model(ck, "SimpleRNN")
    cm.set_weights(km.get_weights())
    x, y = _x((6, 4, 2)), _x((6, 1), seed=5)
    hk = km.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    _close(hc.history["loss"], hk.history["loss"])
    for a, b in zip(cm.get_weights(), km.get_weights()):
        _close(a, b)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_stateful_fit_lstm_gru(kind):
    """Truncated backpropagation through time: each batch starts from the last one's states,
    detached, so fit runs (where Keras-torch raises) and the states move on."""
    m = _stateful_model(ck, kind)
    x, y = _x((6, 4, 2)), _x((6, 1), seed=5)
    h = m.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0)
    assert np.all(np.isfinite(h.history["loss"])) and h.history["loss"][-1] < h.history["loss"][0]
    states = [_np(s).copy() for s in m.layers[0].states]
    m.predict(x[:2], batch_size=2, verbose=0)
    assert any(not np.allclose(a, _np(b)) for a, b in zip(states, m.layers[0].states))


# -- dropout / recurrent_dropout -----------------------------------------------------------------
def _fixed_masks(keras, kl, cl, kind, dropout, recurrent_dropout, n_in=3, units=4, N=2):
    """Make both layers use the same dropout masks (in Keras' gate order)."""
    import torch
    count = None if kind == "SimpleRNN" or not recurrent_dropout else {"LSTM": 4, "GRU": 3}[kind]
    rng = np.random.default_rng(1)

    def draw(d, rate):
        m = (rng.random((N, d)) >= rate) / (1 - rate)
        return m.astype(np.float32)

    made = {}
    if dropout:
        made[dropout] = [draw(n_in, dropout) for _ in range(count or 1)]
    if recurrent_dropout:
        made[recurrent_dropout] = [draw(units, recurrent_dropout) for _ in range(count or 1)]

    def keras_masks(step_input, rate):
        ms = [torch.tensor(m) for m in made[rate]]
        return ms if count else ms[0]

    kl.cell._create_dropout_mask = keras_masks
    queue = [m for r in (dropout, recurrent_dropout) if r for m in made[r]]
    cl._draw = lambda shape, rate, dtype: queue.pop(0).astype(dtype)
    return queue


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_dropout_masks_as_keras(kind, rates):
    keras = _keras()
    dropout, recurrent_dropout = rates
    kl, cl = _pair(keras, kind, dropout=dropout, recurrent_dropout=recurrent_dropout,
                   return_sequences=True)
    x = _x((2, 5, 3), seed=3)
    _close(cl(x), kl(x))  # inference: no dropout
    queue = _fixed_masks(keras, kl, cl, kind, dropout, recurrent_dropout)
    ours = cl(x, training=True)
    assert not queue  # every mask drawn once for the whole sequence
    _close(ours, kl(x, training=True))
    assert not np.allclose(_np(ours), _np(kl(x)), atol=1e-3)  # dropout did something


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_recurrent_dropout_statistics(kind):
    """Drawn masks: about `rate` of the entries are zero, the rest 1 / (1 - rate); the same
    mask serves every step, so with zero inputs dropped units stay dropped at each step."""
    layer = getattr(L, kind)(64, recurrent_dropout=0.25, dropout=0.5)
    x = cr.tensor(_x((50, 3, 8)))
    drawn = []
    real = layer._draw

    def spy(shape, rate, dtype):
        m = real(shape, rate, dtype)
        drawn.append((rate, m))
        return m
    layer(x)  # build
    layer._draw = spy
    layer(x, training=True)
    for rate, m in drawn:
        assert set(np.unique(m)) <= {0.0, np.float32(1 / (1 - rate))}
        assert abs((m == 0).mean() - rate) < 0.06
    assert len(drawn) == (2 if kind == "SimpleRNN" else 2 * layer.gates)
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x)))  # inference is deterministic


# -- GRU(reset_after=False) ----------------------------------------------------------------------
def test_gru_reset_after_false_like_keras():
    keras = _keras()
    kl, cl = _pair(keras, "GRU", reset_after=False, return_sequences=True, return_state=True)
    assert [w.shape for w in cl.get_weights()] == [tuple(w.shape) for w in kl.get_weights()]
    x = _x((2, 5, 3), seed=4)
    for a, b in zip(cl(x), kl(x)):
        _close(a, b)
    cfg = cl.get_config()
    assert cfg["reset_after"] is False
    again = L.GRU.from_config(cfg)
    again(x)
    again.set_weights(cl.get_weights())
    _close(again(x)[0], kl(x)[0])


def test_gru_reset_after_false_trains_like_keras():
    keras = _keras()

    def build(M):
        m = M.Sequential([M.Input((5, 3)), M.layers.GRU(4, reset_after=False),
                          M.layers.Dense(1)])
        m.compile(optimizer=M.optimizers.Adam(0.01), loss="mse")
        return m

    km, cm = build(keras), build(ck)
    cm.set_weights(km.get_weights())
    x, y = _x((8, 5, 3)), _x((8, 1), seed=2)
    lk = km.train_on_batch(x, y)
    lc = cm.train_on_batch(x, y)
    _close(lc, lk)
    for a, b in zip(cm.get_weights(), km.get_weights()):
        _close(a, b)


# -- float64 gradchecks of the step-by-step paths ------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: L.GRU(3, reset_after=False, return_sequences=True, dtype="float64"),
    lambda: L.LSTM(3, recurrent_dropout=0.3, dropout=0.2, return_sequences=True,
                   dtype="float64", seed=1),
    lambda: L.GRU(3, recurrent_dropout=0.3, return_sequences=True, dtype="float64", seed=2),
    lambda: L.SimpleRNN(3, recurrent_dropout=0.3, dtype="float64", seed=3),
], ids=["gru_v1", "lstm_rec_dropout", "gru_rec_dropout", "simple_rec_dropout"])
def test_gradcheck_step_paths(make):
    layer = make()
    x0 = np.random.default_rng(0).normal(size=(2, 4, 2))
    layer(cr.tensor(x0))
    with cr.no_grad():
        for p in layer.parameters():  # biases away from zero, so every term shows
            p.add_(0.1)
    real, masks, count = layer._draw, {}, [0]

    def same_masks(shape, rate, dtype):  # the n-th draw of every call gets the same mask
        count[0] += 1
        if count[0] not in masks:
            masks[count[0]] = real(shape, rate, dtype)
        return masks[count[0]]

    def f(x):
        count[0] = 0
        return layer(x, training=True)

    layer._draw = same_masks
    x = cr.tensor(x0, requires_grad=True)
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


# -- RNN(cell): stateful, masks, dropout in the cells ------------------------------------------
def _rnn_pair(keras, cell, n_in=3, **kw):
    ckw = kw.pop("cell_kw", {})
    kl = keras.layers.RNN(getattr(keras.layers, cell)(4, **ckw), **kw)
    cl = L.RNN(getattr(L, cell)(4, **ckw), **kw)
    x = _x((2, 5, n_in))
    kl(x)
    cl(x)
    cl.set_weights(kl.get_weights())
    return kl, cl


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_rnn_cell_stateful_like_keras(cell):
    keras = _keras()
    kl, cl = _rnn_pair(keras, cell, stateful=True, return_sequences=True)
    kl.reset_state()
    cl.reset_state()
    for step in range(3):
        x = _x((2, 5, 3), seed=step + 1)
        _close(cl(x), kl(x))
    cl.reset_states()
    kl.reset_states()
    _close(cl(x), kl(x))


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
@pytest.mark.parametrize("zero", [False, True])
def test_rnn_cell_masked_like_keras(cell, zero):
    keras = _keras()
    kl, cl = _rnn_pair(keras, cell, return_sequences=True, return_state=True,
                       zero_output_for_mask=zero)
    x = _x((2, 5, 3), seed=6)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0]], dtype=bool)
    for a, b in zip(cl(x, mask=mask), kl(x, mask=mask)):
        _close(a, b)


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_cell_dropout_like_keras(cell, rates):
    keras = _keras()  # skips without Keras or torch
    import torch

    ckw = {"dropout": rates[0], "recurrent_dropout": rates[1]}
    kl, cl = _rnn_pair(keras, cell, return_sequences=True, cell_kw=ckw)
    x = _x((2, 5, 3), seed=7)
    _close(cl(x), kl(x))
    rng = np.random.default_rng(3)
    made: dict = {}

    def masks(step_input, rate, mod, count):
        key = (tuple(step_input.shape), rate)
        if key not in made:
            made[key] = [((rng.random(key[0]) >= rate) / (1 - rate)).astype(np.float32)
                         for _ in range(count or 1)]
        ms = [mod(m) for m in made[key]]
        return ms if count else ms[0]

    kc, cc = kl.cell, cl.cell
    kc._create_dropout_mask = lambda s, r: masks(s, r, torch.tensor,
                                                 getattr(kc, "dropout_mask_count", None))
    cc._create_dropout_mask = lambda s, r: masks(s, r, cr.tensor, cc._mask_count)
    ours = cl(x, training=True)
    _close(ours, kl(x, training=True))
    assert not np.allclose(_np(ours), _np(cl(x)), atol=1e-3)
    assert cc._dropout_mask is None and cc._recurrent_dropout_mask is None  # reset after a call
    assert cc.get_config()["dropout"] == rates[0]


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_gradcheck_cell_dropout(cell):
    kw = {"reset_after": False} if cell == "GRUCell" else {}
    layer = L.RNN(getattr(L, cell)(3, dropout=0.2, recurrent_dropout=0.3, seed=0, **kw),
                  return_sequences=True, dtype="float64")
    layer.cell.dtype = "float64"
    x0 = np.random.default_rng(0).normal(size=(2, 4, 2))
    layer(cr.tensor(x0))
    with cr.no_grad():
        for p in layer.parameters():
            p.add_(0.1)
    real, fixed = layer.cell._create_dropout_mask, {}
    layer.cell._create_dropout_mask = lambda s, r: fixed.setdefault(r, real(s, r))
    x = cr.tensor(x0, requires_grad=True)

    def f(t):
        return layer(t, training=True)
    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)
