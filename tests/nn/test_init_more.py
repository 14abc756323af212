"""nn.init.eye_, dirac_ and trunc_normal_ as PyTorch's: the same values where they are
deterministic, the same distribution where they are drawn, the same refusals."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (4, 1)])
def test_eye_like_torch(shape):
    torch = pytest.importorskip("torch")
    w = nn.init.eye_(cr.empty(*shape))
    assert np.array_equal(w.numpy(), torch.nn.init.eye_(torch.empty(*shape)).numpy())


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 3, 3, 3), 2),
                                           ((2, 5, 3, 3), 1), ((5, 2, 1, 2), 1)])
def test_dirac_like_torch(shape, groups):
    torch = pytest.importorskip("torch")
    w = nn.init.dirac_(cr.empty(*shape), groups)
    expect = torch.nn.init.dirac_(torch.empty(*shape), groups).numpy()
    assert np.array_equal(w.numpy(), expect)


def test_dirac_passes_the_input_through_a_convolution():
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    x = cr.randn(2, 3, 5, 5)
    assert np.allclose(conv(x).detach().numpy(), x.numpy())


def test_eye_and_dirac_refuse_other_shapes_as_torch_does():
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.eye_(cr.empty(2, 2, 2))
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        nn.init.dirac_(cr.empty(2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.init.dirac_(cr.empty(5, 2, 3), groups=2)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                             (1.0, 2.0, 0.0, 3.0)])
def test_trunc_normal_has_torchs_distribution(mean, std, a, b):
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    ours = nn.init.trunc_normal_(cr.empty(200_000), mean, std, a, b).numpy()
    torch.manual_seed(0)
    theirs = torch.nn.init.trunc_normal_(torch.empty(200_000), mean, std, a, b).numpy()
    assert ours.dtype == np.float32 and ours.min() >= a and ours.max() <= b
    assert abs(ours.mean() - theirs.mean()) < 0.01 * std + 1e-3 * abs(b - a)
    assert abs(ours.std() / theirs.std() - 1) < 0.01


def test_trunc_normal_warns_as_torch_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match="more than 2 std"):
        nn.init.trunc_normal_(cr.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)
