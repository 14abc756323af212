"""Adam: bias-corrected running moments of the gradient (Kingma & Ba 2015), and AMSGrad."""

from __future__ import annotations

import math
from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class Adam(Optimizer):
    """Adam, with AMSGrad (Reddi et al. 2018) as amsgrad=True (torch.optim.Adam's conventions)::

        g <- -grad if maximize else grad
        t <- t + 1
        p <- p * (1 - lr * weight_decay)      if decoupled_weight_decay (that is AdamW)
        g <- g + weight_decay * p             otherwise
        m <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        v <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                if amsgrad, and v_max replaces v below
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter: 'step' (t), 'exp_avg' (m), 'exp_avg_sq' (v), 'max_exp_avg_sq'
    (v_max, if amsgrad).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check_betas(group)
        self._check("eps", group["eps"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        state = {"step": 0, "exp_avg": xp.zeros_like(p), "exp_avg_sq": xp.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(p)
        return state

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (beta1, beta2) = xp_of(p), group["betas"]
        lr, wd, decoupled = group["lr"], group["weight_decay"], group["decoupled_weight_decay"]
        g = self._grad_with_decay(p, g, 0 if decoupled else wd, group["maximize"])
        state["step"] += 1
        t = state["step"]
        if decoupled and wd:
            p *= 1 - lr * wd
        m, v, tmp = self._update_moments(p, g, state, group["betas"])
        if group["amsgrad"]:
            v_max = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2 ** t)
        tmp += group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - beta1 ** t)
        p -= tmp
