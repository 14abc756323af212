"""The Keras door's ONNX export: chainrule.keras Sequential models to ONNX, layer by layer.

`export_keras(model, filepath)` is what Keras 3 spells `model.export(filepath, format="onnx")`.
Channels-last convolutions and poolings are wrapped in transposes (ONNX's ops are channels
first); padding='same' becomes the explicit pads Keras computes for the model's input size.
The file takes a batch of any size; the input is named after the model's Input (or "input"),
the output "output_0", as Keras' own ONNX export names them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule.autograd import no_grad
from chainrule.creation import from_numpy
from chainrule.onnx import OnnxExporterError, UnsupportedModuleError
from chainrule.onnx.graph import GraphBuilder

KConverter = Callable[[GraphBuilder, Any, str, Any, Any], str]


def export_keras(model: Any, filepath: Any, verbose: bool | None = None,
                 input_signature: Any = None, opset_version: int | None = None,
                 **kwargs: Any) -> None:
    """Write a chainrule.keras Sequential model as ONNX to filepath (a path or binary file)."""
    from chainrule.keras.models.sequential import Sequential
    from chainrule.onnx.exporter import _opset, _write, make_model

    if not isinstance(model, Sequential):
        raise NotImplementedError(f"export(format='onnx'): {type(model).__name__} models are "
                                  "not exported yet; build the model as keras.Sequential")
    if kwargs:
        raise TypeError(f"export(format='onnx'): unexpected arguments {sorted(kwargs)}")
    shape = _input_shape(model, input_signature)
    kt = getattr(model, "_input", None)
    dtype = np.dtype(str(getattr(kt, "dtype", None) or "float32"))
    g = GraphBuilder(_opset(opset_version, g_onnx()))
    name = getattr(getattr(getattr(model, "_input", None), "node", None), "layer", None)
    in_name = getattr(name, "name", None) or "input"
    g.reserve(in_name)
    g.reserve("output_0")
    sample = from_numpy(np.zeros(shape, dtype))
    x, xs = in_name, sample
    was = model.training
    model.eval()
    try:
        with no_grad():
            for layer in model.layers:
                ys = layer(xs)
                x, xs = _convert(g, layer, x, xs, ys), ys
    finally:
        model.train(was)
    axes = {in_name: {0: "batch"}, "output_0": {0: "batch"}}
    proto = make_model(g, [in_name], [sample], [x], ["output_0"], [xs], axes)
    g.onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(g.onnx.helper.printable_graph(proto.graph))
    _write(filepath, proto.SerializeToString())


def g_onnx() -> Any:
    from chainrule.onnx.graph import onnx_module

    return onnx_module()


def _input_shape(model: Any, signature: Any) -> list[int]:
    kt = getattr(model, "_input", None)
    shape = list(getattr(signature, "shape", signature) or (kt.shape if kt is not None else []))
    if not shape:
        raise ValueError("export(format='onnx'): the model has no input shape yet; build it "
                         "(call it on data, or start it with keras.Input(shape=...))")
    if any(d is None for d in shape[1:]):
        raise NotImplementedError(f"export(format='onnx'): input shape {tuple(shape)}; only the "
                                  "batch size may be unknown")
    return [2] + [int(d) for d in shape[1:]]


KERAS: dict[str, KConverter] = {}


def kconverts(*names: str) -> Callable[[KConverter], KConverter]:
    def register(fn: KConverter) -> KConverter:
        for n in names:
            KERAS[n] = fn
        return fn
    return register


def _convert(g: GraphBuilder, layer: Any, x: str, xs: Any, ys: Any) -> str:
    fn = KERAS.get(type(layer).__name__)
    if fn is None or not type(layer).__module__.startswith("chainrule.keras"):
        raise UnsupportedModuleError(f"export(format='onnx'): layer {layer.name!r} "
                                     f"({type(layer).__name__}) has no ONNX export; supported: "
                                     f"{', '.join(sorted(KERAS))}")
    return fn(g, layer, x, xs, ys)


def _activation(g: GraphBuilder, layer: Any, x: str, dt: Any) -> str:
    from chainrule.keras import activations

    act = getattr(layer, "activation", None)
    if act is None or act is activations.linear:
        return x
    try:
        name = activations.serialize(act, custom=False)
    except ValueError:
        name = None
    h = f"{layer.name}_{name}"
    c = lambda v, n: g.const(np.asarray(v, dt), f"{h}_{n}")  # noqa: E731
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "softsign": "Softsign", "exponential": "Exp", "selu": "Selu"}
    if name in simple:
        return g.node(simple[name], [x], h)
    if name in ("softmax", "log_softmax"):
        return g.node("Softmax" if name == "softmax" else "LogSoftmax", [x], h, axis=-1)
    if name == "relu6":
        return g.node("Clip", [x, c(0.0, "lo"), c(6.0, "hi")], h)
    if name == "leaky_relu":
        return g.node("LeakyRelu", [x], h, alpha=0.2)
    if name == "elu":
        return g.node("Elu", [x], h, alpha=1.0)
    if name == "hard_sigmoid":
        return g.node("HardSigmoid", [x], h, alpha=1 / 6, beta=0.5)
    if name in ("silu", "swish"):
        return g.node("Mul", [x, g.node("Sigmoid", [x], h + "_sigmoid")], h)
    if name == "mish":
        return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x], h + "_sp")],
                                        h + "_t")], h)
    if name == "gelu":
        t = g.node("Erf", [g.node("Div", [x, c(np.sqrt(2.0), "r2")], h + "_xs")], h + "_erf")
        half = g.node("Mul", [x, c(0.5, "half")], h + "_hx")
        return g.node("Mul", [half, g.node("Add", [t, c(1.0, "one")], h + "_1p")], h)
    raise UnsupportedModuleError(f"export(format='onnx'): layer {layer.name!r}: the activation "
                                 f"{getattr(act, '__name__', act)!r} has no ONNX export")


def _dt(xs: Any) -> Any:
    return xs.array.dtype if xs.is_floating_point() else np.float32


# the layer converters live in keras_layers.py beside this file
from chainrule.onnx import keras_layers  # noqa: E402, F401

__all__ = ["export_keras", "OnnxExporterError"]
