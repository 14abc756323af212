"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD's conventions)::

        g <- -grad if maximize else grad
        g <- g + weight_decay * p
        if momentum != 0:
            b <- g                                     on a parameter's first step
            b <- momentum * b + (1 - dampening) * g    on every later step
            g <- g + momentum * b  if nesterov else  b
        p <- p - lr * g

    State per parameter: 'momentum_buffer' (b), once momentum is non-zero.
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        self._check("momentum", group["momentum"], ">=0")
        self._check("dampening", group["dampening"], "[0,1]")
        self._check("weight_decay", group["weight_decay"], ">=0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        g = self._grad_with_decay(p, g, group["weight_decay"], group["maximize"])
        mu, tmp = group["momentum"], self._scratch(p, 1)
        if mu != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= mu
                if group["dampening"]:
                    xp_of(p).multiply(g, 1 - group["dampening"], out=tmp)
                    b += tmp
                else:
                    b += g
            if group["nesterov"]:
                xp_of(p).multiply(b, mu, out=tmp)
                tmp += g
                g = tmp
            else:
                g = b
        xp_of(p).multiply(g, group["lr"], out=tmp)
        p -= tmp
