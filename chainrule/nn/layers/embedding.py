"""Embedding and F.embedding (PyTorch's padding_idx, max_norm / norm_type renormalisation in
place, scale_grad_by_freq, from_pretrained)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import as_dtype, index_range, may_any, xp_of
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.elementwise import Scale
from chainrule.ops.shape import IndexAdd
from chainrule.tensor import Tensor


def _empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.empty(shape, dtype=default_float() if dtype is None else as_dtype(dtype))


class _Lookup(Function):
    """weight[indices]; the gradient scatters back with repeats added up (each divided by its
    index's count in the batch with scale_grad_by_freq), and none goes to the padding row."""

    saves = ""

    def __init__(self, indices: Any, padding_idx: int | None,
                 scale_grad_by_freq: bool = False) -> None:
        self.indices, self.padding_idx = indices, padding_idx
        self.by_freq = scale_grad_by_freq

    def forward(self, W: Any) -> Any:
        return W[self.indices]

    def backward(self, gy: Tensor) -> Tensor:
        idx = self.indices
        if self.by_freq:
            return _FreqScatter(idx, self.padding_idx, self.inputs[0].shape)(gy)
        if self.padding_idx is not None:
            gy = Scale((idx != self.padding_idx).astype(gy.array.dtype)[..., None])(gy)
        return IndexAdd(self.inputs[0].shape, (idx,), True)(gy)


class _FreqScatter(Function):
    """Lookup's gradient with scale_grad_by_freq: g (*idx, D) -> (num, D), each position's
    row divided by its index's count (none to padding_idx). Its own backward is the plain
    masked lookup, without the counts, as PyTorch's embedding double backward."""

    saves = ""

    def __init__(self, indices: Any, padding_idx: int | None, shape: tuple[int, ...]) -> None:
        self.indices, self.padding_idx, self.shape = indices, padding_idx, tuple(shape)

    def forward(self, g: Any) -> Any:
        xp, idx = xp_of(g), self.indices
        scale = (1.0 / xp.bincount(idx.ravel(), minlength=self.shape[0])[idx]).astype(g.dtype)
        if self.padding_idx is not None:
            scale *= idx != self.padding_idx
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out, idx, g * scale[..., None])
        return out

    def backward(self, gy: Tensor) -> Tensor:
        y = gy[(self.indices,)]
        if self.padding_idx is None:
            return y
        return Scale((self.indices != self.padding_idx).astype(gy.array.dtype)[..., None])(y)


def _renorm_(weight: Tensor, idx: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's embedding_renorm_: each row of weight that idx picks and whose norm_type-norm
    exceeds max_norm is scaled in place by max_norm / (norm + 1e-7)."""
    w = weight.array
    xp = xp_of(w)
    rows = xp.unique(idx.ravel())
    if rows.size == 0:
        return
    norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if may_any(big):
        rows = rows[big]
        w[rows] *= (max_norm / (norms[big] + 1e-7)).astype(w.dtype)[:, None]
        weight._bump()


def _indices(input: Any, num: int, who: str) -> Any:
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got dtype {idx.dtype}")
    lo, hi = index_range(idx)
    if lo < 0 or hi >= num:
        bad = lo if lo < 0 else hi
        raise IndexError(f"{who}: index {bad} is out of range; indices must lie in [0, {num})")
    return idx


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight (num_embeddings, embedding_dim) picked by integer indices of any shape:
    output (*indices.shape, embedding_dim). The row padding_idx gets no gradient. With max_norm,
    the rows looked up whose norm_type-norm exceeds max_norm are first renormalised to it, in
    place (the weight's version is bumped, as in PyTorch); scale_grad_by_freq divides each
    row's gradient by the number of times it was looked up in this batch."""
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    idx = _indices(input, weight.shape[0], "embedding")
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    return _Lookup(idx, _padding(padding_idx, weight.shape[0], "embedding"),
                   scale_grad_by_freq)(weight)


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
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
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
        if self.max_norm is not None:
            _renorm_(self.weight, idx, self.max_norm, self.norm_type)
        return _Lookup(idx, self.padding_idx, self.scale_grad_by_freq)(self.weight)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
