"""cr.viz.graph / model_graph: the DOT text has exactly the graph's ops, tensors and edges, and the
values and gradients autograd computed."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from dot_parse import ops, parse

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.viz import GraphvizNotFound, graph, model_graph, render_dot
from chainrule.viz._common import values
from chainrule.viz._walk import Walk


def mlp_loss(seed: int = 0):
    """A 2-layer MLP and its mean-squared-error loss on a batch of 4, in float64."""
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).to(cr.float64)
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal((4, 2)))
    y = cr.tensor(rng.standard_normal((4, 1)))
    x.name, y.name = "x", "y"
    loss = ((model(x) - y) ** 2).mean()
    return model, x, y, loss


def test_mlp_graph_has_exactly_its_ops_and_edges():
    model, _, _, loss = mlp_loss()
    dot = graph(loss, model=model)
    nodes, edges = parse(dot)
    expected = {
        ("LinearFunction", frozenset({"x", "0.weight", "0.bias"}), frozenset({"t1"})),
        ("Relu", frozenset({"t1"}), frozenset({"t2"})),
        ("LinearFunction", frozenset({"t2", "2.weight", "2.bias"}), frozenset({"t3"})),
        ("Sub", frozenset({"t3", "y"}), frozenset({"t4"})),
        ("Pow(\u2022, 2)", frozenset({"t4"}), frozenset({"t5"})),  # the constant 2 folded in
        ("Mean", frozenset({"t5"}), frozenset({"loss"})),
    }
    got = ops(dot)
    assert len(got) == 6 and set(got) == expected
    tensors = {v["label"].split("\n")[0] for k, v in nodes.items() if k.startswith("n")}
    assert tensors == {"x", "y", "0.weight", "0.bias", "2.weight", "2.bias", "t1", "t2", "t3",
                       "t4", "t5", "loss"}
    assert len(edges) == 17


def test_mlp_graph_carries_autograd_values_and_gradients():
    model, x, y, loss = mlp_loss()
    table = cr.grad_table(loss)
    nodes, _ = parse(graph(loss, model=model, grads=table))
    by_name = {v["label"].split("\n")[0]: v for k, v in nodes.items() if k.startswith("n")}
    named = dict(model.named_parameters())
    refs = Walk(loss, model)
    assert len(table) == 10  # 4 parameters, t1 .. t5, the loss
    for row in table:
        lines = by_name[refs.node(row.tensor).ref]["label"].split("\n")
        assert f"grad {values(row.grad)}" in lines
        tip = by_name[refs.node(row.tensor).ref]["tooltip"]
        norm = float(re.search(r"grad norm ([^;]+)", tip)[1])
        assert norm == pytest.approx(float(np.linalg.norm(row.grad.numpy())), rel=1e-9)
    assert f"value {values(loss)}" in by_name["loss"]["label"].split("\n")
    assert "grad" not in by_name["x"]["label"]  # inputs need no gradient: none is drawn
    # the same numbers as an ordinary backward() leaves in .grad
    loss.backward()
    for name, p in named.items():
        assert f"grad {values(p.grad)}" in by_name[name]["label"].split("\n")


def test_gradients_after_backward_with_retained_graph_and_none():
    model, _, _, loss = mlp_loss()
    loss.backward(retain_graph=True)
    nodes, _ = parse(graph(loss, model=model))  # the leaves' .grad are used
    w = next(v for v in nodes.values() if v["label"].startswith("0.weight"))
    assert f"grad {values(model[0].weight.grad)}" in w["label"].split("\n")
    bare = graph(loss, model=model, show="")
    assert "grad" not in bare and "value" not in bare and "(3, 2)" in bare


def test_graph_of_a_freed_graph_says_how_to_keep_it():
    _, _, _, loss = mlp_loss()
    loss.backward()
    dot = graph(loss)  # the structure survives a plain backward; big tensors' numbers do not
    assert "value freed by backward" in dot and "retain_graph=True" in dot


def test_show_words_are_checked():
    _, _, _, loss = mlp_loss()
    with pytest.raises(ValueError, match="values, grads"):
        graph(loss, show="values,gradients")


def test_model_graph_collapses_each_linear_into_one_box():
    model, x, y, _ = mlp_loss()
    dot = model_graph(model, x, target=y, loss_fn=F.mse_loss)
    got = ops(dot)
    labels = [g[0] for g in got]
    assert labels.count("0: Linear") == 1 and labels.count("2: Linear") == 1
    assert "1: ReLU" in labels and "LinearFunction" not in labels
    box = next(g for g in got if g[0] == "0: Linear")
    assert box[1] == {"x"}  # parameters are inside the box, listed in its label
    nodes, _ = parse(dot)
    text = next(v["label"] for v in nodes.values() if v["label"].startswith("0: Linear"))
    gw = np.linalg.norm(cr.grad_table(F.mse_loss(model(x), y))[model[0].weight].numpy())
    assert f"weight (3, 2)  |grad| {float(gw):.4g}" in text


def test_model_graph_collapse_depth_groups_a_residual_block():
    cr.manual_seed(1)
    block = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    model = nn.Sequential(nn.Linear(3, 4), nn.Residual(block), nn.Linear(4, 2))
    x, y = cr.randn(5, 3), np.array([0, 1, 0, 1, 1])
    labels = [g[0] for g in ops(model_graph(model, x, target=y, loss_fn=F.cross_entropy,
                                            collapse=1))]
    assert labels.count("1: Residual") == 1 and "Add" not in labels
    every = [g[0] for g in ops(model_graph(model, x, target=y, loss_fn=F.cross_entropy,
                                           collapse=False))]
    assert "Add" in every and every.count("LinearFunction") == 4


def test_conv_box_takes_the_module_input():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    x = cr.randn(3, 1, 4, 4)
    x.name = "images"
    got = ops(model_graph(model, x, target=np.array([0, 1, 1]), loss_fn=F.cross_entropy))
    assert next(g for g in got if g[0] == "0: Conv2d")[1] == {"images"}


def test_render_dot_writes_text_and_needs_graphviz_for_pictures(tmp_path, monkeypatch):
    _, _, _, loss = mlp_loss()
    dot = graph(loss)
    assert render_dot(dot, tmp_path / "g.dot").read_text() == dot
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        graph(loss, path=tmp_path / "g.svg")
    assert (tmp_path / "g.dot").read_text() == dot  # saved for later
    with pytest.raises(ValueError, match=".svg"):
        render_dot(dot, tmp_path / "g.jpeg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_svg_with_graphviz(tmp_path):
    model, _, _, loss = mlp_loss()
    svg = render_dot(graph(loss, model=model), tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "0.weight" in svg and "LinearFunction" in svg


def test_a_tensor_used_twice_by_one_op_gets_two_edges():
    x = cr.tensor(np.array([1.0, -2.0]), requires_grad=True, name="x")
    nodes, edges = parse(graph((x * x).sum()))
    mul = next(k for k, v in nodes.items() if v["label"] == "Mul")
    xs = next(k for k, v in nodes.items() if v["label"].startswith("x\n"))
    assert [s for s, t, _ in edges if t == mul] == [xs, xs]
    assert "grad [2, -4]" in nodes[xs]["label"].split("\n")  # d sum(x^2) / dx = 2x
