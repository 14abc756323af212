"""One chainrule layer from one ONNX node (chainrule.onnx.load's builders).

A builder gets the Ctx (constants, ranks), the node and its attributes, and returns the layer;
every weight's shape is checked against the op's attributes before the layer is made.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule import nn
from chainrule.autograd import no_grad
from chainrule.creation import from_numpy


class LoadError(ValueError):
    """A node the loader cannot rebuild (the message names it)."""


def _name(node: Any) -> str:
    return f"node {node.name!r} ({node.op_type})" if node.name else f"a {node.op_type} node"


class Ctx:
    def __init__(self, onnx: Any, consts: dict[str, np.ndarray], ranks: dict[str, int]) -> None:
        self.onnx, self.consts, self.ranks = onnx, consts, ranks

    def attrs(self, node: Any) -> dict[str, Any]:
        out = {}
        for a in node.attribute:
            v = self.onnx.helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
        return out

    def const(self, node: Any, i: int, what: str, optional: bool = False) -> Any:
        name = node.input[i] if i < len(node.input) else ""
        if not name:
            if optional:
                return None
            raise LoadError(f"{_name(node)} has no {what}")
        if name not in self.consts:
            raise LoadError(f"{_name(node)}: its {what} {name!r} is computed by the graph, not "
                            "stored; only stored weights are rebuilt")
        return self.consts[name]

    def build(self, structure: Any, k: int, region: set[int]) -> tuple[Any, str]:
        """(layer, its output value) for node k; MatMul followed by Add of a constant is one
        Linear."""
        node = structure.nodes[k]
        builder = BUILDERS.get(node.op_type)
        if builder is None:
            raise LoadError(f"{_name(node)} is not an op chainrule.onnx.load rebuilds; it "
                            f"rebuilds {', '.join(sorted(BUILDERS))}")
        used = [o for o in node.output[1:] if o and structure.consumers.get(o)]
        if used:
            raise LoadError(f"{_name(node)}: its extra output {used[0]!r} is used; only the "
                            "first output of a layer is rebuilt")
        out = node.output[0]
        if node.op_type == "MatMul":
            users = [u for u in structure.consumers.get(out, []) if u in region]
            add = structure.nodes[users[0]] if len(users) == 1 else None
            if add is not None and add.op_type == "Add" and len(add.input) == 2 \
                    and add.input[1] in self.consts:
                return matmul(self, node, add), add.output[0]
        try:
            return builder(self, node, self.attrs(node)), out
        except (TypeError, ValueError, IndexError, KeyError) as e:
            if isinstance(e, LoadError):
                raise
            raise LoadError(f"{_name(node)}: {e}") from None


def _set(m: Any, name: str, array: np.ndarray, node: Any) -> None:
    t = getattr(m, name)
    if tuple(t.shape) != tuple(array.shape):
        raise LoadError(f"{_name(node)}: {name} has shape {tuple(array.shape)}, the layer "
                        f"needs {tuple(t.shape)}")
    with no_grad():
        t.copy_(from_numpy(np.ascontiguousarray(array, dtype=t.array.dtype)))


def _f32(v: Any) -> float:
    """An ONNX float attribute (stored in float32) as the shortest float that rounds to it."""
    return float(np.format_float_positional(np.float32(v), unique=True))


def _float(a: np.ndarray, node: Any, what: str) -> np.ndarray:
    if a.dtype.kind != "f":
        raise LoadError(f"{_name(node)}: {what} has dtype {a.dtype}; floats are expected")
    return a


Builder = Callable[[Ctx, Any, dict[str, Any]], Any]
BUILDERS: dict[str, Builder] = {}


def builds(*ops: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        for op in ops:
            BUILDERS[op] = fn
        return fn
    return register


# -- linear, embedding --------------------------------------------------------------------------
def _linear(W: np.ndarray, b: np.ndarray | None, node: Any) -> Any:
    """Linear with weight W (out, in) and bias b (out,)."""
    W = _float(W, node, "the weight")
    if W.ndim != 2:
        raise LoadError(f"{_name(node)}: the weight has shape {W.shape}; a matrix is expected")
    out_f, in_f = W.shape
    if b is not None:
        if b.size != out_f:
            raise LoadError(f"{_name(node)}: the bias has {b.size} values for {out_f} outputs")
        b = b.reshape(out_f)
    m = nn.Linear(in_f, out_f, bias=b is not None, dtype=W.dtype)
    _set(m, "weight", W, node)
    if b is not None:
        _set(m, "bias", b, node)
    return m


@builds("Gemm")
def gemm(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    if a.get("transA", 0):
        raise LoadError(f"{_name(node)}: transA=1 (the data transposed) is not rebuilt")
    B = ctx.const(node, 1, "weight B")
    W = B if a.get("transB", 0) else B.T
    W = W * W.dtype.type(a.get("alpha", 1.0))
    C = ctx.const(node, 2, "bias C", optional=True)
    if C is not None:
        C = C * C.dtype.type(a.get("beta", 1.0))
    return _linear(W, C, node)


def matmul(ctx: Ctx, node: Any, add: Any | None = None) -> Any:
    B = ctx.const(node, 1, "weight")
    bias = None if add is None else ctx.consts[add.input[1]]
    return _linear(B.T, bias, node)


BUILDERS["MatMul"] = lambda ctx, node, a: matmul(ctx, node)


@builds("Gather")
def gather(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    W = _float(ctx.const(node, 0, "table"), node, "the table")
    if a.get("axis", 0) != 0 or W.ndim != 2:
        raise LoadError(f"{_name(node)}: only rows of a matrix (axis 0) are rebuilt, as "
                        "Embedding")
    m = nn.Embedding(W.shape[0], W.shape[1], dtype=W.dtype)
    _set(m, "weight", W, node)
    return m


# -- convolution and pooling --------------------------------------------------------------------
def _pads(a: dict[str, Any], n: int, node: Any) -> tuple[int, ...]:
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise LoadError(f"{_name(node)}: auto_pad={a['auto_pad']} is not rebuilt; export with "
                        "explicit pads")
    pads = list(a.get("pads", [0] * (2 * n)))
    if len(pads) != 2 * n or pads[:n] != pads[n:] or any(p < 0 for p in pads):
        raise LoadError(f"{_name(node)}: pads {pads}; equal padding at both ends of each of "
                        f"the {n} spatial dims is rebuilt")
    return tuple(int(p) for p in pads[:n])


def _spatial(a: dict[str, Any], key: str, n: int, default: int, node: Any) -> tuple[int, ...]:
    v = [int(x) for x in a.get(key, [default] * n)]
    if len(v) != n or any(x < (0 if key == "output_padding" else 1) for x in v):
        raise LoadError(f"{_name(node)}: {key}={v} for {n} spatial dims")
    return tuple(v)


@builds("Conv", "ConvTranspose")
def conv(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    W = _float(ctx.const(node, 1, "weight"), node, "the weight")
    b = ctx.const(node, 2, "bias", optional=True)
    n = W.ndim - 2
    if n not in (1, 2, 3):
        raise LoadError(f"{_name(node)}: a weight of shape {W.shape}; 1-, 2- or 3-D kernels "
                        "are rebuilt")
    k = tuple(W.shape[2:])
    if tuple(a.get("kernel_shape", k)) != k:
        raise LoadError(f"{_name(node)}: kernel_shape {a['kernel_shape']} but a weight of "
                        f"shape {W.shape}")
    groups = int(a.get("group", 1))
    if groups < 1:
        raise LoadError(f"{_name(node)}: group={groups}")
    common = dict(stride=_spatial(a, "strides", n, 1, node), padding=_pads(a, n, node),
                  dilation=_spatial(a, "dilations", n, 1, node), groups=groups,
                  bias=b is not None, dtype=W.dtype)
    if node.op_type == "Conv":
        cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[n - 1]
        m = cls(W.shape[1] * groups, W.shape[0], k, **common)
    else:
        if "output_shape" in a:
            raise LoadError(f"{_name(node)}: output_shape is not rebuilt; export with pads "
                            "and output_padding")
        cls = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[n - 1]
        m = cls(W.shape[0], W.shape[1] * groups, k,
                output_padding=_spatial(a, "output_padding", n, 0, node), **common)
    _set(m, "weight", W, node)
    if b is not None:
        _set(m, "bias", b.reshape(-1), node)
    return m


@builds("MaxPool", "AveragePool")
def pool(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    k = tuple(int(v) for v in a.get("kernel_shape", ()))
    n = len(k)
    if n not in (1, 2, 3) or any(v < 1 for v in k):
        raise LoadError(f"{_name(node)}: kernel_shape {list(k)}")
    s, p = _spatial(a, "strides", n, 1, node), _pads(a, n, node)
    ceil = bool(a.get("ceil_mode", 0))
    if node.op_type == "MaxPool":
        cls = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[n - 1]
        return cls(k, s, p, dilation=_spatial(a, "dilations", n, 1, node), ceil_mode=ceil)
    cls = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[n - 1]
    return cls(k, s, p, ceil_mode=ceil, count_include_pad=bool(a.get("count_include_pad", 0)))


@builds("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    n = ctx.ranks.get(node.input[0], 4) - 2
    if node.op_type == "GlobalMaxPool":
        if n not in (1, 2):
            raise LoadError(f"{_name(node)} on {n}-D inputs is not rebuilt")
        return (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)[n - 1](1)
    if n not in (1, 2, 3):
        raise LoadError(f"{_name(node)} on {n}-D inputs is not rebuilt")
    return (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[n - 1](1)


# -- normalisation, dropout, shapes -------------------------------------------------------------
@builds("BatchNormalization")
def batch_norm(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    if a.get("training_mode", 0):
        raise LoadError(f"{_name(node)}: training_mode=1 is not rebuilt")
    scale, bias, mean, var = (_float(ctx.const(node, i, w), node, w) for i, w in
                              enumerate(("scale", "bias", "mean", "var"), 1))
    C = mean.size
    for arr, w in ((scale, "scale"), (bias, "bias"), (var, "var")):
        if arr.shape != (C,) or mean.shape != (C,):
            raise LoadError(f"{_name(node)}: {w} has shape {arr.shape}, mean {mean.shape}; "
                            "one value per channel is expected")
    rank = ctx.ranks.get(node.input[0])
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}.get(
        rank if rank is not None else 4)
    if cls is None:
        raise LoadError(f"{_name(node)} on inputs of rank {rank} is not rebuilt")
    m = cls(C, eps=_f32(a.get("epsilon", 1e-5)),
            momentum=_f32(1.0 - _f32(a.get("momentum", 0.9))), dtype=mean.dtype)
    for name, arr in (("weight", scale), ("bias", bias), ("running_mean", mean),
                      ("running_var", var)):
        _set(m, name, arr, node)
    return m


@builds("LayerNormalization")
def layer_norm(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    scale = _float(ctx.const(node, 1, "scale"), node, "the scale")
    bias = ctx.const(node, 2, "bias", optional=True)
    axis, rank = int(a.get("axis", -1)), ctx.ranks.get(node.input[0])
    k = -axis if axis < 0 else (None if rank is None else rank - axis)
    if k != scale.ndim:
        raise LoadError(f"{_name(node)}: axis {axis} with a scale of shape {scale.shape}; the "
                        "scale must cover the normalised trailing dims")
    m = nn.LayerNorm(scale.shape, eps=_f32(a.get("epsilon", 1e-5)), bias=bias is not None,
                     dtype=scale.dtype)
    _set(m, "weight", scale, node)
    if bias is not None:
        _set(m, "bias", bias.reshape(scale.shape), node)
    return m


@builds("Dropout")
def dropout(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    ratio = ctx.const(node, 1, "ratio", optional=True)
    p = _f32(a.get("ratio", 0.5) if ratio is None else np.asarray(ratio).reshape(-1)[0])
    mode = ctx.const(node, 2, "training_mode", optional=True)
    if mode is not None and bool(np.asarray(mode).reshape(-1)[0]):
        raise LoadError(f"{_name(node)}: training_mode true is not rebuilt")
    return nn.Dropout(p)


@builds("Identity")
def identity(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    return nn.Identity()


@builds("Flatten")
def flatten(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    if a.get("axis", 1) != 1:
        raise LoadError(f"{_name(node)}: axis={a['axis']}; Flatten with axis 1 is rebuilt")
    return nn.Flatten()


@builds("Reshape")
def reshape(ctx: Ctx, node: Any, a: dict[str, Any]) -> Any:
    shape = [int(v) for v in ctx.const(node, 1, "shape")]
    rank = ctx.ranks.get(node.input[0])
    if len(shape) == 2 and shape[0] == 0 and shape[1] == -1:
        return nn.Flatten()
    if rank == 2 and shape[0] == 0 and len(shape) > 2 and all(v > 0 for v in shape[1:]):
        return nn.Unflatten(1, tuple(shape[1:]))
    raise LoadError(f"{_name(node)}: the target shape {shape} is not rebuilt (batch-keeping "
                    "[0, -1] and [0, d1, d2, ...] from a matrix are)")


# the activations live in rebuild_activations.py beside this file
from chainrule.onnx import rebuild_activations  # noqa: E402, F401
