"""The speed paths of conv and max pooling: the batch split over two threads (chainrule.ops.
parallel) gives the same numbers as one thread, max pooling's argmax index follows PyTorch's
rules (first maximum on ties, NaN wins) and its output may be changed in place, as in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import parallel


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def two_workers(monkeypatch):
    """Split every pass, however small, over two threads."""
    monkeypatch.setattr(parallel, "SPLIT_ABOVE", 0)
    parallel.set_workers(2)
    yield
    parallel.set_workers(1)


def _run(fn, arrays):
    """fn's output and the gradients of every input for a fixed random upstream gradient."""
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(y.array.dtype)
    y.backward(cr.tensor(g))
    return [y.numpy()] + [x.grad.numpy() for x in xs]


CASES = [
    ("conv2d pad 1", lambda x, w: F.conv2d(x, w, padding=1), (6, 3, 9, 8), (4, 3, 3, 3)),
    ("conv2d stride dil", lambda x, w: F.conv2d(x, w, stride=2, dilation=2, padding=2),
     (5, 2, 11, 10), (3, 2, 3, 3)),
    ("conv2d groups", lambda x, w: F.conv2d(x, w, groups=2), (4, 4, 7, 7), (6, 2, 3, 3)),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
     (3, 4, 5, 6), (4, 2, 3, 3)),
    ("conv3d", lambda x, w: F.conv3d(x, w, padding=1), (3, 2, 4, 5, 4), (2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("name,fn,xs,ws", CASES, ids=[c[0] for c in CASES])
def test_conv_split_over_two_threads_gives_the_same_numbers(name, fn, xs, ws, rng, monkeypatch):
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    parallel.set_workers(1)
    one = _run(fn, arrays)
    monkeypatch.setattr(parallel, "SPLIT_ABOVE", 0)
    parallel.set_workers(2)
    try:
        two = _run(fn, arrays)
    finally:
        parallel.set_workers(1)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


POOLS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=2, ceil_mode=True), dict(kernel_size=3, stride=1, dilation=2)]


@pytest.mark.parametrize("kw", POOLS, ids=str)
def test_max_pool_split_over_two_threads_gives_the_same_numbers(kw, rng, monkeypatch):
    x = np.maximum(rng.standard_normal((6, 3, 9, 11)), 0)  # ReLU's zeros: ties in the windows
    parallel.set_workers(1)
    one = _run(lambda t: F.max_pool2d(t, **kw), [x])
    monkeypatch.setattr(parallel, "SPLIT_ABOVE", 0)
    parallel.set_workers(2)
    try:
        two = _run(lambda t: F.max_pool2d(t, **kw), [x])
    finally:
        parallel.set_workers(1)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_split_gradcheck_and_gradgradcheck(two_workers, rng):
    x = cr.tensor(rng.standard_normal((3, 2, 6, 5)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    for fn in (lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1), 2, ceil_mode=True),
               lambda a, b: F.conv2d(a, b, stride=2, padding=1)):
        assert cr.gradcheck(fn, x, w)
        assert cr.gradgradcheck(fn, x, w)


@pytest.mark.parametrize("split", [False, True], ids=["one thread", "two threads"])
@pytest.mark.parametrize("kw", POOLS, ids=str)
def test_max_pool_ties_and_nan_follow_torch(kw, split, rng, monkeypatch):
    torch = pytest.importorskip("torch")
    if split:
        monkeypatch.setattr(parallel, "SPLIT_ABOVE", 0)
        parallel.set_workers(2)
    try:
        x = np.round(rng.standard_normal((4, 3, 9, 11)))  # many equal values in a window
        x[0, 0, :3, :3] = 0.0
        x[1, 2, 2, 3] = x[1, 2, 4, 4] = np.nan  # NaN wins its windows, in PyTorch the last NaN
        ours = _run(lambda t: F.max_pool2d(t, **kw), [x])
    finally:
        parallel.set_workers(1)
    t = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.max_pool2d(t, **kw)
    y.backward(torch.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape))))
    np.testing.assert_array_equal(ours[0], y.detach().numpy())  # NaN == NaN here
    np.testing.assert_allclose(ours[1], t.grad.numpy(), rtol=1e-12)


def test_max_pool_output_changed_in_place_as_in_torch(rng):
    """conv -> pool -> ReLU(inplace=True): PyTorch's max pooling keeps its indices, not its
    output, so an in-place change of the output leaves its backward right; so does ours."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 8, 8))
    a = cr.tensor(x, requires_grad=True)
    y = F.max_pool2d(a, 2)
    y.relu_()
    (y * y).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(t, 2)
    yt.relu_()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy())


def test_cnn_training_step_on_two_threads_matches_torch(two_workers, rng):
    """The user's loop, as PyTorch's docs write it, with the passes split over two threads."""
    torch = pytest.importorskip("torch")
    from torch import nn as tnn

    import chainrule.nn as nn

    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 3 * 3, 10)).double()
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                            tnn.Conv2d(4, 6, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                            tnn.Flatten(), tnn.Linear(6 * 3 * 3, 10)).double()
    with cr.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            p.copy_(cr.tensor(q.detach().numpy()))
    opt = cr.optim.SGD(ours.parameters(), lr=0.1)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    x, y = rng.standard_normal((8, 1, 13, 12)), rng.integers(0, 10, 8)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(ours(cr.tensor(x)), cr.tensor(y))
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_pool_output_is_contiguous_so_view_works_as_in_the_tutorial(rng):
    """PyTorch's CIFAR-10 tutorial: x = self.pool(F.relu(self.conv1(x))); x.view(-1, 16 * 5 * 5).
    PyTorch's max pooling returns a contiguous tensor, so view works; so does ours."""
    import chainrule.nn as nn

    conv, pool = nn.Conv2d(3, 6, 5), nn.MaxPool2d(2, 2)
    x = pool(F.relu(conv(cr.tensor(rng.standard_normal((4, 3, 14, 14)).astype(np.float32)))))
    assert x.is_contiguous()
    flat = x.view(-1, 6 * 5 * 5)
    assert flat.shape == (4, 150)
    flat.sum().backward()
    assert conv.weight.grad.shape == (6, 3, 5, 5)
