"""The whole recurrence of one RNN / LSTM / GRU layer and direction as one op (fused for speed).

The per-step path (chainrule.nn.layers.recurrent's step functions) records about ten ops per time
step, and a training step of a 35-step LSTM spends most of its time creating, walking and
releasing them. Recurrence runs the loop on arrays instead: forward keeps the gate activations
backward needs in (steps x batch, .) buffers; backward walks the sequence backwards on arrays,
computing the derivatives of every gate that do not depend on the upstream gradient in a few
passes over all steps at once, and finds dW_hh in one matmul over the stacked states.

Higher-order gradients: when backward itself is recorded (create_graph=True), it replays the
forward with the differentiable per-step ops and differentiates that (chainrule.autograd.grad),
so gradgradcheck holds; the two backward paths are held to each other by the tests.

Sigmoids are computed as 0.5 * tanh(0.5 x) + 0.5 (exact algebra, one ufunc pass fewer than
1 / (1 + exp(-x)), and never overflows); the 0.5 is folded into the weights and inputs once.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import xp_of
from chainrule.tensor import Tensor


class Recurrence(Function):
    """mode "LSTM", "GRU", "RNN_TANH" or "RNN_RELU" over a whole sequence, one layer and
    direction (reverse: time runs backwards). Inputs gi: every step's input share of the gates
    (x W_ih^T + b_ih, with b_hh folded in except for the GRU), (L, N, G * H), or packed
    (sum(batch_sizes), G * H) with batch_sizes given (step t advances the first batch_sizes[t]
    rows of the state, as PyTorch runs a PackedSequence); W_hh (G * H, H); h_0 (N, H); then
    c_0 (N, H) for the LSTM, b_hh (G * H,) for a GRU with biases.
    Outputs (y (L, N, H) (or packed (sum(batch_sizes), H)) in time order, h_n (N, H)) and
    c_n (N, H) for the LSTM; h_n holds each row's state after its own last step."""

    saves = "inputs"  # W_hh, h_0, c_0 (every input in the replayed backward); no output

    def __init__(self, mode: str, reverse: bool, batch_sizes: Any = None) -> None:
        self.mode, self.reverse, self.batch_sizes = mode, reverse, batch_sizes

    def _steps(self, gi: Any, N: int) -> tuple[list[int], list[int]]:
        """Per step in the order run: (rows, first row of the step in the flat buffers)."""
        bs = self.batch_sizes or [N] * gi.shape[0]
        offs = [0] * len(bs)
        for t in range(1, len(bs)):
            offs[t] = offs[t - 1] + bs[t - 1]
        order = range(len(bs) - 1, -1, -1) if self.reverse else range(len(bs))
        return [bs[t] for t in order], [offs[t] for t in order]

    def forward(self, gi: Any, W_hh: Any, h0: Any, *rest: Any) -> Any:
        fwd = {"LSTM": _lstm_forward, "GRU": _gru_forward}.get(self.mode, _rnn_forward)
        self.shape = gi.shape
        self.plan = self._steps(gi, h0.shape[0])
        Y, *finals = fwd(self, gi.reshape(-1, gi.shape[-1]), W_hh, h0, *rest)
        return (Y.reshape(gi.shape[:-1] + (h0.shape[1],)), *finals)

    def backward(self, gy: Tensor, gh: Tensor, *gc: Tensor) -> tuple:
        if is_grad_enabled():  # create_graph: a backward that is itself differentiable
            return self._replay_backward((gy, gh) + gc)
        bwd = {"LSTM": _lstm_backward, "GRU": _gru_backward}.get(self.mode, _rnn_backward)
        gya = gy.array
        grads = list(bwd(self, gya.reshape(-1, gya.shape[-1]), gh.array,
                         *[g.array for g in gc]))
        grads[0] = grads[0].reshape(self.shape)
        return tuple(None if g is None or not need else Tensor._make(g, None)
                     for g, need in zip(grads, self.needs_input_grad))

    def _replay_backward(self, gys: tuple) -> tuple:
        """The same gradients through the differentiable per-step ops, so they can be
        differentiated again."""
        from chainrule.autograd import grad

        outs = steps(self.mode, self.reverse, *self.inputs, batch_sizes=self.batch_sizes)
        wanted = [x for x, need in zip(self.inputs, self.needs_input_grad) if need]
        got = iter(grad(outs, wanted, grad_outputs=list(gys), create_graph=True,
                        allow_unused=True))
        return tuple(next(got) if need else None for need in self.needs_input_grad)


# -- LSTM: gates i, f, g, o ----------------------------------------------------------------------
def _lstm_forward(self: Recurrence, gi: Any, W_hh: Any, h0: Any, c0: Any) -> tuple:
    """gi (T, 4H) flat; keeps the activations A, tanh(c) TC, and the cells C (padded) or the
    states before each step HP, CP (packed: there a step's previous state is not one block of
    the outputs), all (T, .), for backward."""
    xp = xp_of(gi, W_hh, h0, c0)
    T, GH = gi.shape
    N, H = h0.shape
    half = xp.full((GH,), 0.5, dtype=gi.dtype)  # sigmoid(x) = 0.5 tanh(0.5 x) + 0.5
    half[2 * H:3 * H] = 1.0
    shift = half.copy()
    shift[2 * H:3 * H] = 0.0
    A = gi * half  # pre-activations, made activations in place step by step
    WT = xp.ascontiguousarray(W_hh.T * half)  # h @ WT runs faster on a row-major operand
    TC, Y = xp.empty((T, H), dtype=gi.dtype), xp.empty((T, H), dtype=gi.dtype)
    packed = self.batch_sizes is not None
    if packed:  # every row's latest state, and each step's previous one
        h, c = h0.copy(), c0.copy()
        HP, CP = xp.empty((T, H), dtype=gi.dtype), xp.empty((T, H), dtype=gi.dtype)
    else:
        h, c, C = h0, c0, xp.empty((T, H), dtype=gi.dtype)
    tmp, tmpH = xp.empty((N, GH), dtype=gi.dtype), xp.empty((N, H), dtype=gi.dtype)
    for b, o in zip(*self.plan):
        r = slice(o, o + b)
        a, tc, y = A[r], TC[r], Y[r]
        if packed:
            hp, cp, cb = HP[r], CP[r], c[:b]
            hp[...] = h[:b]
            cp[...] = cb
        else:
            hp, cp, cb = h, c, C[r]
        xp.matmul(hp, WT, out=tmp[:b])
        a += tmp[:b]
        xp.tanh(a, out=a)
        a *= half
        a += shift
        xp.multiply(a[:, H:2 * H], cp, out=cb)
        xp.multiply(a[:, :H], a[:, 2 * H:3 * H], out=tmpH[:b])
        cb += tmpH[:b]
        xp.tanh(cb, out=tc)
        xp.multiply(a[:, 3 * H:], tc, out=y)
        if packed:
            h[:b] = y
        else:
            h, c = y, cb
    self.A, self.TC = A, TC
    if packed:
        self.HP, self.CP = HP, CP
        return Y, h, c
    self.Y, self.C = Y, C
    return Y, h.copy(), c.copy()


def _prev_blocks(self: Recurrence, Z: Any, z0: Any) -> list[tuple[slice, Any]]:
    """Padded (T, H) states in time order: (rows, the states before those steps) pairs that
    cover all T rows, without copying: z0 before the first step, Z shifted by a step after."""
    n = z0.shape[0]
    if self.reverse:
        return [(slice(Z.shape[0] - n, None), z0), (slice(0, Z.shape[0] - n), Z[n:])]
    return [(slice(0, n), z0), (slice(n, None), Z[:Z.shape[0] - n])]


def _with_prev(self: Recurrence, op: Any, out: Any, prev: Any, Z: Any, z0: Any) -> None:
    """out (T, H) = op(out, the state before each step) in place (prev, or from Z and z0 when
    padded); op is xp.multiply or xp.add."""
    if prev is not None:
        op(out, prev, out=out)
        return
    for r, p in _prev_blocks(self, Z, z0):
        op(out[r], p, out=out[r])


def _grad_W(self: Recurrence, dG: Any, HP: Any, Y: Any, h0: Any) -> Any:
    """dW_hh = sum_t dG_t^T h_{t-1}: one matmul over the stacked states (two when padded)."""
    if HP is not None:
        return dG.T @ HP
    dW = None
    for r, p in _prev_blocks(self, Y, h0):
        if p.shape[0]:
            dW = dG[r].T @ p if dW is None else dW + dG[r].T @ p
    return dW


def _lstm_backward(self: Recurrence, gy: Any, gh: Any, gc: Any) -> tuple:
    W_hh, h0, c0 = (x.array for x in self.inputs[1:4])
    A, TC = self.A, self.TC
    xp = xp_of(gy, A, W_hh)
    packed = self.batch_sizes is not None
    HP, CP, Y, C = (self.HP, self.CP, None, None) if packed else (None, None, self.Y, self.C)
    T, GH = A.shape
    H = GH // 4
    # Everything that does not depend on the upstream gradient, for all steps at once:
    # d gates = dc * [g i', c_prev f', i g'] and dh * tanh(c) o', and dc += dh * o tanh'(c);
    # so per step only a few products remain.
    i, f, g, o = (A[:, k * H:(k + 1) * H] for k in range(4))
    P = 1 - A  # sigmoid' = s (1 - s)
    P *= A
    Pi, Pf, Pg, Po = (P[:, k * H:(k + 1) * H] for k in range(4))
    Pi *= g
    _with_prev(self, xp.multiply, Pf, CP, C, c0)
    xp.multiply(g, g, out=Pg)  # tanh' = 1 - g^2, times i
    xp.subtract(1, Pg, out=Pg)
    Pg *= i
    Po *= TC
    OD = TC * TC
    xp.subtract(1, OD, out=OD)
    OD *= o
    P3 = P.reshape(T, 4, H)[:, :3]
    dG = xp.empty_like(A)
    dG3 = dG.reshape(T, 4, H)[:, :3]
    dh, dc = gh.copy(), gc.copy()
    tmpH = xp.empty(dh.shape, dtype=A.dtype)
    for b, s in zip(*(reversed(p) for p in self.plan)):
        r = slice(s, s + b)
        dhb, dcb, tb = dh[:b], dc[:b], tmpH[:b]
        dhb += gy[r]
        xp.multiply(dhb, Po[r], out=dG[r, 3 * H:])
        xp.multiply(dhb, OD[r], out=tb)
        dcb += tb
        xp.multiply(dcb[:, None, :], P3[r], out=dG3[r])
        dcb *= f[r]
        xp.matmul(dG[r], W_hh, out=dhb)
    dW = _grad_W(self, dG, HP, Y, h0) if self.needs_input_grad[1] else None
    return dG, dW, dh, dc


# -- GRU: gates r, z, n --------------------------------------------------------------------------
def _gru_forward(self: Recurrence, gi: Any, W_hh: Any, h0: Any, b_hh: Any = None) -> tuple:
    """Keeps h W_hh^T + b_hh (r, z halved) GH, the gates RZ and N, and (packed) the states
    before each step HP, all (T, .), for backward."""
    xp = xp_of(gi, W_hh, h0)
    T, GH = gi.shape
    H = GH // 3
    half = xp.full((GH,), 0.5, dtype=gi.dtype)  # r, z: sigmoid(x) = 0.5 tanh(0.5 x) + 0.5
    half[2 * H:] = 1.0
    GI = gi * half
    WT = xp.ascontiguousarray(W_hh.T * half)
    bias = None if b_hh is None else b_hh * half
    GH_ = xp.empty((T, GH), dtype=gi.dtype)
    RZ = xp.empty((T, 2 * H), dtype=gi.dtype)
    Nn, Y = xp.empty((T, H), dtype=gi.dtype), xp.empty((T, H), dtype=gi.dtype)
    packed = self.batch_sizes is not None
    h, HP = (h0.copy(), xp.empty((T, H), dtype=gi.dtype)) if packed else (h0, None)
    for b, o in zip(*self.plan):
        r = slice(o, o + b)
        g, rz, n, y = GH_[r], RZ[r], Nn[r], Y[r]
        if packed:
            hp = HP[r]
            hp[...] = h[:b]
        else:
            hp = h
        xp.matmul(hp, WT, out=g)
        if bias is not None:
            g += bias
        xp.add(GI[r, :2 * H], g[:, :2 * H], out=rz)
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        xp.multiply(rz[:, :H], g[:, 2 * H:], out=n)
        n += GI[r, 2 * H:]
        xp.tanh(n, out=n)
        xp.subtract(hp, n, out=y)
        y *= rz[:, H:]
        y += n
        if packed:
            h[:b] = y
        else:
            h = y
    self.GH, self.RZ, self.N, self.HP, self.Y = GH_, RZ, Nn, HP, Y
    return Y, (h if packed else h.copy())


def _gru_backward(self: Recurrence, gy: Any, gh: Any) -> tuple:
    W_hh, h0 = self.inputs[1].array, self.inputs[2].array
    GH_, RZ, Nn, HP, Y = self.GH, self.RZ, self.N, self.HP, self.Y
    xp = xp_of(gy, RZ, W_hh)
    H = Nn.shape[1]
    r_, z = RZ[:, :H], RZ[:, H:]
    # Factors that do not depend on the upstream gradient, for all steps at once:
    # dn = dh (1 - z) n'; dz = dh (h_prev - n) z'; dr = dn W_hn h r'; so per step a few products.
    Kn = Nn * Nn  # (1 - z) (1 - n^2)
    xp.subtract(1, Kn, out=Kn)
    Kn -= Kn * z
    Kz = -Nn  # (h_prev - n) z (1 - z)
    _with_prev(self, xp.add, Kz, HP, Y, h0)
    Kz *= z
    Kz -= Kz * z
    Kr = GH_[:, 2 * H:] * r_  # ghn r (1 - r)
    Kr -= Kr * r_
    dGI = xp.empty(GH_.shape, dtype=RZ.dtype)
    dGH = xp.empty_like(dGI)
    dh = gh.copy()
    tmpH = xp.empty(dh.shape, dtype=RZ.dtype)
    for b, o in zip(*(reversed(p) for p in self.plan)):
        r = slice(o, o + b)
        dgh, dn, dhb, tb = dGH[r], dGI[r, 2 * H:], dh[:b], tmpH[:b]
        dhb += gy[r]
        xp.multiply(dhb, Kn[r], out=dn)
        xp.multiply(dhb, Kz[r], out=dgh[:, H:2 * H])
        xp.multiply(dn, Kr[r], out=dgh[:, :H])
        xp.multiply(dn, r_[r], out=dgh[:, 2 * H:])
        xp.multiply(dhb, z[r], out=tb)  # the direct path z * h_{t-1}
        xp.matmul(dgh, W_hh, out=dhb)
        dhb += tb
    dGI[:, :2 * H] = dGH[:, :2 * H]
    need = self.needs_input_grad
    dW = _grad_W(self, dGH, HP, Y, h0) if need[1] else None
    db = dGH.sum(axis=0) if len(need) > 3 and need[3] else None
    return (dGI, dW, dh) + ((db,) if len(need) > 3 else ())


# -- Elman RNN: tanh or relu ---------------------------------------------------------------------
def _rnn_forward(self: Recurrence, gi: Any, W_hh: Any, h0: Any) -> tuple:
    xp = xp_of(gi, W_hh, h0)
    Y, HP = xp.empty_like(gi), xp.empty_like(gi)
    WT = xp.ascontiguousarray(W_hh.T)
    h = h0.copy()
    for b, o in zip(*self.plan):
        r = slice(o, o + b)
        y, hp = Y[r], HP[r]
        hp[...] = h[:b]
        xp.matmul(hp, WT, out=y)
        y += gi[r]
        if self.mode == "RNN_TANH":
            xp.tanh(y, out=y)
        else:
            xp.maximum(y, 0, out=y)
        h[:b] = y
    self.Y, self.HP = Y, HP
    return Y, h


def _rnn_backward(self: Recurrence, gy: Any, gh: Any) -> tuple:
    W_hh = self.inputs[1].array
    Y, HP = self.Y, self.HP
    xp = xp_of(gy, Y, W_hh)
    if self.mode == "RNN_TANH":
        D = Y * Y
        xp.subtract(1, D, out=D)
    else:
        D = (Y > 0).astype(Y.dtype)
    dG = xp.empty_like(Y)
    dh = gh.copy()
    for b, o in zip(*(reversed(p) for p in self.plan)):
        r = slice(o, o + b)
        dhb = dh[:b]
        dhb += gy[r]
        xp.multiply(dhb, D[r], out=dG[r])
        xp.matmul(dG[r], W_hh, out=dhb)
    dW = dG.T @ HP if self.needs_input_grad[1] else None
    return dG, dW, dh


# -- the differentiable per-step path: the reference, and the create_graph backward -------------
def steps(mode: str, reverse: bool, gi: Tensor, W_hh: Tensor, h0: Tensor, *rest: Tensor,
          batch_sizes: Any = None) -> tuple:
    """What Recurrence computes, with one differentiable op per operation: (y, h_n[, c_n]).
    Packed (batch_sizes given): forwards the batch shrinks and rows whose sequence has ended
    are set aside as final states; backwards in time it grows, rows joining with h_0."""
    from chainrule.nn.layers.recurrent import _MODES, _hidden
    from chainrule.nn.layers.recurrent_packed import _join, _rows
    from chainrule.ops.join import cat, stack

    step = _MODES[mode][1]
    lstm = mode == "LSTM"
    state: Any = (h0, rest[0]) if lstm else h0
    b_step = rest[0] if (mode == "GRU" and rest) else None
    W_hhT = W_hh.T
    if batch_sizes is None:
        bs = [h0.shape[0]] * gi.shape[0]
        xs = gi.unbind(0)
    else:
        bs = list(batch_sizes)
        xs = gi.split(bs, 0) if len(bs) > 1 else [gi]
    hs: list[Tensor] = [h0] * len(bs)
    if not reverse:
        done: list[Any] = []
        n = bs[0]
        for t, b in enumerate(bs):
            if b < n:  # rows b .. n-1 ended at step t - 1
                done.append(_rows(state, b, n))
                state, n = _rows(state, 0, b), b
            state = step(xs[t], state, W_hhT, b_step)
            hs[t] = _hidden(state)
        state = _join([state] + done[::-1])
    else:
        init, n = state, bs[-1]
        state = _rows(init, 0, n)
        for t in range(len(bs) - 1, -1, -1):
            if bs[t] > n:  # rows n .. b-1 start here, backwards in time
                state, n = _join([state, _rows(init, n, bs[t])]), bs[t]
            state = step(xs[t], state, W_hhT, b_step)
            hs[t] = _hidden(state)
    y = stack(hs, 0) if batch_sizes is None else cat(hs, 0)
    return (y,) + (state if lstm else (state,))


def recurrence(mode: str, reverse: bool, gi: Tensor, W_hh: Tensor, state: Any,
               b_hh: Tensor | None, batch_sizes: Any = None) -> tuple[Tensor, Any]:
    """One layer and direction over gi (L, N, G * H), or packed (sum(batch_sizes), G * H):
    (y, final state), the state h (N, H) or (h, c) for the LSTM, as the per-step path gives
    them."""
    f = Recurrence(mode, reverse, None if batch_sizes is None else list(batch_sizes))
    if mode == "LSTM":
        y, h, c = f(gi, W_hh, state[0], state[1])
        return y, (h, c)
    y, h = f(gi, W_hh, state, *((b_hh,) if b_hh is not None else ()))
    return y, h
