"""Golden values: two or three steps of every optimizer, computed by hand from its equations.

Each test feeds fixed gradients to a one-element parameter; the comments carry the arithmetic
and the expected values are written as that arithmetic on literal numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule.nn import Parameter


def run_with_state(cls, p0, grads, **kwargs):
    """The parameter's value after each step, the gradients given one per step; and the
    optimizer's state of the parameter at the end."""
    p = Parameter(np.array([p0], dtype=np.float64))
    opt = cls([p], **kwargs)
    values = []
    for g in grads:
        p.grad = cr.tensor(np.array([g], dtype=np.float64))
        opt.step()
        values.append(p.numpy()[0])
    return values, opt.state[p]


def run(cls, p0, grads, **kwargs):
    """The parameter's value after each step."""
    return run_with_state(cls, p0, grads, **kwargs)[0]


def close(values, expected, rel=1e-12):
    assert values == pytest.approx(expected, rel=rel, abs=1e-15)


def test_sgd_plain():
    # p <- p - lr g:  1 - 0.5*2 = 0;  0 - 0.5*(-1) = 0.5
    close(run(optim.SGD, 1.0, [2.0, -1.0], lr=0.5), [0.0, 0.5])


def test_sgd_momentum():
    # b1 = g1 = 1;             p1 = 1 - 0.1*1 = 0.9
    # b2 = 0.9*1 + 2 = 2.9;    p2 = 0.9 - 0.1*2.9 = 0.61
    # b3 = 0.9*2.9 - 1 = 1.61; p3 = 0.61 - 0.1*1.61 = 0.449
    close(run(optim.SGD, 1.0, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9), [0.9, 0.61, 0.449])


def test_sgd_nesterov_weight_decay():
    # g1 = 1 + 0.5*1 = 1.5;          b1 = 1.5;  step = 1.5 + 0.9*1.5 = 2.85;  p1 = 1 - 0.285
    # g2 = 1 + 0.5*0.715 = 1.3575;   b2 = 0.9*1.5 + 1.3575 = 2.7075
    # step = 1.3575 + 0.9*2.7075 = 3.79425;  p2 = 0.715 - 0.379425 = 0.335575
    close(run(optim.SGD, 1.0, [1.0, 1.0], lr=0.1, momentum=0.9, nesterov=True,
              weight_decay=0.5), [0.715, 0.335575])


def test_sgd_dampening_maximize():
    # maximize: g = -grad.  b1 = -2 (no dampening on the first step); p1 = 0 + 0.1*2 = 0.2
    # b2 = 0.5*(-2) + (1 - 0.5)*(-4) = -3;  p2 = 0.2 + 0.1*3 = 0.5
    close(run(optim.SGD, 0.0, [2.0, 4.0], lr=0.1, momentum=0.5, dampening=0.5,
              maximize=True), [0.2, 0.5])


def test_adagrad():
    # s1 = 9,  p1 = 1 - 0.1*3/sqrt(9) = 0.9;   s2 = 9 + 16 = 25,  p2 = 0.9 - 0.1*4/5 = 0.82
    close(run(optim.Adagrad, 1.0, [3.0, 4.0], lr=0.1), [0.9, 0.82], rel=1e-9)


def test_adagrad_lr_decay_initial_accumulator():
    # clr1 = 0.1/(1 + 0*1) = 0.1;  s1 = 16 + 9 = 25;     p1 = 1 - 0.1*3/5 = 0.94
    # clr2 = 0.1/(1 + 1*1) = 0.05; s2 = 25 + 144 = 169;  p2 = 0.94 - 0.05*12/13
    close(run(optim.Adagrad, 1.0, [3.0, 12.0], lr=0.1, lr_decay=1.0,
              initial_accumulator_value=16.0), [0.94, 0.94 - 0.6 / 13], rel=1e-9)


def test_rmsprop():
    # v1 = 0.5*0 + 0.5*4 = 2;  p1 = 1 - 0.01*2/sqrt(2)
    # v2 = 0.5*2 + 0.5*4 = 3;  p2 = p1 - 0.01*2/sqrt(3)
    p1 = 1 - 0.02 / math.sqrt(2)
    close(run(optim.RMSprop, 1.0, [2.0, 2.0], lr=0.01, alpha=0.5, eps=0.0),
          [p1, p1 - 0.02 / math.sqrt(3)])


def test_rmsprop_centered_momentum():
    # v1 = 0.5*4 = 2;  m1 = 0 + 0.5*(2 - 0) = 1;  d1 = sqrt(2 - 1) = 1
    # b1 = 0.5*0 + 2/1 = 2;  p1 = 1 - 0.1*2 = 0.8
    # v2 = 0.5*2 + 0.5*4 = 3;  m2 = 1 + 0.5*(-2 - 1) = -0.5;  d2 = sqrt(3 - 0.25) = sqrt(2.75)
    # b2 = 0.5*2 - 2/sqrt(2.75);  p2 = 0.8 - 0.1*b2
    close(run(optim.RMSprop, 1.0, [2.0, -2.0], lr=0.1, alpha=0.5, eps=0.0, centered=True,
              momentum=0.5), [0.8, 0.8 - 0.1 * (1 - 2 / math.sqrt(2.75))])


def test_adadelta():
    # rho = 0.5, eps = 1:
    # v1 = 0.5*4 = 2;  delta1 = sqrt(0 + 1)/sqrt(2 + 1)*2 = 2/sqrt(3);  u1 = 0.5*4/3 = 2/3
    # p1 = 0 - 2/sqrt(3)
    # v2 = 0.5*2 + 0.5*4 = 3;  delta2 = sqrt(2/3 + 1)/sqrt(3 + 1)*2 = sqrt(5/3)
    # p2 = p1 - sqrt(5/3)
    p1 = -2 / math.sqrt(3)
    close(run(optim.Adadelta, 0.0, [2.0, 2.0], lr=1.0, rho=0.5, eps=1.0),
          [p1, p1 - math.sqrt(5 / 3)])


def test_adam():
    # m1 = 0.1*1 = 0.1, v1 = 0.001*1 = 0.001; m1/(1-0.9) = 1, v1/(1-0.999) = 1
    # p1 = 1 - 0.1*1/(1 + 1e-8)
    # m2 = 0.9*0.1 + 0.1*3 = 0.39,  v2 = 0.999*0.001 + 0.001*9 = 0.009999
    # bias corrections 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999
    # p2 = p1 - 0.1*(0.39/0.19)/(sqrt(0.009999/0.001999) + 1e-8)
    p1 = 1 - 0.1 / (1 + 1e-8)
    close(run(optim.Adam, 1.0, [1.0, 3.0], lr=0.1),
          [p1, p1 - 0.1 * (0.39 / 0.19) / (math.sqrt(0.009999 / 0.001999) + 1e-8)], rel=1e-10)


def test_adam_weight_decay_is_l2_in_the_gradient():
    # g1 = 1 + 0.5*1 = 1.5;  m1 = 0.15, v1 = 0.00225;  p1 = 1 - 0.1*1.5/(1.5 + 1e-8) ~ 0.9
    close(run(optim.Adam, 1.0, [1.0], lr=0.1, weight_decay=0.5),
          [1 - 0.1 * 1.5 / (1.5 + 1e-8)], rel=1e-10)


def test_amsgrad_keeps_the_largest_second_moment():
    # grads 3 then 0. v1 = 0.009;  v2 = 0.999*0.009 = 0.008991 < v_max = 0.009
    # m2 = 0.9*0.3 = 0.27
    # p2 = p1 - 0.1*(0.27/0.19)/(sqrt(0.009/0.001999) + 1e-8)     (v_max, not v2)
    p1 = 1 - 0.1 * 3 / (3 + 1e-8)
    expected = [p1, p1 - 0.1 * (0.27 / 0.19) / (math.sqrt(0.009 / 0.001999) + 1e-8)]
    close(run(optim.Adam, 1.0, [3.0, 0.0], lr=0.1, amsgrad=True), expected, rel=1e-10)
    plain = run(optim.Adam, 1.0, [3.0, 0.0], lr=0.1)
    assert plain[1] == pytest.approx(
        p1 - 0.1 * (0.27 / 0.19) / (math.sqrt(0.008991 / 0.001999) + 1e-8), rel=1e-10)


def test_adamw_decouples_weight_decay():
    # p1 = 1*(1 - 0.1*0.5) = 0.95, then the Adam step of size ~0.1: 0.85
    # p2 = 0.85*0.95 = 0.8075, then ~0.1 again: 0.7075
    step = 0.1 * 2 / (2 + 1e-8)
    close(run(optim.AdamW, 1.0, [2.0, 2.0], lr=0.1, weight_decay=0.5),
          [0.95 - step, (0.95 - step) * 0.95 - step], rel=1e-10)


def test_adamax():
    # m1 = 0.1*2 = 0.2;  u1 = max(0, 2 + 1e-8);  p1 = 1 - 0.1/(1 - 0.9)*0.2/u1 ~ 0.9
    # m2 = 0.2 + 0.1*(-4 - 0.2) = -0.22;  u2 = max(0.999*u1, 4 + 1e-8)
    # p2 = p1 + 0.1/0.19*0.22/u2
    # m3 = -0.22 + 0.1*(1 + 0.22) = -0.098;  u3 = max(0.999*u2, 1 + 1e-8) = 0.999*u2
    # p3 = p2 + 0.1/0.271*0.098/u3
    u1, u2 = 2 + 1e-8, 4 + 1e-8
    p1 = 1 - 0.1 / 0.1 * 0.2 / u1
    p2 = p1 + 0.1 / 0.19 * 0.22 / u2
    close(run(optim.Adamax, 1.0, [2.0, -4.0, 1.0], lr=0.1),
          [p1, p2, p2 + 0.1 / 0.271 * 0.098 / (0.999 * u2)], rel=1e-10)


def test_nadam():
    # eps = 0 keeps the arithmetic exact.  mu_t = 0.9*(1 - 0.5*0.96^(0.004 t)):
    #   0.96^0.004 = 0.99983672535, 0.96^0.008 = 0.99967347736, 0.96^0.012 = 0.99951025603
    #   mu1 = 0.45007347359, mu2 = 0.45014693519, mu3 = 0.45022038479
    # step 1: P1 = mu1; m1 = 0.2, v1 = 0.004, d1 = sqrt(0.004/0.001) = 2
    #   p1 = 1 - 0.1*(1 - mu1)/(1 - P1)*2/d1 - 0.1*mu2/(1 - P1*mu2)*0.2/d1
    #      = 1 - 0.1 - 0.01*mu2/(1 - 0.20259919475)
    # step 2: P2 = P1*mu2 = 0.20259919475; m2 = 0.38, v2 = 0.007996, d2 = sqrt(4) = 2
    #   p2 = p1 - 0.1*(1 - mu2)/(1 - P2) - 0.1*mu3/(1 - P2*mu3)*0.38/2
    mu2, mu3, P2 = 0.45014693519, 0.45022038479, 0.20259919475
    p1 = 0.9 - 0.01 * mu2 / (1 - P2)
    p2 = p1 - 0.1 * (1 - mu2) / (1 - P2) - 0.1 * mu3 / (1 - P2 * mu3) * 0.19
    close(run(optim.NAdam, 1.0, [2.0, 2.0], lr=0.1, eps=0.0), [p1, p2], rel=1e-10)
