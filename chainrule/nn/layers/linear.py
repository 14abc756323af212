"""Linear, Identity, Flatten, Unflatten, Dropout, and their stateless forms F.linear, F.dropout,
F.flatten, F.pad; Embedding and F.embedding (in chainrule.nn.layers.embedding) are re-exported."""

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
from chainrule.ops.linalg import mm_flat
from chainrule.ops.shape import flatten as _flatten
from chainrule.random import generator_of, uniform_like
from chainrule.tensor import Tensor


def _empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.empty(shape, dtype=default_float() if dtype is None else as_dtype(dtype))


# -- linear ------------------------------------------------------------------------------------
class LinearFunction(Function):
    """y = x @ W.T + b for x (*, in), W (out, in), b (out,). Fused for speed: one node instead of
    transpose, matmul and add, and a backward of two matmuls and a sum."""

    saves = "cross"

    def forward(self, x: Any, W: Any, *b: Any) -> Any:
        if x.ndim == 2 and 0 < x.shape[0] <= 48 and W.size >= 32768 and x.dtype == np.float32 \
                and xp_of(x) is np:
            # OpenBLAS's float32 kernels multiply a few rows by a transposed weight 1.2-1.8x
            # slower than they form the transposed product W @ x.T (measured on SkylakeX,
            # benchmarks/README.md): compute that, then copy it back to row order
            yt = W @ x.T
            if b:
                yt += b[0][:, None]
            return np.ascontiguousarray(yt.T)
        y = mm_flat(x, W.T)
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
            gx = Tensor._make(mm_flat(g, W.array), None) if n[0] else None
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

    def forward(self, input: Tensor) -> Tensor:
        shape = getattr(input, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear({self.in_features}, {self.out_features}): expected input with last "
                f"dimension {self.in_features}, got shape {shape}"
            )
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a Residual's shortcut)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    return _flatten(input, start_dim, end_dim)


class Flatten(Module):
    """(N, *rest) -> (N, prod(rest)) by default: dimensions start_dim..end_dim merged into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return _flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Dimension dim of the input expanded to unflattened_size: (N, 12) -> (N, 3, 4) with
    Unflatten(1, (3, 4)); one size may be -1."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, but found "
                            f"type {type(unflattened_size).__name__}")
        for i, v in enumerate(unflattened_size):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"Unflatten: unflattened_size must be tuple of ints, but found "
                                f"element of type {type(v).__name__} at pos {i}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


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
    generator_of(generator)  # a wrong kind of generator fails here, also with p == 1
    a = x.array
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    xp = xp_of(a)
    if p == 1:
        mask = xp.zeros(a.shape, dtype=a.dtype)
    else:
        keep = uniform_like(a.shape, dt, a, generator) >= p  # on x's device
        mask = keep.astype(a.dtype) * a.dtype.type(1 / (1 - p))
    y = Scale(mask)(x)
    return x.copy_(y) if inplace else y


class Dropout(Module):
    """Inverted dropout with probability p while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


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
            raise ShapeError(f"pad: Padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({before}, {after}) at dimension of "
                             f"size {n}")
        period = 2 * (n - 1) if n > 1 else 1
        i = np.abs(i) % period
        return np.where(i >= n, period - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if before > n or after > n:
        raise ShapeError(f"pad: Padding value causes wrapping around more than once (padding "
                         f"({before}, {after}) for a dimension of size {n})")
    return i % n


from chainrule.nn.layers.embedding import Embedding, embedding  # noqa: E402,F401  (re-exported)
