"""The functional forms PyTorch also exposes at top level (torch.conv2d, torch.dropout,
torch.batch_norm, torch.kl_div, ...), with the top-level signatures, which are ATen's and not
always torch.nn.functional's:

- dropout(input, p, train) and feature_dropout have no defaults;
- batch_norm / instance_norm take (input, weight, bias, running_mean, running_var, training,
  momentum, eps, cudnn_enabled), all required;
- embedding(weight, indices, padding_idx=-1, ...) takes the weight first (-1: no padding row);
- the losses take `reduction` as an int (0 'none', 1 'mean', 2 'sum'; other ints 'none'), and
  called at top level without it they reduce nothing: torch.kl_div(x, y) is elementwise;
- max_pool1d/2d/3d have no return_indices, adaptive_max_pool1d always returns (values, indices).

Each delegates to the chainrule.nn.functional implementation; only the signature adapts. pdist
(also F.pdist) is defined here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import xp_of
from chainrule.nn.layers.activation_more import celu_, relu_, selu_, threshold_
from chainrule.nn.layers.conv import conv_transpose1d
from chainrule.nn.layers.dropout import feature_dropout as _feature_dropout
from chainrule.nn.layers.embedding import embedding as _embedding
from chainrule.nn.layers.groupnorm import group_norm as _group_norm
from chainrule.nn.layers.groupnorm import instance_norm as _instance_norm
from chainrule.nn.layers.linear import dropout as _dropout
from chainrule.nn.layers.linear import pad as _pad
from chainrule.nn.layers.misc import bilinear
from chainrule.nn.layers.misc import rms_norm as _rms_norm
from chainrule.nn.layers.norm import batch_norm as _batch_norm
from chainrule.nn.layers.norm import layer_norm as _layer_norm
from chainrule.nn.layers.pooling import adaptive_avg_pool1d, avg_pool1d
from chainrule.nn.layers.pooling import adaptive_max_pool1d as _adaptive_max_pool1d
from chainrule.nn.layers.pooling import max_pool1d as _max_pool1d
from chainrule.nn.layers.upsample import pixel_shuffle, pixel_unshuffle
from chainrule.nn.losses import binary_cross_entropy_with_logits as _bce_logits
from chainrule.nn.losses import cosine_embedding_loss as _cosine_embedding
from chainrule.nn.losses import hinge_embedding_loss as _hinge_embedding
from chainrule.nn.losses import kl_div as _kl_div
from chainrule.nn.losses_ctc import ctc_loss as _ctc_loss
from chainrule.nn.losses_more import margin_ranking_loss as _margin_ranking
from chainrule.nn.losses_more import poisson_nll_loss as _poisson_nll
from chainrule.nn.losses_more import triplet_margin_loss as _triplet_margin
from chainrule.operands import as_operand
from chainrule.ops.conv import conv1d, conv2d, conv3d, conv_transpose2d, conv_transpose3d
from chainrule.ops.norms import vector_norm
from chainrule.ops.pool import max_pool2d as _max_pool2d
from chainrule.ops.pool import max_pool3d as _max_pool3d
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "batch_norm", "bilinear",
    "binary_cross_entropy_with_logits", "celu_", "constant_pad_nd", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cosine_embedding_loss",
    "ctc_loss", "dropout", "dropout_", "embedding", "feature_dropout", "feature_dropout_",
    "group_norm", "hinge_embedding_loss", "instance_norm", "kl_div", "layer_norm",
    "margin_ranking_loss", "max_pool1d", "max_pool2d", "max_pool3d", "pdist", "pixel_shuffle",
    "pixel_unshuffle", "poisson_nll_loss", "relu_", "rms_norm", "selu_", "threshold_",
    "triplet_margin_loss",
]


def _reduction(reduction: Any, op: str) -> str:
    """ATen's reduction enum: 1 'mean', 2 'sum', any other int 'none'."""
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{op}(): argument 'reduction' must be int, not "
                        f"{type(reduction).__name__} (0 'none', 1 'mean', 2 'sum'; the strings "
                        f"are torch.nn.functional.{op}'s)")
    return {1: "mean", 2: "sum"}.get(reduction, "none")


def _check_p(p: float, input: Any = None, train: bool = False) -> None:
    """PyTorch's checks: p in [0, 1]; a real dropout (0 < p < 1, train) needs a float input."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if train and 0 < p < 1 and isinstance(input, Tensor) and not input.is_floating_point():
        kind = input.type().rsplit(".", 1)[-1].replace("Tensor", "")
        raise RuntimeError(f"result type Float can't be cast to the desired output type {kind}")


def _shape_list(normalized_shape: Any, op: str) -> Any:
    if not isinstance(normalized_shape, (list, tuple)) and not hasattr(normalized_shape,
                                                                       "__len__"):
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    return normalized_shape


# -- dropout -------------------------------------------------------------------------------------
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Each element zeroed with probability p and the rest scaled by 1 / (1 - p) when train;
    input itself otherwise (F.dropout(input, p, training=train))."""
    _check_p(p, input, train)
    return _dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """dropout in place: input is changed and returned."""
    _check_p(p, input, train)
    return _dropout(input, p, train, inplace=True)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Each x[n, c] of input (N, C, *) zeroed as a whole with probability p (F.dropout2d's
    masks, for any rank >= 2)."""
    _check_p(p, input, train)
    return _feature_dropout(as_operand(input), p, train)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    _check_p(p, input, train)
    return _feature_dropout(as_operand(input), p, train, inplace=True)


# -- normalization and embedding -----------------------------------------------------------------
def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """F.layer_norm; normalized_shape must be a list or tuple, as in PyTorch."""
    return _layer_norm(input, _shape_list(normalized_shape, "layer_norm"), weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    return _rms_norm(input, _shape_list(normalized_shape, "rms_norm"), weight, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enabled: bool = True
               ) -> Tensor:
    return _group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
               running_mean: Tensor | None, running_var: Tensor | None, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)."""
    if not training:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                  running_mean: Tensor | None, running_var: Tensor | None,
                  use_input_stats: bool, momentum: float, eps: float, cudnn_enabled: bool
                  ) -> Tensor:
    """F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
    momentum, eps)."""
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                          momentum, eps)


def embedding(weight: Tensor, indices: Any, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight picked by indices: F.embedding(indices, weight, ...). A padding_idx >= 0
    gets no gradient; a negative one means no padding row (F.embedding has already mapped
    negative indices to rows before calling this form in PyTorch)."""
    return _embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                      scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# -- pooling and padding -------------------------------------------------------------------------
def _stride(stride: Any) -> Any:
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) else stride


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """F.max_pool1d without return_indices (an empty stride means kernel_size)."""
    return _max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    return _max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    return _max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """(values, int64 indices), always: F.adaptive_max_pool1d(..., return_indices=True)."""
    return _adaptive_max_pool1d(input, output_size, True)


def constant_pad_nd(input: Tensor, pad: Any, value: float = 0) -> Tensor:
    """F.pad(input, pad, 'constant', value): pairs from the last dim backwards; negative
    amounts crop."""
    return _pad(input, pad, "constant", value)


# -- losses (reduction as ATen's int; none when not given) ---------------------------------------
def kl_div(input: Tensor, target: Tensor, reduction: int = 0, *, log_target: bool = False
           ) -> Tensor:
    return _kl_div(input, target, reduction=_reduction(reduction, "kl_div"),
                   log_target=log_target)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    return _cosine_embedding(input1, input2, target, margin,
                             reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 0) -> Tensor:
    return _hinge_embedding(input, target, margin,
                            reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    return _margin_ranking(input1, input2, target, margin,
                           reduction=_reduction(reduction, "margin_ranking_loss"))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: int = 0) -> Tensor:
    return _triplet_margin(anchor, positive, negative, margin, p, eps, swap,
                           reduction=_reduction(reduction, "triplet_margin_loss"))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    return _poisson_nll(input, target, log_input, full, eps=eps,
                        reduction=_reduction(reduction, "poisson_nll_loss"))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: int = 0, zero_infinity: bool = False) -> Tensor:
    return _ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                     _reduction(reduction, "ctc_loss"), zero_infinity)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None, reduction: int = 0
                                     ) -> Tensor:
    return _bce_logits(input, target, weight,
                       reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
                       pos_weight=pos_weight)


# -- pdist ---------------------------------------------------------------------------------------
def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances between the rows of input (N, M), each pair i < j once, in row-major
    order: shape (N * (N - 1) / 2,). Differentiable; the gradient at a zero distance is 0."""
    x = as_operand(input)
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D")
    if not x.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    xp = xp_of(x.array)
    i, j = (Tensor._make(xp.asarray(k), None) for k in np.triu_indices(x.shape[0], 1))
    d = x.index_select(0, i) - x.index_select(0, j)
    if p == 0:  # a count of non-zeros: PyTorch's gradient is zeros (vector_norm's is None)
        return vector_norm(d, 0, dim=-1) + (d * 0).sum(-1)
    return vector_norm(d, p, dim=-1)
