"""chainrule.nn.init: in-place fills, statistics against the formulas (bounds and standard
deviations), fans of conv-shaped weights, orthogonality, generators, errors, and the gains and
bounds of torch.nn.init where importable."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.nn import Parameter, init

SHAPE = (400, 500)  # 200 000 samples: sample std within ~0.3 % of the true one


def param(*shape, dtype=np.float32):
    return Parameter(np.zeros(shape, dtype=dtype))


def test_constant_fills_are_in_place_and_keep_dtype_and_leaf():
    p = param(3, 4)
    arr = p.array
    assert init.ones_(p) is p and p.array is arr and (arr == 1).all()
    init.zeros_(p)
    assert not arr.any()
    init.constant_(p, 2.5)
    assert (arr == 2.5).all() and arr.dtype == np.float32
    assert p.is_leaf and p.requires_grad and p.grad is None


def test_uniform_and_normal_statistics():
    p = param(*SHAPE)
    init.uniform_(p, -2.0, 3.0)
    assert p.array.min() >= -2.0 and p.array.max() < 3.0
    assert abs(p.array.mean() - 0.5) < 0.02 and abs(p.array.std() - 5 / math.sqrt(12)) < 0.01
    init.normal_(p, mean=1.0, std=0.2)
    assert abs(p.array.mean() - 1.0) < 0.002 and abs(p.array.std() - 0.2) < 0.002
    assert p.dtype == np.float32


def _check_uniform(a, bound):
    assert np.abs(a).max() <= bound * (1 + 1e-6) and np.abs(a).max() > 0.99 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.01 * bound


def _check_normal(a, std):
    assert abs(a.std() - std) < 0.01 * std and abs(a.mean()) < 0.01 * std


def test_xavier_formulas_with_gain():
    fan_in, fan_out = SHAPE[1], SHAPE[0]
    p = param(*SHAPE)
    _check_uniform(init.xavier_uniform_(p).array, math.sqrt(6 / (fan_in + fan_out)))
    _check_uniform(init.xavier_uniform_(p, gain=2.0).array, 2 * math.sqrt(6 / (fan_in + fan_out)))
    _check_normal(init.xavier_normal_(p, gain=0.5).array, 0.5 * math.sqrt(2 / (fan_in + fan_out)))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.2),
                                            ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming_formulas(mode, nonlinearity, a):
    p = param(*SHAPE)
    fan = SHAPE[1] if mode == "fan_in" else SHAPE[0]
    gain = init.calculate_gain(nonlinearity, a)
    init.kaiming_uniform_(p, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_uniform(p.array, gain * math.sqrt(3 / fan))
    init.kaiming_normal_(p, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(p.array, gain / math.sqrt(fan))


def test_conv_shaped_fans_include_the_receptive_field():
    p = param(64, 32, 5, 5)
    init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu")
    _check_normal(p.array, math.sqrt(2) / math.sqrt(64 * 25))
    init.xavier_uniform_(p)
    _check_uniform(p.array, math.sqrt(6 / (32 * 25 + 64 * 25)))


@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (6, 6), (4, 2, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    p = param(*shape, dtype=np.float64)
    init.orthogonal_(p, gain=1.5)
    W = p.array.reshape(shape[0], -1)
    small = min(W.shape)
    G = W @ W.T if W.shape[0] == small else W.T @ W
    np.testing.assert_allclose(G, 2.25 * np.eye(small), atol=1e-10)


def test_calculate_gain_values():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 1.0) == pytest.approx(1.0)
    assert init.calculate_gain("selu") == pytest.approx(0.75)


def test_generators_default_and_explicit():
    p, q = param(4, 5), param(4, 5)
    cr.manual_seed(3)
    init.kaiming_uniform_(p)
    cr.manual_seed(3)
    init.kaiming_uniform_(q)
    np.testing.assert_array_equal(p.array, q.array)
    init.normal_(p, generator=np.random.default_rng(9))
    init.normal_(q, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(p.array, q.array)
    init.orthogonal_(q, generator=np.random.default_rng(10))
    assert not np.array_equal(p.array, q.array)


def test_errors_are_clear():
    with pytest.raises(ShapeError, match=r"xavier_uniform_: fan in and fan out .* shape \(5,\)"):
        init.xavier_uniform_(param(5))
    with pytest.raises(ShapeError, match="kaiming_normal_"):
        init.kaiming_normal_(param(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(param(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(param(2), std=-1)
    with pytest.raises(ShapeError, match="orthogonal_"):
        init.orthogonal_(param(4))


def test_zero_element_tensors_are_left_alone():
    p = param(0, 3)
    assert init.kaiming_uniform_(p) is p and init.orthogonal_(p) is p and p.shape == (0, 3)


def test_gains_and_bounds_match_torch():
    torch = pytest.importorskip("torch")
    for name, a in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", 0.3),
                    ("selu", None), ("conv1d", None)]:
        assert init.calculate_gain(name, a) == pytest.approx(torch.nn.init.calculate_gain(name, a))
    t = torch.empty(*SHAPE)
    for fn, kw in [("kaiming_uniform_", {"a": math.sqrt(5)}), ("xavier_uniform_", {"gain": 3.0}),
                   ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"})]:
        theirs = getattr(torch.nn.init, fn)(t, **kw).numpy()
        ours = getattr(init, fn)(param(*SHAPE), **kw).array
        assert abs(np.abs(ours).max() - np.abs(theirs).max()) < 1e-3 * np.abs(theirs).max()
        assert abs(ours.std() - theirs.std()) < 0.01 * theirs.std()
