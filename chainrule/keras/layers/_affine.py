"""Keras' image.affine_transform (its torch backend's map_coordinates: index fixers for the
fill modes, nearest or bilinear taps), on chainrule tensors, differentiable in the images."""

from __future__ import annotations

import numpy as np

from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def _fix_index(i: np.ndarray, n: int, fill_mode: str) -> np.ndarray:
    """Keras' (torch backend's) index fixers for out-of-range integer indices."""
    if fill_mode in ("constant", "nearest"):
        return np.clip(i, 0, n - 1)
    if fill_mode == "wrap":
        return i % n

    def mirror(j: np.ndarray, size: int) -> np.ndarray:
        s = size - 1
        return np.abs((j + s) % (2 * s) - s) if s > 0 else np.zeros_like(j)
    return (mirror(2 * i + 1, 2 * n + 1) - 1) // 2   # reflect


def affine_transform(x: Tensor, matrices: np.ndarray, interpolation: str, fill_mode: str,
                     fill_value: float) -> Tensor:
    """Keras' image.affine_transform on (N, H, W, C) with (N, 8) matrices, differentiable in
    the images (a weighted gather of up to four taps per pixel)."""
    N, H, W, C = x.shape
    T = np.asarray(matrices, np.float32).reshape(-1, 8)
    T = np.broadcast_to(T, (N, 8))
    yy, xx = np.meshgrid(np.arange(H, dtype=np.float32), np.arange(W, dtype=np.float32),
                         indexing="ij")
    a0, a1, a2, b0, b1, b2 = (T[:, k, None, None] for k in range(6))
    xs, ys = a0 * xx + a1 * yy + a2, b0 * xx + b1 * yy + b2     # (N, H, W)
    n = np.broadcast_to(np.arange(N)[:, None, None], (N, H, W))
    dt = x.array.dtype
    if interpolation == "nearest":
        taps_y = [(np.round(ys).astype(np.int64), np.ones_like(ys))]
        taps_x = [(np.round(xs).astype(np.int64), np.ones_like(xs))]
    else:
        fy, fx = np.floor(ys), np.floor(xs)
        taps_y = [(fy.astype(np.int64), 1 - (ys - fy)), (fy.astype(np.int64) + 1, ys - fy)]
        taps_x = [(fx.astype(np.int64), 1 - (xs - fx)), (fx.astype(np.int64) + 1, xs - fx)]
    out = None
    for iy, wy in taps_y:
        for ix, wx in taps_x:
            w = (wy * wx)[..., None].astype(dt)
            v = x[n, _fix_index(iy, H, fill_mode), _fix_index(ix, W, fill_mode)]
            if fill_mode == "constant":
                ok = ((iy >= 0) & (iy < H) & (ix >= 0) & (ix < W))[..., None].astype(dt)
                v = v * as_tensor(ok) + as_tensor((1 - ok) * np.asarray(fill_value, dt))
            term = v * as_tensor(w)
            out = term if out is None else out + term
    return out
