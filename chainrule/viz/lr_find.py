"""The learning-rate range test: train a few steps while the learning rate grows exponentially,
watch the loss fall and then blow up, and suggest a rate from the steepest descent of the curve.

    found = cr.viz.lr_find(model, loader, F.cross_entropy, cr.optim.SGD(model.parameters()))
    found.suggestion          # a learning rate on the descending part of the curve
    found.plot("lr_find.png")

The model's and the optimizer's state are restored afterwards: the test changes nothing.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from chainrule.viz._common import figure, num, save


@dataclass
class LRFinderResult:
    """lrs and the smoothed losses at them (up to where the loss diverged), the raw losses,
    and the suggested learning rate (where the smoothed loss falls fastest per log-step)."""

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    suggestion_index: int

    def __repr__(self) -> str:
        # the arrays hold hundreds of numbers: a summary, not a dump (they stay attributes)
        n, lo, hi = len(self.lrs), self.lrs[0], self.lrs[-1]
        best = self.losses[self.suggestion_index]
        return (f"LRFinderResult(suggestion={num(self.suggestion, 3)}, {n} learning rates "
                f"from {num(lo, 3)} to {num(hi, 3)}, smoothed loss {num(best, 4)} at the "
                "suggestion; .lrs, .losses, .raw_losses, .plot())") if n else \
            "LRFinderResult(no learning rates tried)"

    def plot(self, path: str | Path | None = None) -> Any:
        """Smoothed loss against learning rate (log x), the suggestion marked."""
        fig = figure(6.5, 4.2, "LRFinderResult.plot")
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(self.lrs, self.raw_losses, color="tab:blue", alpha=0.25, lw=1, label="loss")
        ax.plot(self.lrs, self.losses, color="tab:blue", lw=1.8, label="smoothed loss")
        ax.plot(self.suggestion, self.losses[self.suggestion_index], "o", color="tab:red",
                markersize=8, label=f"suggested lr {num(self.suggestion, 2)}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.set_title("learning-rate range test", fontsize=10)
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:
            lo, hi = float(finite.min()), float(min(finite.max(), 4 * finite[0]))
            pad = 0.05 * (hi - lo) if hi > lo else 1.0
            ax.set_ylim(lo - pad, hi + pad)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return save(fig, path)


def _batches(loader: Iterable) -> Any:
    """Batches forever: the loader again from the start when it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader yielded no batches")


def lr_find(model: Any, loader: Iterable, loss_fn: Callable[[Any, Any], Any], optimizer: Any,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
            smooth: float = 0.05, diverge: float = 4.0) -> LRFinderResult:
    """Train on batches (x, y) of loader for up to num_iter steps, the learning rate of every
    param group growing exponentially from start_lr to end_lr; stop once the smoothed loss
    exceeds `diverge` times its best. `smooth` is the weight of a new loss in the exponential
    moving average. The model's parameters and the optimizer's state are restored at the end.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    saved_model = copy.deepcopy(model.state_dict())  # state_dict() shares the weights
    saved_opt = copy.deepcopy(optimizer.state_dict())
    factor = (end_lr / start_lr) ** (1 / max(num_iter - 1, 1))
    lrs, raw, smoothed = [], [], []
    avg, best = 0.0, math.inf
    try:
        for i, (x, y) in zip(range(num_iter), _batches(loader)):
            lr = start_lr * factor ** i
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            avg = smooth * value + (1 - smooth) * avg
            debiased = avg / (1 - (1 - smooth) ** (i + 1))
            lrs.append(lr)
            raw.append(value)
            smoothed.append(debiased)
            best = min(best, debiased)
            if not math.isfinite(debiased) or debiased > diverge * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        optimizer.zero_grad()
    return _result(np.array(lrs), np.array(smoothed), np.array(raw))


def _result(lrs: np.ndarray, losses: np.ndarray, raw: np.ndarray) -> LRFinderResult:
    """The suggestion: the steepest fall of the smoothed loss per log-lr, searched after the
    first tenth of the steps and before the loss's minimum (on the descending part)."""
    if lrs.size < 3:
        raise ValueError(f"lr_find: only {lrs.size} steps ran before the loss diverged; "
                         "lower start_lr or raise num_iter")
    finite = np.where(np.isfinite(losses), losses, np.inf)
    stop = int(np.argmin(finite))
    skip = max(1, lrs.size // 10)  # the first averages rest on a few batches: too noisy
    if stop - skip < 2:
        i = stop // 2
    else:
        slope = np.gradient(losses[:stop + 1], np.log10(lrs[:stop + 1]))
        i = skip + int(np.argmin(slope[skip:stop]))
    return LRFinderResult(lrs, losses, raw, float(lrs[i]), i)
