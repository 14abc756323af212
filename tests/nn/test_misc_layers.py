"""RMSNorm, Bilinear, CosineSimilarity, PairwiseDistance and nn.Buffer held to PyTorch's (copied
weights, outputs and every gradient, reprs, state_dict keys, init, errors), and a short training
program in the PyTorch docs' style whose losses must be torch's step for step."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")

from _torch_compare import compare, copy_weights  # noqa: E402

RNG = np.random.default_rng(0)


# -- RMSNorm -------------------------------------------------------------------------------------
RMS = [((4,), {}, (3, 4)), ((4,), {"eps": 1e-3}, (2, 5, 4)), ((2, 3), {}, (4, 2, 3)),
       ([3], {"elementwise_affine": False}, (2, 3)), (5, {"eps": 0.1}, (5,))]


@pytest.mark.parametrize("case", RMS, ids=[str(c) for c in RMS])
def test_rmsnorm_matches_torch(case):
    shape, kw, xshape = case
    m, tm = nn.RMSNorm(shape, **kw).double(), torch.nn.RMSNorm(shape, **kw).double()
    assert repr(m) == repr(tm) and list(m.state_dict()) == list(tm.state_dict())
    if m.weight is not None:
        assert m.weight.shape == tuple(tm.weight.shape) and (m.weight.numpy() == 1).all()
        tm.weight.data = torch.tensor(RNG.standard_normal(tuple(tm.weight.shape)))
        copy_weights(m, tm)
    compare(m, tm, RNG.standard_normal(xshape), atol=1e-10)
    x = cr.tensor(RNG.standard_normal(xshape), requires_grad=True)
    assert cr.gradcheck(m, x) and cr.gradgradcheck(m, x)


def test_rmsnorm_float32_default_eps_is_float32_epsilon_as_torch():
    x = (RNG.standard_normal((3, 8)) * 1e-4).astype(np.float32)  # eps matters at this scale
    m, tm = nn.RMSNorm(8), torch.nn.RMSNorm(8)
    y = m(cr.tensor(x))
    assert y.dtype == np.float32 and m.weight.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(F.rms_norm(cr.tensor(xd), [8]).numpy(),
                               torch.nn.functional.rms_norm(torch.tensor(xd), [8]).numpy(),
                               rtol=1e-12)


# -- Bilinear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(lead, bias):
    m, tm = nn.Bilinear(4, 3, 2, bias).double(), torch.nn.Bilinear(4, 3, 2, bias).double()
    assert repr(m) == repr(tm) and list(m.state_dict()) == list(tm.state_dict())
    assert m.weight.shape == (2, 4, 3)
    copy_weights(m, tm)
    compare(m, tm, RNG.standard_normal(lead + (4,)), RNG.standard_normal(lead + (3,)),
            atol=1e-10)
    x1 = cr.tensor(RNG.standard_normal(lead + (4,)), requires_grad=True)
    x2 = cr.tensor(RNG.standard_normal(lead + (3,)), requires_grad=True)
    assert cr.gradcheck(m, x1, x2) and cr.gradgradcheck(m, x1, x2)


def test_bilinear_init_is_torchs_uniform_bound():
    cr.manual_seed(0)
    m = nn.Bilinear(9, 50, 40)
    bound = 1 / 3  # 1 / sqrt(in1_features)
    for p in (m.weight, m.bias):
        a = p.numpy()
        assert a.dtype == np.float32 and np.abs(a).max() <= bound
    assert np.abs(m.weight.numpy()).max() > 0.95 * bound  # spread over the whole range
    assert abs(m.weight.numpy().std() - bound / np.sqrt(3)) < 0.01
    assert nn.Bilinear(2, 3, 4, dtype=cr.float64).weight.dtype == np.float64


BILINEAR_ERRORS = [((3, 4), (2, 5), (6, 4, 5), None), ((3, 5), (3, 5), (6, 4, 5), None),
                   ((3, 4), (3, 4), (6, 4, 5), None), ((3, 4), (3, 5), (6, 4, 5), (5,)),
                   ((2, 3, 4), (6, 5), (6, 4, 5), None)]


@pytest.mark.parametrize("case", BILINEAR_ERRORS, ids=[str(c) for c in BILINEAR_ERRORS])
def test_bilinear_errors_as_torch(case):
    s1, s2, sw, sb = case
    def args(lib):
        return [lib.ones(*s) if s else None for s in (s1, s2, sw, sb)]
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.bilinear(*args(torch))
    with pytest.raises(RuntimeError) as ours:
        F.bilinear(*args(cr))
    assert str(ours.value) == str(theirs.value)


def test_bilinear_and_rmsnorm_constructor_errors_as_torch():
    for expr in ["nn.Bilinear(0, 3, 4)"]:
        with pytest.raises(ValueError) as theirs:
            eval(expr.replace("nn.", "torch.nn."))
        with pytest.raises(ValueError) as ours:
            eval(expr)
        assert str(ours.value) == str(theirs.value)
    for expr, exc in [("F.rms_norm(x, [4])", RuntimeError), ("F.rms_norm(x, [3], w4)",
                                                             RuntimeError),
                      ("F.rms_norm(x, [1, 2, 3])", ValueError), ("F.rms_norm(x, 3)", TypeError),
                      ("F.rms_norm(x, [])", RuntimeError)]:
        env = {"F": torch.nn.functional, "x": torch.ones(2, 3), "w4": torch.ones(4)}
        with pytest.raises(exc) as theirs:
            eval(expr, env)
        with pytest.raises(exc) as ours:
            eval(expr, {"F": F, "x": cr.ones(2, 3), "w4": cr.ones(4)})
        assert str(ours.value) == str(theirs.value), expr


# -- distances -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, {"dim": 0}, {"dim": -1, "eps": 1e-3}])
def test_cosine_similarity_module_matches_torch(kw):
    m, tm = nn.CosineSimilarity(**kw), torch.nn.CosineSimilarity(**kw)
    assert repr(m) == repr(tm) == "CosineSimilarity()"
    assert (m.dim, m.eps) == (tm.dim, tm.eps)
    compare(m, tm, RNG.standard_normal((3, 4, 2)), RNG.standard_normal((3, 4, 2)), atol=1e-10)


@pytest.mark.parametrize("kw", [{}, {"p": 1.0}, {"p": 3.0, "eps": 1e-3, "keepdim": True}])
def test_pairwise_distance_module_matches_torch(kw):
    m, tm = nn.PairwiseDistance(**kw), torch.nn.PairwiseDistance(**kw)
    assert repr(m) == repr(tm) == "PairwiseDistance()"
    assert (m.norm, m.eps, m.keepdim) == (tm.norm, tm.eps, tm.keepdim)
    compare(m, tm, RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3)), atol=1e-10)


# -- nn.Buffer -----------------------------------------------------------------------------------
def _stateful(lib):
    class Counter(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = lib.nn.Buffer(lib.zeros(()))
            self.scratch = lib.nn.Buffer(lib.ones(3), persistent=False)
            self.plain = lib.ones(2)  # a plain tensor attribute is not a buffer

        def forward(self, x):
            self.steps += 1
            return x * self.scratch

    return Counter()


def test_buffer_registers_on_assignment_as_torch():
    m, tm = _stateful(cr), _stateful(torch)
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert list(m.state_dict()) == list(tm.state_dict()) == ["steps"]
    assert isinstance(m.steps, nn.Buffer) and isinstance(tm.steps, torch.nn.Buffer)
    assert not isinstance(m.plain, nn.Buffer) and m.num_parameters() == 0
    assert m.scratch.persistent is False and m.steps.persistent is True
    m(cr.ones(3))
    m(cr.ones(3))
    assert float(m.state_dict()["steps"]) == 2.0
    data = cr.zeros(2)
    b = nn.Buffer(data)
    b += 1  # shares data's storage, as torch's Buffer(data) does
    assert data.tolist() == [1.0, 1.0] and not b.requires_grad
    assert nn.Buffer(cr.zeros(1, requires_grad=True)).requires_grad
    assert nn.Buffer().shape == tuple(torch.nn.Buffer().shape)


# -- a short program in the PyTorch docs' style --------------------------------------------------
def _model(lib):
    nn_ = lib.nn
    return nn_.Sequential(
        nn_.ReflectionPad2d(1), nn_.Conv2d(2, 4, 3), nn_.SiLU(), nn_.ZeroPad2d((0, 1, 0, 1)),
        nn_.Flatten(), nn_.Linear(4 * 5 * 5, 16), nn_.RMSNorm(16), nn_.Mish(),
        nn_.Linear(16, 8), nn_.PReLU(), nn_.Hardswish(), nn_.Linear(8, 3),
    )


def test_training_with_the_new_layers_follows_torch_step_for_step():
    torch.manual_seed(0)
    tmodel = _model(torch).double()
    model = _model(cr).double()
    assert list(model.state_dict()) == list(tmodel.state_dict())
    copy_weights(model, tmodel)
    X, y = RNG.standard_normal((16, 2, 4, 4)), RNG.integers(0, 3, 16)
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    losses, tlosses = [], []
    for _ in range(8):
        opt.zero_grad()
        loss = loss_fn(model(cr.tensor(X)), cr.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        topt.zero_grad()
        tloss = tloss_fn(tmodel(torch.tensor(X)), torch.tensor(y))
        tloss.backward()
        topt.step()
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < losses[0]
