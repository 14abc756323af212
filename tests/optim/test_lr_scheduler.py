"""Learning-rate schedulers: lr sequences equal torch's, state_dict round trips, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn import Parameter
from chainrule.optim import lr_scheduler as S

STEPS = 40


def make_opt(cls=optim.SGD, **kwargs):
    """Two param groups (lr 0.1 and 0.05) so per-group schedules are exercised."""
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    return cls([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **kwargs)


def make_torch_opt(torch, cls_name="SGD", **kwargs):
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    return getattr(torch.optim, cls_name)([{"params": [a]}, {"params": [b], "lr": 0.05}],
                                          lr=0.1, **kwargs)


def lr_sequence(opt, scheds, steps=STEPS, metrics=None):
    """[lrs after construction, lrs after step 1, ...], and momentum/beta1 of every group."""
    seq = [list(scheds[-1].get_last_lr())]
    moms = [[g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]]
    for i in range(steps):
        opt.step()
        for s in scheds:
            s.step() if metrics is None else s.step(metrics[i])
        seq.append(list(scheds[-1].get_last_lr()))
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
        moms.append([g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups])
    return np.array(seq, dtype=float), np.array(moms, dtype=float)


SCHEDULERS = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 13}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 20}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95 ** e / (1 + 0.1 * e)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1.0 / (1 + e), lambda e: 0.5 * math.cos(e)]}),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": 0.8, "epochs": 4, "steps_per_epoch": 10, "pct_start": 0.25,
                    "anneal_strategy": "linear", "three_phase": True, "div_factor": 10.0,
                    "base_momentum": [0.8, 0.7], "max_momentum": 0.9}),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(momentum=0.9), make_torch_opt(torch, momentum=0.9)
    seq, moms = lr_sequence(opt, [getattr(S, name)(opt, **kwargs)])
    tseq, tmoms = lr_sequence(topt, [getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)])
    assert len(seq) == STEPS + 1 and len(np.unique(seq[:, 0])) > 2  # the lr really changes
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(moms, tmoms, rtol=1e-12)


def test_one_cycle_cycles_adam_beta1_like_torch():
    torch = pytest.importorskip("torch")
    kw = {"max_lr": 0.01, "total_steps": 30, "pct_start": 0.4}
    opt, topt = make_opt(optim.Adam), make_torch_opt(torch, "Adam")
    seq, moms = lr_sequence(opt, [S.OneCycleLR(opt, **kw)], steps=30)
    tseq, tmoms = lr_sequence(topt, [torch.optim.lr_scheduler.OneCycleLR(topt, **kw)], 30)
    np.testing.assert_allclose(seq, tseq, rtol=1e-12)
    np.testing.assert_allclose(moms, tmoms, rtol=1e-12)
    assert opt.param_groups[0]["betas"][1] == 0.999  # beta2 untouched
    with pytest.raises(ValueError, match="total_steps is 30"):
        sched = S.OneCycleLR(make_opt(optim.Adam), **kw)
        for _ in range(31):
            sched.step()


def test_chained_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(), make_torch_opt(torch)
    ours = [S.LinearLR(opt, 0.1, total_iters=5), S.StepLR(opt, 6, 0.5)]
    theirs = [torch.optim.lr_scheduler.LinearLR(topt, 0.1, total_iters=5),
              torch.optim.lr_scheduler.StepLR(topt, 6, 0.5)]
    np.testing.assert_allclose(lr_sequence(opt, ours)[0], lr_sequence(topt, theirs)[0],
                               rtol=1e-12)


METRICS = [5.0, 4.0, 4.0, 3.99, 3.98, 3.99, 4.1, 3.0, 3.0, 3.0, 3.0, 3.5, 2.0, 2.0, 2.0,
           2.1, 2.2, 2.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.95, 1.0, 1.0, 1.0, 1.0,
           1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
PLATEAU = [
    {"patience": 2, "factor": 0.5},
    {"patience": 1, "factor": 0.3, "cooldown": 2, "threshold": 0.01, "min_lr": [0.01, 0.001]},
    {"patience": 0, "threshold": 0.5, "threshold_mode": "abs", "min_lr": 0.004},
    {"mode": "max", "patience": 1, "factor": 0.7, "threshold": 0.001},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.2, "cooldown": 1},
]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(), make_torch_opt(torch)
    seq, _ = lr_sequence(opt, [S.ReduceLROnPlateau(opt, **kwargs)], metrics=METRICS)
    tseq, _ = lr_sequence(topt, [torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)],
                          metrics=METRICS)
    assert len(np.unique(seq[:, 0])) > 1
    np.testing.assert_allclose(seq, tseq, rtol=1e-12)


def test_hand_computed_sequences():
    opt = make_opt()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    opt = make_opt()
    sched = S.LinearLR(opt, start_factor=0.5, total_iters=2)  # 0.05, then 0.075, then 0.1
    assert sched.get_last_lr() == pytest.approx([0.05, 0.025])
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.075, 0.0375])
    sched.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.1, 0.05])
    opt = make_opt()
    sched = S.CosineAnnealingLR(opt, T_max=4)  # 0.1 * (1 + cos(pi t / 4)) / 2
    for _ in range(2):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.05)
    sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 - math.sqrt(0.5)) / 2)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, 3, 0.5),
    lambda o: S.MultiStepLR(o, [2, 4, 4], 0.5),
    lambda o: S.CosineAnnealingLR(o, 5, 0.01),
    lambda o: S.OneCycleLR(o, 1.0, total_steps=20),
    lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)),
    lambda o: S.ReduceLROnPlateau(o, patience=1),
])
def test_state_dict_round_trip_continues_identically(make):
    metrics = [3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]

    def advance(sched, steps, start):
        out = []
        for i in range(start, start + steps):
            sched.step(metrics[i]) if isinstance(sched, S.ReduceLROnPlateau) else sched.step()
            out.append(sched.get_last_lr())
        return out

    opt = make_opt(momentum=0.9)
    sched = make(opt)
    advance(sched, 4, 0)
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved
    reference = advance(sched, 8, 4)
    opt2 = make_opt(momentum=0.9)
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert advance(sched2, 8, 4) == reference


def test_scheduler_errors():
    opt = make_opt()
    with pytest.raises(TypeError, match="expected an Optimizer"):
        S.StepLR(object(), 3)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="2 lr_lambdas"):
        S.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(ValueError, match="factor must be < 1"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode must be"):
        S.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="total_steps, or both epochs"):
        S.OneCycleLR(opt, 1.0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        S.OneCycleLR(make_opt(optim.Adagrad), 1.0, total_steps=10)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_opt(), 3, last_epoch=5)
