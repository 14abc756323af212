"""The activation modules and functional forms of chainrule/nn/layers/activation_more.py held to
PyTorch's: values and gradients (also exactly at the kinks, where each picks a side), second
derivatives where torch has them, reprs, PReLU's weight and state_dict, the in-place forms
(identity, version, the leaf error), integer inputs and errors. Values away from the kinks are
gradchecked through the spec table (tests/ops/specs_activation.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tF = torch.nn.functional

RNG = np.random.default_rng(0)
# every kink of every function here, then values on both sides and in the far tails
KINKS = np.array([-6.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.3, 0.5, 1.0, 2.0, 3.0, 6.0])
X = np.concatenate([KINKS, RNG.standard_normal(12) * 4, [-40.0, 40.0]]).reshape(2, 13)

MODULES = [
    ("SiLU", {}), ("Mish", {}), ("Hardtanh", {}), ("Hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("ReLU6", {}), ("SELU", {}), ("CELU", {}), ("CELU", {"alpha": 0.5}), ("Hardswish", {}),
    ("Hardsigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}), ("LogSigmoid", {}),
    ("Threshold", {"threshold": 0.3, "value": -2.0}), ("Softshrink", {}),
    ("Softshrink", {"lambd": 2.0}), ("Hardshrink", {}), ("Hardshrink", {"lambd": 1.0}),
    ("Softmin", {"dim": 1}), ("Softmin", {"dim": 0}), ("GLU", {"dim": 0}), ("PReLU", {}),
    ("PReLU", {"num_parameters": 2, "init": 0.1}),
]


def ids(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def _pair(name, kw):
    return getattr(nn, name)(**kw).double(), getattr(torch.nn, name)(**kw).double()


@pytest.mark.parametrize("case", MODULES, ids=[ids(c) for c in MODULES])
def test_module_matches_torch_at_and_between_the_kinks(case):
    """Values, the input gradient (also exactly at each kink: an exact 0 where torch has one)
    and PReLU's weight gradient. rtol 1e-7: torch's hardsigmoid backward multiplies doubles by
    a float32 1/6, and its celu backward by a float32 1/alpha."""
    m, tm = _pair(*case)
    a = X.T.copy() if case[1].get("num_parameters") == 2 else X  # PReLU(2): 2 channels
    x, t = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = m(x), tm(t)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = RNG.standard_normal(tuple(ty.shape))
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-14)
    for (name, p), (tname, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


# torch's second derivatives at the kinks (hardsigmoid has none in torch; 1/6 step away)
SECOND = [(F.hardtanh, tF.hardtanh), (F.relu6, tF.relu6), (F.hardswish, tF.hardswish),
          (F.selu, tF.selu), (F.celu, tF.celu), (lambda x: F.celu(x, 0.5),
                                                 lambda x: tF.celu(x, 0.5)),
          (lambda x: F.threshold(x, 0.3, 1.0), lambda x: tF.threshold(x, 0.3, 1.0)),
          (F.softshrink, tF.softshrink), (F.hardshrink, tF.hardshrink), (F.silu, tF.silu),
          (F.mish, tF.mish), (F.softsign, tF.softsign), (F.tanhshrink, tF.tanhshrink)]


@pytest.mark.parametrize("k", range(len(SECOND)))
def test_second_derivative_matches_torch_at_the_kinks(k):
    f, tf = SECOND[k]
    x, t = cr.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    g = RNG.standard_normal(X.shape)
    (gx,) = cr.autograd.grad(f(x), x, cr.tensor(g), create_graph=True)
    (tgx,) = torch.autograd.grad(tf(t), t, torch.tensor(g), create_graph=True)
    np.testing.assert_allclose(gx.numpy(), tgx.detach().numpy(), rtol=1e-7, atol=1e-14)
    h = RNG.standard_normal(X.shape)
    # a gradient that is constant in x (a masked copy of g) has no graph: its derivative is 0
    ggx = cr.autograd.grad(gx, x, cr.tensor(h), allow_unused=True)[0] \
        if gx.requires_grad else None
    tggx = torch.autograd.grad(tgx, t, torch.tensor(h), allow_unused=True)[0] \
        if tgx.requires_grad else None
    want = np.zeros(X.shape) if tggx is None else tggx.numpy()
    got = np.zeros(X.shape) if ggx is None else ggx.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("case", MODULES, ids=[ids(c) for c in MODULES])
def test_module_keeps_float32_and_gradchecks(case):
    name, kw = case
    m = getattr(nn, name)(**kw)
    x32 = cr.tensor(RNG.standard_normal((4, 2)).astype(np.float32))
    assert m(x32).dtype == np.float32
    x = cr.tensor(RNG.uniform(0.6, 0.9, (4, 2)) * RNG.choice([-1.0, 1.0], (4, 2)),
                  requires_grad=True)
    m = m.double()
    assert cr.gradcheck(m, x) and cr.gradgradcheck(m, x)


REPRS = [
    "SiLU()", "SiLU(inplace=True)", "Mish(inplace=True)", "Hardtanh()", "Hardtanh(-2.0, 3.5, True)",
    "Hardtanh(-2, 3)", "ReLU6()", "ReLU6(inplace=True)", "SELU()", "SELU(True)", "CELU()",
    "CELU(0.5, True)", "GLU()", "GLU(0)", "Hardswish(inplace=True)", "Hardsigmoid(True)",
    "Softsign()", "Softmin()", "Softmin(1)", "Softmax2d()", "LogSigmoid()", "Threshold(0.1, 20)",
    "Threshold(0.1, 20.0, True)", "Softshrink()", "Softshrink(1)", "Hardshrink()",
    "Hardshrink(0.25)", "Tanhshrink()", "PReLU()", "PReLU(3, 0.1)",
]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr):
    assert repr(eval("nn." + expr)) == repr(eval("torch.nn." + expr))


def test_prelu_weight_state_dict_and_dtypes():
    m, tm = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert isinstance(m.weight, nn.Parameter) and m.weight.shape == (3,)
    assert m.weight.dtype == np.float32 and m.num_parameters == 3 and m.init == 0.1
    np.testing.assert_array_equal(m.weight.numpy(), tm.weight.detach().numpy())
    assert nn.PReLU(2, dtype=cr.float64).weight.dtype == np.float64
    w = RNG.standard_normal(3)
    with cr.no_grad():
        m.weight.copy_(cr.tensor(w, dtype=cr.float32))
    tm.load_state_dict({"weight": torch.tensor(w, dtype=torch.float32)})
    x = RNG.standard_normal((4, 3, 5)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m(xc).square().sum().backward()
    tm(xt).square().sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    m.weight.grad = None
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.numpy(), np.full(3, 0.1, np.float32))


INPLACE = [
    ("relu_", (), {}), ("elu_", (0.5,), {}), ("leaky_relu_", (0.2,), {}), ("hardtanh_", (), {}),
    ("hardtanh_", (-0.5, 0.25), {}), ("selu_", (), {}), ("celu_", (0.5,), {}),
    ("threshold_", (0.3, -2.0), {}), ("hardtanh", (), {"inplace": True}),
    ("relu6", (), {"inplace": True}), ("silu", (), {"inplace": True}),
    ("mish", (), {"inplace": True}), ("hardswish", (), {"inplace": True}),
    ("hardsigmoid", (), {"inplace": True}), ("selu", (), {"inplace": True}),
    ("celu", (2.0,), {"inplace": True}), ("threshold", (0.3, 1.0), {"inplace": True}),
]


@pytest.mark.parametrize("case", INPLACE, ids=[c[0] + str(c[1]) + str(c[2]) for c in INPLACE])
def test_in_place_forms_as_torch(case):
    """The same object back, its version bumped, values and the gradient through the changed
    non-leaf as torch's, and torch's error on a leaf that requires grad."""
    name, args, kw = case
    f, tf = getattr(F, name), getattr(tF, name)
    x = cr.tensor(X.copy())
    v = x._version
    assert f(x, *args, **kw) is x and x._version > v
    np.testing.assert_allclose(x.numpy(), tf(torch.tensor(X), *args, **kw).numpy(), rtol=1e-12)
    a, ta = cr.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    h, th_ = a * 2.0, ta * 2.0
    assert f(h, *args, **kw) is h
    tf(th_, *args, **kw)
    np.testing.assert_allclose(h.detach().numpy(), th_.detach().numpy(), rtol=1e-12)
    (h * h).sum().backward()
    (th_ * th_).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-7, atol=1e-14)
    with pytest.raises(RuntimeError) as theirs:
        tf(torch.tensor(X, requires_grad=True), *args, **kw)
    with pytest.raises(RuntimeError) as ours:
        f(cr.tensor(X, requires_grad=True), *args, **kw)
    assert str(ours.value) == str(theirs.value)


def test_inplace_module_changes_its_input():
    for name in ("SiLU", "Mish", "Hardtanh", "ReLU6", "SELU", "CELU", "Hardswish", "Hardsigmoid"):
        x = cr.tensor(X.copy())
        y = getattr(nn, name)(inplace=True)(x)
        assert y is x, name
        np.testing.assert_allclose(x.numpy(), getattr(torch.nn, name)()(torch.tensor(X)).numpy(),
                                   rtol=1e-12, err_msg=name)
    x = cr.tensor(X.copy())
    assert nn.Threshold(0.3, 1.0, inplace=True)(x) is x


INTEGER = [(F.hardtanh, tF.hardtanh, ()), (F.hardtanh, tF.hardtanh, (-0.5, 1.5)),
           (F.relu6, tF.relu6, ()), (F.threshold, tF.threshold, (1.5, 5.5)),
           (F.softsign, tF.softsign, ()), (F.tanhshrink, tF.tanhshrink, ())]


@pytest.mark.parametrize("k", range(len(INTEGER)))
def test_integer_inputs_as_torch(k):
    f, tf, args = INTEGER[k]
    i = np.array([-7, -2, 0, 1, 3, 8])
    y, ty = f(cr.tensor(i), *args), tf(torch.tensor(i), *args)
    assert str(y.dtype).split(".")[-1] == str(ty.dtype).split(".")[-1]
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6)


FLOAT_ONLY = ["silu", "mish", "selu", "celu", "hardswish", "hardsigmoid", "hardshrink",
              "softshrink", "glu", "logsigmoid"]


@pytest.mark.parametrize("name", FLOAT_ONLY)
def test_float_only_functions_refuse_integers_as_torch(name):
    i = np.array([-2, 0, 3, 8])
    with pytest.raises(NotImplementedError) as theirs:
        getattr(tF, name)(torch.tensor(i))
    with pytest.raises(NotImplementedError) as ours:
        getattr(F, name)(cr.tensor(i))
    assert str(ours.value).startswith(str(theirs.value).replace("'Long'", "").rstrip()[:-1])


ERRORS = [
    "F.celu(x, alpha=0)", "F.softshrink(x, -1.0)", "F.softshrink(x.double(), -0.5)",
    "F.glu(x)", "F.glu(s)", "F.hardtanh(x, 1.0, -1.0)", "nn.Hardtanh(1.0, 1.0)",
    "F.prelu(x, w2)", "F.prelu(m, w3)", "F.prelu(s, w3)", "F.prelu(v, w3)",
    "F.prelu(x.double(), w3)", "F.prelu(x, w31)", "nn.PReLU(2)(x)", "nn.Softmax2d()(x)",
    "F.relu6(b)",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_torch(expr):
    """The same exception class and message (ours may add a hint after it)."""
    def env(lib, fn):
        return {"F": fn, "nn": lib.nn, "x": lib.ones(2, 3), "s": lib.tensor(1.0),
                "m": lib.ones(2, 4, 2), "v": lib.ones(3), "b": lib.tensor([True]),
                "w2": lib.ones(2), "w3": lib.ones(3), "w31": lib.ones(3, 1)}

    with pytest.raises(Exception) as theirs:
        eval(expr, env(torch, tF))
    with pytest.raises(type(theirs.value)) as ours:
        eval(expr, env(cr, F))
    assert str(ours.value).startswith(str(theirs.value))


def test_prelu_single_weight_on_a_0d_input_and_glu_of_empty():
    y = F.prelu(cr.tensor(-2.0), cr.tensor([0.25]))
    assert y.shape == () and float(y) == -0.5
    assert F.glu(cr.zeros(2, 0)).shape == tuple(tF.glu(torch.zeros(2, 0)).shape)


def test_softmin_without_dim_warns_as_torch_and_softmax2d_uses_the_channels():
    x = RNG.standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        y = F.softmin(cr.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = tF.softmin(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12)
    x4 = RNG.standard_normal((2, 3, 4, 5))
    for a in (x4, x4[0]):
        xc, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        yc, yt = nn.Softmax2d()(xc), torch.nn.Softmax2d()(xt)
        np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-12)
        g = RNG.standard_normal(a.shape)
        yc.backward(cr.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(F.softmin(cr.tensor([1, 2]), 0, dtype=cr.float64).numpy(),
                               tF.softmin(torch.tensor([1, 2]), 0, dtype=torch.float64).numpy())


def test_hardtanh_deprecated_keywords_warn_as_torch():
    with pytest.warns(FutureWarning) as got:
        m = nn.Hardtanh(min_value=-2.0, max_value=2.0)
    with pytest.warns(FutureWarning) as want:
        torch.nn.Hardtanh(min_value=-2.0, max_value=2.0)
    assert [str(w.message) for w in got] == [str(w.message) for w in want]
    assert (m.min_val, m.max_val) == (-2.0, 2.0)


def test_tensor_methods_and_top_level_names_torch_has():
    x = RNG.standard_normal((2, 3))
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(cr.tensor(x).prelu(cr.tensor(w)).numpy(),
                               torch.tensor(x).prelu(torch.tensor(w)).numpy())
    np.testing.assert_allclose(cr.tensor(x).hardshrink(0.3).numpy(),
                               torch.tensor(x).hardshrink(0.3).numpy())
    for name, args in (("selu", ()), ("celu", (0.5,)), ("threshold", (0.1, 2.0)),
                       ("hardshrink", ())):
        np.testing.assert_allclose(getattr(cr, name)(cr.tensor(x), *args).numpy(),
                                   getattr(torch, name)(torch.tensor(x), *args).numpy(),
                                   rtol=1e-12)


SAVED = ["silu", "mish", "hardtanh", "relu6", "selu", "celu", "hardswish", "hardsigmoid",
         "softsign", "tanhshrink", "softshrink", "hardshrink", "threshold", "glu", "softmin",
         "prelu", "logsigmoid"]
ARGS = {"threshold": (0.3, 1.0), "softmin": (1,), "glu": (0,)}


@pytest.mark.parametrize("name", SAVED)
def test_changing_the_input_after_the_op_is_caught_as_in_torch(name):
    """Each op saves what torch's saves: an in-place change of its input before backward
    raises exactly where torch's raises (the `saves` declaration, checked)."""
    def run(lib, fn):
        x = lib.tensor(X, requires_grad=True)
        h = x * 1.0
        args = (lib.tensor([0.25], dtype=lib.float64),) if name == "prelu" else ARGS.get(name, ())
        y = fn(h, *args)
        h.add_(1.0)
        try:
            y.sum().backward()
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            return True
        return False

    assert run(cr, getattr(F, name)) == run(torch, getattr(tF, name))
