"""chainrule.onnx.load's builders for the activation ops (registered into rebuild.BUILDERS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn
from chainrule.onnx.rebuild import BUILDERS, Ctx, LoadError, _f32, _name, _set, builds

_SIMPLE = {"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "Softsign": nn.Softsign,
           "HardSwish": nn.Hardswish, "Mish": nn.Mish, "Softplus": nn.Softplus}

for _op, _cls in _SIMPLE.items():
    BUILDERS[_op] = lambda ctx, node, a, _cls=_cls: _cls()


@builds("LeakyRelu")
def leaky_relu(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    return nn.LeakyReLU(_f32(a.get("alpha", 0.01)))


@builds("Elu", "Celu")
def elu(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    return (nn.ELU if node.op_type == "Elu" else nn.CELU)(_f32(a.get("alpha", 1.0)))


@builds("Selu")
def selu(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    if abs(a.get("alpha", 1.6732632) - 1.6732632) > 1e-6 or \
            abs(a.get("gamma", 1.0507010) - 1.0507010) > 1e-6:
        raise LoadError(f"{_name(node)}: alpha and gamma other than SELU's constants")
    return nn.SELU()


@builds("HardSigmoid")
def hardsigmoid(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    if abs(a.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(a.get("beta", 0.5) - 0.5) > 1e-6:
        raise LoadError(f"{_name(node)}: alpha {a.get('alpha', 0.2)}, beta "
                        f"{a.get('beta', 0.5)}; PyTorch's Hardsigmoid is 1/6 and 0.5")
    return nn.Hardsigmoid()


@builds("Gelu")
def gelu(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    return nn.GELU(approximate=a.get("approximate", "none"))


@builds("Softmax", "LogSoftmax")
def softmax(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    cls = nn.Softmax if node.op_type == "Softmax" else nn.LogSoftmax
    return cls(dim=int(a.get("axis", -1)))


@builds("Clip")
def clip(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    lo = ctx.const(node, 1, "min", optional=True)
    hi = ctx.const(node, 2, "max", optional=True)
    lo = float(a.get("min", -np.inf) if lo is None else np.asarray(lo).reshape(-1)[0])
    hi = float(a.get("max", np.inf) if hi is None else np.asarray(hi).reshape(-1)[0])
    if lo == 0 and hi == 6:
        return nn.ReLU6()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise LoadError(f"{_name(node)}: bounds [{lo}, {hi}]; finite bounds are rebuilt")
    return nn.Hardtanh(lo, hi)


@builds("PRelu")
def prelu(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    slope = ctx.const(node, 1, "slope")
    if slope.ndim > 1 and any(d != 1 for d in slope.shape[1:]):
        raise LoadError(f"{_name(node)}: a slope of shape {slope.shape}; one per channel is "
                        "rebuilt")
    slope = slope.reshape(-1)
    m = nn.PReLU(slope.size, dtype=slope.dtype)
    _set(m, "weight", slope, node)
    return m

