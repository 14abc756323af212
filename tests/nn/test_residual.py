"""Residual(block, shortcut=None): y = block(x) + shortcut(x), identity by default, gradients in
float64, a clear error when the branches' shapes differ, registration and repr."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError

RNG = np.random.default_rng(0)


def with_params(module, x, *ps):
    """module(x) with its parameters replaced by the given tensors (for gradcheck)."""
    names = [n for n, _ in module.named_parameters()]
    for name, p in zip(names, ps):
        *path, leaf = name.split(".")
        m = module
        for k in path:
            m = m._modules[k]
        m._parameters[leaf] = p
    return module(x)


def test_identity_shortcut_adds_the_input():
    block = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    res = nn.Residual(block)
    x = cr.randn(4, 3)
    np.testing.assert_allclose(res(x).array, block(x).array + x.array, rtol=1e-6)
    assert res.shortcut is None
    assert [n for n, _ in res.named_parameters()] == ["block.0.weight", "block.0.bias"]


def test_projection_shortcut_changes_the_width():
    res = nn.Residual(nn.Sequential(nn.Linear(3, 5), nn.ReLU()), shortcut=nn.Linear(3, 5))
    x = cr.randn(2, 3)
    y = res(x)
    assert y.shape == (2, 5)
    np.testing.assert_allclose(y.array, res.block(x).array + res.shortcut(x).array, rtol=1e-6)
    assert res.num_parameters() == 2 * (3 * 5 + 5)
    assert repr(res) == (
        "Residual(\n"
        "  (block): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=5, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (shortcut): Linear(in_features=3, out_features=5, bias=True)\n"
        ")"
    )


def test_residual_gradients_to_second_order():
    res = nn.Residual(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Linear(3, 4)).to(cr.float64)
    x = cr.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    ps = [cr.tensor(p.array.copy(), requires_grad=True) for p in res.parameters()]
    assert cr.gradcheck(lambda *a: with_params(res, *a), x, *ps)
    assert cr.gradgradcheck(lambda *a: with_params(res, *a), x, *ps)


def test_identity_residual_gradient_is_one_plus_block():
    res = nn.Residual(nn.Tanh())
    x = cr.tensor(RNG.standard_normal(5), requires_grad=True)
    res(x).sum().backward()
    np.testing.assert_allclose(x.grad.array, 1 + (1 - np.tanh(x.array) ** 2), rtol=1e-12)


def test_shape_mismatch_without_projection_is_a_clear_error():
    res = nn.Residual(nn.Linear(3, 5))
    with pytest.raises(ShapeError, match=r"Residual: the block maps \(2, 3\) to \(2, 5\), but the "
                       r"input \(identity shortcut\) gives \(2, 3\); give Residual a shortcut"):
        res(cr.randn(2, 3))
    bad = nn.Residual(nn.Linear(3, 5), shortcut=nn.Linear(3, 4))
    with pytest.raises(ShapeError, match=r"but the shortcut gives \(2, 4\)"):
        bad(cr.randn(2, 3))


def test_no_broadcasting_between_branches():
    res = nn.Residual(nn.Linear(4, 1))  # (2, 1) + (2, 4) would broadcast silently
    with pytest.raises(ShapeError):
        res(cr.randn(2, 4))


def test_residual_checks_its_arguments():
    with pytest.raises(TypeError, match="block must be a Module"):
        nn.Residual(lambda x: x)
    with pytest.raises(TypeError, match="shortcut must be a Module or None"):
        nn.Residual(nn.ReLU(), shortcut=3)
