"""Linear, Identity, Flatten, Dropout, Embedding and their functional forms: PyTorch's default
initialisation, gradients to second order in float64, errors that name the layer, dropout
statistics, and PyTorch to 1e-5 where importable."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import ShapeError

RNG = np.random.default_rng(0)


def t64(*shape, requires_grad=True):
    return cr.tensor(RNG.standard_normal(shape), requires_grad=requires_grad)


# -- Linear --------------------------------------------------------------------------------------

def test_linear_shapes_default_init_and_repr():
    cr.manual_seed(0)
    layer = nn.Linear(400, 300)
    W, b = layer.weight.array, layer.bias.array
    assert W.shape == (300, 400) and b.shape == (300,)
    assert W.dtype == np.float32 and b.dtype == np.float32
    bound = 1 / math.sqrt(400)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert abs(W.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and b.std() > 0.4 * bound
    assert repr(layer) == "Linear(in_features=400, out_features=300, bias=True)"
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"
    assert [n for n, _ in nn.Linear(2, 3, bias=False).named_parameters()] == ["weight"]


def test_linear_computes_x_times_w_transpose_plus_b():
    layer = nn.Linear(3, 2)
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    y = layer(cr.tensor(x))
    np.testing.assert_allclose(y.array, x @ layer.weight.array.T + layer.bias.array, rtol=1e-6)
    assert y.dtype == np.float32
    y3 = layer(cr.tensor(x.reshape(2, 2, 3)))  # any leading dimensions
    np.testing.assert_allclose(y3.array.reshape(4, 2), y.array, rtol=1e-6)
    y1 = layer(cr.tensor(x[0]))  # a single sample without a batch axis
    np.testing.assert_allclose(y1.array, y.array[0], rtol=1e-6)


@pytest.mark.parametrize("xshape", [(4, 3), (2, 2, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_to_second_order(xshape, bias):
    x, W = t64(*xshape), t64(2, 3)
    args = (x, W, t64(2)) if bias else (x, W)
    assert cr.gradcheck(F.linear, *args)
    assert cr.gradgradcheck(F.linear, *args)


def test_linear_fast_and_differentiable_backward_agree():
    x, W, b = t64(5, 4), t64(3, 4), t64(3)
    gy = RNG.standard_normal((5, 3))
    fast = cr.autograd.grad(F.linear(x, W, b), [x, W, b], grad_outputs=gy)
    slow = cr.autograd.grad(F.linear(x, W, b), [x, W, b], grad_outputs=gy, create_graph=True)
    for a, s in zip(fast, slow):
        np.testing.assert_allclose(a.array, s.array, rtol=1e-12)


def test_linear_wrong_width_names_layer_and_shapes():
    with pytest.raises(ShapeError) as e:
        nn.Linear(784, 10)(cr.zeros(32, 100))
    assert str(e.value) == ("Linear(784, 10): expected input with last dimension 784, "
                            "got shape (32, 100)")
    with pytest.raises(ShapeError, match=r"linear: input of shape \(2, 5\) does not fit weight"):
        F.linear(cr.zeros(2, 5), cr.zeros(3, 4))
    with pytest.raises(ShapeError, match=r"linear: bias of shape \(4,\)"):
        F.linear(cr.zeros(2, 4), cr.zeros(3, 4), cr.zeros(4))


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Linear(5, 3).to(cr.float64)
    theirs = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.array))
        theirs.bias.copy_(torch.from_numpy(ours.bias.array))
    x = RNG.standard_normal((2, 4, 5))
    gy = RNG.standard_normal((2, 4, 3))
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.array, yt.detach().numpy(), rtol=1e-10)
    yo.backward(gy)
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xo.grad.array, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad.array, theirs.bias.grad.numpy(), rtol=1e-10)


def test_linear_init_statistics_match_torch_formula():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Linear(300, 200)
    ours = nn.Linear(300, 200)
    for p, q in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        q = q.detach().numpy()
        assert abs(np.abs(p.array).max() - np.abs(q).max()) < 0.02 * np.abs(q).max()
        assert abs(p.array.std() - q.std()) < 0.1 * q.std()


# -- Identity and Flatten ----------------------------------------------------------------------

def test_identity_and_flatten():
    x = cr.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert F.flatten(x).shape == (120,)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert cr.gradcheck(lambda a: nn.Flatten(1, 2)(a), t64(2, 2, 3, 1))


# -- Dropout --------------------------------------------------------------------------------------

def test_dropout_statistics_and_inverted_scaling():
    cr.manual_seed(0)
    x = cr.ones(200, 500, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    zero = y.array == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.array[~zero], 1 / 0.7, rtol=1e-6)
    assert abs(y.array.mean() - 1.0) < 0.02  # expectation preserved
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)  # the same mask and scale


def test_dropout_eval_identity_and_edge_probabilities():
    x = cr.randn(10, 10)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.9, training=False) is x
    assert not F.dropout(x, 1.0).array.any()
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="got -0.1"):
        F.dropout(x, -0.1)


def test_dropout_follows_the_default_generator_and_a_given_one():
    x = cr.ones(50)
    cr.manual_seed(7)
    a = F.dropout(x, 0.5).array
    cr.manual_seed(7)
    b = F.dropout(x, 0.5).array
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=g1).array,
                                  F.dropout(x, 0.5, generator=g2).array)


def test_dropout_gradients_with_a_fixed_mask():
    x = t64(4, 5)

    def f(a):
        return F.dropout(a, 0.4, generator=np.random.default_rng(1))

    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_dropout_statistics_match_torch():
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    torch.manual_seed(0)
    ours = F.dropout(cr.ones(100_000, dtype=cr.float64), 0.2).array
    theirs = torch.nn.functional.dropout(torch.ones(100_000, dtype=torch.float64), 0.2).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1.25}
    assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.01


# -- Embedding ------------------------------------------------------------------------------------

def test_embedding_init_shape_lookup_and_repr():
    cr.manual_seed(0)
    emb = nn.Embedding(1000, 64, padding_idx=3)
    W = emb.weight.array
    assert W.shape == (1000, 64) and W.dtype == np.float32
    assert not W[3].any()
    assert abs(W.std() - 1.0) < 0.02 and abs(W.mean()) < 0.02
    idx = np.array([[1, 2], [3, 1]])
    out = emb(cr.tensor(idx))
    assert out.shape == (2, 2, 64)
    np.testing.assert_array_equal(out.array, W[idx])
    assert repr(emb) == "Embedding(1000, 64, padding_idx=3)"
    assert repr(nn.Embedding(5, 2)) == "Embedding(5, 2)"
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_gradient_adds_repeats_and_skips_padding():
    emb = nn.Embedding(5, 3, padding_idx=0)
    idx = np.array([2, 0, 2, 4, 2])
    emb(idx).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.array[:, 0], [0, 0, 3, 0, 1])


def test_embedding_gradients_to_second_order():
    """(padding_idx is left out: its zero gradient is a convention, not the derivative)"""
    W = t64(6, 3)
    idx = np.array([[1, 5], [1, 0], [3, 1]])
    assert cr.gradcheck(lambda w: F.embedding(idx, w), W)
    assert cr.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, W)


def test_embedding_errors_name_the_layer():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index 12 is out of range.*0, 10"):
        emb(cr.tensor([1, 12]))
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match=r"Embedding\(10, 3\): indices must be integers"):
        emb(cr.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="padding_idx 10"):
        nn.Embedding(10, 3, padding_idx=10)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch_with_repeated_indices(padding_idx):
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(7, 4, padding_idx=padding_idx).to(cr.float64)
    theirs = torch.nn.Embedding(7, 4, padding_idx=padding_idx).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.array))
    idx = np.array([[2, 3, 2], [6, 2, 0], [3, 3, 1]])
    gy = RNG.standard_normal((3, 3, 4))
    yo, yt = ours(idx), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(yo.array, yt.detach().numpy(), rtol=1e-12)
    yo.backward(gy)
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-10)
