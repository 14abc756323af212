"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky 1992): SGD with a decaying
step, and a running average of the iterates once t passes t0."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class ASGD(Optimizer):
    """Averaged SGD (torch.optim.ASGD's conventions)::

        g <- -grad if maximize else grad
        t <- t + 1
        g <- g + weight_decay * p
        p <- p * (1 - lambd * eta)
        p <- p - eta * g
        ax <- ax + mu * (p - ax)               (ax <- p while mu = 1)
        eta <- lr / (1 + lambd * lr * t)^alpha
        mu <- 1 / max(1, t - t0)

    State per parameter: 'step' (t), 'eta' (lr at first), 'mu' (1 at first), 'ax' (the
    averaged parameter: the model to evaluate once averaging has started).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "eta": float(group["lr"]), "mu": 1.0, "ax": xp_of(p).zeros_like(p)}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, lr, lambd, tmp = xp_of(p), group["lr"], group["lambd"], self._scratch(p, 1)
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        state["step"] += 1
        t, eta, mu, ax = state["step"], state["eta"], state["mu"], state["ax"]
        p *= 1 - lambd * eta
        xp.multiply(g, eta, out=tmp)
        p -= tmp
        if mu != 1:
            xp.subtract(p, ax, out=tmp)
            tmp *= mu
            ax += tmp
        else:
            ax[...] = p
        state["eta"] = lr / ((1 + lambd * lr * t) ** group["alpha"])
        state["mu"] = 1 / max(1, t - group["t0"])
