"""ONNX conversions of the standard layers: one function per module type.

A converter gets the builder `g`, the module, its path in the model ("" for the model itself),
the input's graph name and sample tensor, and the module's sample output; it returns the graph
name of the output. The sample shapes decide only ranks and static sizes that the op needs.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule import nn
from chainrule.onnx import OnnxExporterError, UnsupportedModuleError
from chainrule.onnx.graph import GraphBuilder
from chainrule.tensor import Tensor

Converter = Callable[[GraphBuilder, Any, str, str, Tensor, Tensor], str]
CONVERTERS: dict[type, Converter] = {}


def converts(*types: type) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for t in types:
            CONVERTERS[t] = fn
        return fn
    return register


def pname(path: str, name: str) -> str:
    """The state-dict name of parameter `name` of the module at `path`."""
    return f"{path}.{name}" if path else name


def hint(path: str, m: Any) -> str:
    return path or type(m).__name__.lower()


def _tuple(v: Any, n: int) -> list[int]:
    return [int(a) for a in v] if isinstance(v, (tuple, list)) else [int(v)] * n


def _unsupported(m: Any, path: str, what: str, fix: str) -> OnnxExporterError:
    return UnsupportedModuleError(f"onnx.export: {path or 'the model'} ({type(m).__name__}): "
                                  f"{what} has no ONNX export; {fix}")


def _batched(m: Any, path: str, x: Tensor, spatial: int) -> None:
    if x.ndim != spatial + 2:
        raise OnnxExporterError(
            f"onnx.export: {path or 'the model'} ({type(m).__name__}) got an input of shape "
            f"{tuple(x.shape)}; export needs batched inputs of rank {spatial + 2} "
            f"(N, C, ...): add a batch dimension to the sample (x.unsqueeze(0))")


# -- linear, embedding, flatten, identity, dropout ----------------------------------------------
@converts(nn.Linear)
def linear(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    W = g.param(m.weight, pname(path, "weight"))
    b = None if m.bias is None else g.param(m.bias, pname(path, "bias"))
    if xs.ndim == 2:  # Gemm computes x W^T + b directly, as torch exports it
        return g.node("Gemm", [x, W] + ([b] if b else []), hint(path, m), transB=1)
    Wt = g.node("Transpose", [W], hint(path, m) + "_Wt", perm=[1, 0])
    out = g.node("MatMul", [x, Wt], hint(path, m) + ("_mm" if b else ""))
    return out if b is None else g.node("Add", [out, b], hint(path, m))


@converts(nn.Embedding)
def embedding(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    if m.max_norm is not None:
        raise _unsupported(m, path, "max_norm (which renormalises the weights as it looks "
                           "them up)", "export a copy with max_norm=None")
    return g.node("Gather", [g.param(m.weight, pname(path, "weight")), x], hint(path, m),
                  axis=0)


@converts(nn.Flatten)
def flatten(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    n = xs.ndim
    start, end = m.start_dim % max(n, 1), m.end_dim % max(n, 1)
    if start == 1 and end == n - 1:
        return g.node("Flatten", [x], hint(path, m), axis=1)
    _static_after_batch(g, m, path)
    return _reshape_keep(g, x, start, list(y.shape), hint(path, m))


@converts(nn.Unflatten)
def unflatten(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    dim = m.dim % xs.ndim
    _static_after_batch(g, m, path)
    return _reshape_keep(g, x, dim, list(y.shape), hint(path, m))


def _static_after_batch(g: GraphBuilder, m: Any, path: str) -> None:
    if g.dynamic_spatial:
        raise _unsupported(m, path, "a reshape with dynamic axes beyond the batch",
                           "make only axis 0 dynamic")


def _reshape_keep(g: GraphBuilder, x: str, lead: int, out_shape: list[int], h: str) -> str:
    """Reshape keeping the first `lead` dims as they are (0 = copy: the batch may vary) and
    the rest static, from the sample."""
    shape = [0] * lead + [int(d) for d in out_shape[lead:]]
    return g.node("Reshape", [x, g.ints(shape, h + "_shape")], h)


@converts(nn.Identity)
def identity(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("Identity", [x], hint(path, m))


@converts(nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
def dropout(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    # ONNX Dropout is the identity at inference; keeping it lets chainrule.onnx.load rebuild
    # a Dropout layer for fine-tuning
    ratio = g.const(np.asarray(m.p, dtype=xs.array.dtype), hint(path, m) + "_ratio")
    return g.node("Dropout", [x, ratio], hint(path, m))


# -- convolution and pooling --------------------------------------------------------------------
def _conv_pads(m: Any, n: int, path: str) -> list[int]:
    if m.padding == "valid":
        return [0] * (2 * n)
    if m.padding == "same":  # PyTorch puts the odd extra element at the end
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    return list(m.padding) * 2


@converts(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    n = len(m.kernel_size)
    _batched(m, path, xs, n)
    pads = _conv_pads(m, n, path)
    if m.padding_mode != "zeros":  # chainrule's Conv layers refuse other modes today
        raise _unsupported(m, path, f"padding_mode={m.padding_mode!r}", "use 'zeros'")
    inputs = [x, g.param(m.weight, pname(path, "weight"))]
    if m.bias is not None:
        inputs.append(g.param(m.bias, pname(path, "bias")))
    return g.node("Conv", inputs, hint(path, m), kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), pads=pads, dilations=list(m.dilation), group=m.groups)


@converts(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    n = len(m.kernel_size)
    _batched(m, path, xs, n)
    if m.padding_mode != "zeros":
        raise _unsupported(m, path, f"padding_mode={m.padding_mode!r}", "use 'zeros'")
    inputs = [x, g.param(m.weight, pname(path, "weight"))]
    if m.bias is not None:
        inputs.append(g.param(m.bias, pname(path, "bias")))
    return g.node("ConvTranspose", inputs, hint(path, m), kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), pads=list(m.padding) * 2, dilations=list(m.dilation),
                  group=m.groups, output_padding=list(m.output_padding))


_POOL_RANK = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool1d: 1,
              nn.AvgPool2d: 2, nn.AvgPool3d: 3}


@converts(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def max_pool(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    n = _POOL_RANK[type(m)]
    _batched(m, path, xs, n)
    k, s = _tuple(m.kernel_size, n), _tuple(m.stride or m.kernel_size, n)
    return g.node("MaxPool", [x], hint(path, m), kernel_shape=k, strides=s,
                  pads=_tuple(m.padding, n) * 2, dilations=_tuple(m.dilation, n),
                  ceil_mode=int(bool(m.ceil_mode)))


@converts(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def avg_pool(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    n = _POOL_RANK[type(m)]
    _batched(m, path, xs, n)
    if getattr(m, "divisor_override", None) is not None:
        raise _unsupported(m, path, "divisor_override", "leave it None")
    k, s = _tuple(m.kernel_size, n), _tuple(m.stride or m.kernel_size, n)
    return g.node("AveragePool", [x], hint(path, m), kernel_shape=k, strides=s,
                  pads=_tuple(m.padding, n) * 2, ceil_mode=int(bool(m.ceil_mode)),
                  count_include_pad=int(bool(m.count_include_pad)))


@converts(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
          nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def adaptive_pool(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    is_max = "Max" in type(m).__name__
    if getattr(m, "return_indices", False):
        raise _unsupported(m, path, "return_indices=True", "leave it False")
    n = xs.ndim - 2
    _batched(m, path, xs, n)
    size_in, size_out = list(xs.shape[2:]), list(y.shape[2:])
    if all(o == 1 for o in size_out):
        return g.node("GlobalMaxPool" if is_max else "GlobalAveragePool", [x], hint(path, m))
    if g.dynamic_spatial or any(i % o for i, o in zip(size_in, size_out)):
        raise _unsupported(m, path, f"output size {tuple(size_out)} from inputs of size "
                           f"{tuple(size_in)}" + (" with dynamic spatial axes"
                                                  if g.dynamic_spatial else ""),
                           "use an output size that divides the (static) input size, or 1")
    k = [i // o for i, o in zip(size_in, size_out)]
    return g.node("MaxPool" if is_max else "AveragePool", [x], hint(path, m), kernel_shape=k,
                  strides=k)


# -- normalisation ------------------------------------------------------------------------------
@converts(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def batch_norm(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    if m.running_mean is None:
        raise _unsupported(m, path, "track_running_stats=False (batch statistics at inference)",
                           "train with track_running_stats=True")
    dt = m.running_mean.array.dtype
    C = m.num_features
    scale = (g.param(m.weight, pname(path, "weight")) if m.weight is not None
             else g.const(np.ones(C, dt), hint(path, m) + "_ones"))
    bias = (g.param(m.bias, pname(path, "bias")) if m.bias is not None
            else g.const(np.zeros(C, dt), hint(path, m) + "_zeros"))
    mean = g.param(m.running_mean, pname(path, "running_mean"))
    var = g.param(m.running_var, pname(path, "running_var"))
    momentum = None if m.momentum is None else 1.0 - float(m.momentum)  # ONNX's is 1 - torch's
    return g.node("BatchNormalization", [x, scale, bias, mean, var], hint(path, m),
                  epsilon=float(m.eps), momentum=momentum)


@converts(nn.LayerNorm)
def layer_norm(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    k = len(m.normalized_shape)
    dt = xs.array.dtype
    scale = (g.param(m.weight, pname(path, "weight")) if m.weight is not None
             else g.const(np.ones(m.normalized_shape, dt), hint(path, m) + "_ones"))
    inputs = [x, scale]
    if getattr(m, "bias", None) is not None:
        inputs.append(g.param(m.bias, pname(path, "bias")))
    if g.opset >= 17:
        return g.node("LayerNormalization", inputs, hint(path, m), axis=-k,
                      epsilon=float(m.eps))
    h = hint(path, m)  # before opset 17: the mean/variance form (ReduceMean axes attribute)
    axes = list(range(-k, 0))
    d = g.node("Sub", [x, g.node("ReduceMean", [x], h + "_mean", axes=axes)], h + "_centred")
    var = g.node("ReduceMean", [g.node("Mul", [d, d], h + "_sq")], h + "_var", axes=axes)
    eps = g.const(np.asarray(m.eps, dt), h + "_eps")
    out = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, eps], h + "_ve")], h + "_std")],
                 h + "_norm")
    out = g.node("Mul", [out, scale], h + ("_scaled" if len(inputs) == 3 else ""))
    return out if len(inputs) == 2 else g.node("Add", [out, inputs[2]], h)
