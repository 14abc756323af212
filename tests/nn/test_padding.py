"""The padding modules (Zero/Constant/Reflection/Replication/CircularPad 1d, 2d, 3d) held to
PyTorch's: outputs and input gradients on batched and unbatched inputs, int and tuple (also
negative) padding, reprs, attributes, errors; gradcheck in float64, float32 kept."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
KINDS = ["Zero", "Constant", "Reflection", "Replication", "Circular"]
SHAPES = {1: (2, 3, 5), 2: (2, 3, 4, 5), 3: (2, 2, 3, 4, 5)}   # batched; unbatched drops dim 0
TUPLES = {1: (2, 1), 2: (1, 2, 3, 0), 3: (1, 0, 2, 1, 2, 2)}
NEGATIVE = {1: (-1, 2), 2: (2, -1, 0, 1), 3: (1, -1, 0, 2, -1, 1)}


def _make(lib, kind, n, padding):
    cls = getattr(lib.nn, f"{kind}Pad{n}d")
    return cls(padding, 2.5) if kind == "Constant" else cls(padding)


CASES = [(k, n, p, b) for k in KINDS for n in (1, 2, 3)
         for p in ("int", "tuple", "negative") for b in (True, False)]


def cid(c):
    return f"{c[0]}Pad{c[1]}d-{c[2]}-{'batched' if c[3] else 'unbatched'}"


@pytest.mark.parametrize("case", CASES, ids=[cid(c) for c in CASES])
def test_padding_matches_torch(case):
    kind, n, p, batched = case
    padding = {"int": 2, "tuple": TUPLES[n], "negative": NEGATIVE[n]}[p]
    shape = SHAPES[n] if batched else SHAPES[n][1:]
    x = RNG.standard_normal(shape)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m, tm = _make(cr, kind, n, padding), _make(torch, kind, n, padding)
    assert m.padding == tm.padding and repr(m) == repr(tm)
    y, ty = m(xc), tm(xt)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g = RNG.standard_normal(y.shape)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_gradchecks_and_keeps_float32(kind):
    m = _make(cr, kind, 2, (1, 2, 2, 1))
    assert m(cr.tensor(RNG.standard_normal((1, 2, 3, 4)).astype(np.float32))).dtype == np.float32
    x = cr.tensor(RNG.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert cr.gradcheck(m, x) and cr.gradgradcheck(m, x)
    assert list(m.state_dict()) == [] and m.num_parameters() == 0


def test_reprs_and_attributes_as_torch():
    for expr in ["ZeroPad1d(3)", "ZeroPad2d((1, 2, 3, 4))", "ZeroPad3d(1)",
                 "ConstantPad1d(2, 3.5)", "ConstantPad2d((1, 0, 0, 1), -1)",
                 "ConstantPad3d(1, 0.0)", "ReflectionPad1d((1, 2))", "ReflectionPad2d(2)",
                 "ReflectionPad3d((1, 1, 2, 2, 0, 1))", "ReplicationPad1d(4)",
                 "ReplicationPad2d([1, 2, 3, 4])", "ReplicationPad3d(2)", "CircularPad1d(1)",
                 "CircularPad2d((1, 1, 2, 0))", "CircularPad3d(1)", "ReflectionPad2d((1, 2))"]:
        ours, theirs = eval("nn." + expr), eval("torch.nn." + expr)
        assert repr(ours) == repr(theirs), expr
        assert ours.padding == theirs.padding, expr
    assert nn.ConstantPad2d(1, 3.5).value == 3.5
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d)


def test_a_short_tuple_pads_only_the_last_dims_as_torch():
    """Taken as given, as PyTorch's _ntuple does: constant mode pads the last dim of any input,
    the other modes only the last dim of a 2-D or 3-D one (both raise NotImplementedError
    otherwise)."""
    for shape in ((1, 2, 3, 4), (2, 3, 4)):
        x = RNG.standard_normal(shape)
        for cls in ("ReflectionPad2d", "ZeroPad3d", "ReplicationPad3d", "CircularPad2d"):
            try:
                ty = getattr(torch.nn, cls)((1, 2))(torch.tensor(x))
            except (NotImplementedError, ValueError) as e:
                with pytest.raises(type(e)):
                    getattr(nn, cls)((1, 2))(cr.tensor(x))
                continue
            y = getattr(nn, cls)((1, 2))(cr.tensor(x))
            np.testing.assert_array_equal(y.numpy(), ty.numpy())


ERRORS = [("ReflectionPad1d(3)", (1, 2, 3)), ("ReflectionPad2d(4)", (1, 1, 4, 6)),
          ("CircularPad1d(1)", (5,)), ("CircularPad2d(1)", (2, 3)),
          ("CircularPad3d(1)", (1, 2, 3, 4, 5, 6)), ("CircularPad1d(5)", (1, 2, 3))]


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] + str(e[1]) for e in ERRORS])
def test_errors_as_torch(case):
    """The class of torch's exception (our message may word the same fact differently)."""
    expr, shape = case
    x = np.zeros(shape)
    with pytest.raises(Exception) as theirs:
        eval("torch.nn." + expr)(torch.tensor(x))
    with pytest.raises(type(theirs.value)) as ours:
        eval("nn." + expr)(cr.tensor(x))
    if isinstance(theirs.value, ValueError):  # the circular dim check: PyTorch's own words
        assert str(ours.value) == str(theirs.value)
