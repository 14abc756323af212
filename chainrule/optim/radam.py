"""RAdam: Adam whose adaptive step is switched on only once the variance of its second-moment
estimate is tractable (Liu et al. 2020, "On the variance of the adaptive learning rate")."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class RAdam(Optimizer):
    """Rectified Adam (torch.optim.RAdam's conventions)::

        g <- -grad if maximize else grad
        t <- t + 1
        p <- p * (1 - lr * weight_decay)      if decoupled_weight_decay (RAdamW)
        g <- g + weight_decay * p             otherwise
        m <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        v <- beta2 * v + (1 - beta2) * g * g
        rho_inf <- 2 / (1 - beta2) - 1
        rho_t <- rho_inf - 2 * t * beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r <- sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p <- p - m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r
        else:                                 (the first steps: plain momentum SGD)
            p <- p - m / (1 - beta1^t) * lr

    State per parameter: 'step' (t), 'exp_avg' (m), 'exp_avg_sq' (v).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("eps", group["eps"], ">=0")
        self._check_betas(group)
        self._check("weight_decay", group["weight_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        return {"step": 0, "exp_avg": xp.zeros_like(p), "exp_avg_sq": xp.zeros_like(p)}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (beta1, beta2) = xp_of(p), group["betas"]
        lr, wd, decoupled = group["lr"], group["weight_decay"], group["decoupled_weight_decay"]
        g = self._grad_with_decay(p, g, 0 if decoupled else wd, group["maximize"])
        state["step"] += 1
        t = state["step"]
        if decoupled and wd:
            p *= 1 - lr * wd
        m, v, tmp = self._update_moments(p, g, state, group["betas"])
        upd = self._scratch(p, 2)
        bias_correction1, bias_correction2 = 1 - beta1 ** t, 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        xp.divide(m, bias_correction1, out=upd)
        upd *= lr
        if rho_t > 5.0:
            xp.sqrt(v, out=tmp)
            tmp += group["eps"]
            xp.divide(bias_correction2 ** 0.5, tmp, out=tmp)
            upd *= tmp
            upd *= ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        p -= upd
