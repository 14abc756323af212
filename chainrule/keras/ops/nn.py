"""keras.ops' neural-network ops: activations, softmax, one-hot, the cross-entropies (per
sample, no reduction), moments and batch normalization, and channels-last conv and pooling.

Keras' defaults where they differ from PyTorch's: gelu(approximate=True), leaky_relu slope 0.2,
hard_sigmoid = relu6(x + 3) / 6, the cross-entropies take probabilities (from_logits=False)
clipped to [1e-7, 1 - 1e-7], and images are channels-last with kernels (*spatial, in, out).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.keras.ops._convert import axes, cast, convert_to_tensor, to_float
from chainrule.tensor import Tensor

_t = convert_to_tensor
_EPS = 1e-7
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def relu(x: Any) -> Tensor:
    return cr.relu(_t(x))


def relu6(x: Any) -> Tensor:
    return cr.clamp(_t(x), 0.0, 6.0)


def sigmoid(x: Any) -> Tensor:
    return cr.sigmoid(to_float(_t(x)))


def tanh(x: Any) -> Tensor:
    return cr.tanh(to_float(_t(x)))


def softplus(x: Any) -> Tensor:
    return F.softplus(to_float(_t(x)))


def softsign(x: Any) -> Tensor:
    t = to_float(_t(x))
    return t / (cr.abs(t) + 1.0)


def silu(x: Any) -> Tensor:
    """x * sigmoid(x)."""
    t = to_float(_t(x))
    return t * cr.sigmoid(t)


def swish(x: Any) -> Tensor:
    """The same as silu."""
    return silu(x)


def log_sigmoid(x: Any) -> Tensor:
    return F.logsigmoid(to_float(_t(x)))


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """GELU; Keras' default is the tanh approximation (PyTorch's is exact)."""
    return F.gelu(to_float(_t(x)), approximate="tanh" if approximate else "none")


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return F.elu(to_float(_t(x)), alpha)


def selu(x: Any) -> Tensor:
    return F.elu(to_float(_t(x)), _SELU_ALPHA) * _SELU_SCALE


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """Keras' default slope is 0.2 (PyTorch's is 0.01)."""
    return F.leaky_relu(to_float(_t(x)), negative_slope)


def hard_sigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6."""
    return cr.clamp(to_float(_t(x)) / 6.0 + 0.5, 0.0, 1.0)


def hard_silu(x: Any) -> Tensor:
    """x * hard_sigmoid(x) (also called hard_swish)."""
    t = to_float(_t(x))
    return t * hard_sigmoid(t)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return F.celu(to_float(_t(x)), alpha)


def glu(x: Any, axis: int = -1) -> Tensor:
    """The gated linear unit: a * sigmoid(b), a and b the two halves of x along `axis`."""
    a, b = cr.chunk(to_float(_t(x)), 2, axis)
    return a * cr.sigmoid(b)


def hard_tanh(x: Any) -> Tensor:
    """x clipped to [-1, 1]."""
    return cr.clamp(to_float(_t(x)), -1.0, 1.0)


def softmax(x: Any, axis: Any = -1) -> Tensor:
    """softmax over `axis` (an int, a tuple, or None: all axes)."""
    t = to_float(_t(x))
    if axis is None or isinstance(axis, (tuple, list)):
        dims = axes(axis, t.ndim)
        e = cr.exp(t - cr.amax(t, dim=dims, keepdim=True).detach())
        return e / cr.sum(e, dim=dims, keepdim=True)
    return cr.softmax(t, axis)


def log_softmax(x: Any, axis: Any = -1) -> Tensor:
    t = to_float(_t(x))
    if axis is None or isinstance(axis, (tuple, list)):
        dims = axes(axis, t.ndim)
        return t - cr.logsumexp(t, dim=dims, keepdim=True)
    return cr.log_softmax(t, axis)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None,
            sparse: bool = False) -> Tensor:
    """Class ids (any int shape) to one-hot vectors of length num_classes on `axis`
    (float32 unless dtype says otherwise); negative ids give all-zero rows."""
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported")
    ids = np.asarray(_t(x).numpy()).astype(np.int64)
    out = (ids[..., None] == np.arange(int(num_classes))).astype(
        np.float32 if dtype is None else cr.backend.as_dtype(dtype))
    if axis != -1 and axis != out.ndim - 1:
        out = np.moveaxis(out, -1, axis)
    return Tensor._make(np.ascontiguousarray(out), None)


def multi_hot(inputs: Any, num_classes: int | None = None, axis: int = -1, dtype: Any = None,
              sparse: bool = False, **kwargs: Any) -> Tensor:
    """Rows of class ids to multi-hot vectors: 1 for each class present in the row."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("multi_hot: num_classes is required")
    t = _t(inputs)
    oh = one_hot(t, num_classes, axis, dtype, sparse)
    return cr.amax(oh, dim=1 if t.ndim > 1 else 0)


# -- losses (per sample: no reduction) -------------------------------------------------------
def _same_shape(op: str, t: Tensor, o: Tensor) -> None:
    if tuple(t.shape) != tuple(o.shape):
        raise ValueError(f"{op}: arguments target and output must have the same shape, got "
                         f"target.shape={tuple(t.shape)}, output.shape={tuple(o.shape)}")


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Element-wise -(t log p + (1 - t) log(1 - p)), p clipped to [1e-7, 1 - 1e-7]."""
    t, o = _t(target), to_float(_t(output))
    _same_shape("binary_crossentropy", t, o)
    t = cast(t, o.array.dtype)
    if from_logits:
        return F.binary_cross_entropy_with_logits(o, t, reduction="none")
    return F.binary_cross_entropy(cr.clamp(o, _EPS, 1.0 - _EPS), t, reduction="none")


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """-sum(target * log p) over `axis`; probabilities are renormalised and clipped."""
    t, o = _t(target), to_float(_t(output))
    _same_shape("categorical_crossentropy", t, o)
    if from_logits:
        logp = cr.log_softmax(o, axis)
    else:
        o = o / cr.sum(o, dim=axis, keepdim=True)
        logp = cr.log(cr.clamp(o, _EPS, 1.0 - _EPS))
    return -cr.sum(cast(t, o.array.dtype) * logp, dim=axis)


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """-log p[target] per sample, target holding class ids (shape of output without `axis`,
    or with it of size 1)."""
    t, o = _t(target).to(np.int64), to_float(_t(output))
    if t.ndim == o.ndim and t.shape[axis] == 1:
        t = t.squeeze(axis)
    want = list(o.shape)
    del want[axis]
    if list(t.shape) != want:
        raise ValueError(f"sparse_categorical_crossentropy: target.shape={tuple(t.shape)} must "
                         f"be output.shape={tuple(o.shape)} without axis {axis}")
    if from_logits:
        logp = cr.log_softmax(o, axis)
    else:
        o = o / cr.sum(o, dim=axis, keepdim=True)
        logp = cr.log(cr.clamp(o, _EPS, 1.0 - _EPS))
    logp = cr.movedim(logp, axis, -1)
    return -cr.take_along_dim(logp, t.unsqueeze(-1), -1).squeeze(-1)


# -- normalization ---------------------------------------------------------------------------
def moments(x: Any, axes: Any, keepdims: bool = False,  # noqa: F811  (Keras' argument name)
            synchronized: bool = False) -> tuple[Tensor, Tensor]:
    """(mean, variance) over `axes`, variance = E[x^2] - E[x]^2 as Keras computes it."""
    if synchronized:
        raise NotImplementedError("moments: synchronized=True needs distributed training")
    t = to_float(_t(x))
    dims = (axes,) if isinstance(axes, int) else tuple(axes)
    m = cr.mean(t, dim=dims, keepdim=True)
    v = cr.mean(t * t, dim=dims, keepdim=True) - m * m
    if not keepdims:
        keep = [s for i, s in enumerate(t.shape) if i not in {d % t.ndim for d in dims}]
        m, v = m.reshape(keep), v.reshape(keep)
    return m, v


def batch_normalization(x: Any, mean: Any, variance: Any, axis: int, offset: Any = None,
                        scale: Any = None, epsilon: float = 1e-3) -> Tensor:
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, the statistics given per
    entry of `axis`."""
    t, m, v = _t(x), _t(mean), _t(variance)
    shape = [1] * t.ndim
    shape[axis] = m.shape[0]
    y = (t - m.reshape(shape)) * cr.rsqrt(v.reshape(shape) + epsilon)
    dt = y.array.dtype  # Keras scales and shifts in place: offset and scale take y's dtype
    if scale is not None:
        y = y * cast(_t(scale), dt).reshape(shape)
    return y if offset is None else y + cast(_t(offset), dt).reshape(shape)


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Tensor:
    """x divided by its `order`-norm along `axis` (at most 1 / epsilon times x)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got order={order}")
    t = to_float(_t(x))
    if t.ndim == 0:
        t = t.reshape(1)
    eps = _EPS if epsilon is None else epsilon
    if order == 2:
        inv = cr.rsqrt(cr.sum(t * t, dim=axis, keepdim=True))
        return t * cr.minimum(inv, cr.full((), 1.0 / eps, dtype=t.array.dtype))
    n = cr.sum(cr.abs(t) ** order, dim=axis, keepdim=True) ** (1.0 / order)
    return t / cr.clamp(n, min=eps)


# -- conv and pooling (channels-last) -------------------------------------------------------
def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _first(t: Tensor, data_format: str | None) -> Tensor:
    if data_format in (None, "channels_last"):
        return cr.movedim(t, -1, 1)
    if data_format != "channels_first":
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return t


def _last(t: Tensor, data_format: str | None) -> Tensor:
    return cr.movedim(t, 1, -1) if data_format in (None, "channels_last") else t


def _same(t: Tensor, k: Sequence[int], s: Sequence[int], d: Sequence[int], mode: str
          ) -> tuple[Tensor, Any]:
    """TensorFlow's 'same' padding (the extra pixel at the end), as Keras' torch backend
    applies it: symmetric amounts go to the op, asymmetric ones are padded here."""
    pads = []
    for n, kk, ss, dd in zip(t.shape[2:], k, s, d):
        eff = (kk - 1) * dd + 1
        total = eff - 1 if ss == 1 else max(0, (-(-n // ss) - 1) * ss + eff - n)
        pads.append((total // 2, total - total // 2))
    if all(a == b for a, b in pads):
        return t, tuple(a for a, _ in pads)
    flat = tuple(v for p in reversed(pads) for v in p)
    return F.pad(t, flat, mode), 0


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
         data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """N-D convolution (1, 2 or 3 spatial axes); inputs (batch, *spatial, in) and kernel
    (*spatial, in / groups, out), channels-last as in Keras."""
    x = _first(to_float(_t(inputs)), data_format)
    w = _t(kernel)
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"conv: inputs must have 3, 4 or 5 axes, got shape {tuple(x.shape)}")
    w = cr.movedim(cr.movedim(w, -1, 0), -1, 1)  # (*k, in, out) -> (out, in, *k)
    s, d = _tuple(strides, nd), _tuple(dilation_rate, nd)
    groups = x.shape[1] // w.shape[1]
    pad: Any = 0
    if padding == "same":
        x, pad = _same(x, tuple(w.shape[2:]), s, d, "constant")
    elif padding != "valid":
        raise ValueError(f"conv: padding must be 'valid' or 'same', got {padding!r}")
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return _last(fn(x, w, None, s, pad, d, groups), data_format)


def depthwise_conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """Depthwise convolution: kernel (*spatial, in, multiplier), each channel on its own."""
    w = _t(kernel)
    k = w.reshape(tuple(w.shape[:-2]) + (1, w.shape[-2] * w.shape[-1]))
    return conv(inputs, k, strides, padding, data_format, dilation_rate)


def _pool(kind: str, inputs: Any, pool_size: Any, strides: Any, padding: str,
          data_format: str | None) -> Tensor:
    x = _first(to_float(_t(inputs)), data_format)
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{kind}: inputs must have 3, 4 or 5 axes, got shape {tuple(x.shape)}")
    k = _tuple(pool_size, nd)
    s = k if strides is None else _tuple(strides, nd)
    pad: Any = 0
    if padding == "same":
        x, pad = _same(x, k, s, (1,) * nd, "replicate")
    elif padding != "valid":
        raise ValueError(f"{kind}: padding must be 'valid' or 'same', got {padding!r}")
    if kind == "max_pool":
        y = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](x, k, s, pad)
    else:
        y = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1](x, k, s, pad,
                                                                count_include_pad=False)
    return _last(y, data_format)


def max_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
             data_format: str | None = None) -> Tensor:
    """Max pooling over windows of pool_size (strides default to pool_size)."""
    return _pool("max_pool", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None) -> Tensor:
    """Average pooling; with padding='same' the padding is not counted in the averages."""
    return _pool("average_pool", inputs, pool_size, strides, padding, data_format)

