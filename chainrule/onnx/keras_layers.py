"""ONNX conversions of the chainrule.keras layers (registered into keras_export.KERAS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.onnx import OnnxExporterError
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.keras_export import _activation, _dt, kconverts


def _p(layer: Any, attr: str, name: str) -> tuple[Any, str]:
    return getattr(layer, attr), f"{layer.name}.{name}"


@kconverts("Dense")
def dense(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    W = g.param(*_p(layer, "weight", "kernel"))
    b = g.param(*_p(layer, "bias", "bias")) if layer.use_bias else None
    h = layer.name
    if xs.ndim == 2:
        y = g.node("Gemm", [x, W] + ([b] if b else []), h + "_dense", transB=1)
    else:
        y = g.node("MatMul", [x, g.node("Transpose", [W], h + "_Wt", perm=[1, 0])], h + "_mm")
        y = g.node("Add", [y, b], h + "_dense") if b else y
    return _activation(g, layer, y, _dt(ys))


@kconverts("Activation")
def activation(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    y = _activation(g, layer, x, _dt(ys))
    return g.node("Identity", [x], layer.name) if y == x else y


@kconverts("Dropout")
def dropout(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    ratio = g.const(np.asarray(layer.rate, _dt(xs)), layer.name + "_ratio")
    return g.node("Dropout", [x, ratio], layer.name)


@kconverts("Flatten")
def flatten(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    if layer.data_format == "channels_first" and xs.ndim > 2:
        x = g.node("Transpose", [x], layer.name + "_cl", perm=[0, *range(2, xs.ndim), 1])
    return g.node("Flatten", [x], layer.name, axis=1)


@kconverts("Reshape")
def reshape(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    shape = g.ints([0] + list(layer.target_shape), layer.name + "_shape")
    return g.node("Reshape", [x, shape], layer.name)


@kconverts("Embedding")
def embedding(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    if xs.array.dtype.kind not in "iu":
        x = g.node("Cast", [x], layer.name + "_idx", to=7)  # INT64, as Keras casts floats
    return g.node("Gather", [g.param(*_p(layer, "embeddings", "embeddings")), x], layer.name,
                  axis=0)


def _pads(layer: Any, sizes: list[int], k: tuple, s: tuple, d: tuple) -> list[int]:
    from chainrule.keras.layers.convolutional import _pads as keras_pads

    pairs = [keras_pads(n, k_, s_, d_, layer.padding) for n, k_, s_, d_ in zip(sizes, k, s, d)]
    return [a for a, _ in pairs] + [b for _, b in pairs]


def _channels_first(g: GraphBuilder, layer: Any, x: str, xs: Any) -> tuple[str, list[int]]:
    """x in (N, C, *spatial) and the spatial sizes."""
    if layer.data_format != "channels_last":
        return x, list(xs.shape[2:])
    n = xs.ndim
    return (g.node("Transpose", [x], layer.name + "_nchw", perm=[0, n - 1, *range(1, n - 1)]),
            list(xs.shape[1:-1]))


def _back(g: GraphBuilder, layer: Any, y: str, n: int) -> str:
    if layer.data_format != "channels_last":
        return y
    return g.node("Transpose", [y], layer.name + "_nhwc", perm=[0, *range(2, n), 1])


@kconverts("Conv1D", "Conv2D")
def conv(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    x, sizes = _channels_first(g, layer, x, xs)
    k, s, d = layer.kernel_size, layer.strides, layer.dilation_rate
    inputs = [x, g.param(*_p(layer, "weight", "kernel"))]
    if layer.use_bias:
        inputs.append(g.param(*_p(layer, "bias", "bias")))
    y = g.node("Conv", inputs, layer.name + "_conv", kernel_shape=list(k), strides=list(s),
               dilations=list(d), group=layer.groups, pads=_pads(layer, sizes, k, s, d))
    return _activation(g, layer, _back(g, layer, y, xs.ndim), _dt(ys))


@kconverts("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D")
def pool(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    x, sizes = _channels_first(g, layer, x, xs)
    k, s = layer.pool_size, layer.strides
    pads = _pads(layer, sizes, k, s, (1,) * len(k))
    if layer.mode == "max":  # ONNX's MaxPool never picks a padded cell: Keras' -inf padding
        y = g.node("MaxPool", [x], layer.name + "_pool", kernel_shape=list(k), strides=list(s),
                   pads=pads)
    else:  # Keras averages over the cells inside the input only
        y = g.node("AveragePool", [x], layer.name + "_pool", kernel_shape=list(k),
                   strides=list(s), pads=pads, count_include_pad=0)
    return _back(g, layer, y, xs.ndim)


@kconverts("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D")
def global_pool(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    op = "ReduceMean" if layer.mode == "avg" else "ReduceMax"
    axes, keep = list(layer._axes()), int(layer.keepdims)
    if g.opset >= 18:
        return g.node(op, [x, g.ints(axes, layer.name + "_axes")], layer.name, keepdims=keep)
    return g.node(op, [x], layer.name, axes=axes, keepdims=keep)


@kconverts("BatchNormalization")
def batch_norm(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    # inference: x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a, along `axis`
    def host(t: Any) -> np.ndarray:
        a = t.array
        return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a

    var, mean = host(layer.moving_variance), host(layer.moving_mean)
    a = 1.0 / np.sqrt(var + var.dtype.type(layer.epsilon))
    if layer.gamma is not None:
        a = a * host(layer.gamma)
    b = -mean * a + (host(layer.beta) if layer.beta is not None else 0)
    shape = layer._pshape
    h = layer.name
    y = g.node("Mul", [x, g.const(a.reshape(shape).astype(var.dtype), h + ".scale")], h + "_mul")
    return g.node("Add", [y, g.const(b.reshape(shape).astype(var.dtype), h + ".shift")], h)


@kconverts("LayerNormalization")
def layer_norm(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    norm, n = list(layer._norm), xs.ndim
    if norm != list(range(n - len(norm), n)) or g.opset < 17:
        raise OnnxExporterError(f"export(format='onnx'): layer {layer.name!r} normalises axes "
                                f"{norm}; trailing axes (at opset 17 or later) are exported")
    dt = _dt(xs)
    scale = (g.param(layer.gamma, layer.name + ".gamma") if layer.gamma is not None
             else g.const(np.ones(layer._shape, dt), layer.name + "_ones"))
    inputs = [x, scale] + ([g.param(layer.beta, layer.name + ".beta")]
                           if layer.beta is not None else [])
    return g.node("LayerNormalization", inputs, layer.name, axis=-len(norm),
                  epsilon=float(layer.epsilon))
