"""Normalisation layers: BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, and F.batch_norm /
F.layer_norm.

Training-mode statistics go through the fused op chainrule.ops.normalization.Normalize; eval-mode
batch-norm is an affine map with constants (x * scale + shift) built from ordinary ops.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.autograd import no_grad
from chainrule.backend import as_dtype, xp_of
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operand, as_tensor
from chainrule.ops.normalization import normalize
from chainrule.tensor import Tensor


def _affine_pair(weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...],
                 like: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """weight and bias both or neither: a missing one becomes a constant 1 or 0."""
    if weight is None and bias is None:
        return None, None
    xp = xp_of(like.array)
    if weight is None:
        weight = Tensor._make(xp.ones(shape, dtype=like.array.dtype), None)
    if bias is None:
        bias = Tensor._make(xp.zeros(shape, dtype=like.array.dtype), None)
    return weight, bias


def _update(stat: Tensor, batch: Any, factor: float) -> None:
    """stat <- (1 - factor) * stat + factor * batch, in place."""
    a = stat.array
    a *= 1.0 - factor
    a += factor * batch.reshape(a.shape).astype(a.dtype, copy=False)
    stat._bump()


def _check_batch_norm(x: Tensor, training: bool, **per_channel: Tensor | None) -> None:
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C, *), got {x.shape}")
    C = x.shape[1]
    if training and x.numel() // max(C, 1) == 1:  # an empty batch passes, as in PyTorch
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {x.shape}; use a batch larger than 1 or call .eval()"
        )
    for name, t in per_channel.items():
        if t is not None and t.shape != (C,):
            raise ShapeError(f"batch_norm: {name} has shape {t.shape}, but the input {x.shape} "
                             f"has {C} channels in dimension 1; it must have shape ({C},)")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of (N, C, *) over every axis but the channel axis 1.

    training: normalise with the batch's mean and biased variance, and (when given) update the
    running statistics in place: running <- (1 - momentum) * running + momentum * batch, with the
    unbiased variance (n / (n - 1)) for running_var, as PyTorch does. Otherwise normalise with the
    running statistics. weight and bias have shape (C,).
    """
    x = as_operand(input)
    _check_batch_norm(x, training, running_mean=running_mean, running_var=running_var,
                      weight=weight, bias=bias)
    C = x.shape[1]
    pshape = (1, C) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.numel() // max(C, 1)
    weight, bias = _affine_pair(weight, bias, (C,), x)
    if training:
        y, mean, var = normalize(x, axes, weight, bias, pshape, eps)
        if n == 0:  # an empty batch has no statistics: the running ones stay, as in PyTorch
            return y
        with no_grad():
            if running_mean is not None:
                _update(running_mean, mean, momentum)
            if running_var is not None:
                _update(running_var, var * (n / (n - 1)), momentum)
        return y
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    xp = xp_of(x.array)
    dt = x.array.dtype
    inv = 1.0 / xp.sqrt(running_var.array.astype(dt) + dt.type(eps))
    shift = -running_mean.array.astype(dt) * inv
    if weight is None:
        return x * inv.reshape(pshape) + shift.reshape(pshape)
    scale = weight * inv
    return x * scale.reshape(pshape) + (bias + weight * shift).reshape(pshape)


def layer_norm(input: Tensor, normalized_shape: Sequence[int] | int,
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing axes given by normalized_shape (mean and biased variance of
    each sample), then scale and shift by weight and bias of shape normalized_shape."""
    x = as_operand(input)
    shape = _shape(normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(
            f"layer_norm: normalized_shape {shape} must match the last {k} dimension(s) of the "
            f"input, got shape {x.shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ShapeError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    weight, bias = _affine_pair(weight, bias, shape, x)
    axes = tuple(range(x.ndim - k, x.ndim))
    return normalize(x, axes, weight, bias, (1,) * (x.ndim - k) + shape, eps)[0]


def _shape(s: Sequence[int] | int) -> tuple[int, ...]:
    return (int(s),) if isinstance(s, (int, np.integer)) else tuple(int(v) for v in s)


def _new(shape: tuple[int, ...], fill: float, dtype: Any) -> np.ndarray:
    return np.full(shape, fill, dtype=default_float() if dtype is None else as_dtype(dtype))


class _BatchNorm(Module):
    """Shared by BatchNorm1d, 2d and 3d: buffers running_mean, running_var (shape (C,)) and
    num_batches_tracked; parameters weight (gamma, ones) and bias (beta, zeros) when affine."""

    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 device: Any = None, dtype: Any = None, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(_new((num_features,), 1, dtype))
            if bias:
                self.bias = Parameter(_new((num_features,), 0, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", as_tensor(_new((num_features,), 0, dtype)))
            self.register_buffer("running_var", as_tensor(_new((num_features,), 1, dtype)))
            self.register_buffer("num_batches_tracked", as_tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self._to_device(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in self._ranks:
            raise ShapeError(f"{self._name()}: expected a {self._layout} input, got shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self._name()}: expected {self.num_features} channels in dimension 1, got "
                f"shape {x.shape}"
            )
        if self.training and x.numel() // max(x.shape[1], 1) == 1:
            raise ValueError(
                f"{self._name()}: expected more than 1 value per channel when training, got "
                f"input of shape {x.shape}; use a batch larger than 1 or call .eval()"
            )

    def _name(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_running = not self.training or self.track_running_stats
        return batch_norm(
            x, self.running_mean if use_running else None,
            self.running_var if use_running else None, self.weight, self.bias,
            self.training or self.running_mean is None, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C."""

    _ranks = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C."""

    _ranks = (4,)
    _layout = "4-D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs, per channel C."""

    _ranks = (5,)
    _layout = "5-D (N, C, D, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its trailing normalized_shape axes; weight (ones) and bias
    (zeros) of shape normalized_shape when elementwise_affine (bias=False drops the bias)."""

    def __init__(self, normalized_shape: Sequence[int] | int, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_new(self.normalized_shape, 1, dtype))
            if bias:
                self.bias = Parameter(_new(self.normalized_shape, 0, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._to_device(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.normalized_shape:
            raise ShapeError(
                f"LayerNorm({self.normalized_shape}): expected input whose last {k} "
                f"dimension(s) are {self.normalized_shape}, got shape {x.shape}"
            )
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
