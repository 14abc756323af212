"""Pictures of descent() and lr_sweep() results (matplotlib, imported when drawing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chainrule.viz._common import figure, num, save


def _levels(Z: np.ndarray, nonneg: bool) -> np.ndarray:
    finite = Z[np.isfinite(Z)]
    lo, hi = float(finite.min()), float(finite.max())
    if nonneg and hi > 0:
        lo = max(lo, hi * 1e-6, 1e-6)
        return np.logspace(np.log10(lo), np.log10(hi), 25)
    return np.linspace(lo, hi, 25)


def _contours(ax: Any, s: Any) -> None:
    X, Y, Z = s.grid(200)
    nonneg = s.nonnegative and bool(np.nanmin(Z) >= 0)
    levels = _levels(Z, nonneg)
    if nonneg and levels[0] > 0 and levels[-1] / levels[0] > 100:
        from matplotlib.colors import LogNorm

        ax.contourf(X, Y, np.maximum(Z, levels[0]), levels=levels, norm=LogNorm(),
                    cmap="Blues_r", alpha=0.75)
    else:
        ax.contourf(X, Y, Z, levels=levels, cmap="Blues_r", alpha=0.75)
    for m in s.minima:
        ax.plot(*m, marker="*", color="gold", markersize=14, markeredgecolor="black", zorder=5)
    ax.plot(*s.start, marker="o", color="black", markersize=6, zorder=5)
    ax.set_xlim(*s.xlim)
    ax.set_ylim(*s.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _loss_axes(ax: Any, runs: list[Any], colours: list[Any], x_label: str = "step") -> None:
    positive = all((r.losses[np.isfinite(r.losses)] > 0).all() for r in runs)
    for r, c in zip(runs, colours):
        label = r.label if "lr" in r.label else f"{r.label} (lr {num(r.lr, 2)})"
        ax.plot(np.arange(len(r.losses)), r.losses, color=c, lw=1.5,
                label=label + (" diverged" if r.diverged else ""))
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("loss" + (" (log scale)" if positive else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def plot_descent(result: Any, path: str | Path | None) -> Any:
    """Contour plot with the trajectories, and the loss per step."""
    s, runs = result.surface, list(result.runs.values())
    fig = figure(12, 5, "drawing a descent")
    ax, ax_loss = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _contours(ax, s)
    colours = _colours(len(runs))
    for r, c in zip(runs, colours):
        ax.plot(r.path[:, 0], r.path[:, 1], "-", color=c, lw=1.6, label=r.label)
        ax.plot(r.path[-1, 0], r.path[-1, 1], "o", color=c, markersize=4)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{s.name}: {len(runs[0].losses) - 1 if runs else 0} steps from "
                 f"{s.start}", fontsize=10)
    _loss_axes(ax_loss, runs, colours)
    ax_loss.set_title("loss per step", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def animate_descent(result: Any, path: Path, frames: int, fps: int) -> Path:
    """The trajectories drawn step by step, as an animated GIF (matplotlib + pillow)."""
    fig = figure(6, 5, "animating a descent")
    from matplotlib.animation import FuncAnimation, PillowWriter

    s, runs = result.surface, list(result.runs.values())
    ax = fig.add_subplot(1, 1, 1)
    _contours(ax, s)
    colours = _colours(len(runs))
    lines = [ax.plot([], [], "-", color=c, lw=1.6, label=r.label)[0]
             for r, c in zip(runs, colours)]
    ax.legend(fontsize=7)
    longest = max(len(r.path) for r in runs)
    ticks = np.unique(np.linspace(1, longest, min(frames, longest)).astype(int))

    def draw(k: int) -> list[Any]:
        for line, r in zip(lines, runs):
            line.set_data(r.path[:k, 0], r.path[:k, 1])
        ax.set_title(f"{s.name}: step {k - 1}", fontsize=10)
        return lines

    anim = FuncAnimation(fig, draw, frames=list(ticks), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps))
    return path


def plot_sweep(result: Any, path: str | Path | None) -> Any:
    """Final loss per learning rate, and the loss curves of a few learning rates."""
    fig = figure(12, 4.5, "drawing a learning-rate sweep")
    ax, ax_loss = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    lrs, final, bad = result.lrs, result.final_losses, result.diverged
    shown = np.where(np.isfinite(final), final, np.nan)
    ax.plot(lrs[~bad], shown[~bad], "o-", color="tab:blue", label="descends")
    top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
    ax.plot(lrs[bad], np.where(np.isfinite(shown[bad]), shown[bad], top), "x", color="tab:red",
            markersize=8, label="diverges (or ends above its start)")
    if result.divergence_lr is not None:
        ax.axvline(result.divergence_lr, color="tab:red", ls="--", lw=1)
    ax.axvline(result.best_lr, color="tab:green", ls=":", lw=1.2,
               label=f"best lr {num(result.best_lr, 2)}")
    ax.set_xscale("log")
    if np.nanmin(shown) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"loss after {len(result.runs[0].losses) - 1} steps")
    ax.set_title(f"{result.optimizer} on {result.surface.name}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    picks = sorted({int(i) for i in np.linspace(0, len(result.runs) - 1, 5).round()})
    runs = [result.runs[i] for i in picks]
    _loss_axes(ax_loss, runs, _colours(len(runs)))
    ax_loss.set_title("loss per step at five learning rates", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
