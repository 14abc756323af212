"""GroupNorm, InstanceNorm1d/2d/3d, F.group_norm and F.instance_norm: gradients to second order
in float64, running statistics and eval mode, PyTorch's defaults and errors, and PyTorch's
numbers with copied weights where torch is importable."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(0)


def t64(*shape, requires_grad=True):
    return cr.tensor(RNG.standard_normal(shape) * 1.5 + 0.5, requires_grad=requires_grad)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_gradients_to_second_order(groups):
    x, w, b = t64(2, 6, 3), t64(6), t64(6)
    f = lambda x, w, b: F.group_norm(x, groups, w, b)  # noqa: E731
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)


def test_instance_norm_gradients_to_second_order():
    x, w, b = t64(2, 3, 4), t64(3), t64(3)
    f = lambda x, w, b: F.instance_norm(x, weight=w, bias=b)  # noqa: E731
    assert cr.gradcheck(f, x, w, b)
    assert cr.gradgradcheck(f, x, w, b)
    assert cr.gradgradcheck(lambda x: F.instance_norm(x), t64(2, 2, 2, 3))


def test_group_norm_normalises_each_group():
    y = F.group_norm(t64(3, 4, 5, requires_grad=False), 2).numpy().reshape(3, 2, -1)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-4)


def test_defaults_and_parameters_are_pytorchs():
    gn = nn.GroupNorm(2, 4)
    assert [n for n, _ in gn.named_parameters()] == ["weight", "bias"]
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    inorm = nn.InstanceNorm2d(3)
    assert (inorm.affine, inorm.track_running_stats) == (False, False)
    assert list(inorm.state_dict()) == []
    tracked = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    assert list(tracked.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                          "num_batches_tracked"]


def test_instance_norm_running_statistics_and_eval():
    m = nn.InstanceNorm1d(2, track_running_stats=True).double()
    x = t64(4, 2, 6, requires_grad=False)
    m(x)
    a = x.numpy()
    np.testing.assert_allclose(m.running_mean.numpy(), 0.1 * a.mean(2).mean(0))
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * a.var(2, ddof=1).mean(0))
    m.eval()
    want = (a - m.running_mean.numpy()[:, None]) / np.sqrt(m.running_var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(m(x).numpy(), want)


def test_errors_and_warnings_name_the_problem():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(cr.ones(2, 6, 3), 4)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.group_norm(cr.ones(1, 2, 1), 2)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(cr.ones(2, 3, 1))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(3)(cr.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm1d(3, affine=True)(cr.ones(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(cr.ones(2, 4, 5))


def test_unbatched_instance_norm():
    x = t64(3, 5, requires_grad=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = nn.InstanceNorm1d(3)(x)
    np.testing.assert_allclose(y.numpy(), F.instance_norm(x.unsqueeze(0)).numpy()[0])


# -- PyTorch, with copied weights --------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda nn: nn.GroupNorm(3, 6), lambda nn: nn.GroupNorm(1, 6, affine=False),
    lambda nn: nn.GroupNorm(6, 6, eps=1e-3),
])
@pytest.mark.parametrize("shape", [(2, 6, 5), (3, 6, 2, 3), (4, 6)])
def test_group_norm_matches_torch(make, shape):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare, copy_weights

    m, tm = make(nn).double(), make(torch.nn).double()
    if tm.affine:
        with torch.no_grad():
            tm.weight.normal_()
            tm.bias.normal_()
    copy_weights(m, tm)
    compare(m, tm, RNG.standard_normal(shape))


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm1d", (4, 7)),
                                       ("InstanceNorm2d", (2, 4, 3, 5)),
                                       ("InstanceNorm2d", (4, 3, 5)),
                                       ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm_matches_torch_in_train_and_eval(cls, shape, affine, track):
    torch = pytest.importorskip("torch")
    from _torch_compare import compare, copy_weights

    m = getattr(nn, cls)(4, affine=affine, track_running_stats=track).double()
    tm = getattr(torch.nn, cls)(4, affine=affine, track_running_stats=track).double()
    if affine:
        with torch.no_grad():
            tm.weight.normal_()
            tm.bias.normal_()
    copy_weights(m, tm)
    for _ in range(2):
        compare(m, tm, RNG.standard_normal(shape) * 2 + 1)
    if track:
        np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), atol=1e-12)
    compare(m, tm, RNG.standard_normal(shape), train=False)
