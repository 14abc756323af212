"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, batch_first) and their cells.

Shapes, parameter names, gate orders and formulas are PyTorch's. A layer takes input (L, N, H_in),
(N, L, H_in) with batch_first, or unbatched (L, H_in); hidden states are (D * num_layers, N, H)
with D = 2 if bidirectional else 1. Each layer projects the whole sequence onto its gates with one
matmul; the recurrence h_{t-1} -> h_t then runs as one fused op per layer and direction, on arrays
(recurrent_fused.Recurrence, for speed). The step functions below are the cells' path and the
differentiable reference that the fused op replays for higher-order gradients.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable

from chainrule.backend import as_dtype, default_generator, xp_of
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.nn.layers.linear import linear
from chainrule.nn.layers.recurrent_fused import recurrence
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_tensor
from chainrule.ops.elementwise import Scale
from chainrule.ops.join import cat, stack
from chainrule.random import uniform_like
from chainrule.tensor import Tensor

State = Any  # h, or (h, c) for the LSTM


# -- one time step: gi is the input's share of the gates, (N, G * H) -----------------------------
def _affine(gi: Tensor, h: Tensor, W_hhT: Tensor, b_hh: Tensor | None) -> Tensor:
    y = gi + h @ W_hhT
    return y if b_hh is None else y + b_hh


def _tanh_step(gi: Tensor, h: Tensor, W_hhT: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)"""
    return _affine(gi, h, W_hhT, b_hh).tanh()


def _relu_step(gi: Tensor, h: Tensor, W_hhT: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = relu(W_ih x + b_ih + W_hh h + b_hh)"""
    return _affine(gi, h, W_hhT, b_hh).relu()


def _lstm_step(gi: Tensor, state: State, W_hhT: Tensor, b_hh: Tensor | None) -> State:
    """Gates i, f, g, o:  c' = f * c + i * g;  h' = o * tanh(c')."""
    h, c = state
    i, f, g, o = _affine(gi, h, W_hhT, b_hh).chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(gi: Tensor, h: Tensor, W_hhT: Tensor, b_hh: Tensor | None) -> Tensor:
    """Gates r, z, n:  n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h."""
    gh = h @ W_hhT
    if b_hh is not None:
        gh = gh + b_hh
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)  # = (1 - z) * n + z * h with one op fewer


_MODES: dict[str, tuple[int, Callable]] = {  # mode -> (gates per unit, step)
    "RNN_TANH": (1, _tanh_step), "RNN_RELU": (1, _relu_step),
    "LSTM": (4, _lstm_step), "GRU": (3, _gru_step),
}


def _hidden(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def _input_bias(mode: str, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """The bias added to the input projection: b_hh sits outside the recurrence except in the
    GRU's n gate, so it is folded in once."""
    if b_ih is None:
        return None
    return b_ih if mode == "GRU" else b_ih + b_hh


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout with a constant mask: on the CPU from the default generator (the same
    stream as before), on a GPU from that device's own generator (no upload per step)."""
    keep = uniform_like(x.shape, "float64", x.array) >= p
    scale = keep / (1.0 - p) if p < 1 else keep * 0.0
    return Scale(scale.astype(x.array.dtype, copy=False))(x)


def _check_sizes(name: str, **sizes: Any) -> None:
    for k, v in sizes.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name}: {k} must be a positive integer, got {v!r}")


def _as_input(name: str, input: Any, like: Tensor) -> Tensor:
    x = as_tensor(input)
    if x.dtype != like.dtype:
        raise TypeError(
            f"{name}: input dtype {x.dtype} does not match the parameters' {like.dtype}; cast "
            f"the input (x.to({like.dtype})) or the module (module.to({x.dtype}))"
        )
    return x


def _uniform(shape: tuple[int, ...], hidden_size: int, dtype: Any = None) -> Any:
    """PyTorch's init of every recurrent weight and bias: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    dt = default_float() if dtype is None else as_dtype(dtype)
    return default_generator().uniform(-bound, bound, size=shape).astype(dt)


def _checked(name: str, v: Any, label: str, expected: tuple[int, ...], hint: str,
             dtype: Any) -> Tensor:
    v = as_tensor(v)
    if v.shape != expected:
        raise ShapeError(f"{name}: expected {label} of shape {expected} {hint}, got {v.shape}")
    if v.dtype != dtype:
        raise TypeError(f"{name}: {label} has dtype {v.dtype}, the parameters {dtype}; cast it "
                        f"with {label}.to({dtype})")
    return v


class _RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU; see those classes."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout should be a number in [0, 1] (the probability of "
                             f"zeroing an element), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers only, so it does nothing "
                          f"with num_layers=1", stacklevel=3)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        G = _MODES[mode][0] * hidden_size
        D = 2 if bidirectional else 1
        for k in range(num_layers):
            n_in = input_size if k == 0 else hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                shapes = [("weight_ih", (G, n_in)), ("weight_hh", (G, hidden_size))]
                shapes += [("bias_ih", (G,)), ("bias_hh", (G,))] if bias else []
                for w, shape in shapes:
                    setattr(self, f"{w}_l{k}{sfx}",
                            Parameter(_uniform(shape, hidden_size, dtype)))
        self._to_device(device)

    def _weights(self, k: int, d: int) -> tuple[Tensor, ...]:
        sfx = f"_l{k}" + ("_reverse" if d else "")
        return tuple(self._parameters.get(w + sfx) for w in
                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, State]:
        """input (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched; hx (h_0, or
        (h_0, c_0) for the LSTM) shaped (D * num_layers, N, H), zeros when None. Returns
        (output, h_n), or (output, (h_n, c_n)) for the LSTM; output is (L, N, D * H) (or
        (N, L, D * H) with batch_first, (L, D * H) unbatched), h_n and c_n like h_0.
        A PackedSequence input gives a PackedSequence output, and h_n holds each sequence's
        state after its last real step (chainrule.nn.layers.recurrent_packed)."""
        from chainrule.nn.utils.rnn import PackedSequence

        if isinstance(input, PackedSequence):
            from chainrule.nn.layers.recurrent_packed import forward_packed

            return forward_packed(self, input, hx)
        x = _as_input(type(self).__name__, input, self.weight_ih_l0)
        batched = self._check_input(x)
        x = x.unsqueeze(1) if not batched else x.swapaxes(0, 1) if self.batch_first else x
        D = 2 if self.bidirectional else 1
        states = self._initial_states(hx, x, batched)
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout)
            outs = []
            for d in range(D):
                y, s = self._direction(x, k, d, states[k * D + d])
                outs.append(y)
                finals.append(s)
            x = outs[0] if D == 1 else cat(outs, 2)
        out = x.squeeze(1) if not batched else x.swapaxes(0, 1) if self.batch_first else x
        n_parts = 2 if self.mode == "LSTM" else 1
        last = [stack([s[j] if n_parts == 2 else s for s in finals], axis=0)
                for j in range(n_parts)]
        if not batched:
            last = [h.squeeze(1) for h in last]
        return out, (tuple(last) if n_parts == 2 else last[0])

    def _direction(self, x: Tensor, k: int, d: int, state: State) -> tuple[Tensor, State]:
        """Run layer k in direction d (1 = reversed time) over x (L, N, n_in): the outputs
        (L, N, H) in time order and the final state."""
        W_ih, W_hh, b_ih, b_hh = self._weights(k, d)
        gi = linear(x, W_ih, _input_bias(self.mode, b_ih, b_hh))  # every step's share at once
        b_step = b_hh if self.mode == "GRU" else None
        return recurrence(self.mode, d == 1, gi, W_hh, state, b_step)

    def _check_input(self, x: Tensor) -> bool:
        """Raise ShapeError unless x is (L, N, H_in) / (N, L, H_in) or (L, H_in); say which."""
        H_in = self.input_size
        if x.ndim not in (2, 3) or x.shape[-1] != H_in or x.numel() == 0:
            layout = f"(N, L, {H_in})" if self.batch_first else f"(L, N, {H_in})"
            raise ShapeError(
                f"{type(self).__name__}: expected a non-empty input of shape {layout} (batched) "
                f"or (L, {H_in}) (unbatched), got {x.shape}; the last axis must hold "
                f"input_size={H_in} features"
            )
        return x.ndim == 3

    def _initial_states(self, hx: Any, x: Tensor, batched: bool) -> list[State]:
        """One state per (layer, direction), each (N, H) (or a pair for the LSTM)."""
        n = self.num_layers * (2 if self.bidirectional else 1)
        N, H, lstm = x.shape[1], self.hidden_size, self.mode == "LSTM"
        if hx is None:
            z = Tensor._make(xp_of(x.array).zeros((N, H), dtype=x.dtype), None)
            return [(z, z) if lstm else z] * n
        if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTM: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        hint = ("(num_layers * num_directions, batch, hidden_size)" if batched
                else "(num_layers * num_directions, hidden_size) for unbatched input")
        parts = []
        for v, label in (zip(hx, ("h_0", "c_0")) if lstm else [(hx, "h_0")]):
            v = _checked(type(self).__name__, v, label, (n, N, H) if batched else (n, H), hint,
                         x.dtype)
            v = v.reshape(n, N, H)
            parts.append([p.reshape(N, H) for p in v.chunk(n, 0)] if n > 1 else
                         [v.reshape(N, H)])
        return list(zip(*parts)) if lstm else parts[0]

    def flatten_parameters(self) -> None:
        """PyTorch packs the weights into one cuDNN buffer here (a no-op on its CPU too);
        chainrule's weights need no packing."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for k, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                           ("bidirectional", False)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    num_layers deep, each layer's outputs the next one's inputs (with dropout between layers in
    training). Parameters weight_ih_l{k} (H, H_in or D * H), weight_hh_l{k} (H, H), bias_ih_l{k},
    bias_hh_l{k} (H,), and *_reverse twins when bidirectional; all drawn from U(-1/sqrt(H),
    1/sqrt(H)). forward(input, h_0=None) -> (output, h_n); see _RNNBase.forward for shapes."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory, gates in PyTorch's order i, f, g, o:
    i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t).
    weight_ih_l{k} is (4H, H_in or D * H), weight_hh_l{k} (4H, H), biases (4H,).
    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        if proj_size != 0:
            raise NotImplementedError("LSTM: proj_size (projected hidden states) is not "
                                      "supported; use proj_size=0 and a Linear on the output")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)


class GRU(_RNNBase):
    """Gated recurrent unit, gates in PyTorch's order r, z, n:
    r, z = sigmoid(x_t W_i{r,z}^T + b_i{r,z} + h_{t-1} W_h{r,z}^T + b_h{r,z});
    n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn));  h_t = (1 - z) * n + z * h_{t-1}.
    weight_ih_l{k} is (3H, H_in or D * H), weight_hh_l{k} (3H, H), biases (3H,).
    forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)


# -- cells: one time step, for loops the user writes ---------------------------------------------
class _CellBase(Module):
    """One step of RNN / LSTM / GRU: parameters weight_ih (G * H, H_in), weight_hh (G * H, H),
    bias_ih, bias_hh (G * H,); forward(input (N, H_in) or (H_in,), hx=None)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.mode, self.bias = mode, bias
        self.input_size, self.hidden_size = input_size, hidden_size
        G = _MODES[mode][0] * hidden_size
        self.weight_ih = Parameter(_uniform((G, input_size), hidden_size, dtype))
        self.weight_hh = Parameter(_uniform((G, hidden_size), hidden_size, dtype))
        if bias:
            self.bias_ih = Parameter(_uniform((G,), hidden_size, dtype))
            self.bias_hh = Parameter(_uniform((G,), hidden_size, dtype))
        self._to_device(device)

    def forward(self, input: Any, hx: Any = None) -> State:
        """h' (N, H), or (h', c') for the LSTMCell; unbatched (H_in,) input gives (H,)."""
        name, H = type(self).__name__, self.hidden_size
        x = _as_input(name, input, self.weight_ih)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        batched = x.ndim == 2
        x = x if batched else x.unsqueeze(0)
        N, lstm = x.shape[0], self.mode == "LSTM"
        if hx is None:
            z = Tensor._make(xp_of(x.array).zeros((N, H), dtype=x.dtype), None)
            state = (z, z) if lstm else z
        else:
            if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a pair (h, c), got {type(hx).__name__}")
            hint = "(batch, hidden_size)" if batched else "(hidden_size,) for unbatched input"
            vs = [_checked(name, v, label, (N, H) if batched else (H,), hint, x.dtype)
                  .reshape(N, H) for v, label in zip(hx if lstm else [hx], ("h", "c"))]
            state = tuple(vs) if lstm else vs[0]
        gi = x @ self.weight_ih.T
        if self.bias:
            gi = gi + self.bias_ih
        state = _MODES[self.mode][1](gi, state, self.weight_hh.T, self._parameters.get("bias_hh"))
        if not batched:
            state = tuple(s[0] for s in state) if lstm else state[0]
        return state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); see RNN."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; use 'tanh' or "
                             "'relu'")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, bias, device,
                         dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(_CellBase):
    """(h', c') from x and (h, c), gates i, f, g, o; see LSTM."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(_CellBase):
    """h' from x and h, gates r, z, n; see GRU."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)
