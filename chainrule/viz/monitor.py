"""GradientMonitor: per-layer gradient norms and update-to-weight ratios, step by step, with a
warning in words when gradients vanish or explode, and a picture of the gradient flow.

    monitor = cr.viz.GradientMonitor(model)
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward()
        monitor.record()               # after backward (before or after opt.step())
        opt.step()
    monitor.plot("gradients.png")

A layer is a module that owns parameters directly (a Linear, a BatchNorm1d), named by its path
in the model ('layers.0'); its gradient norm is the norm of all its parameters' gradients. The
picture labels it with its path and its type ('3.block.0 Linear').
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chainrule.viz._common import figure, host, num, save


class GradientWarning(UserWarning):
    """Gradients vanish or explode (raised as a warning by GradientMonitor)."""


def _layers(model: Any) -> dict[str, list[Any]]:
    """Layer name -> its parameters, in the model's registration order."""
    named = model.named_parameters() if hasattr(model, "named_parameters") else model
    out: dict[str, list[Any]] = {}
    for name, p in named:
        layer = name.rsplit(".", 1)[0] if "." in name else "(model)"
        out.setdefault(layer, []).append(p)
    if not out:
        raise ValueError("GradientMonitor: the model has no parameters to watch")
    return out


def _kinds(model: Any) -> dict[str, str]:
    """Layer name -> the type of its module ('Linear'), for the labels of the picture."""
    if not hasattr(model, "named_modules"):
        return {}
    return {name or "(model)": type(m).__name__ for name, m in model.named_modules()}


class GradientMonitor:
    """Records, at each record() call, every layer's gradient norm and update-to-weight ratio
    (|w - w at the previous call| / |w at the previous call|), and warns once per kind:

    - vanishing: a layer's gradient norm is below `vanish` while a layer nearer the loss (later
      in the model) has a gradient norm at or above it;
    - exploding: a layer's gradient norm grew by `explode` times over the median of its last
      `window` steps, or a gradient is NaN/Inf.

    warn(message) reports a warning (default: warnings.warn with GradientWarning); every
    message is also kept in `.warnings`.
    """

    def __init__(self, model: Any = None, vanish: float = 1e-7, explode: float = 1e3,
                 window: int = 20, warn: Callable[[str], None] | None = None) -> None:
        self.vanish, self.explode, self.window = vanish, explode, window
        self._warn = warn
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.steps: list[int] = []
        self.grad_norms: dict[str, list[float]] = {}
        self.update_ratios: dict[str, list[float]] = {}
        self._groups: dict[str, list[Any]] = {}
        self._kinds: dict[str, str] = {}
        self._previous: dict[str, list[np.ndarray]] = {}
        self.model = None
        if model is not None:
            self.attach(model)

    def attach(self, model: Any) -> GradientMonitor:
        """Watch `model` (a Module or (name, parameter) pairs) from now on."""
        self.model = model
        self._groups = _layers(model)
        self._kinds = _kinds(model)
        for name in self._groups:
            self.grad_norms.setdefault(name, [])
            self.update_ratios.setdefault(name, [])
        return self

    @property
    def layers(self) -> list[str]:
        return list(self._groups)

    def record(self, step: int | None = None) -> dict[str, float]:
        """Read every layer's gradient (its parameters' .grad) and weights now; returns this
        step's {layer: gradient norm} (NaN for a layer without gradients)."""
        if self.model is None:
            raise RuntimeError("GradientMonitor: no model attached; pass it to "
                               "GradientMonitor(model) or call attach(model)")
        step = len(self.steps) + 1 if step is None else int(step)
        now: dict[str, float] = {}
        for name, params in self._groups.items():
            gs = [host(p.grad) for p in params if p.grad is not None]
            now[name] = math.sqrt(sum(_sq(g) for g in gs)) if gs else math.nan
            ws = [np.array(host(p), dtype=np.float64, copy=True) for p in params]
            before = self._previous.get(name)
            ratio = math.nan
            if before is not None and all(a.shape == b.shape for a, b in zip(ws, before)):
                w0 = math.sqrt(sum(_sq(b) for b in before))
                dw = math.sqrt(sum(_sq(a - b) for a, b in zip(ws, before)))
                ratio = dw / w0 if w0 > 0 else math.nan
            self._previous[name] = ws
            self.grad_norms[name].append(now[name])
            self.update_ratios[name].append(ratio)
        self.steps.append(step)
        self._check(step, now)
        return now

    # -- the warnings ----------------------------------------------------------------------------
    def _check(self, step: int, now: dict[str, float]) -> None:
        names = list(now)
        for name in names:
            if _has_nonfinite(self._groups[name]):
                self._say("nan", f"the gradient of layer '{name}' is NaN/Inf at step {step}: "
                          "the loss or an activation overflowed; lower the learning rate, clip "
                          "gradients (chainrule.optim.clip_grad_norm_) or look for a log(0) or "
                          "a division by zero (cr.detect_anomaly() names the op)")
                return
        for name in names:
            past = [v for v in self.grad_norms[name][-self.window - 1:-1] if math.isfinite(v)]
            ref = float(np.median(past)) if len(past) >= 3 else math.nan
            if ref > 0 and now[name] > self.explode * ref:
                self._say("explode", f"gradients explode in layer '{name}': its norm grew from "
                          f"{num(ref, 3)} (median of recent steps) to {num(now[name], 3)} at "
                          f"step {step} (x{now[name] / ref:.0f}); lower the learning rate, "
                          "clip gradients (chainrule.optim.clip_grad_norm_) or add "
                          "normalization layers")
                return
        dead = [(i, d) for i, d in enumerate(names) if now[d] < self.vanish
                and any(now[u] >= self.vanish for u in names[i + 1:])]
        if dead:
            i, name = dead[0]
            top, top_name = max((now[u], u) for u in names[i + 1:] if now[u] >= self.vanish)
            where = f"layer '{name}'" if len(dead) == 1 else \
                f"{len(dead)} layers, from '{name}' to '{dead[-1][1]}'"
            self._say("vanish", f"gradients vanish in {where}: the gradient norm of '{name}' is "
                      f"{num(now[name], 3)} at step {step} while '{top_name}', nearer the loss, "
                      f"gets {num(top, 3)}. The signal dies on its way back: saturating "
                      "activations (sigmoid, tanh) shrink it at every layer. Try ReLU, "
                      "residual connections, normalization layers, or an init that keeps the "
                      "variance (chainrule.nn.init.kaiming_normal_)")

    def _say(self, kind: str, message: str) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        message = f"GradientMonitor: {message}"
        self.warnings.append(message)
        if self._warn is not None:
            self._warn(message)
        else:
            warnings.warn(message, GradientWarning, stacklevel=3)

    # -- reports ---------------------------------------------------------------------------------
    def summary(self) -> str:
        """Per layer: the gradient norm and update ratio at the last step and their medians."""
        head = f"{'layer':<24} {'|grad| last':>12} {'median':>10} {'update/weight':>14}"
        lines = [f"{len(self.steps)} steps recorded", head, "-" * len(head)]
        for name in self.layers:
            g, r = self.grad_norms[name], self.update_ratios[name]
            fin = [v for v in g if math.isfinite(v)]
            lines.append(f"{name:<24.24} {num(g[-1], 3) if g else '-':>12} "
                         f"{num(float(np.median(fin)), 3) if fin else '-':>10} "
                         f"{num(r[-1], 3) if r else '-':>14}")
        lines += self.warnings
        return "\n".join(lines)

    def label(self, layer: str) -> str:
        """A layer's name in the picture: its path and its module's type ('3.block.0 Linear')."""
        kind = self._kinds.get(layer)
        return f"{layer} {kind}" if kind else layer

    def plot(self, path: str | Path | None = None) -> Any:
        """Gradient flow: each layer's gradient norm over the steps, its update-to-weight
        ratio, and the norms by layer at the last step, each layer labelled by its path and
        type. Up to 8 layers are drawn as lines with a legend; more (a ResNet) as heat maps,
        one labelled row per layer, input side on top, where lines would tangle. Returns the
        matplotlib Figure."""
        n = len(self.layers)
        fig = figure(15, 4.2 if n <= 8 else max(4.2, 1.6 + 0.15 * n), "GradientMonitor.plot")
        axes = [fig.add_subplot(1, 3, k) for k in (1, 2, 3)]
        labels = [self.label(name) for name in self.layers]
        panels = ((axes[0], self.grad_norms, "gradient norm per layer", "|grad|"),
                  (axes[1], self.update_ratios, "update / weight per step", "|dw| / |w|"))
        for ax, values, title, what in panels:
            rows = [values[k] for k in self.layers]
            if n <= 8:
                _lines(ax, self.steps, rows, labels, title)
            else:
                _heat(fig, ax, self.steps, rows, labels, title, what)
        if n <= 8:
            axes[1].axhline(1e-3, color="gray", ls="--", lw=1,
                            label="1e-3 (a common rule of thumb)")
            axes[1].legend(fontsize=7)
        last = [self.grad_norms[k][-1] if self.steps else math.nan for k in self.layers]
        _bars(axes[2], last, labels, [self._kinds.get(k, "") for k in self.layers],
              self.vanish)
        fig.tight_layout()
        return save(fig, path)

    def keras_callback(self) -> Any:
        """This monitor as a chainrule.keras callback that records after every training batch:
        model.fit(x, y, callbacks=[monitor.keras_callback()])."""
        from chainrule.viz._keras import monitor_callback

        return monitor_callback(self)


def _sq(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float((a * a).sum())


def _has_nonfinite(params: list[Any]) -> bool:
    return any(p.grad is not None and not np.isfinite(host(p.grad)).all() for p in params)


def _lines(ax: Any, steps: list[int], rows: list[list[float]], labels: list[str],
           title: str) -> None:
    """One line per layer over the steps (colour: depth), with a legend of the labels."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, (row, label) in enumerate(zip(rows, labels)):
        ax.plot(steps, row, color=cmap(i / max(len(rows) - 1, 1)), lw=1.2, label=label)
    ax.set(yscale="log", xlabel="step")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _heat(fig: Any, ax: Any, steps: list[int], rows: list[list[float]], labels: list[str],
          title: str, what: str) -> None:
    """A (layers, steps) heat map on a log colour scale, one labelled row per layer."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    a = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    a[~(np.isfinite(a) & (a > 0))] = np.nan  # no colour for a missing or zero value
    grey = "; grey: 0 or none" if np.isnan(a).any() else ""
    ax.set_title(f"{title} (colour: {what}{grey})", fontsize=10)
    ax.set_xlabel("step")
    every = max(1, math.ceil(len(labels) / 45))  # labels stay legible on very deep models
    ax.set_yticks(range(0, len(labels), every), labels[::every], fontsize=7)
    if not steps or np.isnan(a).all():
        return
    lo, hi = np.nanmin(a), np.nanmax(a)
    cmap = colormaps["viridis"].with_extremes(bad="0.85")  # grey: zero, or not recorded
    image = ax.imshow(a, aspect="auto", interpolation="nearest", cmap=cmap,
                      norm=LogNorm(lo, hi if hi > lo else lo * 10),
                      extent=(steps[0] - 0.5, steps[-1] + 0.5, len(rows) - 0.5, -0.5))
    fig.colorbar(image, ax=ax, pad=0.02)


def _bars(ax: Any, last: list[float], labels: list[str], kinds: list[str],
          vanish: float) -> None:
    """The last step's norm per layer, input side left, coloured by the layer's type: a
    normalization layer's norm differs from a weight layer's by its nature, not by health."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    palette = colormaps["tab10"]
    order = list(dict.fromkeys(kinds))
    colour = {k: palette(i % 10) for i, k in enumerate(order)}
    ax.bar(range(len(last)), last, color=[colour[k] for k in kinds])
    ax.axhline(vanish, color="tab:red", ls="--", lw=1)
    ax.set_xticks(range(len(last)), labels, rotation=60, fontsize=7, ha="right")
    ax.set_yscale("log")
    ax.set_title("gradient norm by layer, last step (input side left)", fontsize=10)
    ax.grid(alpha=0.3)
    handles = [Patch(color=colour[k], label=k) for k in order if k]
    handles.append(Line2D([], [], color="tab:red", ls="--", lw=1, label="vanishing threshold"))
    finite = [v for v in last if math.isfinite(v) and v > 0]
    if finite:  # room above the tallest bar (a fraction f of the log axis): the legend covers
        # no bar
        f = 0.08 * len(handles) + 0.06
        lo, top = math.log10(ax.get_ylim()[0]), math.log10(max(finite))
        ax.set_ylim(top=10 ** ((top - f * lo) / (1 - f)))
    ax.legend(handles=handles, fontsize=7, loc="upper right")
