"""Gradient clipping, in place on the parameters' .grad arrays (torch.nn.utils' conventions)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from chainrule.backend import host_any, is_device_array, xp_of
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list:
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.array for p in ps if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most max_norm::

        total = || (||g_1||, ..., ||g_n||) ||        every norm of order norm_type (inf: max)
        g_i <- g_i * min(1, max_norm / (total + 1e-6))

    Returns the total norm before clipping as a 0-d Tensor (use float() or .item()).
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return as_tensor(np.float32(0.0))
    xp = xp_of(grads[0])
    norms = xp.stack([xp.linalg.norm(g.reshape(-1), norm_type) for g in grads])
    total = xp.linalg.norm(norms, norm_type)
    if error_if_nonfinite and host_any(~xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total.item()}; pass error_if_nonfinite=False to clip anyway")
    if is_device_array(total):  # scale by min(1, coef) on the device: no copy to the host
        # coef in float64, then rounded to the gradients' dtype, as the host branch does
        coef_a = xp.minimum(float(max_norm) / (total.astype(np.float64) + 1e-6), 1.0)
        coef_a = coef_a.astype(grads[0].dtype)
        for g in grads:
            g *= coef_a
        return Tensor._make(total.astype(grads[0].dtype), None)
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for g in grads:
            g *= coef
    return Tensor._make(xp.asarray(total, dtype=grads[0].dtype), None)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for g in _grads(parameters):
        xp_of(g).clip(g, -clip_value, clip_value, out=g)
