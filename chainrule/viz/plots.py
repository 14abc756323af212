"""Training pictures with matplotlib, imported lazily: curves.png and decision_boundary.png.

Figures are drawn on an Agg canvas directly (no pyplot), so no window opens, no global backend
is switched, and nothing stays alive after the file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('matplotlib is not installed; pip install "chainrule[viz]" for '
                          "plots") from None
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Loss (and accuracy, when present) per epoch, training and validation, to a PNG."""
    path = Path(path)
    epochs = [r["epoch"] for r in history]
    panels = [("loss", "loss")]
    if any(r.get("accuracy") is not None for r in history):
        panels.append(("accuracy", "accuracy"))
    fig = _figure(5.0 * len(panels), 3.8)
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for prefix, label in (("", "train"), ("val_", "validation")):
            ys = [r.get(prefix + key) for r in history]
            if any(y is not None for y in ys):
                ax.plot(epochs, [np.nan if y is None else y for y in ys], label=label)
        ax.set_xlabel("epoch")
        log = key == "loss" and all((r.get("loss") or 0) > 0 for r in history)
        ax.set_ylabel({"loss": "loss (log scale)" if log else "loss",
                       "accuracy": "accuracy (fraction correct)"}[key])
        ax.set_title(title)
        # epochs are whole numbers: no tick at 2.5 on a short run
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if log:
            ax.set_yscale("log")
            plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.9, not 9 x 10^-1
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_decision_boundary(model: Any, X: np.ndarray, y: np.ndarray, path: str | Path,
                           X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                           resolution: int = 200) -> Path:
    """The class a 2-D classifier predicts over the plane (filled regions), with the training
    points (dots) and the validation points (crosses) coloured by their true class."""
    import chainrule as cr

    path = Path(path)
    pts = X if X_val is None else np.concatenate([X, X_val])
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.1 * (hi - lo)
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    was_training = model.training
    model.eval()
    with cr.no_grad():
        p = next(iter(model.parameters()), None)  # the model's device; the answer to the host
        zz = model(cr.tensor(grid, device=None if p is None else p.device)).cpu().numpy()
        zz = zz.argmax(-1).reshape(gx.shape)
    model.train(was_training)
    k = int(max(y.max(), zz.max())) + 1
    fig = _figure(7.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n_colours = 10 if k <= 10 else 20
    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    style = dict(cmap=cmap, vmin=-0.5, vmax=n_colours - 0.5)  # class c gets colour c
    ax.contourf(gx, gy, zz, levels=np.arange(k + 1) - 0.5, alpha=0.3, **style)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=8, edgecolors="none", **style)
    has_val = X_val is not None and len(X_val) > 0
    if has_val:
        ax.scatter(X_val[:, 0], X_val[:, 1], c=y_val, s=18, marker="x", **style)
    # the legend says what a colour means (a class: its region and its points) and what a
    # marker means (the split) in a neutral grey: a marker in one class's colour would read
    # as that class
    handles = [Patch(facecolor=(*cmap(c)[:3], 0.3), edgecolor=cmap(c), label=f"class {c}")
               for c in range(k)]
    handles.append(Line2D([], [], ls="", marker="o", ms=4, color="dimgray", label="train"))
    if has_val:
        handles.append(Line2D([], [], ls="", marker="x", ms=6, color="dimgray",
                              label="validation"))
    ax.set_title("decision boundary: regions = predicted class, points = true class",
                 fontsize=10)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path)
    return path
