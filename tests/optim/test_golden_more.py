"""Golden values for RAdam, Rprop, ASGD and LBFGS: their first steps computed by hand from
their equations (the style of test_golden.py: the comments carry the arithmetic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_golden import close
from test_golden import run_with_state as run

import chainrule.optim as optim
from chainrule.nn import Parameter


def test_radam_first_steps_are_momentum_sgd():
    # beta2 = 0.999: rho_inf = 2/0.001 - 1 = 1999
    # t = 1: m1 = 0.1*2 = 0.2; rho_1 = 1999 - 2*0.999/0.001 = 1 <= 5
    #        p1 = 1 - 0.2/(1 - 0.9)*0.1 = 0.8
    # t = 2: m2 = 0.2 + 0.1*(-1 - 0.2) = 0.08; rho_2 = 1999 - 4*0.998001/0.001999 = 1.9995
    #        p2 = 0.8 - 0.08/0.19*0.1
    values, state = run(optim.RAdam, 1.0, [2.0, -1.0], lr=0.1)
    close(values, [0.8, 0.8 - 0.08 / 0.19 * 0.1], rel=1e-10)
    assert state["step"] == 2 and state["exp_avg"][0] == pytest.approx(0.08)


def test_radam_rectified_steps():
    # A constant gradient 1 and eps = 0: m_t/(1 - beta1^t) = 1 and
    # sqrt(1 - beta2^t)/sqrt(v_t) = 1, so a step moves lr while rho_t <= 5 and lr * r_t after.
    # beta2 = 0.75: rho_inf = 2/0.25 - 1 = 7;  rho_t = 7 - 2 t 0.75^t/(1 - 0.75^t)
    #   rho_7 = 7 - 14*0.1334838867/0.8665161133 = 4.8433... <= 5
    #   rho_8 = 7 - 16*0.1001129150/0.8998870850 = 5.2200... > 5
    #   r_t = sqrt((rho_t - 4)(rho_t - 2) 7/(3*5*rho_t))
    def rho(t):
        return 7 - 2 * t * 0.75 ** t / (1 - 0.75 ** t)

    def r(t):
        return math.sqrt((rho(t) - 4) * (rho(t) - 2) * 7 / (3 * 5 * rho(t)))

    assert rho(7) < 5 < rho(8)
    values, _ = run(optim.RAdam, 0.0, [1.0] * 10, lr=0.1, betas=(0.9, 0.75), eps=0.0)
    p7 = -0.7
    close(values[:7], [-0.1 * k for k in range(1, 8)], rel=1e-9)
    close(values[7:], [p7 - 0.1 * r(8), p7 - 0.1 * (r(8) + r(9)),
                       p7 - 0.1 * (r(8) + r(9) + r(10))], rel=1e-9)


def test_radam_weight_decay_coupled_and_decoupled():
    # coupled: g1 = 2 + 0.5*1 = 2.5; p1 = 1 - 0.1*2.5 = 0.75
    # decoupled: p <- 1*(1 - 0.1*0.5) = 0.95; then p1 = 0.95 - 0.1*2 = 0.75 as well;
    # step 2 (g = 2): coupled g2 = 2 + 0.5*0.75 = 2.375; m2 = 0.9*0.25 + 0.2375 = 0.4625
    #   p2 = 0.75 - 0.4625/0.19*0.1
    # decoupled: p <- 0.75*0.95 = 0.7125; m2 = 0.9*0.2 + 0.2 = 0.38; p2 = 0.7125 - 0.38/0.19*0.1
    values, _ = run(optim.RAdam, 1.0, [2.0, 2.0], lr=0.1, weight_decay=0.5)
    close(values, [0.75, 0.75 - 0.4625 / 0.19 * 0.1], rel=1e-10)
    values, _ = run(optim.RAdam, 1.0, [2.0, 2.0], lr=0.1, weight_decay=0.5,
                    decoupled_weight_decay=True)
    close(values, [0.75, 0.7125 - 0.2], rel=1e-10)


def test_rprop():
    # etas (0.5, 1.2), step 0.1 at first
    # t1: g = 2, g*prev = 0  -> step 0.1;   p = 1 - 0.1 = 0.9;     prev = 2
    # t2: g = 3, 3*2 > 0     -> step 0.12;  p = 0.9 - 0.12 = 0.78; prev = 3
    # t3: g = -1, -1*3 < 0   -> step 0.06;  g <- 0, p stays 0.78;  prev = 0
    # t4: g = -4, -4*0 = 0   -> step 0.06;  p = 0.78 + 0.06 = 0.84; prev = -4
    # t5: g = 5, 5*-4 < 0    -> step 0.03;  g <- 0, p stays 0.84
    values, state = run(optim.Rprop, 1.0, [2.0, 3.0, -1.0, -4.0, 5.0], lr=0.1)
    close(values, [0.9, 0.78, 0.78, 0.84, 0.84])
    assert state["step_size"][0] == pytest.approx(0.03) and state["prev"][0] == 0
    assert state["step"] == 5


def test_rprop_step_sizes_clip_and_maximize():
    # step_sizes (0.05, 0.11): t2's 0.12 is clipped to 0.11; t3: 0.11*1.2 = 0.132 -> 0.11
    # maximize: g = -grad = 1, so with grads -1, -1, -1 the parameter climbs down the slope:
    # p = 0 - 0.1, then - 0.11 twice
    values, _ = run(optim.Rprop, 0.0, [-1.0, -1.0, -1.0], lr=0.1, step_sizes=(0.05, 0.11),
                    maximize=True)
    close(values, [-0.1, -0.21, -0.32])
    # a flip: 0.1*0.3 = 0.03 is clipped up to 0.05
    _, state = run(optim.Rprop, 0.0, [1.0, -1.0], lr=0.1, etas=(0.3, 1.5),
                   step_sizes=(0.05, 1.0))
    assert state["step_size"][0] == pytest.approx(0.05)


def test_asgd():
    # lr 0.1, lambd 0.5, alpha 0.75, t0 = 1
    # t1: eta = 0.1, mu = 1:  p1 = 1*(1 - 0.05) - 0.1*2 = 0.75;  ax = p1
    #     eta2 = 0.1/(1 + 0.5*0.1*1)^0.75;  mu = 1/max(1, 1 - 1) = 1
    # t2: p2 = p1*(1 - 0.5 eta2) - eta2*1;  ax = p2;  eta3 = 0.1/1.1^0.75;  mu = 1/max(1, 1) = 1
    # t3: p3 = p2*(1 - 0.5 eta3) - eta3;    ax = p3;  eta4 = 0.1/1.15^0.75; mu = 1/2
    # t4: p4 = p3*(1 - 0.5 eta4) - eta4;    ax = p3 + (p4 - p3)/2;          mu = 1/3
    # t5: p5 = ...;                         ax = ax4 + (p5 - ax4)/3 = (p3 + p4 + p5)/3
    eta = [0.1, 0.1 / 1.05 ** 0.75, 0.1 / 1.1 ** 0.75, 0.1 / 1.15 ** 0.75, 0.1 / 1.2 ** 0.75]
    p, ps = 1.0, []
    for e, g in zip(eta, [2.0, 1.0, 1.0, 1.0, 1.0]):
        p = p * (1 - 0.5 * e) - e * g
        ps.append(p)
    assert ps[0] == pytest.approx(0.75)
    values, state = run(optim.ASGD, 1.0, [2.0, 1.0, 1.0, 1.0, 1.0], lr=0.1, lambd=0.5, t0=1)
    close(values, ps)
    assert state["ax"][0] == pytest.approx(sum(ps[2:]) / 3, rel=1e-12)
    assert state["eta"] == pytest.approx(0.1 / 1.25 ** 0.75) and state["mu"] == 0.25


def test_asgd_defaults_average_nothing_yet():
    # t0 = 1e6: mu stays 1, so ax is the parameter itself; lambd = 1e-4 barely decays
    values, state = run(optim.ASGD, 1.0, [1.0, 1.0], lr=0.01)
    p1 = 1 * (1 - 1e-4 * 0.01) - 0.01
    eta2 = 0.01 / (1 + 1e-4 * 0.01) ** 0.75
    close(values, [p1, p1 * (1 - 1e-4 * eta2) - eta2])
    assert state["ax"][0] == values[-1] and state["mu"] == 1


def test_lbfgs_first_steps():
    # f = 0.5 (x^2 + 4 y^2) from (1, 1): g = (1, 4), sum|g| = 5
    # iteration 1: d = -g, t = min(1, 1/5) * lr = 0.2  ->  p = (1, 1) - 0.2 (1, 4) = (0.8, 0.2)
    p = Parameter(np.array([1.0, 1.0]))
    opt = optim.LBFGS([p], max_iter=1)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (p[0] ** 2 + 4 * p[1] ** 2)
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 2.5
    np.testing.assert_allclose(p.numpy(), [0.8, 0.2], rtol=1e-15)
    # iteration 2: g = (0.8, 0.8); y = g - g_prev = (-0.2, -3.2); s = t d = (-0.2, -0.8)
    # y.s = 0.04 + 2.56 = 2.6; rho = 1/2.6; H0 = y.s / y.y = 2.6 / 10.28
    # two-loop: q = -g; a = rho s.q = -0.8/2.6; q = q - a y; r = H0 q;
    # b = rho y.r; r = r + (a - b) s; then p = p + 1 * r   (t = lr = 1 from now on)
    g, y, s = np.array([0.8, 0.8]), np.array([-0.2, -3.2]), np.array([-0.2, -0.8])
    rho, H0 = 1 / 2.6, 2.6 / 10.28
    q = -g
    a = rho * s.dot(q)
    q = q - a * y
    r = H0 * q
    r = r + (a - rho * y.dot(r)) * s
    opt.step(closure)
    np.testing.assert_allclose(p.numpy(), np.array([0.8, 0.2]) + r, rtol=1e-12)
    st = opt.state[p]
    assert st["n_iter"] == 2 and st["func_evals"] == 2 and len(st["old_dirs"]) == 1
    assert st["ro"][0] == pytest.approx(rho) and st["H_diag"] == pytest.approx(H0)


def test_lbfgs_without_line_search_stops_early_on_a_quadratic():
    # f = (x - 3)^2 from 0: g = -6; t = min(1, 1/6) = 1/6 -> x = 1;
    # then g = -4, y = 2, s = 1, H0 = y.s/y.y = 1/2: d = -H0 g = 2 -> x = 3, the minimum;
    # then g = 0 <= tolerance_grad: stop after 2 iterations and 3 evaluations
    p = Parameter(np.array([0.0]))
    opt = optim.LBFGS([p])

    def closure():
        opt.zero_grad()
        loss = ((p - 3) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert p.numpy()[0] == pytest.approx(3.0, abs=1e-12)
    assert opt.state[p]["n_iter"] == 2 and opt.state[p]["func_evals"] == 3
