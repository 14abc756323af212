"""cr.viz.explain: the narrated backward pass has the grad_table's numbers in the engine's order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.viz import explain
from chainrule.viz._walk import Walk


def scalar_graph():
    """f = sigmoid(x * y + z * x): x feeds two ops, so its gradient is a sum of two parts."""
    x = cr.tensor(2.0, dtype=cr.float64, requires_grad=True, name="x")
    y = cr.tensor(-3.0, dtype=cr.float64, requires_grad=True, name="y")
    z = cr.tensor(0.5, dtype=cr.float64, requires_grad=True, name="z")
    return (x * y + z * x).sigmoid(), x, y, z


def residual_mlp_loss():
    cr.manual_seed(3)
    block = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    model = nn.Sequential(nn.Linear(2, 3), nn.Residual(block), nn.Linear(3, 1)).to(cr.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 2)))
    return (model(x) ** 2).mean(), model


def check_against_grad_table(loss, model=None):
    ex = explain(loss, model=model)
    table = cr.grad_table(loss)
    tensor = {n.ref: n.tensor for n in Walk(loss, model).nodes.values()}
    sent: dict[str, float] = {}
    for r in ex.records:
        if r["kind"] == "op":
            np.testing.assert_allclose(r["upstream"], table[tensor[r["output"]]].numpy())
        elif r["kind"] == "send":
            sent[r["input"]] = sent.get(r["input"], 0) + np.asarray(r["sent"])
        elif r["kind"] == "sum":
            np.testing.assert_allclose(sum(np.asarray(p) for p in r["parts"]), r["total"])
            np.testing.assert_allclose(r["total"], table[tensor[r["tensor"]]].numpy())
        else:
            np.testing.assert_allclose(r["total"], table[tensor[r["tensor"]]].numpy())
    assert sent, "no gradient was sent"
    for ref, total in sent.items():  # what every op sends to a tensor adds up to its gradient
        np.testing.assert_allclose(total, table[tensor[ref]].numpy(), rtol=1e-12, atol=1e-15)
    return ex


def test_scalar_chain_rule_numbers():
    f, x, y, z = scalar_graph()
    ex = check_against_grad_table(f)
    s = 1 / (1 + math.exp(-(2 * -3 + 0.5 * 2)))
    ds = s * (1 - s)
    fan_in = [r for r in ex.records if r["kind"] == "sum"]
    assert len(fan_in) == 1 and fan_in[0]["tensor"] == "x"
    assert fan_in[0]["parts"] == pytest.approx([ds * -3, ds * 0.5])  # via x*y, then via z*x
    assert fan_in[0]["total"] == pytest.approx(ds * (-3 + 0.5))
    sig = next(r for r in ex.records if r["kind"] == "send" and r["op"] == "Sigmoid")
    assert sig["local"] == "sigmoid(t3) (1 - sigmoid(t3))"
    assert sig["local_value"] == pytest.approx(ds)
    text = str(ex)
    assert "x is used 2 times" in text and f"= {ds * -2.5:.4g}" in text
    assert "d loss/d y = " + f"{ds * 2:.4g}" in text


def test_mlp_with_a_residual_block_agrees_with_grad_table():
    loss, model = residual_mlp_loss()
    ex = check_against_grad_table(loss, model)
    assert any(r["kind"] == "sum" for r in ex.records)  # the skip connection's fan-in
    leaves = {r["tensor"] for r in ex.records if r["kind"] == "leaf"}
    assert leaves == {name for name, _ in model.named_parameters()}


def test_steps_follow_the_engines_visiting_order():
    loss, model = residual_mlp_loss()
    visited = []

    def spy(f):  # record the order in which the engine calls each op's backward
        orig = f.backward

        def backward(*gys):
            visited.append(f)
            return orig(*gys)
        f.backward = backward

    for f in Walk(loss).ops:
        spy(f)
    cr.grad_table(loss)
    refs = Walk(loss, model)
    engine = [refs.node(f.outputs[0]).ref for f in visited]
    for f in visited:
        del f.backward
    ex = explain(loss, model=model)
    ours = [r["output"] for r in ex.records if r["kind"] == "op"]
    assert ours == engine and len(ours) == len(Walk(loss).ops)


def test_explain_after_backward_says_what_was_freed():
    f, *_ = scalar_graph()
    f.backward()
    text = str(explain(f))  # every tensor is a scalar: all numbers kept but the sum's parts
    assert "retain_graph=True" in text and "Sigmoid" in text


def test_an_operand_used_twice_sums_both_parts():
    x = cr.tensor(np.array([1.0, -2.0]), requires_grad=True, name="x")
    ex = check_against_grad_table((x * x).sum())
    (s,) = [r for r in ex.records if r["kind"] == "sum"]
    np.testing.assert_allclose(s["parts"], [[1.0, -2.0], [1.0, -2.0]])  # x from each operand
    np.testing.assert_allclose(s["total"], [2.0, -4.0])
