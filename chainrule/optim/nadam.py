"""NAdam: Adam with Nesterov momentum (Dozat 2016), with the momentum-decay schedule."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class NAdam(Optimizer):
    """NAdam (torch.optim.NAdam's conventions; psi = momentum_decay = 0.004)::

        g <- -grad if maximize else grad
        t <- t + 1
        p <- p * (1 - lr * weight_decay)      if decoupled_weight_decay
        g <- g + weight_decay * p             otherwise
        mu_t <- beta1 * (1 - 0.5 * 0.96^(t * psi));  mu_t1 <- the same at t + 1
        P <- P * mu_t                         (mu_product, P = 1 before the first step)
        m <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        v <- beta2 * v + (1 - beta2) * g * g
        d <- sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_t1 / (1 - P * mu_t1) * m / d

    State per parameter: 'step' (t), 'mu_product' (P), 'exp_avg' (m), 'exp_avg_sq' (v).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check_betas(group)
        self._check("eps", group["eps"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")
        self._check("momentum_decay", group["momentum_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        return {"step": 0, "mu_product": 1.0, "exp_avg": xp.zeros_like(p),
                "exp_avg_sq": xp.zeros_like(p)}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (beta1, beta2), psi = xp_of(p), group["betas"], group["momentum_decay"]
        lr, wd, decoupled = group["lr"], group["weight_decay"], group["decoupled_weight_decay"]
        d = self._scratch(p, 2)
        g = self._grad_with_decay(p, g, 0 if decoupled else wd, group["maximize"])
        state["step"] += 1
        t = state["step"]
        if decoupled and wd:
            p *= 1 - lr * wd
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        prod = state["mu_product"]
        m, v, tmp = self._update_moments(p, g, state, group["betas"])
        xp.divide(v, 1 - beta2 ** t, out=d)
        xp.sqrt(d, out=d)
        d += group["eps"]
        xp.divide(g, d, out=tmp)
        tmp *= lr * (1 - mu) / (1 - prod)
        p -= tmp
        xp.divide(m, d, out=tmp)
        tmp *= lr * mu_next / (1 - prod * mu_next)
        p -= tmp
