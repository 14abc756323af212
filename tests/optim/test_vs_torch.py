"""100-step trajectories against torch.optim in float64: Rosenbrock and a small MLP.

Every optimizer runs with its defaults and with the non-default options torch offers
(weight_decay, momentum, dampening, nesterov, centered, amsgrad, maximize, ...); the parameters
after every step, and the optimizer's state (names and values) at the end, must equal torch's to
1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn import Parameter

torch = pytest.importorskip("torch")

STEPS = 100

# (chainrule class name, kwargs, lr on Rosenbrock, lr on the MLP); torch's class has the same name
CASES = [
    ("SGD", {}, 5e-4, 0.1),
    ("SGD", {"momentum": 0.9}, 2e-4, 0.05),
    ("SGD", {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}, 2e-4, 0.05),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, 2e-4, 0.05),
    ("SGD", {"momentum": 0.5, "maximize": True}, 2e-4, 0.05),
    ("Adagrad", {}, 0.3, 0.1),
    ("Adagrad", {"lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5,
                 "eps": 1e-6}, 0.3, 0.1),
    ("Adagrad", {"maximize": True}, 0.3, 0.1),
    ("RMSprop", {}, 1e-2, 1e-2),
    ("RMSprop", {"alpha": 0.9, "centered": True, "momentum": 0.7, "weight_decay": 0.02},
     2e-3, 2e-3),
    ("RMSprop", {"centered": True, "maximize": True}, 1e-2, 1e-2),
    ("RMSprop", {"momentum": 0.9, "eps": 1e-4}, 2e-3, 2e-3),
    ("Adadelta", {}, 1.0, 1.0),
    ("Adadelta", {"rho": 0.8, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}, 0.5, 0.5),
    ("Adam", {}, 0.05, 0.01),
    ("Adam", {"betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}, 0.05, 0.01),
    ("Adam", {"amsgrad": True, "maximize": True, "eps": 1e-3}, 0.05, 0.01),
    ("AdamW", {}, 0.05, 0.01),
    ("AdamW", {"weight_decay": 0.3, "amsgrad": True, "maximize": True}, 0.05, 0.01),
    ("Adamax", {}, 0.05, 0.01),
    ("Adamax", {"betas": (0.7, 0.95), "weight_decay": 0.1, "eps": 1e-3, "maximize": True},
     0.05, 0.01),
    ("NAdam", {}, 0.05, 0.01),
    ("NAdam", {"weight_decay": 0.1, "momentum_decay": 0.01}, 0.05, 0.01),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
     0.05, 0.01),
    ("RAdam", {}, 2e-3, 0.01),
    ("RAdam", {"betas": (0.8, 0.99), "weight_decay": 0.1}, 2e-3, 0.01),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
     2e-3, 0.01),
    ("RAdam", {"betas": (0.9, 0.9), "eps": 1e-3}, 2e-3, 0.01),  # rectified from t = 6 on
    ("Rprop", {}, 1e-3, 1e-3),
    ("Rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-4, 0.05), "maximize": True}, 1e-3, 1e-3),
    ("Rprop", {"step_sizes": (1e-3, 1e-2)}, 0.02, 0.02),
    ("ASGD", {}, 1e-4, 0.05),
    ("ASGD", {"t0": 20, "lambd": 0.01, "alpha": 0.6, "weight_decay": 0.05}, 2e-4, 0.05),
    ("ASGD", {"maximize": True, "t0": 5}, 1e-4, 0.05),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
       for name, kw, _, _ in CASES]


@pytest.fixture(autouse=True)
def torch_float64():
    """torch keeps scalar state (step, NAdam's mu_product) in the default dtype: make it
    float64 so both sides compute in float64 throughout."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def rosenbrock(p, sign):
    """sign * ((1 - x)^2 + 100 (y - x^2)^2): written once, run on both libraries' tensors."""
    return sign * ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2)


def mlp_cost(params, x, y, sign):
    W1, b1, W2, b2 = params
    out = (x @ W1 + b1).tanh() @ W2 + b2
    return sign * ((out - y) ** 2).mean()


def run_both(name, kwargs, lr, init, cost):
    """Trajectories (STEPS x all parameter values) of chainrule and torch from `init`."""
    sign = -1.0 if kwargs.get("maximize") else 1.0
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, lr=lr, **kwargs)
    topt = getattr(torch.optim, name)(theirs, lr=lr, **kwargs)
    traj, ttraj = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        cost(ours, sign).backward()
        opt.step()
        topt.zero_grad()
        cost(theirs, sign).backward()
        topt.step()
        traj.append(np.concatenate([p.numpy().ravel() for p in ours]))
        ttraj.append(np.concatenate([p.detach().numpy().ravel() for p in theirs]))
    same_state(opt, topt, ours, theirs)
    return np.array(traj), np.array(ttraj)


def same_state(opt, topt, ours, theirs):
    """Every parameter's optimizer state (names and values) equals torch's."""
    for p, tp in zip(ours, theirs):
        state, tstate = opt.state[p], topt.state[tp]
        assert set(state) == set(tstate)
        for k, v in state.items():
            want = tstate[k].numpy() if hasattr(tstate[k], "numpy") else tstate[k]
            np.testing.assert_allclose(v, want, rtol=1e-6, atol=1e-9, err_msg=k)


@pytest.mark.parametrize("name, kwargs, lr, _", CASES, ids=IDS)
def test_rosenbrock_trajectory_matches_torch(name, kwargs, lr, _):
    init = [np.array([-1.5, 2.0])]
    traj, ttraj = run_both(name, kwargs, lr, init, lambda ps, s: rosenbrock(ps[0], s))
    assert np.isfinite(ttraj).all()
    assert np.abs(ttraj[-1] - ttraj[0]).max() > 1e-3  # it moved: the comparison means something
    np.testing.assert_allclose(traj, ttraj, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name, kwargs, _, lr", CASES, ids=IDS)
def test_mlp_trajectory_matches_torch(name, kwargs, _, lr):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    init = [rng.normal(size=(3, 8)) * 0.5, rng.normal(size=8) * 0.1,
            rng.normal(size=(8, 2)) * 0.5, rng.normal(size=2) * 0.1]
    tx, ty = torch.tensor(x), torch.tensor(y)

    def cost(ps, s):
        return mlp_cost(ps, *((x, y) if isinstance(ps[0], Parameter) else (tx, ty)), s)

    traj, ttraj = run_both(name, kwargs, lr, init, cost)
    assert np.isfinite(ttraj).all()
    assert np.abs(ttraj[-1] - ttraj[0]).max() > 1e-3
    np.testing.assert_allclose(traj, ttraj, rtol=1e-6, atol=1e-9)


def test_param_groups_with_their_own_options_match_torch():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    ours = [Parameter(a.copy()), Parameter(b.copy())]
    theirs = [torch.tensor(a.copy(), requires_grad=True), torch.tensor(b.copy(),
                                                                          requires_grad=True)]
    opt = optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.1,
                                               "amsgrad": True}], lr=0.01, weight_decay=0.1)
    topt = torch.optim.Adam([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.1,
                                                        "amsgrad": True}],
                            lr=0.01, weight_decay=0.1)
    for _ in range(30):
        for ps, o in ((ours, opt), (theirs, topt)):
            o.zero_grad()
            ((ps[0] ** 2).sum() * 0.5 + (ps[0] @ ps[1]).tanh().sum()).backward()
            o.step()
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].detach().numpy(), rtol=1e-10)
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["lr"] == 0.01
