"""GradientMonitor: per-layer norms and update ratios, and its warnings about gradient health."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.viz import GradientMonitor, GradientWarning


def train(model, steps=3, lr=0.1, **monitor_options):
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((64, 8)).astype(np.float32))
    y = (x[:, 0] > 0).long()
    opt = optim.SGD(model.parameters(), lr=lr)
    monitor = GradientMonitor(model, **monitor_options)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        monitor.record()
        opt.step()
    return monitor


def deep_sigmoid(depth=20):
    cr.manual_seed(0)
    layers = [nn.Linear(8, 32)]
    for _ in range(depth):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(32, 2))


def deep_residual_relu(depth=20):
    cr.manual_seed(0)
    layers = [nn.Linear(8, 32)]
    for _ in range(depth):
        layers += [nn.Residual(nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32))),
                   nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 2))


def test_vanishing_gradients_are_reported_once_for_a_deep_sigmoid_net():
    with pytest.warns(GradientWarning, match="gradients vanish") as caught:
        m = train(deep_sigmoid())
    vanish = [w for w in caught if "vanish" in str(w.message)]
    assert len(vanish) == 1 and len(m.warnings) == 1
    assert "'0'" in m.warnings[0] and "sigmoid" in m.warnings[0]
    assert m.grad_norms["0"][0] < 1e-7 < m.grad_norms["41"][0]


def test_a_relu_net_with_residual_blocks_stays_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientWarning)
        m = train(deep_residual_relu())
    assert m.warnings == []
    assert min(min(v) for v in m.grad_norms.values()) > 1e-4
    assert m.layers[0] == "0" and m.layers[1] == "1.block.0" and len(m.layers) == 42


def test_nan_and_growth_count_as_exploding():
    cr.manual_seed(0)
    lin = nn.Linear(2, 2)
    said = []
    m = GradientMonitor(lin, warn=said.append)
    for scale in (1.0, 1.1, 0.9, 1.0):
        lin.weight.grad = cr.ones(2, 2) * scale
        m.record()
    assert said == []
    lin.weight.grad = cr.ones(2, 2) * 2e3  # 2000 x the median of the last steps
    m.record()
    assert len(said) == 1 and "explode" in said[0] and "x2000" in said[0]
    lin.weight.grad = cr.tensor(np.full((2, 2), np.nan, np.float32))
    m.record()
    assert len(said) == 2 and "NaN/Inf" in said[1]


def test_norms_and_update_ratios_are_the_defined_numbers():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = cr.randn(8, 3), cr.randn(8, 1)
    opt = optim.SGD(model.parameters(), lr=0.05)
    m = GradientMonitor(model)
    before = None
    for _ in range(2):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        g = np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum()
                        for p in model[0].parameters()))
        w = np.concatenate([p.detach().numpy().ravel()
                            for p in model[0].parameters()]).astype(np.float64)
        m.record()
        opt.step()
        assert m.grad_norms["0"][-1] == pytest.approx(g, rel=1e-6)
        if before is not None:
            ratio = np.linalg.norm(w - before) / np.linalg.norm(before)
            assert m.update_ratios["0"][-1] == pytest.approx(ratio, rel=1e-6)
        before = w
    assert np.isnan(m.update_ratios["0"][0]) and m.steps == [1, 2]
    assert "2 steps recorded" in m.summary()


def test_record_needs_a_model():
    with pytest.raises(RuntimeError, match="attach"):
        GradientMonitor().record()


def test_gradient_flow_picture(tmp_path):
    pytest.importorskip("matplotlib")
    m = train(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)), steps=4)
    fig = m.plot(tmp_path / "flow.png")
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 2
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), m.grad_norms["2"])
    assert (tmp_path / "flow.png").stat().st_size > 1000


def test_gradient_flow_picture_of_a_deep_resnet_names_layers_and_does_not_tangle(tmp_path):
    """42 layers: heat maps with a labelled row per layer ('path Type'), not 42 lines."""
    pytest.importorskip("matplotlib")
    m = train(deep_residual_relu())
    assert m.label("0") == "0 Linear" and m.label("1.block.2") == "1.block.2 Linear"
    fig = m.plot(tmp_path / "flow.png")
    norms, ratios, bars = fig.axes[:3]
    for ax in (norms, ratios):
        assert len(ax.lines) == 0 and len(ax.images) == 1
        rows = [t.get_text() for t in ax.get_yticklabels()]
        assert rows[:3] == ["0 Linear", "1.block.0 Linear", "1.block.2 Linear"]
        assert len(rows) == 42 and rows[-1] == "41 Linear"
    np.testing.assert_allclose(np.asarray(norms.images[0].get_array())[5],
                               m.grad_norms[m.layers[5]])
    assert [t.get_text() for t in bars.get_xticklabels()][:2] == ["0 Linear", "1.block.0 Linear"]
    assert (tmp_path / "flow.png").stat().st_size > 1000


def test_gradient_flow_bars_are_coloured_by_the_type_of_layer():
    pytest.importorskip("matplotlib")
    m = train(nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)))
    fig = m.plot()
    assert [line.get_label() for line in fig.axes[0].lines] == [
        "0 Linear", "1 BatchNorm1d", "3 Linear"]
    bars = fig.axes[2]
    colours = [tuple(p.get_facecolor()) for p in bars.patches[:3]]
    assert colours[0] == colours[2] != colours[1]
    assert [t.get_text() for t in bars.get_legend().get_texts()] == [
        "Linear", "BatchNorm1d", "vanishing threshold"]


def test_keras_callback_records_each_batch_of_fit():
    keras = pytest.importorskip("chainrule.keras")
    cr.manual_seed(0)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                              keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    monitor = GradientMonitor()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[monitor.keras_callback()])
    assert monitor.model is model and len(monitor.layers) == 2 and len(monitor.steps) == 8
    assert all(np.isfinite(v).all() and min(v) > 0 for v in monitor.grad_norms.values())
    assert np.isfinite(monitor.update_ratios[monitor.layers[0]][1:]).all()
