"""Resampling: F.interpolate and Upsample (modes 'nearest', 'nearest-exact', 'linear',
'bilinear', 'area'), UpsamplingNearest2d, UpsamplingBilinear2d, and PixelShuffle /
PixelUnshuffle with F.pixel_shuffle / F.pixel_unshuffle.

Resampling is separable: each spatial axis in turn is read at source positions computed with
PyTorch's formulas (in the same precision, so the same source pixels are picked). Nearest modes
are one indexing op per axis; linear modes blend two indexed reads with constant weights, so
gradients (of every order) come from the indexing ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops.pool import adaptive_avg_pool2d
from chainrule.tensor import Tensor

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")
_NEEDS = {"linear": 3, "bilinear": 4}


def _take(x: Tensor, axis: int, idx: np.ndarray) -> Tensor:
    """x indexed by idx along axis (x[..., idx, ...])."""
    xp = xp_of(x.array)
    return x[(slice(None),) * axis + (xp.asarray(idx),)]


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's nearest source index, computed in float32 as its kernels do:
    min(floor(dst * s), n_in - 1), or min(floor((dst + 0.5) * s), n_in - 1) for
    'nearest-exact', s = 1 / scale_factor when given, else n_in / n_out."""
    dst = np.arange(n_out, dtype=np.float32)
    if not exact and n_out == n_in:
        return np.arange(n_out)
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) >> 1
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    src = np.floor(((dst + np.float32(0.5)) if exact else dst) * s)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                    dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, lambda1) per output position: out = in[i0] * (1 - lambda1) + in[i1] * lambda1,
    PyTorch's area_pixel_compute_source_index in the input's precision."""
    dt = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float32)
    dst = np.arange(n_out, dtype=dt)
    if align_corners:
        s = dt.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dt.type(0)
        src = dst * s
    else:
        s = dt.type(1.0 / scale) if scale else dt.type(n_in) / dt.type(n_out)
        src = np.maximum(s * (dst + dt.type(0.5)) - dt.type(0.5), dt.type(0))
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    return i0, i1, lam


def _resample_axis(x: Tensor, axis: int, n_out: int, scale: float | None, mode: str,
                   align_corners: bool) -> Tensor:
    n_in = x.shape[axis]
    if mode in ("nearest", "nearest-exact"):
        return _take(x, axis, _nearest_index(n_in, n_out, scale, mode == "nearest-exact"))
    i0, i1, lam = _linear_weights(n_in, n_out, scale, align_corners, x.array.dtype)
    shape = (n_out,) + (1,) * (x.ndim - axis - 1)
    xp = xp_of(x.array)
    l1 = Tensor._make(xp.asarray(lam.reshape(shape)), None)
    l0 = Tensor._make(xp.asarray((1 - lam).reshape(shape)), None)
    return _take(x, axis, i0) * l0 + _take(x, axis, i1) * l1


def _sizes(x: Tensor, size: Any, scale_factor: Any, recompute: bool | None
           ) -> tuple[list[int], list[float | None]]:
    """The output's spatial sizes and the scale factors the kernels use (None: in / out)."""
    dim = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size.")
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"interpolate: Input and output must have the same number of spatial "
                    f"dimensions, but got input with spatial dimensions of {list(x.shape[2:])} "
                    f"and output size of {size}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and output size in (o1, o2, ...,oK) format.")
            if not all(isinstance(v, (int, np.integer)) for v in size):
                raise TypeError(f"interpolate: expected size to be one of int or Tuple[int] or "
                                f"Tuple[int, int], but got size with types "
                                f"{[type(v) for v in size]}")
            return [int(v) for v in size], [None] * dim
        return [int(size)] * dim, [None] * dim
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dim:
            raise ValueError(
                f"interpolate: Input and scale_factor must have the same number of spatial "
                f"dimensions, but got input with spatial dimensions of {list(x.shape[2:])} and "
                f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, C, "
                "d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * dim
    out = [math.floor(n * s) for n, s in zip(x.shape[2:], scales)]
    return out, ([None] * dim if recompute else scales)


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize x (N, C, L) or (N, C, H, W) to `size` or by `scale_factor` (one of the two).

    Modes: 'nearest' (PyTorch's: source floor(dst * in / out)), 'nearest-exact', 'linear'
    (3-D), 'bilinear' (4-D) and 'area' (adaptive average pooling). align_corners (linear
    modes only) maps the corner pixels' centres onto each other. With scale_factor, the
    output size is floor(in * scale_factor) and the kernels use 1 / scale_factor unless
    recompute_scale_factor=True."""
    x = as_operand(input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the "
                             "interpolating modes: linear | bilinear | bicubic | trilinear")
    else:
        align_corners = bool(align_corners)
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use one of "
                                  f"{', '.join(_MODES)}")
    if x.ndim not in (3, 4):
        raise NotImplementedError(
            f"interpolate: Input Error: Only 3D and 4D input Tensors are supported (got "
            f"{x.ndim}D) for the modes: {' | '.join(_MODES)} (got {mode})")
    if mode in _NEEDS and x.ndim != _NEEDS[mode]:
        raise NotImplementedError(f"interpolate: Got {x.ndim}D input, but {mode} mode needs "
                                  f"{_NEEDS[mode]}D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported; leave it "
                                  "False")
    recompute = recompute_scale_factor or (mode == "area" and size is None)
    out, scales = _sizes(x, size, scale_factor, recompute)
    if min(out) < 1 or min(x.shape[2:]) < 1:
        raise ShapeError(f"interpolate: input {tuple(x.shape)} and output size {tuple(out)} "
                         "should both be greater than 0")
    if mode == "area":
        if x.ndim == 3:
            return adaptive_avg_pool2d(x.unsqueeze(-2), (1, out[0])).squeeze(-2)
        return adaptive_avg_pool2d(x, tuple(out))
    y = x
    for k in range(x.ndim - 2):
        y = _resample_axis(y, 2 + k, out[k], scales[k], mode, align_corners)
    return y


class Upsample(Module):
    """F.interpolate as a module: Upsample(size=None, scale_factor=None, mode='nearest',
    align_corners=None, recompute_scale_factor=None)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' (PyTorch's deprecated spelling)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True (PyTorch's deprecated spelling)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


# -- pixel shuffle -----------------------------------------------------------------------------
def _check_factor(who: str, name: str, r: Any) -> int:
    if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or r < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {r!r}")
    return int(r)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): channel c * r^2 + i * r + j of pixel (h, w)
    goes to pixel (h * r + i, w * r + j) of channel c."""
    x = as_operand(input)
    r = _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible "
                         f"by the square of upscale_factor, but input.size(-3)="
                         f"{x.shape[-3] if x.ndim >= 3 else None} is not divisible by {r * r} "
                         f"(input of shape {tuple(x.shape)}, which must be at least 3-D)")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), the inverse of pixel_shuffle."""
    x = as_operand(input)
    r = _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle expects height and width to be divisible by "
                         f"downscale_factor={r}, got input of shape {tuple(x.shape)} (which must "
                         "be at least 3-D)")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(tuple(lead) + (c * r * r, h // r, w // r))


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r) with r = upscale_factor."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W) with r = downscale_factor."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
