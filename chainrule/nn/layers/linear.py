"""Linear, Identity, Flatten, Dropout, Embedding, and their stateless forms F.linear, F.dropout,
F.embedding, F.flatten."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import as_dtype, xp_of
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operands
from chainrule.ops.elementwise import Scale
from chainrule.ops.shape import IndexAdd
from chainrule.ops.shape import flatten as _flatten
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.empty(shape, dtype=default_float() if dtype is None else as_dtype(dtype))


# -- linear ------------------------------------------------------------------------------------
class LinearFunction(Function):
    """y = x @ W.T + b for x (*, in), W (out, in), b (out,). Fused for speed: one node instead of
    transpose, matmul and add, and a backward of two matmuls and a sum."""

    saves = "cross"

    def forward(self, x: Any, W: Any, *b: Any) -> Any:
        y = x @ W.T
        if b:
            y += b[0]
        return y

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        x, W = self.inputs[:2]
        if is_grad_enabled():  # create_graph=True: a differentiable gradient
            g2 = gy.reshape(-1, W.shape[0])
            gx = gy @ W if n[0] else None
            gW = g2.T @ x.reshape(-1, W.shape[1]) if n[1] else None
            gb = g2.sum(0) if len(n) == 3 and n[2] else None
        else:  # plain backward records nothing: the same formulas on the arrays, no node costs
            g = gy.array
            g2 = g.reshape(-1, W.shape[0])
            gx = Tensor._make(g @ W.array, None) if n[0] else None
            gW = Tensor._make(g2.T @ x.array.reshape(-1, W.shape[1]), None) if n[1] else None
            gb = Tensor._make(g2.sum(0), None) if len(n) == 3 and n[2] else None
        return (gx, gW, gb) if len(n) == 3 else (gx, gW)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias: input (*, in_features), weight (out_features, in_features),
    bias (out_features,) or None; y (*, out_features)."""
    x, W = as_operands((input, weight))
    if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit weight of shape {W.shape}: the "
            "weight must be (out_features, in_features) with in_features the input's last "
            "dimension"
        )
    if bias is None:
        return LinearFunction()(x, W)
    if tuple(bias.shape) != (W.shape[0],):
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape "
                         f"{W.shape}; it must be ({W.shape[0]},)")
    return LinearFunction()(x, W, bias)


class Linear(Module):
    """y = x @ weight.T + bias, x (*, in_features) -> y (*, out_features).

    weight (out_features, in_features) and bias (out_features,) start as PyTorch's: kaiming_uniform_
    with a = sqrt(5) for the weight, i.e. U(-1/sqrt(in_features), 1/sqrt(in_features)), and the
    same range for the bias.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._to_device(device)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear({self.in_features}, {self.out_features}): expected input with last "
                f"dimension {self.in_features}, got shape {shape}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a Residual's shortcut)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    return _flatten(input, start_dim, end_dim)


class Flatten(Module):
    """(N, *rest) -> (N, prod(rest)) by default: dimensions start_dim..end_dim merged into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return _flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# -- dropout -----------------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: Any = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (inverted dropout,
    so evaluation needs no rescaling); the identity when not training or p == 0."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = as_operands((input,))[0]
    if not training or p == 0:
        return x
    g = generator_of(generator)
    a = x.array
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    if p == 1:
        mask = np.zeros(a.shape, dtype=a.dtype)
    else:
        keep = g.random(a.shape, dtype=dt) >= p
        mask = keep.astype(a.dtype) * a.dtype.type(1 / (1 - p))
    xp = xp_of(a)
    y = Scale(mask if xp is np else xp.asarray(mask))(x)
    return x.copy_(y) if inplace else y


class Dropout(Module):
    """Inverted dropout with probability p while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# -- embedding ---------------------------------------------------------------------------------
class _Lookup(Function):
    """weight[indices]; the gradient scatters back with repeats added up, and none goes to the
    padding row."""

    saves = ""

    def __init__(self, indices: Any, padding_idx: int | None) -> None:
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, W: Any) -> Any:
        return W[self.indices]

    def backward(self, gy: Tensor) -> Tensor:
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(gy.array.dtype)
            gy = Scale(keep)(gy)
        return IndexAdd(self.inputs[0].shape, (self.indices,), True)(gy)


def _indices(input: Any, num: int, who: str) -> Any:
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"{who}: index {bad} is out of range; indices must lie in [0, {num})")
    return idx


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight (num_embeddings, embedding_dim) picked by integer indices of any shape:
    output (*indices.shape, embedding_dim). The row padding_idx gets no gradient."""
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    idx = _indices(input, weight.shape[0], "embedding")
    _unsupported("embedding", max_norm=max_norm, scale_grad_by_freq=scale_grad_by_freq)
    return _Lookup(idx, _padding(padding_idx, weight.shape[0], "embedding"))(weight)


def _unsupported(who: str, **options: Any) -> None:
    for k, v in options.items():
        if v not in (None, False):
            raise NotImplementedError(f"{who}: {k}={v!r} is not supported yet; leave it at its "
                                      "default")


def _padding(padding_idx: int | None, num: int, who: str) -> int | None:
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise IndexError(f"{who}: padding_idx {padding_idx} must lie in [-{num}, {num})")
    return padding_idx % num


class Embedding(Module):
    """A lookup table: integer indices (*) -> rows (*, embedding_dim) of weight
    (num_embeddings, embedding_dim), initialised N(0, 1) with the padding_idx row zeroed."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight: Any = None,
                 _freeze: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _unsupported("Embedding", max_norm=max_norm, scale_grad_by_freq=scale_grad_by_freq)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding(padding_idx, num_embeddings,
                                    f"Embedding({num_embeddings}, {embedding_dim})")
        if _weight is None:
            self.weight = Parameter(_empty((num_embeddings, embedding_dim), dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        self._to_device(device)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is (a copy of nothing: the very tensor) embeddings, frozen
        unless freeze=False."""
        if embeddings.ndim != 2:
            raise ShapeError("Embeddings parameter is expected to be 2-dimensional")
        n, d = embeddings.shape
        return cls(n, d, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, indices: Any) -> Tensor:
        idx = _indices(indices, self.num_embeddings,
                       f"Embedding({self.num_embeddings}, {self.embedding_dim})")
        return _Lookup(idx, self.padding_idx)(self.weight)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


# -- padding -----------------------------------------------------------------------------------
def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """PyTorch's F.pad: `pad` lists (before, after) pairs starting from the LAST dim:
    (left, right) pads the last dim, (left, right, top, bottom) the last two. Modes 'constant'
    (with value, 0 by default), 'reflect', 'replicate' and 'circular'; negative pads crop."""
    from chainrule.ops.join import pad as pad_constant
    from chainrule.ops.shape import getitem

    x = as_operands((input,))[0]
    p = [int(v) for v in pad]
    if len(p) % 2 or len(p) // 2 > x.ndim:
        raise ValueError(f"pad: the padding length must be even and at most 2 * {x.ndim} (the "
                         f"input's dims), got {len(p)}: {tuple(pad)}")
    k = len(p) // 2
    widths = [(0, 0)] * (x.ndim - k) + [(p[2 * i], p[2 * i + 1]) for i in range(k)][::-1]
    crop = tuple(slice(max(-b, 0), s - max(-a, 0)) for (b, a), s in zip(widths, x.shape))
    x = getitem(x, crop) if any(b < 0 or a < 0 for b, a in widths) else x
    widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    if mode == "constant":
        return pad_constant(x, widths, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use 'constant', "
                                  "'reflect', 'replicate' or 'circular'")
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: value= only applies to mode='constant', not {mode!r}")
    if x.ndim not in (k + 1, k + 2) or k > 3:
        raise NotImplementedError(
            f"pad: Padding size {len(p)} is not supported for {x.ndim}D input tensor in mode "
            f"{mode!r}: it pads the last {k} dims of a (N, C, ...) or (C, ...) input")
    for d, (b, a) in enumerate(widths):
        if b or a:
            x = getitem(x, (slice(None),) * d + (_pad_index(mode, x.shape[d], b, a),))
    return x


def _pad_index(mode: str, n: int, before: int, after: int) -> np.ndarray:
    """Source index of every position of a padded dim of size n (reflect mirrors without the
    edge, replicate repeats it, circular wraps around), checked as PyTorch checks."""
    i = np.arange(-before, n + after)
    if mode == "reflect":
        if before >= n or after >= n:
            raise ValueError(f"pad: Padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({before}, {after}) at dimension of "
                             f"size {n}")
        period = 2 * (n - 1) if n > 1 else 1
        i = np.abs(i) % period
        return np.where(i >= n, period - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if before > n or after > n:
        raise ValueError(f"pad: Padding value causes wrapping around more than once (padding "
                         f"({before}, {after}) for a dimension of size {n})")
    return i % n
