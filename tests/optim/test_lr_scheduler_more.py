"""ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR,
ChainedScheduler and step(epoch): lr (and momentum) sequences equal torch's, state_dict round
trips, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from test_lr_scheduler import STEPS, make_opt, make_torch_opt

import chainrule.optim as optim
from chainrule.optim import lr_scheduler as S


def momenta(opt):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]


def lr_sequence(opt, sched, steps=STEPS, epochs=None):
    """lrs and momenta after construction and after each step() (or step(epoch))."""
    seq, moms = [list(sched.get_last_lr())], [momenta(opt)]
    for i in range(steps):
        opt.step()
        if epochs is None:
            sched.step()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # step(epoch) is deprecated in torch too
                sched.step(epochs[i])
        seq.append(list(sched.get_last_lr()))
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
        moms.append(momenta(opt))
    return np.array(seq, dtype=float), np.array(moms, dtype=float)


def sin_scale(x):
    return 0.5 * (1 + math.sin(x * math.pi / 2))


SCHEDULERS = [
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 8}),
    ("PolynomialLR", {}),
    ("PolynomialLR", {"total_iters": 30, "power": 2.0}),
    ("PolynomialLR", {"total_iters": 12, "power": 0.5}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5}),
    ("CyclicLR", {"base_lr": [0.01, 0.005], "max_lr": [0.1, 0.2], "step_size_up": 4,
                  "step_size_down": 7, "mode": "triangular2"}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "mode": "exp_range",
                  "gamma": 0.97, "base_momentum": [0.7, 0.75], "max_momentum": 0.95}),
    ("CyclicLR", {"base_lr": 0.02, "max_lr": 0.3, "step_size_up": 6, "step_size_down": 2,
                  "scale_fn": sin_scale, "scale_mode": "iterations"}),
    ("CyclicLR", {"base_lr": 0.02, "max_lr": 0.3, "step_size_up": 5, "scale_fn": sin_scale,
                  "cycle_momentum": False}),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_and_momentum_sequences_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(momentum=0.9), make_torch_opt(torch, momentum=0.9)
    seq, moms = lr_sequence(opt, getattr(S, name)(opt, **kwargs))
    tseq, tmoms = lr_sequence(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kwargs))
    assert len(np.unique(seq[:, 0])) > 1  # the lr really changes
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(moms, tmoms, rtol=1e-12)
    if name == "CyclicLR" and kwargs.get("cycle_momentum", True):
        assert len(np.unique(moms[:, 0])) > 2


def test_cyclic_lr_cycles_adam_beta1_like_torch():
    torch = pytest.importorskip("torch")
    kw = {"base_lr": 1e-3, "max_lr": 1e-2, "step_size_up": 4, "mode": "triangular2"}
    opt, topt = make_opt(optim.Adam), make_torch_opt(torch, "Adam")
    seq, moms = lr_sequence(opt, S.CyclicLR(opt, **kw))
    tseq, tmoms = lr_sequence(topt, torch.optim.lr_scheduler.CyclicLR(topt, **kw))
    np.testing.assert_allclose(seq, tseq, rtol=1e-12)
    np.testing.assert_allclose(moms, tmoms, rtol=1e-12)
    assert moms[0, 0] == 0.9 and moms[4, 0] == 0.8  # beta1 at max_momentum, then base
    assert opt.param_groups[0]["betas"][1] == 0.999


def composites(lib, opt):
    """The same SequentialLR / ChainedScheduler set-ups built from `lib` (S or torch's)."""
    return [
        lambda: lib.SequentialLR(opt, [lib.LinearLR(opt, 0.1, total_iters=5),
                                       lib.ExponentialLR(opt, 0.9)], milestones=[5]),
        lambda: lib.SequentialLR(opt, [lib.ConstantLR(opt, 0.5, total_iters=3),
                                       lib.CosineAnnealingLR(opt, T_max=10),
                                       lib.StepLR(opt, 5, 0.5)], milestones=[6, 20]),
        lambda: lib.SequentialLR(opt, [lib.LinearLR(opt, 0.2, total_iters=8),
                                       lib.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2)],
                                 milestones=[10]),
        lambda: lib.SequentialLR(opt, [lib.PolynomialLR(opt, total_iters=10, power=2.0),
                                       lib.MultiStepLR(opt, [3, 8], 0.5)], milestones=[12]),
        lambda: lib.ChainedScheduler([lib.ConstantLR(opt, 0.5, total_iters=4),
                                      lib.ExponentialLR(opt, 0.9)]),
        lambda: lib.ChainedScheduler([lib.LinearLR(opt, 0.25, total_iters=6),
                                      lib.PolynomialLR(opt, total_iters=30, power=1.5),
                                      lib.StepLR(opt, 7, 0.7)], optimizer=opt),
    ]


@pytest.mark.parametrize("i", range(6))
def test_sequential_and_chained_schedulers_match_torch(i):
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(momentum=0.9), make_torch_opt(torch, momentum=0.9)
    seq, _ = lr_sequence(opt, composites(S, opt)[i]())
    tseq, _ = lr_sequence(topt, composites(torch.optim.lr_scheduler, topt)[i]())
    assert len(np.unique(seq[:, 0])) > 4
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)


def test_sequential_lr_by_hand():
    # warm-up x0.5 for 2 epochs, then x0.5 per epoch starting again from the initial lr
    opt = make_opt()
    sched = S.SequentialLR(opt, [S.ConstantLR(opt, 0.5, total_iters=2),
                                 S.ExponentialLR(opt, 0.5)], milestones=[2])
    lrs = [sched.get_last_lr()[0]]
    for _ in range(4):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.05, 0.05, 0.1, 0.05, 0.025])


CLOSED_FORM = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LinearLR", {"start_factor": 0.2, "total_iters": 6}),
    ("ConstantLR", {"factor": 0.4, "total_iters": 5}),
    ("PolynomialLR", {"total_iters": 8, "power": 1.5}),
]
EPOCHS = [3, 7, 2, 10, 4, 4, 0, 12, 5, 6, 1, 8]


@pytest.mark.parametrize("name, kwargs", CLOSED_FORM, ids=[n for n, _ in CLOSED_FORM])
def test_step_with_an_epoch_uses_the_closed_form_like_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(), make_torch_opt(torch)
    seq, _ = lr_sequence(opt, getattr(S, name)(opt, **kwargs), len(EPOCHS), EPOCHS)
    tseq, _ = lr_sequence(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kwargs),
                          len(EPOCHS), EPOCHS)
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)
    sched = getattr(S, name)(make_opt(), **kwargs)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)
    assert sched.last_epoch == 3


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_with_fractional_epochs_match_torch(T_mult):
    torch = pytest.importorskip("torch")
    iters = 7  # batches per epoch: step(epoch + i / iters), the documented per-batch use
    epochs = [e + i / iters for e in range(14) for i in range(iters)]
    epochs += [3.5, 0.25, 30.0, 2]  # jumps back and forth
    opt, topt = make_opt(), make_torch_opt(torch)
    seq, _ = lr_sequence(opt, S.CosineAnnealingWarmRestarts(opt, 2, T_mult, 0.001),
                         len(epochs), epochs)
    tseq, _ = lr_sequence(topt, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        topt, 2, T_mult, 0.001), len(epochs), epochs)
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)


def test_warm_restarts_by_hand_and_interleaved_steps():
    opt = make_opt()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=4)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    # 0.1 * (1 + cos(pi * t / 4)) / 2 for t = 0, 1, 2, 3, then the restart at t = 0
    assert lrs == pytest.approx([0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05,
                                 0.1 * (1 - math.sqrt(0.5)) / 2, 0.1, lrs[1]])
    sched.step(6.5)  # no deprecation warning here, as in torch
    assert sched.last_epoch == 6 and sched.T_cur == 2.5
    sched.step()
    assert sched.T_cur == 3.5 and sched.last_epoch == 7


class Halving:
    """A scale_fn with state (a callable object): its attributes go into state_dict."""

    def __init__(self, base=0.5):
        self.base = base

    def __call__(self, x):
        return self.base ** (x - 1)


ROUND_TRIPS = [
    lambda o: S.ConstantLR(o, 0.5, total_iters=6),
    lambda o: S.PolynomialLR(o, total_iters=9, power=2.0),
    lambda o: S.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.01),
    lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9),
    lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, scale_fn=Halving(0.7)),
    lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=3),
                                 S.CyclicLR(o, 0.01, 0.1, step_size_up=2)], milestones=[4]),
    lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=5),
                                  S.ExponentialLR(o, 0.9)]),
]


@pytest.mark.parametrize("i", range(len(ROUND_TRIPS)))
def test_state_dict_round_trip_continues_identically(i):
    def advance(opt, sched, steps):
        out = []
        for _ in range(steps):
            sched.step()
            out.append((sched.get_last_lr(), momenta(opt)))
        return out

    opt = make_opt(momentum=0.9)
    sched = ROUND_TRIPS[i](opt)
    advance(opt, sched, 5)
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved and "_scale_fn_ref" not in saved
    reference = advance(opt, sched, 8)
    opt2 = make_opt(momentum=0.9)
    sched2 = ROUND_TRIPS[i](opt2)
    if isinstance(sched2, S.CyclicLR) and sched2._scale_fn_custom is not None:
        assert saved["_scale_fn_custom"] == {"base": 0.7}
        sched2._scale_fn_custom.base = 0.2  # restored from the state dict below
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert advance(opt2, sched2, 8) == reference
    assert "_schedulers" in saved if hasattr(sched, "_schedulers") else True


def test_state_dict_keys_are_torchs():
    torch = pytest.importorskip("torch")
    T = torch.optim.lr_scheduler
    opt, topt = make_opt(momentum=0.9), make_torch_opt(torch, momentum=0.9)
    pairs = [(S.CyclicLR(opt, 0.01, 0.1, 3), T.CyclicLR(topt, 0.01, 0.1, 3)),
             (S.CosineAnnealingWarmRestarts(opt, 3), T.CosineAnnealingWarmRestarts(topt, 3)),
             (S.PolynomialLR(opt), T.PolynomialLR(topt)),
             (S.ConstantLR(opt), T.ConstantLR(topt))]
    for ours, theirs in pairs:
        internal = {"_get_lr_called_within_step"}  # torch's bookkeeping for a warning
        assert set(ours.state_dict()) == set(theirs.state_dict()) - internal, type(ours)
        for k, v in ours.state_dict().items():
            if isinstance(v, (int, float, str, bool)) and k not in ("_is_initial",):
                assert theirs.state_dict()[k] == pytest.approx(v), (type(ours), k)
    seq = S.SequentialLR(opt, [S.ConstantLR(opt), S.StepLR(opt, 2)], [3])
    tseq = T.SequentialLR(topt, [T.ConstantLR(topt), T.StepLR(topt, 2)], [3])
    assert set(seq.state_dict()) == set(tseq.state_dict()) - {"_get_lr_called_within_step"}


def test_errors_name_the_option():
    opt = make_opt()
    with pytest.raises(ValueError, match=r"ConstantLR: factor must be in \[0, 1\], got 1.5"):
        S.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="T_0 must be a positive int"):
        S.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult must be an int >= 1"):
        S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=1.5)
    with pytest.raises(ValueError, match="eta_min must be a float"):
        S.CosineAnnealingWarmRestarts(opt, T_0=3, eta_min="0")
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        S.CosineAnnealingWarmRestarts(opt, T_0=3).step(-1)
    with pytest.raises(ValueError, match="mode must be 'triangular'"):
        S.CyclicLR(opt, 0.01, 0.1, mode="triangle")
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        S.CyclicLR(make_opt(optim.Adagrad), 0.01, 0.1)
    with pytest.raises(ValueError, match="expected 2 values"):
        S.CyclicLR(opt, [0.01], 0.1)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.StepLR(opt, 2)], milestones=[2, 4])
    with pytest.raises(ValueError, match="another optimizer"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.StepLR(make_opt(), 2)], milestones=[2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([S.ConstantLR(opt), S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.ChainedScheduler([])
    with pytest.raises(TypeError, match="expected an Optimizer"):
        S.PolynomialLR(object())


def test_every_name_is_importable_from_lr_scheduler():
    torch = pytest.importorskip("torch")
    for name in ("ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts", "CyclicLR",
                 "SequentialLR", "ChainedScheduler", "OneCycleLR", "LRScheduler"):
        assert hasattr(S, name) and hasattr(torch.optim.lr_scheduler, name)
        assert name in S.__all__


def test_reduce_lr_on_plateau_takes_an_epoch_like_torch():
    torch = pytest.importorskip("torch")
    ours = S.ReduceLROnPlateau(make_opt(), patience=0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(make_torch_opt(torch), patience=0)
    for sched in (ours, theirs):
        with pytest.warns(UserWarning, match="epoch parameter"):
            sched.step(2.0, epoch=5)
        sched.step(3.0)
    assert ours.last_epoch == theirs.last_epoch == 6
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr())
