"""Adadelta: step sizes from the ratio of running RMS of updates to running RMS of gradients."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012, torch.optim.Adadelta's conventions: eps inside both roots)::

        g <- -grad if maximize else grad
        g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g * g
        delta <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * delta * delta
        p <- p - lr * delta

    State per parameter: 'step', 'square_avg' (v), 'acc_delta' (u).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("rho", group["rho"], "[0,1]")
        self._check("eps", group["eps"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        return {"step": 0, "square_avg": xp.zeros_like(p), "acc_delta": xp.zeros_like(p)}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, rho, eps = xp_of(p), group["rho"], group["eps"]
        v, u = state["square_avg"], state["acc_delta"]
        tmp, delta = self._scratch(p, 1), self._scratch(p, 2)
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        state["step"] += 1
        v *= rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        v += tmp
        xp.add(v, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.add(u, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g
        u *= rho
        xp.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        u += tmp
        delta *= group["lr"]
        p -= delta
