"""chainrule.keras.random: Keras' signatures and dtypes, the distributions (moments of large
draws), and Keras' seeding rules. The numbers themselves cannot equal Keras' torch streams."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import ops, random
from chainrule.keras.utils import set_random_seed

NAMES = ["normal", "uniform", "randint", "truncated_normal", "dropout", "shuffle",
         "categorical", "gamma", "beta", "binomial"]


@pytest.mark.parametrize("name", NAMES + ["SeedGenerator"])
def test_signature_matches_keras(name):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if not hasattr(keras, "random"):  # tests/keras itself, seen as a namespace package
        pytest.skip("keras is not installed")
    ours, theirs = getattr(random, name), getattr(keras.random, name)
    if name == "SeedGenerator":
        ours, theirs = ours.__init__, theirs.__init__
    assert [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()] \
        == [(p.name, p.kind, p.default) for p in inspect.signature(theirs).parameters.values()]


def test_dtypes_and_shapes():
    assert ops.dtype(random.normal((2, 3))) == "float32"
    assert random.normal((2, 3)).shape == (2, 3)
    assert ops.dtype(random.uniform((4,), dtype="float64")) == "float64"
    assert ops.dtype(random.randint((5,), 0, 3)) == "int32"
    assert ops.dtype(random.categorical(ops.zeros((2, 3)), 4)) == "int32"
    assert random.categorical(ops.zeros((2, 3)), 4).shape == (2, 4)
    with pytest.raises(ValueError):
        random.normal((2,), dtype="int32")


def test_moments_of_large_draws():
    n = (200_000,)
    x = random.normal(n, mean=2.0, stddev=3.0, seed=1).numpy()
    assert abs(x.mean() - 2.0) < 0.05 and abs(x.std() - 3.0) < 0.05
    u = random.uniform(n, minval=-1.0, maxval=3.0, seed=2).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02
    r = random.randint(n, 2, 5, seed=3).numpy()
    assert set(np.unique(r)) == {2, 3, 4}
    t = random.truncated_normal(n, mean=1.0, stddev=0.5, seed=4).numpy()
    assert t.min() >= 0.0 and t.max() <= 2.0
    assert abs(t.std() - 0.5 * 0.8796) < 0.01  # the std of N(0, 1) truncated at +-2
    g = random.gamma(n, 3.0, seed=5).numpy()
    assert abs(g.mean() - 3.0) < 0.05


def test_int_seed_repeats_and_seed_generator_advances():
    assert np.array_equal(random.normal((5,), seed=7).numpy(), random.normal((5,), seed=7).numpy())
    g1, g2 = random.SeedGenerator(42), random.SeedGenerator(42)
    a, b = random.uniform((5,), seed=g1).numpy(), random.uniform((5,), seed=g1).numpy()
    assert not np.array_equal(a, b)
    assert np.array_equal(a, random.uniform((5,), seed=g2).numpy())
    assert np.array_equal(b, random.uniform((5,), seed=g2).numpy())
    assert random.SeedGenerator.from_config(g1.get_config()).get_config() == {"seed": 42}


def test_global_seed_makes_unseeded_draws_reproducible():
    set_random_seed(3)
    a = random.normal((4,)).numpy()
    set_random_seed(3)
    assert np.array_equal(a, random.normal((4,)).numpy())


def test_dropout_rate_scale_noise_shape_and_gradient():
    x = cr.ones(1000, 20, requires_grad=True)
    y = random.dropout(x, 0.25, seed=0)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.75, 0.0), rtol=1e-6)
    z = random.dropout(cr.ones(50, 8), 0.5, noise_shape=(None, 1), seed=1).numpy()
    assert all(len(set(row)) == 1 for row in z)  # the mask is shared along axis 1
    assert np.array_equal(random.dropout(x, 0.0).numpy(), x.detach().numpy())


def test_shuffle_and_categorical():
    x = ops.arange(10)
    s = random.shuffle(x, seed=0).numpy()
    assert sorted(s) == list(range(10)) and not np.array_equal(s, np.arange(10))
    m = ops.reshape(ops.arange(12), (3, 4))
    cols = random.shuffle(m, axis=1, seed=2).numpy()
    assert sorted(cols[0]) == [0, 1, 2, 3]  # the same column order in every row:
    assert np.array_equal(cols - np.arange(0, 12, 4)[:, None], np.tile(cols[0], (3, 1)))
    logits = np.array([np.log([0.1, 0.2, 0.7]), [0.0, 0.0, -np.inf]])
    ids = random.categorical(logits, 20_000, seed=3).numpy()
    np.testing.assert_allclose(np.bincount(ids[0], minlength=3) / 20_000, [0.1, 0.2, 0.7],
                               atol=0.015)
    assert not np.any(ids[1] == 2)
