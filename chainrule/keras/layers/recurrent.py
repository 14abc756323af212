"""Recurrent layers SimpleRNN, LSTM, GRU: Keras' arguments and weights over chainrule.nn's
RNN / LSTM / GRU (batch_first), which do the computing.

Keras' weights map onto the nn layer's parameters:

    kernel (in, G*u)            weight_ih_l0 (G*u, in), transposed
    recurrent_kernel (u, G*u)   weight_hh_l0 (G*u, u), transposed
    bias (G*u,)                 bias_ih_l0 (bias_hh_l0 is held at zero: Keras has one bias)
    GRU bias (2, 3u)            bias_ih_l0 and bias_hh_l0 (reset_after=True, Keras' default)
    GRU bias (3u,)              bias_ih_l0 (reset_after=False; computed a step at a time)

The fused nn layer runs the common case; masks, recurrent_dropout and GRU(reset_after=False)
run step by step (_rnn_steps.py). stateful=True carries the final states to the next call.

The LSTM's gates are in the same order in both (i, f, c/g, o); the GRU's are (z, r, h) in Keras
and (r, z, n) in chainrule, so its kernels and biases are reordered on the way in and out.
Initialisation is Keras': glorot_uniform kernels, orthogonal recurrent kernels, zero biases
(the LSTM's forget-gate bias at one with unit_forget_bias).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import xp_of
from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._graph import KerasTensor
from chainrule.keras._layer import Layer
from chainrule.keras.layers._rnn_steps import _const, run_steps
from chainrule.keras.layers.core import positive_int
from chainrule.keras.layers.masking import mask_array
from chainrule.nn.layers.recurrent import GRU as _NNGRU
from chainrule.nn.layers.recurrent import LSTM as _NNLSTM
from chainrule.nn.layers.recurrent import RNN as _NNRNN
from chainrule.nn.module import Parameter
from chainrule.operands import as_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _swap_zr(a: np.ndarray) -> np.ndarray:
    """Swap the first two of three gate blocks along axis 0 (Keras z, r, h <-> r, z, n)."""
    k = a.shape[0] // 3
    return np.concatenate([a[k:2 * k], a[:k], a[2 * k:]], axis=0)


_GRU_KERNEL = (lambda arrays: _swap_zr(arrays[0]).T, lambda a: [_swap_zr(a.T)])
_GRU_BIAS = (lambda arrays: np.stack([_swap_zr(arrays[0]), _swap_zr(arrays[1])]),
             lambda a: [_swap_zr(a[0]), _swap_zr(a[1])])
_GRU_BIAS1 = (lambda arrays: _swap_zr(arrays[0]), lambda a: [_swap_zr(a)])  # reset_after=False



def forget_bias_init(base: Any, units: int, unit_forget_bias: bool) -> Any:
    """An LSTM bias initializer: base's values, with the forget gate's (i, f, c, o order) set
    to 1 when unit_forget_bias, as Keras does (LSTM and LSTMCell share it)."""
    if not unit_forget_bias:
        return base

    def init(shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        b = np.array(base(shape, dtype))
        b[units:2 * units] = 1.0
        return b
    return init

class _RNN(Layer):
    gates = 1
    supports_masking = True
    _defaults = {"activation": "tanh", "recurrent_activation": "sigmoid"}

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Any = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 **kwargs: Any) -> None:
        who = type(self).__name__
        super().__init__(**kwargs)
        self.units = positive_int(who, "units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._check_activations(who)
        for k, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= v < 1:
                raise ValueError(f"{who}: {k} must be in [0, 1), got {v!r}")
        self.use_bias, self.dropout = bool(use_bias), float(dropout)
        self.recurrent_dropout, self.seed = float(recurrent_dropout), seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.stateful, self.states, self._expected_batch = bool(stateful), None, None
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.recurrent_initializer = inits.get(recurrent_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.recurrent_regularizer = regs.get(recurrent_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)

    def _check_activations(self, who: str) -> None:
        if self.activation is not activations.tanh:
            raise NotImplementedError(f"{who}: only activation='tanh' is supported, got "
                                      f"{self.activation}")
        if self.recurrent_activation is not activations.sigmoid:
            raise NotImplementedError(f"{who}: only recurrent_activation='sigmoid' is "
                                      "supported")

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) != 3 or s[-1] is None:
            raise self._shape_error("a 3-D input (batch, timesteps, features)", s)
        if self.built and s[-1] != self._in:
            raise self._shape_error(f"{self._in} features per step (it was built for them)", s)

    def _make_rnn(self, n_in: int) -> Any:
        raise NotImplementedError

    def build(self, input_shape: Any) -> None:
        self._in = n_in = int(input_shape[-1])
        G = self.gates * self.units
        self.rnn = self._make_rnn(n_in)
        gru = self.gates == 3
        self._add_weight("kernel", (n_in, G), self.kernel_initializer, owner=self.rnn,
                        regularizer=self.kernel_regularizer, attr="weight_ih_l0",
                        **({"convert": _GRU_KERNEL} if gru else {"layout": (1, 0)}))
        self._add_weight("recurrent_kernel", (self.units, G), self.recurrent_initializer,
                        owner=self.rnn, regularizer=self.recurrent_regularizer,
                        attr="weight_hh_l0",
                        **({"convert": _GRU_KERNEL} if gru else {"layout": (1, 0)}))
        if not self.use_bias:
            return
        if gru and self.reset_after:
            self._add_weight("bias", (2, G), self.bias_initializer, owner=self.rnn,
                            regularizer=self.bias_regularizer,
                            attr=("bias_ih_l0", "bias_hh_l0"), convert=_GRU_BIAS)
            return
        self._add_weight("bias", (G,), self._bias_init(), owner=self.rnn,
                        regularizer=self.bias_regularizer, attr="bias_ih_l0",
                        **({"convert": _GRU_BIAS1} if gru else {}))
        zero = np.zeros(G, dtype=self.rnn.bias_ih_l0.array.dtype)
        self.rnn.bias_hh_l0 = Parameter(as_tensor(zero), requires_grad=False)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def compute_output_shape(self, s: Any) -> Any:
        y = (s[0], s[1], self.units) if self.return_sequences else (s[0], self.units)
        if not self.return_state:
            return y
        return [y] + [(s[0], self.units)] * (2 if self.gates == 4 else 1)

    def call(self, inputs: Tensor, training: bool | None = None,
             initial_state: Any = None, mask: Any = None) -> Any:
        x = inputs
        if x.ndim != 3 or x.shape[-1] != self._in:
            raise self._shape_error(f"inputs (batch, timesteps, {self._in})", tuple(x.shape))
        if x.dtype != self.rnn.weight_ih_l0.dtype:
            x = x.to(self.rnn.weight_ih_l0.dtype)
        training = self.training if training is None else training
        if self.go_backwards:
            x = x.flip(1)
        N = x.shape[0]
        states = self._initial(initial_state)
        if states is None and self.stateful:
            states = self._carried(N, x.array.dtype)
        in_masks, rec_masks = self._dropout_masks(x, training)
        if rec_masks is None and in_masks is not None:  # one input mask, the same every step
            x = x * _const(in_masks[0][:, None, :], x)
            in_masks = None
        keep = mask_array(mask)
        if keep is not None and self.go_backwards:
            keep = keep[:, ::-1]
        if keep is None and rec_masks is None and self._fused():
            hx = None if states is None else [s.reshape((1,) + tuple(s.shape)) for s in states]
            out, state = self.rnn(x, None if hx is None else (tuple(hx) if len(hx) > 1
                                                            else hx[0]))
            states = list(state) if isinstance(state, tuple) else [state]
            states = [h.reshape(N, self.units) for h in states]
        else:
            if states is None:
                zero = Tensor._make(xp_of(x.array).zeros((N, self.units), x.array.dtype), None)
                states = [zero] * (2 if self.gates == 4 else 1)
            out, states = run_steps(self, x, states, keep, in_masks, rec_masks)
        if self.stateful:  # carried to the next call, cut from this call's graph (as Keras)
            self.states = [s.detach() for s in states]
        y = out if self.return_sequences else states[0]
        return [y] + states if self.return_state else y

    def _fused(self) -> bool:
        """Whether the nn layer computes Keras' math (not so for GRU(reset_after=False))."""
        return True

    def _draw(self, shape: tuple[int, ...], rate: float, dtype: Any) -> np.ndarray:
        """One dropout mask: 0 with probability rate, else 1 / (1 - rate)."""
        rng = self._rng if self._rng is not None else generator_of(None)
        return ((rng.random(shape) >= rate) / (1 - rate)).astype(dtype)

    def _dropout_masks(self, x: Tensor, training: bool) -> tuple[Any, Any]:
        """Keras 3's masks for one call, in the nn gate order: without recurrent_dropout one
        input mask (N, in) for every gate (implementation 2); with it (implementation 1) one
        mask per gate on the inputs and one per gate on h_{t-1} (SimpleRNN: one of each)."""
        if not training or not (self.dropout or self.recurrent_dropout):
            return None, None
        N, dt = x.shape[0], x.array.dtype
        count = 1 if self.gates == 1 or not self.recurrent_dropout else self.gates
        ins = recs = None
        if self.dropout:
            ins = [self._draw((N, self._in), self.dropout, dt) for _ in range(count)]
        if self.recurrent_dropout:
            recs = [self._draw((N, self.units), self.recurrent_dropout, dt)
                    for _ in range(count)]
        if count == 3:  # Keras' z, r, h -> nn's r, z, n
            ins, recs = (None if m is None else [m[1], m[0], m[2]] for m in (ins, recs))
        return ins, recs

    # -- stateful=True: the final states of one call start the next ---------------------------
    def _call_symbolic(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        if self.stateful:
            shape = (inputs[0] if isinstance(inputs, (list, tuple)) else inputs).shape
            if shape[0] is None:
                raise ValueError(f"{type(self).__name__} '{self.name}': when using "
                                 f"`stateful=True` in a RNN, the batch size must be static. "
                                 f"Found dynamic batch size: sequence.shape={shape}. Give "
                                 f"Input(shape, batch_size=...) or batch_input_shape=...")
            self._expected_batch = int(shape[0])
        return super()._call_symbolic(inputs, kwargs)

    def _carried(self, N: int, dtype: Any) -> list[Tensor]:
        if self.states is None:
            self._expected_batch = self._expected_batch or N
            n = 2 if self.gates == 4 else 1
            xp = xp_of(self.rnn.weight_ih_l0.array)
            self.states = [Tensor._make(xp.zeros((self._expected_batch, self.units), dtype),
                                        None) for _ in range(n)]
        if N != self._expected_batch:
            raise ValueError(f"If an RNN is stateful, the batch size of the input sequences "
                             f"must be the same as the batch size of the initial state. \n"
                             f"- Expected batch size: {self._expected_batch}\n- Received "
                             f"batch size: {N} ({type(self).__name__} '{self.name}'; give "
                             f"fit/predict batch_size={self._expected_batch})")
        return [s.to(dtype) if s.dtype != dtype else s for s in self.states]

    def reset_state(self) -> None:
        """Zero the carried states of a stateful layer (nothing to do otherwise)."""
        if self.states is not None:
            self.states = [Tensor._make(xp_of(s.array).zeros_like(s.array), None)
                           for s in self.states]

    def reset_states(self) -> None:
        """Keras' compatibility alias of reset_state()."""
        self.reset_state()

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        m = mask[0] if isinstance(mask, list) else mask
        out = m if self.return_sequences else None
        return [out] + [None] * (2 if self.gates == 4 else 1) if self.return_state else out

    def _initial(self, initial_state: Any) -> list[Tensor] | None:
        if initial_state is None:
            return None
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        if any(isinstance(s, KerasTensor) for s in states):
            raise NotImplementedError(f"{type(self).__name__}: initial_state given as symbolic "
                                      "tensors is not supported; pass arrays when calling")
        return [s if isinstance(s, Tensor) else as_tensor(np.asarray(s)) for s in states]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": inits.serialize(self.kernel_initializer),
                "recurrent_initializer": inits.serialize(self.recurrent_initializer),
                "bias_initializer": inits.serialize(self.bias_initializer),
                "kernel_regularizer": regs.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regs.serialize(self.recurrent_regularizer),
                "bias_regularizer": regs.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll}


class SimpleRNN(_RNN):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias); activation 'tanh'
    (default) or 'relu'. Returns the last h (batch, units), or every h with
    return_sequences=True (batch, timesteps, units)."""

    gates = 1

    def _check_activations(self, who: str) -> None:
        if self.activation not in (activations.tanh, activations.relu):
            raise NotImplementedError("SimpleRNN: only activation='tanh' or 'relu' is "
                                      "supported")

    def _make_rnn(self, n_in: int) -> Any:
        self._nonlinearity = "relu" if self.activation is activations.relu else "tanh"
        return _NNRNN(n_in, self.units, nonlinearity=self._nonlinearity, bias=self.use_bias,
                      batch_first=True)

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["recurrent_activation"]
        return cfg


class LSTM(_RNN):
    """Long short-term memory, Keras' gates i, f, c, o (the same order as chainrule.nn.LSTM):
    c_t = f * c_{t-1} + i * tanh(.), h_t = o * tanh(c_t). return_state=True returns
    [output, h, c]."""

    gates = 4

    def __init__(self, units: int, *args: Any, unit_forget_bias: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, *args, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _make_rnn(self, n_in: int) -> Any:
        return _NNLSTM(n_in, self.units, bias=self.use_bias, batch_first=True)

    def _bias_init(self) -> Any:
        return forget_bias_init(self.bias_initializer, self.units, self.unit_forget_bias)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit. reset_after=True (Keras' default, the cuDNN-compatible form, the
    same math as chainrule.nn.GRU): z, r = sigmoid(.), h~ = tanh(x W_h + b_h + r * (h U_h +
    b'_h)), bias (2, 3 * units): input and recurrent. reset_after=False (Keras 1's form,
    computed a step at a time): h~ = tanh(x W_h + b_h + (r * h) U_h), bias (3 * units,).
    h_t = z * h_{t-1} + (1 - z) * h~."""

    gates = 3

    def __init__(self, units: int, *args: Any, reset_after: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, *args, **kwargs)
        self.reset_after = bool(reset_after)

    def _fused(self) -> bool:
        return self.reset_after

    def _make_rnn(self, n_in: int) -> Any:
        return _NNGRU(n_in, self.units, bias=self.use_bias, batch_first=True)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}
