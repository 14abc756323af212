"""AdamW: Adam with weight decay decoupled from the gradient (Loshchilov & Hutter 2019)."""

from __future__ import annotations

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import ParamsT


class AdamW(Adam):
    """AdamW (torch.optim.AdamW's conventions): Adam whose weight decay shrinks the parameter
    directly instead of entering the moments::

        g <- -grad if maximize else grad
        t <- t + 1
        p <- p * (1 - lr * weight_decay)
        m <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        v <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                if amsgrad, and v_max replaces v below
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter: as Adam's.
    """

    def __init__(self, params: ParamsT | None = None, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
