"""Rprop: resilient backpropagation (Riedmiller & Braun 1993): each weight keeps its own step
size, grown while its gradient keeps its sign and cut when the sign flips; only the sign of
the gradient is used."""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT


class Rprop(Optimizer):
    """Rprop (torch.optim.Rprop's conventions; etas = (etaminus, etaplus), step_sizes =
    (step_min, step_max)), elementwise::

        g <- -grad if maximize else grad
        t <- t + 1
        s <- sign(g * g_prev)
        step <- clip(step * (etaplus if s > 0, etaminus if s < 0, 1 if s = 0),
                     step_min, step_max)
        g <- 0 where s < 0                    (after a sign flip, pause one step)
        p <- p - sign(g) * step
        g_prev <- g

    State per parameter: 'step' (t), 'prev' (g_prev, 0 at first), 'step_size' (step, lr at
    first).
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")
        etas, sizes = group["etas"], group["step_sizes"]
        if not isinstance(etas, (tuple, list)) or len(etas) != 2 or not 0 < etas[0] < 1 < etas[1]:
            raise ValueError(f"Rprop: etas must be a pair (etaminus, etaplus) with 0 < etaminus "
                             f"< 1 < etaplus, got {etas!r}")
        if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
            raise ValueError(f"Rprop: step_sizes must be a pair (min, max), got {sizes!r}")

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = xp_of(p)
        return {"step": 0, "prev": xp.zeros_like(p), "step_size": xp.full_like(p, group["lr"])}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, (etaminus, etaplus) = xp_of(p), group["etas"]
        g = self._grad_with_decay(p, g, 0, group["maximize"])
        state["step"] += 1
        prev, step = state["prev"], state["step_size"]
        s, factor = self._scratch(p, 1), self._scratch(p, 2)
        xp.multiply(g, prev, out=s)
        xp.sign(s, out=s)
        flipped = s < 0
        factor.fill(1)
        factor[s > 0] = etaplus
        factor[flipped] = etaminus
        step *= factor
        xp.clip(step, *group["step_sizes"], out=step)
        prev[...] = g
        prev[flipped] = 0
        xp.sign(prev, out=s)
        s *= step
        p -= s
