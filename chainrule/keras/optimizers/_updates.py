"""Keras' update rules where they differ from PyTorch's, as chainrule.optim subclasses.

Each class keeps its parent's options, validation, state handling and in-place array style and
replaces only `_update`. The differences are where epsilon sits, how momentum carries the
learning rate, and Nadam's momentum schedule; each docstring gives Keras' equations, matched by
the code. (Adadelta is the same in both and needs no subclass; weight decay is applied by the
Keras front, decoupled, before the step, as Keras does for every optimizer.)
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import optim
from chainrule.backend import xp_of


class SGD(optim.SGD):
    """Keras' momentum carries the learning rate::

        v <- momentum * v - lr * g
        p <- p + v                          (nesterov: p <- p + momentum * v - lr * g)
        p <- p - lr * g                     when momentum == 0
    """

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"velocity": xp_of(p).zeros_like(p)} if group["momentum"] else {}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, mu, lr, tmp = xp_of(p), group["momentum"], group["lr"], self._scratch(p, 1)
        xp.multiply(g, lr, out=tmp)
        if not mu:
            p -= tmp
            return
        v = state.setdefault("velocity", xp.zeros_like(p))
        v *= mu
        v -= tmp
        if group["nesterov"]:
            tmp *= -1
            tmp += mu * v
            p += tmp
        else:
            p += v


class RMSprop(optim.RMSprop):
    """Keras' RMSprop: epsilon inside the square root, momentum on the increment::

        v <- rho * v + (1 - rho) * g^2
        a <- rho * a + (1 - rho) * g        if centered, and then d <- v - a^2 + epsilon
        d <- v + epsilon                    otherwise
        inc <- lr * g / sqrt(d)
        b <- momentum * b + inc;  p <- p - b     if momentum > 0, else p <- p - inc
    """

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, rho, tmp = xp_of(p), group["alpha"], self._scratch(p, 1)
        state["step"] += 1
        v = state["square_avg"]
        v *= rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        v += tmp
        if group["centered"]:
            a = state.setdefault("grad_avg", xp.zeros_like(p))
            a *= rho
            a += (1 - rho) * g
            xp.multiply(a, a, out=tmp)
            xp.subtract(v, tmp, out=tmp)
        else:
            tmp[...] = v
        tmp += group["eps"]
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= group["lr"]
        if group["momentum"] > 0:
            b = state.setdefault("momentum_buffer", xp.zeros_like(p))
            b *= group["momentum"]
            b += tmp
            p -= b
        else:
            p -= tmp


class Adagrad(optim.Adagrad):
    """Keras' Adagrad: epsilon inside the square root::

        s <- s + g^2                        s starts at initial_accumulator_value (0.1)
        p <- p - lr * g / sqrt(s + epsilon)
    """

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, s, tmp = xp_of(p), state["sum"], self._scratch(p, 1)
        state["step"] += 1
        xp.multiply(g, g, out=tmp)
        s += tmp
        xp.add(s, group["eps"], out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= group["lr"]
        p -= tmp


class Adam(optim.Adam):
    """Keras' Adam: epsilon added to sqrt(v) before the bias correction, which moves into the
    step size (PyTorch adds it after: sqrt(v / (1 - beta_2^t)) + eps)::

        m <- m + (1 - beta_1) * (g - m);   v <- v + (1 - beta_2) * (g^2 - v)
        v_hat <- max(v_hat, v)              if amsgrad, and v_hat replaces v below
        p <- p - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)
    """

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (b1, b2), tmp = xp_of(p), group["betas"], self._scratch(p, 1)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        if group["amsgrad"]:
            v_hat = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        xp.sqrt(v, out=tmp)
        tmp += group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= group["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p -= tmp


class Adamax(optim.Adamax):
    """Keras' Adamax: epsilon added to u in the step, not inside the max::

        m <- m + (1 - beta_1) * (g - m);   u <- max(beta_2 * u, |g|)
        p <- p - lr * m / ((1 - beta_1^t) * (u + epsilon))
    """

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (b1, b2), tmp = xp_of(p), group["betas"], self._scratch(p, 1)
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        u *= b2
        xp.abs(g, out=tmp)
        xp.maximum(u, tmp, out=u)
        xp.add(u, group["eps"], out=tmp)
        xp.divide(m, tmp, out=tmp)
        tmp *= group["lr"] / (1 - b1 ** state["step"])
        p -= tmp


class Nadam(optim.NAdam):
    """Keras 3's Nadam: the momentum schedule decays as 0.96^t (PyTorch: 0.96^(0.004 t)) and
    epsilon is added after the bias correction::

        u_t <- beta_1 * (1 - 0.5 * 0.96^t);   u_t1 <- beta_1 * (1 - 0.5 * 0.96^(t + 1))
        P <- P * u_t                                    (P = 1 before the first step)
        m <- m + (1 - beta_1) * (g - m);   v <- v + (1 - beta_2) * (g^2 - v)
        m_hat <- u_t1 * m / (1 - P * u_t1) + (1 - u_t) * g / (1 - P)
        p <- p - lr * m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)
    """

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (b1, b2), tmp = xp_of(p), group["betas"], self._scratch(p, 1)
        state["step"] += 1
        t = state["step"]
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        state["mu_product"] *= u_t
        P = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        den = self._scratch(p, 2)
        xp.multiply(v, 1.0 / (1 - b2 ** t), out=den)
        xp.sqrt(den, out=den)
        den += group["eps"]
        xp.multiply(m, u_t1 / (1 - P * u_t1), out=tmp)
        tmp += (1 - u_t) / (1 - P) * g
        tmp /= den
        tmp *= group["lr"]
        p -= tmp
