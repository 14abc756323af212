"""Pictures after backward: `loss.backward()` then `cr.viz.graph(loss)` / `explain` / `grad_table`,
as micrograd's draw_dot is used; the structure survives a plain backward (PyTorch's grad_fn chain),
the numbers of tiny tensors too, and nothing large is kept alive."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest
from dot_parse import parse

import chainrule as cr
from chainrule import nn
from chainrule.autograd import Function
from chainrule.kept import Kept
from chainrule.nn import functional as F
from chainrule.viz import explain, graph
from chainrule.viz._common import values


def micrograd_neuron():
    """micrograd's neuron: o = tanh(x1 w1 + x2 w2 + b), every tensor a scalar, in float64."""
    def leaf(v, name):
        return cr.tensor(v, dtype=cr.float64, requires_grad=True, name=name)

    x1, x2, w1, w2 = leaf(2.0, "x1"), leaf(0.0, "x2"), leaf(-3.0, "w1"), leaf(1.0, "w2")
    b = leaf(6.8813735870195432, "b")
    o = (x1 * w1 + x2 * w2 + b).tanh()
    return o, (x1, x2, w1, w2, b)


def labels(dot):
    nodes, _ = parse(dot)
    return {v["label"].split("\n")[0]: v["label"].split("\n")
            for k, v in nodes.items() if k.startswith("n")}


def test_draw_after_a_plain_backward_is_the_picture_drawn_before():
    o, _ = micrograd_neuron()
    before = graph(o)  # its own grad_table, on the whole graph
    table_before = str(cr.grad_table(o))
    o.backward()
    assert graph(o) == before  # every value and every gradient, as micrograd's draw_dot
    assert str(cr.grad_table(o)) == table_before


def test_plain_backward_numbers_match_torch():
    torch = pytest.importorskip("torch")
    o, leaves = micrograd_neuron()
    h = o.creator  # the Tanh op; its input is the pre-activation n
    o.backward()
    tl = [torch.tensor(t.item(), dtype=torch.float64, requires_grad=True) for t in leaves]
    n = tl[0] * tl[2] + tl[1] * tl[3] + tl[4]
    n.retain_grad()
    to = n.tanh()
    to.backward()
    by = labels(graph(o))
    for t, tt in zip(leaves, tl):
        assert float(by[t.name][2].split()[1]) == pytest.approx(tt.item(), rel=1e-3)
        assert float(by[t.name][3].split()[1]) == pytest.approx(tt.grad.item(), rel=1e-3)
    # the pre-activation: freed by backward, its value and gradient kept (one element)
    n_ref = next(k for k, v in by.items() if k.startswith("t") and "Tanh" not in k
                 and float(v[2].split()[1]) == pytest.approx(n.item(), rel=1e-3))
    assert float(by[n_ref][3].split()[1]) == pytest.approx(n.grad.item(), rel=1e-3)
    assert isinstance(h, Function)


def test_grad_table_after_backward_has_the_rows_in_visiting_order():
    cr.manual_seed(0)
    x = cr.randn(30, requires_grad=True, dtype=cr.float64)
    h = x * x
    s = (h * 2.0)[:3]
    loss = s.sum()
    before = cr.grad_table(loss)
    loss.backward()
    after = cr.grad_table(loss)
    assert [(r.op, tuple(r.tensor.shape)) for r in after] == \
        [(r.op, tuple(r.tensor.shape)) for r in before]
    np.testing.assert_allclose(after[s].numpy(), before[s].numpy())  # 3 elements: kept
    np.testing.assert_allclose(after[x].numpy(), before[x].numpy())  # a leaf: its .grad
    assert h in after  # found while the user holds it
    with pytest.raises(KeyError, match=r"freed by backward.*retain_graph=True"):
        after[h]  # 30 elements: only its shape was kept
    text = str(after)
    assert "freed" in text and "retain_graph=True" in text
    # s and h are still held, but their rows are records (like the unheld 2h): found by identity
    assert sum(type(r.tensor) is Kept for r in after) == 3


def test_retain_graph_shows_every_gradient_as_before():
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).to(cr.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 2)))
    loss = (model(x) ** 2).mean()
    before = graph(loss, model=model)
    loss.backward(retain_graph=True)
    after = graph(loss, model=model)
    assert after == before  # intermediate gradients too, not only the leaves' .grad
    assert "freed" not in after
    assert labels(after)["t2"][3].startswith("grad mean")  # (4, 3): a summary of its gradient


def test_create_graph_keeps_the_graph_and_the_grad_graph():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True, name="x")
    y = (x ** 3).sum()
    before = graph(y)
    y.backward(create_graph=True)
    assert graph(y) == before
    g = x.grad  # 3 x^2, itself a graph: draw it, then differentiate it
    assert g.creator is not None and "Pow" in graph(g.sum())
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())


def test_a_model_after_backward_names_its_parameters():
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x = cr.randn(4, 2)
    loss = F.mse_loss(model(x), cr.zeros(4, 1))
    loss.backward()
    by = labels(graph(loss, model=model))
    for name, p in model.named_parameters():
        assert f"grad {values(p.grad)}" in by[name]
    assert by["t1"][2] == "value freed by backward"  # (4, 3) activations: shape only
    text = str(explain(loss, model=model))
    assert "0.weight" in text and "retain_graph=True" in text
    rows = {r.op: r for r in cr.grad_table(loss, model=model)}
    np.testing.assert_allclose(rows["param 2.weight"].grad.numpy(), model[2].weight.grad.numpy())


def test_a_second_backward_still_raises_pytorchs_error():
    o, leaves = micrograd_neuron()
    o.backward()
    graph(o)
    explain(o)
    cr.grad_table(o)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        o.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        cr.autograd.grad(o, leaves[0])


def test_non_leaf_inputs_are_not_kept_alive():
    gc.disable()  # reference counting alone frees them
    try:
        w = cr.randn(64, 64, requires_grad=True)
        h = (cr.randn(32, 64) @ w).relu()
        loss = h.sum()
        refs = [weakref.ref(h), weakref.ref(h.array)]
        op = weakref.ref(h.creator)
        loss.backward()
        del h
        assert all(r() is None for r in refs)
        assert op() is not None  # the structure stays while loss does
        assert "Relu" in graph(loss)
        del loss
        assert op() is None
    finally:
        gc.enable()


def test_a_training_loop_does_not_keep_old_graphs():
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    x, y = cr.randn(16, 8), cr.randn(16, 1)
    ops: list[weakref.ref] = []

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        ops.append(weakref.ref(loss.creator))

    gc.collect()
    gc.disable()  # reference counting alone frees each step's graph
    for _ in range(20):
        step()
    tracemalloc.start()
    try:
        first = tracemalloc.take_snapshot()
        for _ in range(200):
            step()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(first, "lineno")
                    if "chainrule" in str(s.traceback))
    finally:
        tracemalloc.stop()
        gc.enable()
    assert sum(r() is not None for r in ops) == 0  # every step's graph went with its loss
    assert grown < 20_000, f"chainrule allocations grew by {grown} bytes over 200 steps"


def test_the_graph_shows_inline_in_jupyter_and_stays_a_str(monkeypatch):
    import shutil
    import sys

    G = sys.modules["chainrule.viz.graph"]  # the module (chainrule.viz.graph is the function)
    o, _ = micrograd_neuron()
    o.backward()
    dot = graph(o)
    assert isinstance(dot, str) and dot.startswith("digraph chainrule {") and dot == str(dot)
    monkeypatch.setattr(G.shutil, "which", lambda name: None)
    bundle = dot._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "apt-get install graphviz" in bundle["text/plain"]
    assert bundle["text/plain"].endswith(str(dot)) and dot._repr_svg_() is None
    monkeypatch.undo()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    assert "<svg" in dot._repr_svg_() and "tanh" in dot._repr_svg_().lower()
