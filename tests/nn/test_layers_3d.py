"""Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, BatchNorm3d and their F.
forms: outputs and every gradient against torch (float64, weights copied), PyTorch's reprs,
shapes, errors and unbatched inputs, float32 kept, and a small 3-D conv net trained step by step
beside torch. (The ops' float64 gradcheck / gradgradcheck rows live in tests/ops/specs_conv3d.py.)
"""

import numpy as np
import pytest
from _torch_compare import compare, copy_weights  # tests/nn is on sys.path (rootdir-relative)

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ShapeError

TOL = 1e-10


def _pair(cls_name, *args, **kw):
    """The chainrule module and torch's, built with the same arguments, torch's weights copied
    into chainrule's (both float64)."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, cls_name)(*args, **kw).double()
    ours = getattr(nn, cls_name)(*args, **kw).double()
    copy_weights(ours, theirs)
    return ours, theirs


# -- convolutions ----------------------------------------------------------------------------------
CONV_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(1, 2, 2), padding=(0, 1, 2), dilation=(2, 1, 1), groups=2),
    dict(padding="same", dilation=(1, 2, 1), bias=False),
    dict(kernel_size=(2, 3, 2), padding="same"),
    dict(padding="valid", groups=2),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=str)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_matches_torch(kw, rng):
    args = dict(in_channels=2, out_channels=4, kernel_size=3) | kw
    ours, theirs = _pair("Conv3d", **args)
    compare(ours, theirs, rng.standard_normal((2, 2, 5, 6, 7)), atol=TOL)
    compare(ours, theirs, rng.standard_normal((2, 5, 6, 7)), atol=TOL)  # unbatched


CONV_T_CASES = [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2, 3), padding=(1, 0, 1), output_padding=(0, 1, 2), groups=2),
    dict(stride=1, padding=1, output_padding=(1, 0, 1), dilation=2, groups=2, bias=False),
]


@pytest.mark.parametrize("kw", CONV_T_CASES, ids=str)
def test_conv_transpose3d_matches_torch(kw, rng):
    args = dict(in_channels=2, out_channels=4, kernel_size=3) | kw
    ours, theirs = _pair("ConvTranspose3d", **args)
    compare(ours, theirs, rng.standard_normal((2, 2, 3, 4, 3)), atol=TOL)
    compare(ours, theirs, rng.standard_normal((2, 3, 4, 3)), atol=TOL)


def test_conv_transpose3d_output_size_picks_the_output_padding(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair("ConvTranspose3d", 2, 3, 3, stride=2, padding=1)
    x = rng.standard_normal((1, 2, 3, 4, 5))
    for size in ([6, 8, 9], [1, 3, 5, 8, 10]):
        y = ours(cr.tensor(x), output_size=size)
        ty = theirs(torch.tensor(x), output_size=size)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=TOL)
    with pytest.raises(ValueError, match="output size"):
        ours(cr.tensor(x), output_size=[9, 9, 9])
    with pytest.raises(ValueError):
        theirs(torch.tensor(x), output_size=[9, 9, 9])


def test_functional_conv3d_and_conv_transpose3d_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 4, 4, 5, 3)), rng.standard_normal((6, 2, 2, 3, 1)), \
        rng.standard_normal(6)
    kw = dict(stride=(2, 1, 1), padding=(1, 1, 0), dilation=(1, 1, 2), groups=2)
    y = F.conv3d(cr.tensor(x), cr.tensor(w), cr.tensor(b), **kw)
    ty = torch.nn.functional.conv3d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=TOL)
    wt = rng.standard_normal((4, 3, 2, 2, 3))
    kw = dict(stride=2, padding=(0, 1, 1), output_padding=(1, 0, 1), groups=2)
    y = F.conv_transpose3d(cr.tensor(x), cr.tensor(wt), None, **kw)
    ty = torch.nn.functional.conv_transpose3d(torch.tensor(x), torch.tensor(wt), None, **kw)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=TOL)


def test_conv3d_init_follows_pytorch():
    m = nn.Conv3d(4, 6, (3, 2, 2), groups=2)
    assert m.weight.shape == (6, 2, 3, 2, 2) and m.bias.shape == (6,)
    bound = 1 / np.sqrt(2 * 3 * 2 * 2)
    assert bound / 2 < np.abs(m.weight.numpy()).max() <= bound
    assert np.abs(m.bias.numpy()).max() <= bound
    t = nn.ConvTranspose3d(4, 6, 3, groups=2)
    assert t.weight.shape == (4, 3, 3, 3, 3)
    assert np.abs(t.weight.numpy()).max() <= 1 / np.sqrt(3 * 27)


# -- pooling ------------------------------------------------------------------------------------
POOL_CASES = [
    ("MaxPool3d", (2,), {}),
    ("MaxPool3d", (3,), dict(stride=2, padding=1)),
    ("MaxPool3d", ((2, 3, 2),), dict(stride=(1, 2, 1), padding=(1, 1, 0), dilation=(2, 1, 1))),
    ("MaxPool3d", (3,), dict(stride=2, ceil_mode=True)),
    ("MaxPool3d", (2,), dict(padding=1, ceil_mode=True)),
    ("AvgPool3d", (2,), {}),
    ("AvgPool3d", (3, 2, 1), {}),
    ("AvgPool3d", (3, 2, 1), dict(count_include_pad=False)),
    ("AvgPool3d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
    ("AvgPool3d", ((1, 2, 3),), dict(stride=(1, 1, 2), divisor_override=4)),
    ("AdaptiveAvgPool3d", ((2, 3, 4),), {}),
    ("AdaptiveAvgPool3d", (1,), {}),
    ("AdaptiveAvgPool3d", ((None, 4, 5),), {}),
]


@pytest.mark.parametrize("name, args, kw", POOL_CASES, ids=[f"{n}{a}{k}" for n, a, k in
                                                            POOL_CASES])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_pooling_3d_matches_torch(name, args, kw, ties, rng):
    ours, theirs = _pair(name, *args, **kw)
    x = rng.standard_normal((2, 3, 5, 6, 7))
    x = np.round(x) if ties else x  # many equal maxima: the gradient goes to the first, as torch
    compare(ours, theirs, x, atol=TOL)
    compare(ours, theirs, x[0], atol=TOL)
    assert repr(ours) == repr(theirs)


def test_functional_pooling_3d_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x = rng.standard_normal((1, 2, 6, 5, 4))
    pairs = [(F.max_pool3d(cr.tensor(x), 3, 1, 1, 2), tF.max_pool3d(torch.tensor(x), 3, 1, 1, 2)),
             (F.avg_pool3d(cr.tensor(x), (2, 1, 2), None, (1, 0, 1)),
              tF.avg_pool3d(torch.tensor(x), (2, 1, 2), None, (1, 0, 1))),
             (F.adaptive_avg_pool3d(cr.tensor(x), (4, None, 3)),
              tF.adaptive_avg_pool3d(torch.tensor(x), (4, None, 3)))]
    for y, ty in pairs:
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=TOL)


# -- batch norm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(affine=False), dict(momentum=None),
                                dict(track_running_stats=False), dict(bias=False)], ids=str)
def test_batch_norm_3d_matches_torch_in_train_and_eval(kw, rng):
    ours, theirs = _pair("BatchNorm3d", 3, **kw)
    for _ in range(2):
        compare(ours, theirs, rng.standard_normal((2, 3, 2, 3, 4)) * 2 + 1, atol=TOL)
    for name, buf in theirs.named_buffers():
        np.testing.assert_allclose(getattr(ours, name).numpy(), buf.numpy(), atol=TOL)
    compare(ours, theirs, rng.standard_normal((2, 3, 2, 3, 4)), atol=TOL, train=False)
    assert repr(ours) == repr(theirs)


# -- reprs, shapes, errors, dtype ---------------------------------------------------------------
@pytest.mark.parametrize("name, args, kw", [
    ("Conv3d", (1, 8, 3), {}),
    ("Conv3d", (4, 6, (3, 2, 1)), dict(stride=2, padding=(1, 0, 0), dilation=(2, 1, 1),
                                       groups=2, bias=False)),
    ("Conv3d", (4, 6, 3), dict(padding="same")),
    ("ConvTranspose3d", (4, 6, 3), dict(stride=2, output_padding=1)),
    ("ConvTranspose3d", (2, 4, (1, 2, 3)), dict(padding=1, groups=2, dilation=2, bias=False)),
    ("BatchNorm3d", (4,), dict(eps=1e-3, momentum=None, affine=False)),
    ("MaxPool3d", ((2, 1, 2),), dict(stride=1, padding=(1, 0, 1), ceil_mode=True)),
    ("AvgPool3d", ((1, 2, 2),), dict(count_include_pad=False, divisor_override=3)),
    ("AdaptiveAvgPool3d", ((None, 2, 3),), {}),
], ids=str)
def test_reprs_equal_torchs(name, args, kw):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, name)(*args, **kw)) == repr(getattr(torch.nn, name)(*args, **kw))


def test_shapes_float32_and_unbatched_inputs():
    x = cr.randn(2, 3, 6, 7, 8)
    net = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                        nn.MaxPool3d(2), nn.ConvTranspose3d(4, 2, 2, stride=2),
                        nn.AvgPool3d(3, 1, 1), nn.AdaptiveAvgPool3d((1, 2, None)))
    y = net(x)
    assert y.shape == (2, 2, 1, 2, 8) and y.dtype == np.float32
    y.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    net = nn.Sequential(*(m for i, m in enumerate(net) if i != 1))  # BatchNorm3d: batches only
    np.testing.assert_allclose(net(x[1]).numpy(), net(x).numpy()[1], atol=1e-5)


def test_wrong_shapes_name_the_layer_and_the_shapes():
    with pytest.raises(ShapeError, match=r"Conv3d\(1, 8, kernel_size=\(3, 3, 3\)\): expected "
                                         r"input of shape \(N, 1, D, H, W\), got \(2, 1, 8, 8\)"):
        nn.Conv3d(1, 8, 3)(cr.randn(2, 1, 8, 8))
    with pytest.raises(ShapeError, match=r"got \(2, 3, 8, 8, 8\): it has 3 channels"):
        nn.Conv3d(1, 8, 3)(cr.randn(2, 3, 8, 8, 8))
    with pytest.raises(ShapeError, match=r"Conv3d\(1, 8.*spatial size \(8, 2, 8\).*smaller"):
        nn.Conv3d(1, 8, 3)(cr.randn(1, 1, 8, 2, 8))
    with pytest.raises(ShapeError, match=r"ConvTranspose3d\(4, 2, kernel_size=\(3, 3, 3\)\)"):
        nn.ConvTranspose3d(4, 2, 3)(cr.randn(1, 2, 5, 5, 5))
    with pytest.raises(ShapeError, match=r"conv3d: weight must have 5 dimensions"):
        F.conv3d(cr.randn(1, 2, 5, 5, 5), cr.randn(2, 2, 3, 3))
    with pytest.raises(ShapeError, match=r"MaxPool3d\(kernel_size=2.*\(N, C, D, H, W\) or "
                                         r"\(C, D, H, W\), got \(4, 4\)"):
        nn.MaxPool3d(2)(cr.randn(4, 4))
    with pytest.raises(ShapeError, match=r"avg_pool3d: expected input of shape \(N, C, D, H, W\)"):
        F.avg_pool3d(cr.randn(2, 4, 4), 2)
    with pytest.raises(ShapeError, match="smaller than the pooling window"):
        F.max_pool3d(cr.randn(1, 1, 4, 2, 4), 3)
    with pytest.raises(RuntimeError, match="at most half the kernel"):  # and a ValueError
        nn.MaxPool3d(2, padding=(0, 2, 0))(cr.randn(1, 1, 6, 6, 6))
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool3d(cr.randn(1, 1, 6, 6, 6), (2, 2))
    with pytest.raises(ShapeError, match=r"BatchNorm3d\(4\): expected a 5-D"):
        nn.BatchNorm3d(4)(cr.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv3d(3, 4, (3, 3))
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool3d(cr.randn(1, 1, 4, 4, 4), 2, return_indices=True)


@pytest.mark.parametrize("call", [
    lambda m, x: m.Conv3d(1, 8, 3)(x.randn(2, 1, 8, 8)),
    lambda m, x: m.Conv3d(1, 8, 3)(x.randn(1, 1, 8, 2, 8)),
    lambda m, x: m.BatchNorm3d(4)(x.randn(2, 4, 3, 3)),
    lambda m, x: m.MaxPool3d(2, padding=(0, 2, 0))(x.randn(1, 1, 6, 6, 6)),
    lambda m, x: m.ConvTranspose3d(2, 2, 3, stride=2, output_padding=2)(x.randn(1, 2, 3, 3, 3)),
], ids=["rank", "too_small", "bn_rank", "pool_padding", "output_padding"])
def test_torch_refuses_the_same_calls(call):
    """Each refusal above is one torch makes too (the messages are chainrule's own)."""
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, ValueError)):
        call(torch.nn, torch)
    with pytest.raises((RuntimeError, ValueError)):
        call(nn, cr)


# -- a program as the PyTorch docs write it ----------------------------------------------------
def test_a_small_3d_conv_net_trains_step_by_step_like_torch(rng):
    """Classify (N, 1, 8, 8, 8) volumes: Conv3d -> BatchNorm3d -> ReLU -> MaxPool3d -> Conv3d ->
    AdaptiveAvgPool3d -> Linear, SGD with momentum; same weights, same batches, same losses."""
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(
            m.Conv3d(1, 4, 3, padding=1), m.BatchNorm3d(4), m.ReLU(), m.MaxPool3d(2),
            m.Conv3d(4, 6, 3, stride=1, padding=1, bias=False), m.ReLU(),
            m.AvgPool3d(2), m.ConvTranspose3d(6, 4, 2, stride=2), m.ReLU(),
            m.AdaptiveAvgPool3d(1), m.Flatten(), m.Linear(4, 3))

    theirs = build(torch.nn).double()
    ours = build(nn).double()
    copy_weights(ours, theirs)
    opt = cr.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    losses, tlosses = [], []
    for _ in range(4):
        x = rng.standard_normal((4, 1, 8, 8, 8))
        y = rng.integers(0, 3, 4)
        opt.zero_grad()
        loss = F.cross_entropy(ours(cr.tensor(x)), cr.tensor(y))
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        losses.append(loss.item())
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[0] != losses[-1]  # it did train
    for (name, p), tp in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(p.numpy(), tp.numpy(), atol=1e-9, err_msg=name)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 1, 8, 8, 8))
    np.testing.assert_allclose(ours(cr.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-9)
