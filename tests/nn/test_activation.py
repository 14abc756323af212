"""Activation modules: values, gradients to second order in float64, reprs, and PyTorch's modules
to 1e-10 where importable."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(0)
# values away from the kinks at 0, where finite differences straddle two pieces
X = RNG.choice([-1, 1], (3, 4)) * RNG.uniform(0.1, 2.5, (3, 4))

CASES = [
    ("ReLU", {}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Sigmoid", {}),
    ("Tanh", {}), ("Softplus", {}), ("Softplus", {"beta": 2.0, "threshold": 3.0}),
    ("Softmax", {"dim": 1}), ("Softmax", {"dim": 0}), ("LogSoftmax", {"dim": 1}),
    ("LogSoftmax", {"dim": -1}),
]


def ids(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_activation_gradients_to_second_order(case):
    name, kw = case
    module = getattr(nn, name)(**kw)
    x = cr.tensor(X.copy(), requires_grad=True)
    assert cr.gradcheck(module, x)
    assert cr.gradgradcheck(module, x)
    assert module(x).dtype == np.float64


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_activation_keeps_float32_and_has_no_parameters(case):
    name, kw = case
    module = getattr(nn, name)(**kw)
    assert module(cr.tensor(X.astype(np.float32))).dtype == np.float32
    assert module.num_parameters() == 0


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_activation_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kw = case
    x = RNG.standard_normal((5, 6)) * 3
    x[0, :3] = [12.0, -15.0, 30.0]  # include the far tails (Softplus' threshold, saturation)
    gy = RNG.standard_normal(x.shape)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = getattr(nn, name)(**kw)(xo), getattr(torch.nn, name)(**kw)(xt)
    np.testing.assert_allclose(yo.array, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yo.backward(gy)
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xo.grad.array, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_activation_values_by_hand():
    x = cr.tensor([-2.0, 0.5])
    np.testing.assert_allclose(nn.ReLU()(x).array, [0, 0.5])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).array, [-0.2, 0.5])
    np.testing.assert_allclose(nn.ELU(2.0)(x).array, [2 * (np.exp(-2) - 1), 0.5], rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).array, 1 / (1 + np.exp([2, -0.5])), rtol=1e-6)
    np.testing.assert_allclose(nn.Softplus(threshold=1.0)(cr.tensor([3.0])).array, [3.0])
    np.testing.assert_allclose(nn.Softmax()(x).array.sum(), 1.0, rtol=1e-6)  # dim None: last


def test_activation_reprs_and_bad_arguments():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LogSoftmax(dim=0)) == "LogSoftmax(dim=0)"
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
