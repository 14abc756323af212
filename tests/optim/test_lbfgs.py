"""LBFGS: trajectories equal torch.optim.LBFGS's (float64, both line searches), every point the
closure is evaluated at, the state counters, state_dict round trips, errors, hand-computed
steps."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule.nn import Parameter
from chainrule.optim.lbfgs import _cubic_interpolate

OUTER = 4  # outer steps, each up to max_iter (20) iterations


@pytest.fixture
def torch64():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def rosenbrock(ps):
    p = ps[0]
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def mlp_cost(ps, x, y):
    W1, b1, W2, b2 = ps
    return ((((x @ W1 + b1).tanh() @ W2 + b2) - y) ** 2).mean()


def flat(ps):
    return np.concatenate([(p if isinstance(p, np.ndarray) else p.detach().numpy()).ravel()
                           for p in ps])


def run(opt_cls, params, cost, kwargs, outer=OUTER):
    """Outer steps of opt_cls over params: (params after each step, the loss each step
    returned, every point the closure saw, the optimizer)."""
    opt = opt_cls(params, **kwargs)
    seen = []

    def closure():
        opt.zero_grad()
        seen.append(flat(params))
        loss = cost(params)
        loss.backward()
        return loss

    traj, losses = [], []
    for _ in range(outer):
        losses.append(opt.step(closure).item())
        traj.append(flat(params))
    return np.array(traj), np.array(losses), np.array(seen), opt


def compare(torch, init, cost, tcost, kwargs, outer=OUTER):
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    traj, losses, seen, opt = run(optim.LBFGS, ours, cost, kwargs, outer)
    ttraj, tlosses, tseen, topt = run(torch.optim.LBFGS, theirs, tcost, kwargs, outer)
    assert np.abs(ttraj[-1] - flat(init)).max() > 0.1  # it moved: the comparison means something
    np.testing.assert_allclose(traj, ttraj, rtol=0, atol=1e-5)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-5, atol=1e-9)
    assert seen.shape == tseen.shape  # the same number of closure calls ...
    np.testing.assert_allclose(seen, tseen, rtol=0, atol=1e-5)  # ... at the same points
    state, tstate = opt.state[ours[0]], topt.state[theirs[0]]
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])
    assert len(state["old_dirs"]) == len(tstate["old_dirs"])
    np.testing.assert_allclose(state["d"], tstate["d"].numpy(), rtol=1e-4, atol=1e-6)
    return opt, topt


ROSENBROCK = [
    {},
    {"line_search_fn": "strong_wolfe"},
    {"lr": 0.5, "history_size": 4},
    {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 10, "max_eval": 12},
    {"line_search_fn": "strong_wolfe", "lr": 20.0},  # a long first try: bracket, then zoom
    {"line_search_fn": "strong_wolfe", "lr": 0.01},  # too short: extrapolates up to max_ls
    {"max_iter": 7, "tolerance_change": 1e-5},
]


@pytest.mark.parametrize("kwargs", ROSENBROCK, ids=[str(k) or "defaults" for k in ROSENBROCK])
def test_rosenbrock_matches_torch(torch64, kwargs):
    # (-1.2, 1): the classic start; torch's own trajectory from it is insensitive to rounding
    compare(torch64, [np.array([-1.2, 1.0])], rosenbrock, rosenbrock, kwargs)


def test_rosenbrock_converges_with_the_line_search(torch64):
    opt, _ = compare(torch64, [np.array([-1.2, 1.0])], rosenbrock, rosenbrock,
                     {"line_search_fn": "strong_wolfe"}, outer=3)
    p = opt.param_groups[0]["params"][0]
    np.testing.assert_allclose(p.numpy(), [1.0, 1.0], atol=1e-4)


def wavy(ps):
    """A bumpy 2-D surface whose line searches move trial steps off the bracket's ends."""
    p = ps[0]
    return (p ** 2).sum() / 10 + (3 * p[0]).sin() * (2 * p[1]).cos() + (p[0] * p[1]).tanh()


@pytest.mark.parametrize("start, lr", [((-1.0, 0.75), 20.0), ((0.5, 1.5), 15.0),
                                       ((1.8, 0.2), 13.0)])
@pytest.mark.parametrize("tolerance_change", [1e-9, 1e-4])
def test_bumpy_surface_matches_torch(torch64, start, lr, tolerance_change):
    compare(torch64, [np.array(start)], wavy, wavy, {
        "line_search_fn": "strong_wolfe", "lr": lr, "tolerance_change": tolerance_change})


def line(fn, torch=None):
    """obj_func(x, t, d) of the line search for fn of a 1-element tensor, on chainrule's
    tensors (or torch's): (loss, flat gradient) at x + t d."""
    def obj_func(x, t, d):
        if torch is None:
            p = cr.tensor(x[0] + float(t) * d, requires_grad=True)
        else:
            p = torch.tensor(x[0].numpy() + float(t) * d.numpy(), requires_grad=True)
        loss = fn(p)
        loss.backward()
        g = p.grad.numpy().copy()
        return loss.item(), (g if torch is None else torch.tensor(g))
    return obj_func


LINES = {
    "kink": lambda p: ((p[0] - 1) ** 2 + 1e-12) ** 0.5,  # the curvature condition never holds
    "kink-slope": lambda p: ((p[0] - 0.37) ** 2 + 1e-14) ** 0.5 + 0.1 * p[0],
    "wiggle": lambda p: (p[0] - 2) ** 2 - 0.3 * (25 * p[0]).sin(),
    "quartic": lambda p: (p[0] - 3) ** 4 - 2 * p[0],
}


@pytest.mark.parametrize("name", list(LINES))
@pytest.mark.parametrize("t0", [0.01, 0.1, 1.0, 5.0])
@pytest.mark.parametrize("tolerance_change", [1e-9, 1e-4])
def test_strong_wolfe_line_search_matches_torch(torch64, name, t0, tolerance_change):
    from torch.optim.lbfgs import _strong_wolfe as theirs

    from chainrule.optim.lbfgs import _strong_wolfe

    fn, x, d = LINES[name], [np.array([0.0])], np.array([1.0])
    f0, g0 = line(fn)(x, 0.0, d)
    gtd = np.float64(g0.dot(d))
    assert gtd < 0  # a descent direction
    f, g, t, evals = _strong_wolfe(line(fn), x, t0, d, f0, g0, gtd,
                                   tolerance_change=tolerance_change)
    tf, tg, tt, tevals = theirs(line(fn, torch64), [torch64.tensor(x[0])], t0,
                                torch64.tensor(d), f0, torch64.tensor(g0), torch64.tensor(gtd),
                                tolerance_change=tolerance_change)
    assert evals == tevals
    assert float(t) == pytest.approx(float(tt), rel=1e-9, abs=1e-12)
    assert f == pytest.approx(tf, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(g, tg.numpy(), rtol=1e-8, atol=1e-10)


MLP = [{}, {"line_search_fn": "strong_wolfe"}, {"history_size": 5, "max_iter": 15},
       {"line_search_fn": "strong_wolfe", "lr": 5.0, "history_size": 6}]


@pytest.mark.parametrize("kwargs", MLP, ids=[str(k) or "defaults" for k in MLP])
def test_mlp_matches_torch(torch64, kwargs):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    init = [rng.normal(size=(3, 8)) * 0.5, rng.normal(size=8) * 0.1,
            rng.normal(size=(8, 2)) * 0.5, rng.normal(size=2) * 0.1]
    tx, ty = torch64.tensor(x), torch64.tensor(y)
    compare(torch64, init, lambda ps: mlp_cost(ps, x, y), lambda ps: mlp_cost(ps, tx, ty),
            kwargs, outer=3)


def test_cubic_interpolate_matches_torch(torch64):
    from torch.optim.lbfgs import _cubic_interpolate as theirs

    rng = np.random.default_rng(0)
    for _ in range(200):
        x1, x2, f1, f2, g1, g2 = rng.normal(size=6) * 3
        bounds = None if rng.random() < 0.5 else tuple(sorted(rng.normal(size=2) * 4))
        want = theirs(x1, f1, torch64.tensor(g1), x2, f2, torch64.tensor(g2), bounds)
        got = _cubic_interpolate(x1, f1, np.float64(g1), x2, f2, np.float64(g2), bounds)
        assert float(got) == pytest.approx(float(want), rel=1e-12, abs=1e-12)


def test_stops_at_once_when_the_gradient_is_tiny():
    p = Parameter(np.array([1.0, 2.0]))
    opt = optim.LBFGS([p], tolerance_grad=1e-3)

    def closure():
        opt.zero_grad()
        loss = ((p - cr.tensor(np.array([1.0, 2.0 + 1e-4]))) ** 2).sum()
        loss.backward()
        return loss

    version = p._version
    opt.step(closure)
    assert p.numpy().tolist() == [1.0, 2.0] and p._version == version
    assert opt.state[p] == {"func_evals": 1, "n_iter": 0}


def closure_for(opt, params, x, y):
    def closure():
        opt.zero_grad()
        loss = mlp_cost(params, x, y)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_identically(line_search_fn, tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    init = [rng.normal(size=(3, 4)), np.zeros(4), rng.normal(size=(4, 2)), np.zeros(2)]
    kw = {"max_iter": 5, "history_size": 4, "line_search_fn": line_search_fn}
    params = [Parameter(a.copy()) for a in init]
    opt = optim.LBFGS(params, **kw)
    for _ in range(3):
        opt.step(closure_for(opt, params, x, y))
    saved, weights = opt.state_dict(), [p.numpy().copy() for p in params]
    assert list(saved["state"]) == [0] and len(saved["state"][0]["old_dirs"]) == 4
    assert saved["state"][0]["old_dirs"][0] is not opt.state[params[0]]["old_dirs"][0]
    reference = [float(opt.step(closure_for(opt, params, x, y))) for _ in range(3)]
    cr.save(saved, tmp_path / "lbfgs.pt")  # the history (lists of arrays) saves and loads
    for loaded in (saved, cr.load(tmp_path / "lbfgs.pt")):
        params2 = [Parameter(w.copy()) for w in weights]
        opt2 = optim.LBFGS(params2, **kw)
        opt2.load_state_dict(loaded)
        assert [float(opt2.step(closure_for(opt2, params2, x, y)))
                for _ in range(3)] == reference
        for p, q in zip(params, params2):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(ValueError, match="has shape"):
        optim.LBFGS([Parameter(np.ones(3)) for _ in range(4)]).load_state_dict(saved)


def test_state_dict_layout_is_torchs(torch64):
    p, tp = Parameter(np.array([-1.2, 1.0])), torch64.tensor([-1.2, 1.0], requires_grad=True)
    (_, _, _, opt), (_, _, _, topt) = (run(optim.LBFGS, [p], rosenbrock, {}, 2),
                                       run(torch64.optim.LBFGS, [tp], rosenbrock, {}, 2))
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert ours["param_groups"][0].keys() == theirs["param_groups"][0].keys() - {"differentiable"}
    for k, v in ours["param_groups"][0].items():
        assert theirs["param_groups"][0][k] == v, k


def test_parameters_change_in_place_and_their_versions_count():
    p = Parameter(np.array([-1.2, 1.0]))
    array, version = p.array, p._version
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe")
    x = (p * p).sum()  # a graph that saved p before the step
    opt.step(closure_for_rosenbrock(opt, p))
    assert p.array is array and p._version > version
    with pytest.raises(RuntimeError, match="version"):
        x.backward()


def closure_for_rosenbrock(opt, p):
    def closure():
        opt.zero_grad()
        loss = rosenbrock([p])
        loss.backward()
        return loss
    return closure


def test_float32_stays_float32():
    p = Parameter(np.array([-1.2, 1.0], dtype=np.float32))
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe")
    for _ in range(3):
        opt.step(closure_for_rosenbrock(opt, p))
    assert p.dtype == np.float32 and opt.state[p]["d"].dtype == np.float32
    np.testing.assert_allclose(p.numpy(), [1.0, 1.0], atol=1e-2)


def test_gradients_of_unused_parameters_count_as_zero(torch64):
    a, b = Parameter(np.array([-1.2, 1.0])), Parameter(np.array([3.0]))
    opt = optim.LBFGS([a, b])
    opt.step(closure_for_rosenbrock(opt, a))
    assert b.numpy().tolist() == [3.0] and b.grad is None
    ta, tb = torch64.tensor([-1.2, 1.0], requires_grad=True), torch64.tensor([3.0],
                                                                            requires_grad=True)
    topt = torch64.optim.LBFGS([ta, tb])

    def tclosure():
        topt.zero_grad()
        loss = rosenbrock([ta])
        loss.backward()
        return loss

    topt.step(tclosure)
    np.testing.assert_allclose(a.numpy(), ta.detach().numpy(), atol=1e-6)


def test_registry_and_errors():
    p = Parameter(np.ones(2))
    opt = optim.create("lbfgs", [p], lr=0.5, history_size=3)
    assert type(opt) is optim.LBFGS and opt.param_groups[0]["max_eval"] == 25
    assert opt.param_groups[0]["history_size"] == 3
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    with pytest.raises(TypeError, match="no array interface"):
        opt.update([np.ones(2)], [np.ones(2)])
    with pytest.raises(TypeError, match="needs the parameters"):
        optim.create("lbfgs", lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [Parameter(np.ones(1))], "lr": 0.1}])
    two = optim.LBFGS([Parameter(np.ones(1))])
    two.add_param_group({"params": [Parameter(np.ones(1))]})
    with pytest.raises(ValueError, match="found 2; keep one list of parameters"):
        two.step(lambda: cr.tensor(0.0))
    bad = optim.LBFGS([p], line_search_fn="backtracking")

    def closure():
        bad.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="line_search_fn must be None or 'strong_wolfe'"):
        bad.step(closure)


def test_a_pytorch_style_program(torch64):
    """The loop of torch.optim's documentation, written as a user writes it, on both
    libraries from the same weights."""
    import chainrule.nn as nn

    def program(torch, nn, weights):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
        loss_fn = nn.MSELoss()
        optimizer = torch.optim.LBFGS(model.parameters(), lr=0.8, history_size=10,
                                      line_search_fn="strong_wolfe")
        rng = np.random.default_rng(7)
        data = [(rng.normal(size=(16, 3)), rng.normal(size=(16, 1))) for _ in range(4)]
        losses = []
        for x, y in data:
            input, target = torch.tensor(x), torch.tensor(y)

            def closure():  # called within this iteration, as in torch's documentation
                optimizer.zero_grad()
                output = model(input)  # noqa: B023
                loss = loss_fn(output, target)  # noqa: B023
                loss.backward()
                return loss

            losses.append(optimizer.step(closure).item())
        return losses, {k: v.detach().numpy() for k, v in model.state_dict().items()}

    rng = np.random.default_rng(0)
    weights = {"0.weight": rng.normal(size=(8, 3)) * 0.5, "0.bias": np.zeros(8),
               "2.weight": rng.normal(size=(1, 8)) * 0.5, "2.bias": np.zeros(1)}
    losses, state = program(cr, nn, weights)
    tlosses, tstate = program(torch64, torch64.nn, weights)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-7)
    for k in weights:  # torch's own weights move by ~1e-6 when its start moves by 1e-14
        np.testing.assert_allclose(state[k], tstate[k], rtol=0, atol=1e-5)
        assert np.abs(state[k] - weights[k]).max() > 1e-2
