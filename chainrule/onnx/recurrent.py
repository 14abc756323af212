"""ONNX conversions of RNN, LSTM and GRU: one ONNX op per layer, gates reordered.

PyTorch stacks the LSTM gates as (i, f, g, o) and ONNX as (i, o, f, c); the GRU's (r, z, n)
become ONNX's (z, r, h), and linear_before_reset=1 is PyTorch's GRU (r multiplies
h W_hn^T + b_hn). ONNX ops take (L, N, H_in) and give Y of shape (L, D, N, H), so each layer's
Y is transposed and reshaped to (L, N, D * H), PyTorch's layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn
from chainrule.onnx import OnnxExporterError
from chainrule.onnx.graph import GraphBuilder, _host
from chainrule.onnx.layers import converts, hint, pname
from chainrule.tensor import Tensor

# ONNX gate k takes PyTorch's gate ORDER[k]
ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def onnx_op(m: Any) -> str:
    return "LSTM" if isinstance(m, nn.LSTM) else "GRU" if isinstance(m, nn.GRU) else "RNN"


def reorder(a: np.ndarray, op: str, H: int) -> np.ndarray:
    """PyTorch's gate blocks of H rows, in ONNX's order (along axis 0)."""
    return np.concatenate([a[k * H:(k + 1) * H] for k in ORDER[op]], axis=0)


def _layer_weights(m: Any, op: str, k: int, D: int, dt: Any) -> tuple[np.ndarray, ...]:
    H, Ws, Rs, Bs = m.hidden_size, [], [], []
    for d in range(D):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        Ws.append(reorder(_host(getattr(m, "weight_ih" + sfx)), op, H))
        Rs.append(reorder(_host(getattr(m, "weight_hh" + sfx)), op, H))
        if m.bias:
            Bs.append(np.concatenate([reorder(_host(getattr(m, "bias_ih" + sfx)), op, H),
                                      reorder(_host(getattr(m, "bias_hh" + sfx)), op, H)]))
    return (np.stack(Ws).astype(dt), np.stack(Rs).astype(dt),
            np.stack(Bs).astype(dt) if Bs else None)


@converts(nn.RNN, nn.LSTM, nn.GRU)
def recurrent(g: GraphBuilder, m: Any, path: str, x: str, xs: Tensor, y: Any) -> Any:
    if xs.ndim != 3:
        raise OnnxExporterError(
            f"onnx.export: {path or 'the model'} ({type(m).__name__}) got an input of shape "
            f"{tuple(xs.shape)}; export needs batched sequences of rank 3")
    op, h = onnx_op(m), hint(path, m)
    D = 2 if m.bidirectional else 1
    dt = xs.array.dtype
    if m.batch_first:  # ONNX's layout=1 is not run by every runtime: transpose instead
        x = g.node("Transpose", [x], h + "_time_major", perm=[1, 0, 2])
    attrs: dict[str, Any] = {"hidden_size": m.hidden_size,
                             "direction": "bidirectional" if D == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Relu" if m.nonlinearity == "relu" else "Tanh"] * D
    hs, cs = [], []
    for k in range(m.num_layers):
        W, R, B = _layer_weights(m, op, k, D, dt)
        inputs = [x, g.const(W, pname(path, f"W_l{k}")), g.const(R, pname(path, f"R_l{k}"))]
        if B is not None:
            inputs.append(g.const(B, pname(path, f"B_l{k}")))
        outs = g.node(op, inputs, f"{h}_l{k}", n_out=3 if op == "LSTM" else 2, **attrs)
        Y = g.node("Transpose", [outs[0]], f"{h}_l{k}_Yt", perm=[0, 2, 1, 3])
        x = g.node("Reshape", [Y, g.ints([0, 0, -1], f"{h}_l{k}_shape")], f"{h}_l{k}_out")
        hs.append(outs[1])
        if op == "LSTM":
            cs.append(outs[2])
    if m.batch_first:
        x = g.node("Transpose", [x], h + "_output", perm=[1, 0, 2])
    h_n = hs[0] if len(hs) == 1 else g.node("Concat", hs, h + "_h_n", axis=0)
    if op != "LSTM":
        return (x, h_n)
    c_n = cs[0] if len(cs) == 1 else g.node("Concat", cs, h + "_c_n", axis=0)
    return (x, (h_n, c_n))
