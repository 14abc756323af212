"""Adagrad: per-coordinate step sizes shrinking with the sum of squared gradients."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad's conventions)::

        g <- -grad if maximize else grad
        g <- g + weight_decay * p
        t <- t + 1
        clr <- lr / (1 + (t - 1) * lr_decay)
        s <- s + g * g                          s starts at initial_accumulator_value
        p <- p - clr * g / (sqrt(s) + eps)

    State per parameter: 'step' (t), 'sum' (s).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("lr_decay", group["lr_decay"], ">=0")
        self._check("weight_decay", group["weight_decay"], ">=0")
        self._check("initial_accumulator_value", group["initial_accumulator_value"], ">=0")
        self._check("eps", group["eps"], ">=0")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": xp_of(p).full_like(p, group["initial_accumulator_value"])}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, s, tmp = xp_of(p), state["sum"], self._scratch(p, 1)
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        xp.multiply(g, g, out=tmp)
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp
