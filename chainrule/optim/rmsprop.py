"""RMSprop: steps scaled by a running root-mean-square of the gradients (Hinton's lecture 6e)."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop's conventions: eps outside the square root)::

        g <- -grad if maximize else grad
        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g * g
        if centered:
            m <- m + (1 - alpha) * (g - m)      (= alpha * m + (1 - alpha) * g)
            d <- sqrt(v - m * m) + eps
        else:
            d <- sqrt(v) + eps
        if momentum > 0:
            b <- momentum * b + g / d
            p <- p - lr * b
        else:
            p <- p - lr * g / d

    State per parameter: 'step', 'square_avg' (v), 'grad_avg' (m, if centered),
    'momentum_buffer' (b, if momentum > 0).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("alpha", group["alpha"], "[0,1]")
        self._check("eps", group["eps"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")
        self._check("momentum", group["momentum"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        state = {"step": 0, "square_avg": xp.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(p)
        return state

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, alpha, tmp = xp_of(p), group["alpha"], self._scratch(p, 1)
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        state["step"] += 1
        v = state["square_avg"]
        v *= alpha
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - alpha
        v += tmp
        if group["centered"]:
            m = state.setdefault("grad_avg", xp.zeros_like(p))
            xp.subtract(g, m, out=tmp)
            tmp *= 1 - alpha
            m += tmp
            xp.multiply(m, m, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        if group["momentum"] > 0:
            b = state.setdefault("momentum_buffer", xp.zeros_like(p))
            b *= group["momentum"]
            b += tmp
            xp.multiply(b, group["lr"], out=tmp)
        else:
            tmp *= group["lr"]
        p -= tmp
