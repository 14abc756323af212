"""RNN / LSTM / GRU over a PackedSequence, as PyTorch runs them: the output is a PackedSequence
with the same batch_sizes, and h_n (and c_n) hold each sequence's state after its own last real
step, in the batch's original order.

The packed data is time-major with the longest sequences first, so at step t only the first
batch_sizes[t] rows of the state advance. Forwards, the batch shrinks: rows whose sequence has
ended are set aside as final states. Backwards in time, it grows: rows whose sequence starts
(from its end) join with their initial state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.errors import ShapeError
from chainrule.nn.layers.linear import linear
from chainrule.nn.layers.recurrent import State, _checked, _dropout, _input_bias
from chainrule.nn.layers.recurrent_fused import recurrence
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.ops.join import cat, stack
from chainrule.tensor import Tensor


def _rows(state: State, start: int, stop: int) -> State:
    if isinstance(state, tuple):
        return tuple(s[start:stop] for s in state)
    return state[start:stop]


def _join(parts: list[State]) -> State:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], tuple):
        return tuple(cat([p[j] for p in parts], 0) for j in range(len(parts[0])))
    return cat(parts, 0)


def _direction(module: Any, x: Tensor, bs: list[int], k: int, d: int,
               state: State) -> tuple[Tensor, State]:
    """Layer k, direction d over packed x (sum(bs), n_in): the packed outputs (sum(bs), H) and
    the final state of every sequence (B, H), in sorted order."""
    W_ih, W_hh, b_ih, b_hh = module._weights(k, d)
    gi = linear(x, W_ih, _input_bias(module.mode, b_ih, b_hh))
    b_step = b_hh if module.mode == "GRU" else None
    return recurrence(module.mode, d == 1, gi, W_hh, state, b_step, batch_sizes=bs)


def _initial(module: Any, hx: Any, B: int, like: Tensor, order: Any) -> list[State]:
    """One state per (layer, direction), (B, H) rows in sorted order (hx is given in the
    batch's original order, as in PyTorch)."""
    n = module.num_layers * (2 if module.bidirectional else 1)
    H, lstm, name = module.hidden_size, module.mode == "LSTM", type(module).__name__
    if hx is None:
        z = like.new_zeros((B, H))
        return [(z, z) if lstm else z] * n
    if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
        raise TypeError(f"{name}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
    parts = []
    for v, label in (zip(hx, ("h_0", "c_0")) if lstm else [(hx, "h_0")]):
        v = _checked(name, v, label, (n, B, H), "(num_layers * num_directions, batch, "
                     "hidden_size)", like.dtype)
        if order is not None:
            v = v[:, order]
        parts.append([v[i] for i in range(n)])
    return list(zip(*parts)) if lstm else parts[0]


def forward_packed(module: Any, packed: PackedSequence, hx: Any) -> tuple[PackedSequence, Any]:
    """module (an RNN, LSTM or GRU) over a PackedSequence: (PackedSequence of outputs, h_n) or
    (..., (h_n, c_n)) for the LSTM, h_n (D * num_layers, B, H) in the original batch order."""
    x, batch_sizes, sorted_indices, unsorted_indices = packed
    name = type(module).__name__
    if x.ndim != 2 or x.shape[1] != module.input_size:
        raise ShapeError(f"{name}: the packed data must be (sum of lengths, "
                         f"{module.input_size}), got {tuple(x.shape)}")
    if x.dtype != module.weight_ih_l0.dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the parameters' "
                        f"{module.weight_ih_l0.dtype}; cast the packed sequence (.to(...)) or "
                        "the module")
    bs = [int(b) for b in np.asarray(batch_sizes.numpy(force=True))]
    order = None if sorted_indices is None else sorted_indices.numpy(force=True)
    states = _initial(module, hx, bs[0], x, order)
    D = 2 if module.bidirectional else 1
    finals = []
    for k in range(module.num_layers):
        if k > 0 and module.dropout > 0 and module.training:
            x = _dropout(x, module.dropout)
        outs = []
        for d in range(D):
            y, s = _direction(module, x, bs, k, d, states[k * D + d])
            outs.append(y)
            finals.append(s)
        x = outs[0] if D == 1 else cat(outs, 1)
    back = None if unsorted_indices is None else unsorted_indices.numpy(force=True)
    n_parts = 2 if module.mode == "LSTM" else 1
    last = []
    for j in range(n_parts):
        h = stack([s[j] if n_parts == 2 else s for s in finals], 0)
        last.append(h if back is None else h[:, back])
    out = PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices)
    return out, (tuple(last) if n_parts == 2 else last[0])
