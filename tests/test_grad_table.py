"""The grad_table: every tensor's gradient, in visiting order, against textbook backprop."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_grad_table_of_mlp_matches_the_delta_recursion(rng):
    """J = 1/2 ||a2 - y||^2 with a_l = sigmoid(z_l), z_l = a_{l-1} W_l + b_l (rows are examples):
    delta_2 = (a2 - y) * s'(z2); delta_1 = (delta_2 W_2^T) * s'(z1); dJ/dW_l = a_{l-1}^T delta_l."""
    X = rng.standard_normal((5, 3))
    Y = rng.standard_normal((5, 2))
    W1n, b1n = rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2n, b2n = rng.standard_normal((4, 2)), rng.standard_normal(2)
    x, y = cr.tensor(X), cr.tensor(Y)
    W1, b1 = cr.tensor(W1n, requires_grad=True), cr.tensor(b1n, requires_grad=True)
    W2, b2 = cr.tensor(W2n, requires_grad=True), cr.tensor(b2n, requires_grad=True)
    z1 = x @ W1 + b1
    a1 = z1.sigmoid()
    z2 = a1 @ W2 + b2
    a2 = z2.sigmoid()
    J = ((a2 - y) ** 2).sum() * 0.5
    table = cr.autograd.grad_table(J)

    z1n = X @ W1n + b1n
    a1n = sigmoid(z1n)
    z2n = a1n @ W2n + b2n
    a2n = sigmoid(z2n)
    delta2 = (a2n - Y) * a2n * (1 - a2n)
    delta1 = (delta2 @ W2n.T) * a1n * (1 - a1n)
    expected = {
        J: 1.0, a2: a2n - Y, z2: delta2, a1: delta2 @ W2n.T, z1: delta1,
        W2: a1n.T @ delta2, b2: delta2.sum(0), W1: X.T @ delta1, b1: delta1.sum(0),
    }
    for t, g in expected.items():
        np.testing.assert_allclose(table[t].numpy(), g, rtol=1e-10, atol=1e-12)
    assert x not in table  # constants are not in the graph


def test_visiting_order_and_rows():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    loss = (h * h).sum()
    table = cr.autograd.grad_table(loss)
    rows = list(table)
    assert [r.tensor for r in rows][0] is loss and rows[-1].tensor is x
    assert [r.op for r in rows] == ["Sum", "Mul", "Exp", "leaf"]
    assert len(table) == 4 and len({id(r.tensor) for r in rows}) == 4
    np.testing.assert_allclose(table[x].numpy(), 2 * np.exp(2 * x.detach().numpy()),
                               rtol=1e-6)
    text = str(table)
    for word in ("Sum", "Mul", "Exp", "leaf", "(2,)", "|grad|"):
        assert word in text


def test_grad_table_leaves_grad_alone_and_keeps_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    table = cr.autograd.grad_table(loss)
    assert x.grad is None
    loss.backward()  # the graph is still there
    np.testing.assert_allclose(x.grad.numpy(), table[x].numpy())


def test_lookup_of_a_tensor_outside_the_graph_is_clear():
    x = cr.tensor([1.0], requires_grad=True)
    table = cr.autograd.grad_table((x * 2.0).sum())
    with pytest.raises(KeyError, match="not in the grad_table"):
        table[cr.tensor([1.0])]


def test_leaf_names_show_in_the_table():
    w = cr.tensor([1.0], requires_grad=True)
    w.name = "layers.0.W"
    table = cr.autograd.grad_table((w * 3.0).sum())
    assert list(table)[-1].op == "leaf layers.0.W"


def test_model_names_the_parameter_rows():
    # the rows of a model's parameters say which layer they belong to, not just "leaf"
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    loss = model(cr.randn(4, 2)).sum()
    ops = [row.op for row in cr.grad_table(loss, model=model)]
    assert [o for o in ops if o.startswith("param")] == [
        "param 2.weight", "param 2.bias", "param 0.weight", "param 0.bias"]
    assert "leaf" not in ops
    w = model[0].weight
    named = [row.op for row in cr.grad_table(loss, model={"w": w})]
    assert "param w" in named and named.count("leaf") == 3
    with pytest.raises(TypeError, match="Module or a"):
        cr.grad_table(loss, model=[w])
