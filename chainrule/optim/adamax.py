"""Adamax: Adam with the infinity norm in place of the second moment (Kingma & Ba 2015)."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class Adamax(Optimizer):
    """Adamax (torch.optim.Adamax's conventions: eps added to |g| inside the max)::

        g <- -grad if maximize else grad
        g <- g + weight_decay * p
        t <- t + 1
        m <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    State per parameter: 'step' (t), 'exp_avg' (m), 'exp_inf' (u).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check_betas(group)
        self._check("eps", group["eps"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        return {"step": 0, "exp_avg": xp.zeros_like(p), "exp_inf": xp.zeros_like(p)}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (beta1, beta2), tmp = xp_of(p), group["betas"], self._scratch(p, 1)
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        u *= beta2
        xp.abs(g, out=tmp)
        tmp += group["eps"]
        xp.maximum(u, tmp, out=u)
        xp.divide(m, u, out=tmp)
        tmp *= group["lr"] / (1 - beta1 ** state["step"])
        p -= tmp
