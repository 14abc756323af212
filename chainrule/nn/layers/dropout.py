"""Channel-wise dropout: Dropout1d, Dropout2d, Dropout3d and F.dropout1d / F.dropout2d /
F.dropout3d, with PyTorch's input-rank rules and warnings.

Each (sample, channel) feature map is zeroed as a whole with probability p and the others are
scaled by 1 / (1 - p): the mask has shape (N, C, 1, ...) and broadcasts over the positions.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.backend import xp_of
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale
from chainrule.random import uniform_like
from chainrule.tensor import Tensor


def _check_p(p: float, who: str) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"{who}: dropout probability has to be between 0 and 1, but got {p}")


def feature_dropout(x: Tensor, p: float, training: bool, inplace: bool = False,
                    generator: Any = None) -> Tensor:
    """x (N, C, *) with each x[n, c] zeroed with probability p, the rest scaled by 1 / (1 - p);
    x itself when not training, p == 0 or x is empty (as PyTorch's feature_dropout)."""
    if x.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got "
                           f"shape {tuple(x.shape)}")
    if p == 0 or not training or x.numel() == 0:
        return x
    a = x.array
    shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)
    xp = xp_of(a)
    if p == 1:
        mask = xp.zeros(shape, dtype=a.dtype)
    else:
        dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
        keep = uniform_like(shape, dt, a, generator) >= p  # on x's device
        mask = keep.astype(a.dtype) * a.dtype.type(1 / (1 - p))
    y = Scale(mask)(x)
    return x.copy_(y) if inplace else y


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of x (N, C, L) or unbatched (C, L) with probability p."""
    _check_p(p, "dropout1d")
    x = as_operand(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    if x.ndim == 3:
        return feature_dropout(x, p, training, inplace)
    if p == 0 or not training or x.numel() == 0:
        return x
    y = feature_dropout(x.unsqueeze(0), p, training).squeeze(0)
    return x.copy_(y) if inplace else y


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of x (N, C, H, W) with probability p. As in PyTorch, a 3-D input is
    taken as (N, C, L) (with a warning: use dropout1d), and other ranks are deprecated."""
    _check_p(p, "dropout2d")
    x = as_operand(input)
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return feature_dropout(x, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of x (N, C, D, H, W) or unbatched (C, D, H, W) with probability p."""
    _check_p(p, "dropout3d")
    x = as_operand(input)
    if x.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {x.ndim}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    if x.ndim == 5:
        return feature_dropout(x, p, training, inplace)
    if p == 0 or not training or x.numel() == 0:
        return x
    y = feature_dropout(x.unsqueeze(0), p, training).squeeze(0)
    return x.copy_(y) if inplace else y


class _DropoutNd(Module):
    _fn: Any = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        _check_p(p, type(self).__name__)
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Channel-wise dropout of (N, C, L) or (C, L) inputs while training; identity in eval."""

    _fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Channel-wise dropout of (N, C, H, W) inputs while training; identity in eval (a 3-D
    input is taken as (N, C, L), with PyTorch's warning)."""

    _fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs while training."""

    _fn = staticmethod(dropout3d)
