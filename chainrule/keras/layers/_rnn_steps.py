"""The step-by-step loop of the Keras recurrent layers, for what the fused chainrule.nn layers
cannot do as Keras does: a mask (a masked step keeps the states and repeats the last output),
recurrent_dropout (Keras 3's implementation 1: one dropout mask per gate on the inputs and one
per gate on h_{t-1}, drawn once per call and shared by every step), GRU(reset_after=False),
and stateful carries. Each step is differentiable Tensor ops on the layer's nn parameters, in
the nn gate order (LSTM i, f, g, o; GRU r, z, n).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.backend import xp_of
from chainrule.ops import cat, stack
from chainrule.tensor import Tensor


def _const(a: np.ndarray, like: Tensor) -> Tensor:
    """A constant Tensor on the array module of `like` (masks are drawn on the host)."""
    return Tensor._make(xp_of(like.array).asarray(a), None)


def _blocks(W: Tensor, G: int) -> list[Tensor]:
    u = W.shape[0] // G
    return [W[j * u:(j + 1) * u] for j in range(G)]


def _project(h: Tensor, W: Tensor, G: int, masks: Sequence[Tensor] | None) -> Tensor:
    """h @ W.T, or with one mask per gate: cat_j((h * m_j) @ W_j.T)."""
    if masks is None:
        return h @ W.T
    return cat([(h * m) @ Wj.T for m, Wj in zip(masks, _blocks(W, G))], -1)


def run_steps(layer: Any, x: Tensor, states: list[Tensor], keep: np.ndarray | None,
              in_masks: Sequence[np.ndarray] | None,
              rec_masks: Sequence[np.ndarray] | None) -> tuple[Tensor, list[Tensor]]:
    """Run `layer` (a Keras SimpleRNN / LSTM / GRU holding an nn module `rnn`) over x (N, T, in)
    from `states` (a list of (N, units) Tensors). keep (N, T) bool: the Keras mask; in_masks
    (G arrays (N, in)) and rec_masks (G arrays (N, units)): dropout masks per gate in the nn
    order, already scaled by 1 / (1 - rate). Returns (outputs (N, T, units), final states)."""
    rnn, G = layer.rnn, layer.gates
    W_ih, W_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    b_ih, b_hh = rnn._parameters.get("bias_ih_l0"), rnn._parameters.get("bias_hh_l0")
    if in_masks is None:
        xw = x @ W_ih.T
    else:
        xw = cat([(x * _const(m[:, None, :], x)) @ Wj.T
                  for m, Wj in zip(in_masks, _blocks(W_ih, G))], -1)
    if b_ih is not None:
        xw = xw + b_ih
    rm = None if rec_masks is None else [_const(m, x) for m in rec_masks]
    step = {1: _rnn_step, 3: _gru_step, 4: _lstm_step}[G]
    dt = x.array.dtype
    prev = states[0] * 0 if keep is not None else None
    outs = []
    for t in range(x.shape[1]):
        out, new = step(layer, xw[:, t], states, W_hh, b_hh, rm)
        if keep is not None:
            m = keep[:, t].astype(dt)[:, None]
            m1, m0 = _const(m, x), _const(1 - m, x)
            new = [m1 * a + m0 * b for a, b in zip(new, states)]
            out = prev = m1 * out + m0 * prev
        states = new
        outs.append(out)
    return stack(outs, 1), states


def _rnn_step(layer: Any, xw: Tensor, states: list[Tensor], W_hh: Tensor, b_hh: Any,
              rm: Any) -> tuple[Tensor, list[Tensor]]:
    z = xw + _project(states[0], W_hh, 1, rm)
    if b_hh is not None:
        z = z + b_hh
    h = z.relu() if layer._nonlinearity == "relu" else z.tanh()
    return h, [h]


def _lstm_step(layer: Any, xw: Tensor, states: list[Tensor], W_hh: Tensor, b_hh: Any,
               rm: Any) -> tuple[Tensor, list[Tensor]]:
    h, c = states
    z = xw + _project(h, W_hh, 4, rm)
    if b_hh is not None:
        z = z + b_hh
    i, f, g, o = z.chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return h, [h, c]


def _gru_step(layer: Any, xw: Tensor, states: list[Tensor], W_hh: Tensor, b_hh: Any,
              rm: Any) -> tuple[Tensor, list[Tensor]]:
    h = states[0]
    Wr, Wz, Wn = _blocks(W_hh, 3)
    br, bz, bn = (None,) * 3 if b_hh is None else b_hh.chunk(3)
    hr, hz, hn = (h, h, h) if rm is None else (h * rm[0], h * rm[1], h * rm[2])
    xr, xz, xn = xw.chunk(3, dim=-1)
    ar, az = hr @ Wr.T, hz @ Wz.T
    if br is not None:
        ar, az = ar + br, az + bz
    r, z = (xr + ar).sigmoid(), (xz + az).sigmoid()
    if layer.reset_after:
        an = hn @ Wn.T
        n = (xn + r * (an if bn is None else an + bn)).tanh()
    else:  # the reset gate before the matmul (Keras 1's GRU); the recurrent bias is zero
        n = (xn + (r * hn) @ Wn.T).tanh()
    h = z * h + (1 - z) * n
    return h, [h]
