"""Recurrent layers SimpleRNN, LSTM, GRU: Keras' arguments and weights over chainrule.nn's
RNN / LSTM / GRU (batch_first), which do the computing.

Keras' weights map onto the nn layer's parameters:

    kernel (in, G*u)            weight_ih_l0 (G*u, in), transposed
    recurrent_kernel (u, G*u)   weight_hh_l0 (G*u, u), transposed
    bias (G*u,)                 bias_ih_l0 (bias_hh_l0 is held at zero: Keras has one bias)
    GRU bias (2, 3u)            bias_ih_l0 and bias_hh_l0 (reset_after=True, Keras' default)

The LSTM's gates are in the same order in both (i, f, c/g, o); the GRU's are (z, r, h) in Keras
and (r, z, n) in chainrule, so its kernels and biases are reordered on the way in and out.
Initialisation is Keras': glorot_uniform kernels, orthogonal recurrent kernels, zero biases
(the LSTM's forget-gate bias at one with unit_forget_bias).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._graph import KerasTensor
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import positive_int
from chainrule.keras.layers.masking import mask_array
from chainrule.nn.layers.recurrent import GRU as _NNGRU
from chainrule.nn.layers.recurrent import LSTM as _NNLSTM
from chainrule.nn.layers.recurrent import RNN as _NNRNN
from chainrule.nn.module import Parameter
from chainrule.operands import as_tensor
from chainrule.ops import stack
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _swap_zr(a: np.ndarray) -> np.ndarray:
    """Swap the first two of three gate blocks along axis 0 (Keras z, r, h <-> r, z, n)."""
    k = a.shape[0] // 3
    return np.concatenate([a[k:2 * k], a[:k], a[2 * k:]], axis=0)


_GRU_KERNEL = (lambda arrays: _swap_zr(arrays[0]).T, lambda a: [_swap_zr(a.T)])
_GRU_BIAS = (lambda arrays: np.stack([_swap_zr(arrays[0]), _swap_zr(arrays[1])]),
             lambda a: [_swap_zr(a[0]), _swap_zr(a[1])])



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
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, **kwargs: Any) -> None:
        who = type(self).__name__
        super().__init__(**kwargs)
        self.units = positive_int(who, "units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._check_activations(who)
        if recurrent_dropout:
            raise NotImplementedError(f"{who}: recurrent_dropout is not supported in "
                                      "chainrule.keras; use dropout (on the inputs)")
        if stateful:
            raise NotImplementedError(f"{who}: stateful=True is not supported in "
                                      "chainrule.keras")
        if not 0 <= dropout < 1:
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout!r}")
        self.use_bias, self.dropout = bool(use_bias), float(dropout)
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
        if gru:
            self._add_weight("bias", (2, G), self.bias_initializer, owner=self.rnn,
                            regularizer=self.bias_regularizer,
                            attr=("bias_ih_l0", "bias_hh_l0"), convert=_GRU_BIAS)
            return
        self._add_weight("bias", (G,), self._bias_init(), owner=self.rnn,
                        regularizer=self.bias_regularizer, attr="bias_ih_l0")
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
        if training and self.dropout:  # one mask per sequence, the same at every step
            keep = generator_of(None).random((x.shape[0], 1, x.shape[2])) >= self.dropout
            x = x * Tensor._make((keep / (1 - self.dropout)).astype(x.array.dtype), None)
        keep = mask_array(mask)
        if keep is None:
            out, state = self.rnn(x, self._initial(initial_state))
        else:
            out, state = self._run_masked(x, keep[:, ::-1] if self.go_backwards else keep,
                                          self._initial(initial_state))
        states = list(state) if isinstance(state, tuple) else [state]
        N = x.shape[0]
        states = [h.reshape(N, self.units) for h in states]
        y = out if self.return_sequences else states[0]
        return [y] + states if self.return_state else y

    def _run_masked(self, x: Tensor, keep: np.ndarray, state: Any) -> tuple[Tensor, Any]:
        """Step by step under a (batch, steps) mask, as Keras: at a masked step the states
        and the output stay what they were (the output starts at zeros)."""
        N, T, u = x.shape[0], x.shape[1], self.units
        dt = x.array.dtype
        zero = Tensor._make(np.zeros((1, N, u), dtype=dt), None)
        if state is None:
            state = (zero, zero) if self.gates == 4 else zero
        prev, outs = zero[0], []
        for t in range(T):
            o, new = self.rnn(x[:, t:t + 1], state)
            m = keep[:, t].astype(dt)[:, None]
            m1, m0 = Tensor._make(m, None), Tensor._make(1 - m, None)
            if self.gates == 4:
                state = tuple(m1 * a + m0 * b for a, b in zip(new, state))
            else:
                state = m1 * new + m0 * state
            prev = m1 * o[:, 0] + m0 * prev
            outs.append(prev)
        return stack(outs, 1), state

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        m = mask[0] if isinstance(mask, list) else mask
        out = m if self.return_sequences else None
        return [out] + [None] * (2 if self.gates == 4 else 1) if self.return_state else out

    def _initial(self, initial_state: Any) -> Any:
        if initial_state is None:
            return None
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        if any(isinstance(s, KerasTensor) for s in states):
            raise NotImplementedError(f"{type(self).__name__}: initial_state given as symbolic "
                                      "tensors is not supported; pass arrays when calling")
        ts = [s if isinstance(s, Tensor) else as_tensor(np.asarray(s)) for s in states]
        ts = [t.reshape((1,) + tuple(t.shape)) for t in ts]
        return tuple(ts) if self.gates == 4 else ts[0]

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
                "dropout": self.dropout, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "unroll": self.unroll}


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
        nl = "relu" if self.activation is activations.relu else "tanh"
        return _NNRNN(n_in, self.units, nonlinearity=nl, bias=self.use_bias, batch_first=True)

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
    """Gated recurrent unit with reset_after=True (Keras' default, the cuDNN-compatible form,
    the same math as chainrule.nn.GRU): z, r = sigmoid(.), h~ = tanh(x W_h + b_h + r * (h U_h
    + b'_h)), h_t = z * h_{t-1} + (1 - z) * h~. bias is (2, 3 * units): input and recurrent."""

    gates = 3

    def __init__(self, units: int, *args: Any, reset_after: bool = True,
                 **kwargs: Any) -> None:
        if not reset_after:
            raise NotImplementedError("GRU: reset_after=False (the Keras 1 variant) is not "
                                      "supported; use the default reset_after=True")
        super().__init__(units, *args, **kwargs)
        self.reset_after = True

    def _make_rnn(self, n_in: int) -> Any:
        return _NNGRU(n_in, self.units, bias=self.use_bias, batch_first=True)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": True}
