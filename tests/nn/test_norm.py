"""BatchNorm1d, BatchNorm2d, LayerNorm and F.batch_norm / F.layer_norm: gradients checked to second
order in float64, running statistics, eval mode, errors, PyTorch to 1e-5 where importable, and a
float32 training smoke test (a 2-16-2 MLP with BatchNorm1d learns XOR by hand-written descent)."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import ShapeError

RNG = np.random.default_rng(0)


def t64(shape, scale=1.0, shift=0.0, requires_grad=True):
    return cr.tensor(RNG.standard_normal(shape) * scale + shift, requires_grad=requires_grad)


def with_params(module, x, *ps):
    """module(x) with its parameters replaced by the given tensors (for gradcheck)."""
    for (name, _), p in zip(list(module.named_parameters()), ps):
        module._parameters[name] = p
    return module(x)


def check_layer(module, x, second_order=True):
    module.to(cr.float64)
    params = [cr.tensor(p.array.copy(), requires_grad=True) for p in module.parameters()]
    # perturb the affine parameters away from 1 and 0, so every term of the gradient shows
    for p in params:
        p.array += RNG.standard_normal(p.shape) * 0.3
    assert cr.gradcheck(lambda *a: with_params(module, *a), x, *params)
    if second_order:
        assert cr.gradgradcheck(lambda *a: with_params(module, *a), x, *params)


# -- gradients ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
def test_batchnorm1d_train_gradients_to_second_order(shape):
    check_layer(nn.BatchNorm1d(shape[1]), t64(shape, 2.0, 1.0))


def test_batchnorm2d_train_gradients_to_second_order():
    check_layer(nn.BatchNorm2d(2), t64((3, 2, 2, 2), 1.5, -0.5))


def test_batchnorm_eval_and_without_affine_gradients():
    bn = nn.BatchNorm1d(3).to(cr.float64)
    bn.running_mean.array[:] = [0.5, -1.0, 2.0]
    bn.running_var.array[:] = [0.3, 2.0, 1.5]
    bn.eval()
    check_layer(bn, t64((4, 3)))
    check_layer(nn.BatchNorm1d(3, affine=False), t64((4, 3)))


@pytest.mark.parametrize("shape,norm", [((3, 4), 4), ((2, 3, 4), (3, 4))])
def test_layernorm_gradients_to_second_order(shape, norm):
    check_layer(nn.LayerNorm(norm), t64(shape, 2.0, 0.5))


def test_layernorm_without_affine_and_without_bias_gradients():
    check_layer(nn.LayerNorm(4, elementwise_affine=False), t64((3, 4)))
    ln = nn.LayerNorm(4, bias=False)
    assert ln.bias is None and [n for n, _ in ln.named_parameters()] == ["weight"]
    check_layer(ln, t64((3, 4)))


@pytest.mark.parametrize("make", [lambda: nn.BatchNorm2d(3), lambda: nn.LayerNorm((3, 4, 5))])
def test_fast_backward_equals_differentiable_backward(make):
    """Plain backward runs the fused formulas on arrays; create_graph=True builds them from ops:
    the two must give the same numbers."""
    layer = make().to(cr.float64)
    for p in layer.parameters():
        p.array += RNG.standard_normal(p.shape) * 0.3
    x = t64((2, 3, 4, 5), 2.0, 1.0)
    gy = RNG.standard_normal(x.shape)
    wrt = [x] + list(layer.parameters())
    fast = cr.autograd.grad(layer(x), wrt, grad_outputs=gy)
    slow = cr.autograd.grad(layer(x), wrt, grad_outputs=gy, create_graph=True)
    assert slow[0].requires_grad and not fast[0].requires_grad
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.BatchNorm2d(3), lambda: nn.LayerNorm(5)])
def test_non_contiguous_input_gives_the_same_result(make):
    """A transposed view takes the plain reduction path instead of the BLAS one."""
    layer = make().to(cr.float64)
    base = RNG.standard_normal((5, 4, 3, 2))
    gy = RNG.standard_normal((2, 3, 4, 5))
    results = []
    for arr in (base.transpose(3, 2, 1, 0), np.ascontiguousarray(base.transpose(3, 2, 1, 0))):
        assert arr.flags.c_contiguous == (len(results) == 1)
        x = cr.tensor(arr, requires_grad=True)
        layer.zero_grad()
        y = layer(x)
        y.backward(gy)
        results.append([y.array, x.grad.array] + [p.grad.array for p in layer.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# -- behaviour ---------------------------------------------------------------------------------

def test_batchnorm_normalises_batch_and_updates_running_stats_by_hand():
    bn = nn.BatchNorm1d(2, momentum=0.1)
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], dtype=np.float32)
    y = bn(cr.tensor(x)).array
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(0), x.var(0) / (x.var(0) + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(bn.running_mean.array, 0.1 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.array, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-6)
    assert int(bn.num_batches_tracked.array) == 1
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32


def test_batchnorm_eval_uses_running_stats_and_leaves_them_alone():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.array[:] = [1.0, -2.0]
    bn.running_var.array[:] = [4.0, 0.25]
    bn.weight.array[:] = [2.0, 1.0]
    bn.bias.array[:] = [0.5, 0.0]
    bn.eval()
    x = np.array([[3.0, -1.0]], dtype=np.float32)  # a batch of one is fine in eval mode
    y = bn(cr.tensor(x)).array
    expect = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0] + [0.5, 0.0]
    np.testing.assert_allclose(y, expect, rtol=1e-6)
    assert int(bn.num_batches_tracked.array) == 0
    np.testing.assert_array_equal(bn.running_mean.array, [1.0, -2.0])


def test_batchnorm_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None)
    batches = [RNG.standard_normal((6, 1)).astype(np.float32) + k for k in range(3)]
    for b in batches:
        bn(cr.tensor(b))
    np.testing.assert_allclose(bn.running_mean.array, np.mean([b.mean() for b in batches]),
                               rtol=1e-5)


def test_batchnorm_without_running_stats_always_uses_the_batch():
    bn = nn.BatchNorm1d(2, track_running_stats=False)
    assert bn.running_mean is None and list(bn.buffers()) == []
    x = cr.tensor(RNG.standard_normal((8, 2)).astype(np.float32) * 3 + 5)
    bn.eval()
    np.testing.assert_allclose(bn(x).array.mean(0), 0, atol=1e-5)


def test_batchnorm_state_dict_has_buffers_and_reset():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    bn(cr.randn(4, 3, 2, 2))
    assert bn.running_mean.array.any()
    bn.reset_running_stats()
    assert not bn.running_mean.array.any() and int(bn.num_batches_tracked.array) == 0


def test_norm_reprs():
    assert repr(nn.BatchNorm1d(16)) == (
        "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)")
    assert repr(nn.BatchNorm2d(4, affine=False)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
        "track_running_stats=True)")
    assert repr(nn.LayerNorm(10)) == "LayerNorm((10,), eps=1e-05, elementwise_affine=True)"


def test_layernorm_normalises_each_sample():
    x = cr.tensor(RNG.standard_normal((5, 3, 8)).astype(np.float32) * 4 + 2)
    y = nn.LayerNorm(8)(x).array
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)
    assert y.dtype == np.float32


# -- errors --------------------------------------------------------------------------------

def test_batchnorm_errors_name_the_layer_and_change_no_state():
    bn = nn.BatchNorm1d(16)
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(16\): expected 16 channels .*\(32, 8\)"):
        bn(cr.randn(32, 8))
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(16\): expected a 2-D \(N, C\) or 3-D"):
        bn(cr.randn(2, 16, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(cr.randn(1, 16))
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\): expected a 4-D"):
        nn.BatchNorm2d(3)(cr.randn(2, 3))
    assert int(bn.num_batches_tracked.array) == 0 and not bn.running_mean.array.any()


def test_layernorm_and_functional_errors():
    with pytest.raises(ShapeError, match=r"LayerNorm\(\(4,\)\): expected .*got shape \(2, 5\)"):
        nn.LayerNorm(4)(cr.randn(2, 5))
    with pytest.raises(ShapeError, match="layer_norm: normalized_shape"):
        F.layer_norm(cr.randn(2, 5), (4,))
    with pytest.raises(ShapeError, match=r"running_mean has shape \(4,\)"):
        F.batch_norm(cr.randn(2, 3), cr.zeros(4), cr.ones(4), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(cr.randn(2, 3), None, None, training=False)


def test_functional_batch_norm_with_weight_only():
    x = t64((6, 2))
    w = cr.tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = F.batch_norm(x, None, None, weight=w, training=True)
    xd = x.array
    np.testing.assert_allclose(y.array, (xd - xd.mean(0)) / np.sqrt(xd.var(0) + 1e-5) * [2, 3],
                               rtol=1e-10)
    assert cr.gradcheck(lambda x, w: F.batch_norm(x, None, None, w, training=True), x, w)


# -- PyTorch ---------------------------------------------------------------------------------

def _torch_pair(ours, theirs, torch):
    ours.to(cr.float64)
    theirs.double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            p.array[...] = RNG.standard_normal(p.shape) * 0.5 + 1.0
            q.copy_(torch.from_numpy(p.array))


def _step_and_compare(ours, theirs, x, torch):
    xo = cr.tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    gy = RNG.standard_normal(x.shape)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.array, yt.detach().numpy(), rtol=1e-5, atol=1e-7)
    ours.zero_grad()
    theirs.zero_grad()
    (yo * gy).sum().backward()
    (yt * torch.from_numpy(gy)).sum().backward()
    np.testing.assert_allclose(xo.grad.array, xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-5, atol=1e-7, err_msg=n)
    for (n, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
        np.testing.assert_allclose(b.array, c.numpy(), rtol=1e-5, atol=1e-7, err_msg=n)


@pytest.mark.parametrize("kind,shape,kw", [
    ("BatchNorm1d", (8, 3), {}),
    ("BatchNorm1d", (4, 3, 5), {"momentum": 0.3}),
    ("BatchNorm1d", (5, 3), {"momentum": None}),
    ("BatchNorm2d", (4, 3, 3, 2), {}),
    ("BatchNorm2d", (3, 2, 2, 2), {"affine": False}),
    ("BatchNorm1d", (6, 2), {"track_running_stats": False}),
])
def test_batchnorm_matches_torch_train_then_eval(kind, shape, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, kind)(shape[1], **kw), getattr(torch.nn, kind)(shape[1], **kw)
    _torch_pair(ours, theirs, torch)
    for _ in range(3):
        _step_and_compare(ours, theirs, RNG.standard_normal(shape) * 2 + 1, torch)
    ours.eval()
    theirs.eval()
    _step_and_compare(ours, theirs, RNG.standard_normal(shape) * 2 + 1, torch)


@pytest.mark.parametrize("shape,norm,kw", [
    ((4, 6), 6, {}),
    ((2, 3, 4, 5), (4, 5), {}),
    ((3, 5), 5, {"elementwise_affine": False}),
    ((3, 5), 5, {"bias": False, "eps": 1e-3}),
])
def test_layernorm_matches_torch(shape, norm, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.LayerNorm(norm, **kw), torch.nn.LayerNorm(norm, **kw)
    _torch_pair(ours, theirs, torch)
    _step_and_compare(ours, theirs, RNG.standard_normal(shape) * 3 - 1, torch)


# -- training smoke test -----------------------------------------------------------------------

def test_mlp_with_batchnorm_learns_xor_in_float32():
    cr.manual_seed(0)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    labels = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    x = cr.tensor(X)
    rows = np.arange(len(X))
    for _ in range(300):
        logp = model(x).log_softmax(-1)
        loss = -logp[rows, labels].mean()
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            assert p.grad.dtype == np.float32
            p.array -= 0.5 * p.grad.array
    model.eval()
    with cr.no_grad():
        pred = model(x).array.argmax(-1)
    assert (pred == labels).mean() > 0.95
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float32
