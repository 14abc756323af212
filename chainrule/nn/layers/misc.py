"""Small layers: RMSNorm (F.rms_norm), Bilinear (F.bilinear), and CosineSimilarity and
PairwiseDistance, the module forms of F.cosine_similarity and F.pairwise_distance."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from chainrule.backend import as_dtype
from chainrule.dtypes import default_float, type_name
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operand, as_operands
from chainrule.ops.distance import cosine_similarity, pairwise_distance
from chainrule.ops.elementwise import astype
from chainrule.ops.linalg import matmul
from chainrule.ops.pointwise import rsqrt
from chainrule.tensor import Tensor


def _kind(t: Tensor) -> str:
    return type_name(t.array.dtype).removesuffix("Tensor")


def _empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.empty(shape, dtype=default_float() if dtype is None else as_dtype(dtype))


# -- RMSNorm -------------------------------------------------------------------------------------
def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing dims normalized_shape, times weight (of that
    shape) if given; eps None is the machine epsilon of the input's dtype, as PyTorch's."""
    if isinstance(normalized_shape, (int, np.integer)):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        "ints, not int")
    shape = tuple(int(s) for s in normalized_shape)
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{_kind(x)}'; convert "
                                  "first: x.float()")
    k = len(shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if weight is not None and tuple(weight.shape) != shape:
        raise ShapeError(f"Expected weight to be of same shape as normalized_shape, but got "
                         f"weight of shape {list(weight.shape)} and normalized_shape = "
                         f"{list(shape)}")
    if x.ndim < k:
        raise ValueError(f"Input tensor must have at least {k} dimensions, but got {x.ndim}")
    if tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                         f"[*{', '.join(map(str, shape))}], but got input of size"
                         f"{list(x.shape)}")
    if eps is None:
        eps = float(np.finfo(x.array.dtype).eps)
    dims = tuple(range(x.ndim - k, x.ndim))
    y = x * rsqrt((x * x).mean(dims, keepdim=True) + eps)
    if weight is None:
        return y
    y = y * weight
    return y if y.array.dtype == x.array.dtype else astype(y, x.array.dtype)


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing normalized_shape dims:
    y = x / sqrt(mean(x^2) + eps) * weight, weight (normalized_shape) starting at ones when
    elementwise_affine; eps None is the machine epsilon of the input's dtype."""

    def __init__(self, normalized_shape: Sequence[int] | int, eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_empty(self.normalized_shape, dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()
        self._to_device(device)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


# -- Bilinear ------------------------------------------------------------------------------------
def _check_bilinear(x1: Tensor, x2: Tensor, W: Tensor, b: Tensor | None) -> None:
    """PyTorch's checks, in its order."""
    if x1.ndim != x2.ndim:
        raise ShapeError(f"bilinear(): input dimensions do not match: got {x1.ndim} and "
                         f"{x2.ndim}")
    for d in range(x1.ndim - 1):
        if x1.shape[d] != x2.shape[d]:
            raise ShapeError(f"bilinear(): input batch dimensions do not match at dim {d}: got "
                             f"{x1.shape[d]} and {x2.shape[d]}")
    ts = (x1, x2, W) + (() if b is None else (b,))
    if len({t.array.dtype for t in ts}) > 1:
        names = ("input1", "input2", "weight", "bias")
        got = ", ".join(f"{n}: {_kind(t).lower()}" for n, t in zip(names, ts))
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    for i, (x, d) in enumerate(((x1, 1), (x2, 2)), 1):
        if x.ndim == 0 or W.ndim <= d or x.shape[-1] != W.shape[d]:
            raise ShapeError(f"bilinear(): input{i} size does not match weight size: got "
                             f"{x.shape[-1] if x.ndim else 0} but expected "
                             f"{W.shape[d] if W.ndim > d else None}")
    if W.ndim != 3:
        raise ShapeError(f"bilinear(): weight must be (out_features, in1_features, "
                         f"in2_features), got shape {tuple(W.shape)}")
    if b is not None and (b.ndim == 0 or b.shape[0] != W.shape[0] or b.ndim > 1):
        raise ShapeError(f"bilinear(): bias size does not match weight size: got "
                         f"{b.shape[0] if b.ndim else 0} but expected {W.shape[0]}")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]: input1
    (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,) -> y (*, out)."""
    x1, x2, W = as_operands((input1, input2, weight))
    b = None if bias is None else as_operand(bias)
    _check_bilinear(x1, x2, W, b)
    out, in1, in2 = W.shape
    lead = tuple(x1.shape[:-1])
    # one matmul: (N, in1) @ (in1, out * in2), then a product with x2 summed over in2
    t = matmul(x1.reshape(-1, in1), W.permute(1, 0, 2).reshape(in1, out * in2))
    y = (t.reshape(-1, out, in2) * x2.reshape(-1, 1, in2)).sum(-1)
    if b is not None:
        y = y + b
    return y.reshape(lead + (out,))


class Bilinear(Module):
    """y = x1^T A x2 + b for x1 (*, in1_features), x2 (*, in2_features) -> (*, out_features).

    weight (out_features, in1_features, in2_features) and bias (out_features,) start as
    PyTorch's: U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in1_features, in2_features), dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._to_device(device)

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


# -- distances -----------------------------------------------------------------------------------
class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along dim (inputs broadcast), each norm at least
    eps."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The p-norm of x1 - x2 + eps over the last dim; the order p is kept as `norm`, as in
    PyTorch."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
