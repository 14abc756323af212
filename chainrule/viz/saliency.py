"""Sensitivity of an output to the input: d output[target] / d input, by backprop.

    s = cr.viz.saliency(model, images, target=labels)      # same shape as images
    cr.viz.saliency(model, image[None], target=3, path="saliency.png")   # drawn beside it
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad, grad
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor
from chainrule.viz._common import figure, host, save


def saliency(model: Any, x: Any, target: Any, path: str | Path | None = None) -> np.ndarray:
    """d output[i, target_i] / d x[i] for each example i of the batch x (N, ...), as an array
    shaped like x. target: one class index for all examples, or one per example. The model is
    run in eval mode (and put back in the mode it was in). With path, the images of x (inputs
    shaped (N, H, W) or (N, C, H, W)) are drawn beside their saliency maps."""
    arr = np.asarray(host(x))
    inp = as_tensor(arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float32))
    inp.requires_grad_()
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with enable_grad():
            out = model(inp)
            picked = _pick(out, target, len(arr))
            (g,) = grad(picked.sum(), [inp])
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    s = np.array(host(g), copy=True)
    if path is not None:
        plot_saliency(arr, s, path)
    return s


def _pick(out: Tensor, target: Any, n: int) -> Tensor:
    """out[i, target_i] per example (out (N, classes)), or out itself for one output each."""
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1 and target is None):
        return out
    if out.ndim != 2:
        raise ValueError(f"saliency: expected model outputs of shape (N, classes), got "
                         f"{tuple(out.shape)}")
    idx = np.broadcast_to(np.asarray(host(target), dtype=np.int64), (n,))
    if idx.min() < 0 or idx.max() >= out.shape[1]:
        raise ValueError(f"saliency: target {idx.tolist()} is out of range for "
                         f"{out.shape[1]} outputs")
    return out[np.arange(n), idx]


def plot_saliency(x: Any, s: Any, path: str | Path | None = None, max_images: int = 8) -> Any:
    """Each image (rows of x: (N, H, W) or (N, C, H, W)) above its saliency |d out / d x|
    (the maximum over channels). Returns the matplotlib Figure."""
    x, s = np.asarray(host(x)), np.abs(np.asarray(host(s)))
    if x.ndim not in (3, 4):
        raise ValueError(f"plot_saliency: draws images, shaped (N, H, W) or (N, C, H, W); got "
                         f"{x.shape}. For other inputs use the returned array")
    n = min(len(x), max_images)
    fig = figure(1.8 * n + 0.6, 3.8, "plot_saliency")
    for i in range(n):
        img, sal = x[i], s[i]
        if img.ndim == 3:
            img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
            sal = sal.max(axis=0)
        if img.ndim == 3:
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo) if hi > lo else img * 0
        top, bottom = fig.add_subplot(2, n, i + 1), fig.add_subplot(2, n, n + i + 1)
        top.imshow(img, cmap="gray")
        bottom.imshow(sal, cmap="hot")
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.axes[0].set_ylabel("input")
    fig.axes[1].set_ylabel("|d out / d input|")
    fig.tight_layout()
    return save(fig, path)
