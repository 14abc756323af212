"""Gradient descent on a 2-D cost surface with the real chainrule.optim classes.

    r = cr.viz.descent("rosenbrock", ["sgd", "momentum", "adam"], path="rosenbrock.png")
    print(r.summary())                 # final loss, distance to the minimum, divergence
    s = cr.viz.lr_sweep("quadratic", "sgd", path="sweep.png")   # where descent turns to divergence

Each optimizer gets a fresh 2-element float64 Parameter at the start point and runs the loop a
training script runs: zero_grad, loss = f(p[0], p[1]), loss.backward(), step. Backprop computes
the gradient; the optimizer turns it into a step (for plain SGD: p <- p - lr * gradient).
L-BFGS runs as its scripts do, opt.step(closure), the closure re-evaluating the surface wherever
its line search looks; one step here is one L-BFGS iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from chainrule import optim
from chainrule.nn.module import Parameter
from chainrule.operands import as_tensor
from chainrule.viz._common import num
from chainrule.viz.surfaces import Fn, Surface, surface

ADAPTIVE = {"adagrad", "rmsprop", "adam", "amsgrad", "adamw", "adamax", "nadam"}
ESCAPE = 1e6  # |p| beyond this counts as divergence, before the numbers overflow
# what the playground passes unless told otherwise: one L-BFGS iteration per step, so the path
# shows every iterate, with a strong-Wolfe line search that may try up to 24 points
OPTIONS: dict[str, dict[str, Any]] = {
    "lbfgs": {"max_iter": 1, "max_eval": 25, "line_search_fn": "strong_wolfe"}}


@dataclass
class Trajectory:
    """One optimizer's run: positions (k+1, 2) and losses (k+1,) from the start, k <= steps;
    diverged is True when the loss became NaN/Inf or the point ran off beyond 1e6."""

    label: str
    optimizer: str
    lr: float
    options: dict[str, Any]
    path: np.ndarray
    losses: np.ndarray
    diverged: bool

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def default_lr(s: Surface, name: str) -> float:
    """The surface's readable step for this optimizer: adaptive methods take adaptive_lr
    (Adagrad 3x that), Adadelta and L-BFGS their own 1.0 (a multiplier on a self-scaled step),
    the rest lr."""
    if name in ("adadelta", "lbfgs"):
        return 1.0
    if name == "adagrad":  # its steps only ever shrink: it needs a larger start
        return 3 * s.adaptive_lr
    return s.adaptive_lr if name in ADAPTIVE else s.lr


def run(s: Surface, name: str, lr: float, steps: int, label: str | None = None,
        **options: Any) -> Trajectory:
    """Run optimizer `name` (an optim.create name) for up to `steps` steps from s.start;
    options override the playground's OPTIONS for it."""
    p = Parameter(as_tensor(np.array(s.start, dtype=np.float64)))
    options = {**OPTIONS.get(name, {}), **options}
    opt = optim.create(name, [p], lr=lr, **options)

    def closure() -> Any:
        opt.zero_grad()
        loss = s(p[0], p[1])
        loss.backward()
        return loss

    points, losses, diverged = [], [], False
    for _ in range(steps):
        opt.zero_grad()
        loss = s(p[0], p[1])
        points.append(p.array.copy())
        losses.append(float(loss.array))
        if not math.isfinite(losses[-1]) or float(np.abs(p.array).max()) > ESCAPE:
            diverged = True
            break
        if isinstance(opt, optim.LBFGS):
            opt.step(closure)  # it evaluates the surface itself, as often as it needs
        else:
            loss.backward()
            opt.step()
    else:
        points.append(p.array.copy())
        losses.append(float(s(p[0], p[1]).array))
        diverged = not math.isfinite(losses[-1]) or float(np.abs(p.array).max()) > ESCAPE
    return Trajectory(label or name, name, float(lr), options, np.array(points),
                      np.array(losses), diverged)


def _specs(optimizers: str | Sequence[str] | Mapping[str, dict]) -> list[tuple[str, str, dict]]:
    """(label, optimizer name, options) from 'sgd,adam', ['sgd', 'adam'] or
    {'label': {'name': 'sgd', 'lr': 0.1, 'momentum': 0.5, ...}}."""
    if isinstance(optimizers, str):
        optimizers = [o.strip() for o in optimizers.split(",") if o.strip()]
    if isinstance(optimizers, Mapping):
        out = []
        for label, opts in optimizers.items():
            opts = dict(opts or {})
            out.append((label, opts.pop("name", label).lower(), opts))
    else:
        out = [(o, o.lower(), {}) for o in optimizers]
    for label, name, _ in out:
        if name not in optim.available():
            raise ValueError(f"descent: unknown optimizer {name!r} (for {label!r}); known: "
                             f"{', '.join(optim.available())}")
    if not out:
        raise ValueError("descent: give at least one optimizer, e.g. ['sgd', 'adam']")
    return out


class DescentResult:
    """The trajectories of one descent() call, their numbers (summary) and pictures."""

    def __init__(self, s: Surface, runs: list[Trajectory]) -> None:
        self.surface = s
        self.runs = {r.label: r for r in runs}

    def __getitem__(self, label: str) -> Trajectory:
        return self.runs[label]

    def distance_to_minimum(self, r: Trajectory) -> float:
        if not self.surface.minima:
            return math.nan
        end = r.path[-1]
        return min(float(np.hypot(*(end - np.array(m)))) for m in self.surface.minima)

    def summary(self, tol: float = 1e-3) -> str:
        """A table: lr, final loss, distance to the nearest minimum, first step with loss below
        tol, divergence; the numbers behind the textbook lessons."""
        s = self.surface
        head = f"{'optimizer':<14} {'lr':>9} {'final loss':>12} {'to minimum':>11}  reached"
        lines = [f"{s.name}: {s.description}" if s.description else s.name,
                 f"start {s.start}, up to {max(len(r.losses) for r in self.runs.values()) - 1}"
                 " steps", head, "-" * len(head)]
        for r in self.runs.values():
            below = np.flatnonzero(r.losses < tol)
            if r.diverged:
                note = f"diverged at step {len(r.losses) - 1}"
            elif not s.minima:
                note = "-"
            else:
                note = f"loss < {tol:g} at step {below[0]}" if below.size else "not reached"
            lines.append(f"{r.label:<14.14} {num(r.lr, 3):>9} {num(r.final_loss):>12} "
                         f"{num(self.distance_to_minimum(r), 3):>11}  {note}")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None) -> Any:
        """Contours with one trajectory per optimizer, beside the loss per step (log scale
        where the surface is nonnegative). Returns the matplotlib Figure."""
        from chainrule.viz.descent_plot import plot_descent

        return plot_descent(self, path)

    def animate(self, path: str | Path, frames: int = 60, fps: int = 12) -> Path:
        """An animated GIF of the trajectories growing step by step (needs pillow)."""
        from chainrule.viz.descent_plot import animate_descent

        return animate_descent(self, Path(path), frames, fps)

    def __repr__(self) -> str:
        return self.summary()


def descent(function: str | Surface | Fn,
            optimizers: str | Sequence[str] | Mapping[str, dict] = ("sgd", "momentum", "adam"),
            lr: float | Mapping[str, float] | None = None, steps: int | None = None,
            start: tuple[float, float] | None = None, path: str | Path | None = None,
            animate: bool = False) -> DescentResult:
    """Run each optimizer on the surface and return their trajectories (DescentResult).

    function: a built-in name (see surfaces.BUILTINS), a Surface, or f(x, y) of two tensors.
    lr: one learning rate for all, {label or name: lr}, or None for each surface's readable
    defaults. With path, draws the picture there (a .gif path with animate=True animates it).
    """
    s = surface(function, start)
    n = int(steps or s.steps)
    runs = []
    for label, name, opts in _specs(optimizers):
        if "lr" in opts:
            rate = opts.pop("lr")
        elif isinstance(lr, Mapping):
            rate = lr.get(label, lr.get(name, default_lr(s, name)))
        else:
            rate = default_lr(s, name) if lr is None else lr
        runs.append(run(s, name, rate, n, label, **opts))
    result = DescentResult(s, runs)
    if path is not None:
        result.animate(path) if animate else result.plot(path)
    return result


@dataclass
class SweepResult:
    """One optimizer on one surface at many learning rates: final and best losses per lr."""

    surface: Surface
    optimizer: str
    runs: list[Trajectory]

    @property
    def lrs(self) -> np.ndarray:
        return np.array([r.lr for r in self.runs])

    @property
    def final_losses(self) -> np.ndarray:
        return np.array([r.final_loss for r in self.runs])

    @property
    def diverged(self) -> np.ndarray:
        """Per lr: the run blew up, or ended above the loss it started from."""
        return np.array([r.diverged or not r.final_loss <= r.losses[0] for r in self.runs])

    @property
    def divergence_lr(self) -> float | None:
        """The smallest learning rate that diverged (None when none did)."""
        bad = self.lrs[self.diverged]
        return float(bad.min()) if bad.size else None

    @property
    def best_lr(self) -> float:
        """The learning rate with the lowest final loss among those that did not diverge."""
        ok = ~self.diverged
        if not ok.any():
            return float(self.lrs.min())
        i = int(np.argmin(np.where(ok, self.final_losses, np.inf)))
        return float(self.lrs[i])

    def summary(self) -> str:
        lines = [f"{self.optimizer} on {self.surface.name}, {len(self.runs[0].losses) - 1} "
                 "steps per learning rate", f"{'lr':>10} {'final loss':>12}  outcome"]
        for r, bad in zip(self.runs, self.diverged):
            lines.append(f"{num(r.lr, 3):>10} {num(r.final_loss):>12}  "
                         f"{'diverges' if bad else 'descends'}")
        turn = "(none in range)" if self.divergence_lr is None else num(self.divergence_lr, 3)
        lines.append(f"best lr {num(self.best_lr, 3)}; descent turns to divergence at lr {turn}")
        if "max_stable_lr" in self.surface.meta and self.optimizer == "sgd":
            lines.append(f"(theory for plain gradient descent on this bowl: lr < 2 / curvature "
                         f"= {num(self.surface.meta['max_stable_lr'], 3)})")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None) -> Any:
        """Final loss against learning rate (log-log), diverging rates marked, beside the loss
        curves of a few rates. Returns the matplotlib Figure."""
        from chainrule.viz.descent_plot import plot_sweep

        return plot_sweep(self, path)

    def __repr__(self) -> str:
        return self.summary()


def lr_sweep(function: str | Surface | Fn, optimizer: str = "sgd",
             lrs: Sequence[float] | None = None, steps: int | None = None,
             start: tuple[float, float] | None = None, path: str | Path | None = None,
             **options: Any) -> SweepResult:
    """Run `optimizer` at each learning rate (default: 25 rates, log-spaced over 3 decades
    below and 1 above the surface's default) and report where descent turns to divergence."""
    s = surface(function, start)
    name = optimizer.lower()
    if name not in optim.available():
        raise ValueError(f"lr_sweep: unknown optimizer {optimizer!r}; known: "
                         f"{', '.join(optim.available())}")
    if lrs is None:
        base = default_lr(s, name)
        lrs = np.logspace(math.log10(base) - 3, math.log10(base) + 1, 25)
    n = int(steps or s.steps)
    result = SweepResult(s, name, [run(s, name, float(r), n, **options) for r in lrs])
    if path is not None:
        result.plot(path)
    return result
