"""ONNX conversions of the activation layers (registered into layers.CONVERTERS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.layers import converts, hint, pname
from chainrule.tensor import Tensor

_SIMPLE = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh", nn.Softsign: "Softsign"}


def _dt(xs: Tensor) -> Any:
    return xs.array.dtype


@converts(*_SIMPLE)
def simple(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node(_SIMPLE[type(m)], [x], hint(path, m))


@converts(nn.LeakyReLU)
def leaky_relu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("LeakyRelu", [x], hint(path, m), alpha=float(m.negative_slope))


@converts(nn.ELU)
def elu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("Elu", [x], hint(path, m), alpha=float(m.alpha))


@converts(nn.CELU)
def celu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("Celu", [x], hint(path, m), alpha=float(m.alpha))


@converts(nn.SELU)
def selu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("Selu", [x], hint(path, m))  # ONNX's default alpha and gamma are PyTorch's


@converts(nn.Hardsigmoid)
def hardsigmoid(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("HardSigmoid", [x], hint(path, m), alpha=1 / 6, beta=0.5)


@converts(nn.Hardswish)
def hardswish(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    if g.opset >= 14:
        return g.node("HardSwish", [x], hint(path, m))
    h = hint(path, m)  # x * hardsigmoid(x), HardSwish's definition
    return g.node("Mul", [x, g.node("HardSigmoid", [x], h + "_hs", alpha=1 / 6, beta=0.5)], h)


@converts(nn.Hardtanh, nn.ReLU6)
def hardtanh(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    h = hint(path, m)
    lo = g.const(np.asarray(m.min_val, _dt(xs)), h + "_min")
    hi = g.const(np.asarray(m.max_val, _dt(xs)), h + "_max")
    return g.node("Clip", [x, lo, hi], h)


@converts(nn.GELU)
def gelu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    h = hint(path, m)
    if g.opset >= 20:
        return g.node("Gelu", [x], h, approximate=m.approximate)
    c = lambda v, n: g.const(np.asarray(v, _dt(xs)), f"{h}_{n}")  # noqa: E731
    if m.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.node("Mul", [g.node("Mul", [x, x], h + "_x2"), x], h + "_x3")
        inner = g.node("Add", [x, g.node("Mul", [x3, c(0.044715, "k")], h + "_kx3")], h + "_in")
        t = g.node("Tanh", [g.node("Mul", [inner, c(np.sqrt(2 / np.pi), "s")], h + "_sin")],
                   h + "_tanh")
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Div", [x, c(np.sqrt(2.0), "sqrt2")], h + "_xs")], h + "_erf")
    one_plus = g.node("Add", [t, c(1.0, "one")], h + "_1p")
    return g.node("Mul", [g.node("Mul", [x, c(0.5, "half")], h + "_hx"), one_plus], h)


@converts(nn.SiLU)
def silu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    h = hint(path, m)
    return g.node("Mul", [x, g.node("Sigmoid", [x], h + "_sigmoid")], h)


@converts(nn.Mish)
def mish(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    if g.opset >= 18:
        return g.node("Mish", [x], hint(path, m))
    h = hint(path, m)
    sp = g.node("Softplus", [x], h + "_softplus")
    return g.node("Mul", [x, g.node("Tanh", [sp], h + "_tanh")], h)


@converts(nn.Softplus)
def softplus(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    h = hint(path, m)
    if m.beta == 1 and m.threshold >= 20:
        # PyTorch returns x where x > threshold; softplus(x) differs from x there by at most
        # log1p(exp(-20)) = 2e-9, below float32 resolution: the plain op (which load rebuilds)
        return g.node("Softplus", [x], h)
    beta = g.const(np.asarray(m.beta, _dt(xs)), h + "_beta")
    bx = g.node("Mul", [x, beta], h + "_bx")
    sp = g.node("Div", [g.node("Softplus", [bx], h + "_sp"), beta], h + "_spb")
    linear = g.node("Greater", [bx, g.const(np.asarray(m.threshold, _dt(xs)), h + "_thr")],
                    h + "_linear")
    return g.node("Where", [linear, x, sp], h)


def _softmax_axis(m: Any, xs: Tensor) -> int:
    if m.dim is not None:
        return int(m.dim)
    return 0 if xs.ndim in (0, 1, 3) else 1  # PyTorch's implicit choice


@converts(nn.Softmax)
def softmax(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("Softmax", [x], hint(path, m), axis=_softmax_axis(m, xs))


@converts(nn.LogSoftmax)
def log_softmax(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    return g.node("LogSoftmax", [x], hint(path, m), axis=_softmax_axis(m, xs))


@converts(nn.PReLU)
def prelu(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Tensor) -> str:
    w = g.param(m.weight, pname(path, "weight"))
    h = hint(path, m)
    if m.num_parameters > 1 and xs.ndim > 2:  # (C,) -> (C, 1, ...) to broadcast over (N, C, ...)
        shape = g.ints([m.num_parameters] + [1] * (xs.ndim - 2), h + "_slope_shape")
        w = g.node("Reshape", [w, shape], h + "_slope")
    return g.node("PRelu", [x, w], h)
