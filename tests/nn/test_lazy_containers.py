"""ParameterList, ParameterDict, LazyLinear, LazyConv1d and LazyConv2d, as PyTorch defines them:
registration, names, order, reprs; parameters materialised at the first forward (the same
Parameter objects, so an optimizer built before keeps working), the module turning into its
eager class, and load_state_dict into a lazy module."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


def test_parameter_list_registers_and_wraps_tensors():
    pl = nn.ParameterList([nn.Parameter(cr.ones(2, 3)), cr.zeros(3)])
    pl.append(cr.ones(1))
    pl += [cr.ones(4)]
    assert len(pl) == 4 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2", "3"]
    assert pl[-1].shape == (4,) and len(pl[1:3]) == 2
    pl[0] = cr.zeros(5)
    assert pl[0].shape == (5,)
    with pytest.raises(IndexError, match="out of range"):
        pl[9]
    with pytest.raises(RuntimeError, match="should not be called"):
        pl()
    assert repr(nn.ParameterList([cr.ones(2, 3)])) == (
        "ParameterList(  (0): Parameter containing: [chainrule.float32 of size 2x3])")


def test_parameter_dict_behaves_like_pytorchs():
    pd = nn.ParameterDict({"b": cr.ones(2), "a": nn.Parameter(cr.ones(1))})
    assert list(pd) == ["a", "b"]  # a plain dict's keys are taken sorted, as PyTorch
    pd["c"] = cr.ones(3)
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "c"]
    assert pd.pop("a").shape == (1,) and "a" not in pd and pd.get("z", 7) == 7
    pd.update([("z", cr.ones(1)), ("y", cr.ones(2))])
    assert list(pd) == ["b", "c", "z", "y"] and pd.popitem()[0] == "y"
    assert list(pd | {"q": cr.ones(1)}) == ["b", "c", "z", "q"]
    del pd["b"]
    assert list(pd.keys()) == ["c", "z"] and len(pd) == 2
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = cr.ones(1)


def test_containers_train_with_an_optimizer():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(cr.ones(2, 2)) for _ in range(2)])
            self.bs = nn.ParameterDict({"out": nn.Parameter(cr.zeros(2))})

        def forward(self, x):
            for w in self.ws:
                x = x @ w
            return x + self.bs["out"]

    m = Model()
    assert list(m.state_dict()) == ["ws.0", "ws.1", "bs.out"]
    opt = optim.SGD(m.parameters(), lr=0.01)
    x, y = cr.randn(8, 2), cr.randn(8, 2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_lazy_modules_materialise_at_the_first_forward():
    net = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    assert isinstance(net[0].weight, nn.UninitializedParameter)
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = net[3].weight.shape
    opt = optim.SGD(net.parameters(), lr=0.1)  # built before: PyTorch's caveat, it still works
    y = net(cr.ones(2, 2, 5, 5))
    assert y.shape == (2, 3)
    assert type(net[0]) is nn.Conv2d and type(net[3]) is nn.Linear
    assert type(net[3].weight) is nn.Parameter and net[3].weight.shape == (3, 100)
    assert net[3].in_features == 100 and net[0].in_channels == 2
    y.sum().backward()
    before = net[3].weight.numpy().copy()
    opt.step()
    assert (net[3].weight.numpy() != before).any()


def test_lazy_initialisation_follows_the_eager_layer():
    cr.manual_seed(0)
    lazy = nn.LazyLinear(50)
    lazy(cr.ones(1, 400))
    bound = 1 / np.sqrt(400)
    w = lazy.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert lazy.weight.dtype == cr.float32
    assert nn.LazyLinear(2, dtype=cr.float64)(cr.ones(1, 3, dtype=cr.float64)).dtype == cr.float64
    conv = nn.LazyConv1d(3, 2, bias=False)
    conv(cr.ones(4, 5))  # unbatched (C, L): in_channels from dim 0
    assert conv.weight.shape == (3, 4, 2) and conv.bias is None


def test_load_state_dict_materialises_a_lazy_module():
    src = nn.Sequential(nn.LazyLinear(3))
    src(cr.ones(2, 5))
    dst = nn.Sequential(nn.LazyLinear(3))
    dst.load_state_dict(src.state_dict())
    x = cr.randn(4, 5)
    np.testing.assert_array_equal(dst(x).numpy(), src(x).numpy())
    assert type(dst[0]) is nn.Linear and dst[0].in_features == 5


def test_lazy_errors_are_pytorchs():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\)"):
        nn.LazyConv2d(2, 3)(cr.ones(3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(cr.ones(1, 3, 5, 5))


def test_lazy_linear_matches_torch():
    torch = pytest.importorskip("torch")
    from _torch_compare import compare, copy_weights

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m, tm = nn.LazyLinear(3).double(), torch.nn.LazyLinear(3).double()
    x = np.random.default_rng(0).standard_normal((4, 6))
    m(cr.tensor(x))
    tm(torch.tensor(x))
    assert repr(m) == repr(tm)
    copy_weights(m, tm)
    compare(m, tm, x)
