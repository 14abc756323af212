"""RNN(cell) and the cells: SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells, with Keras 3's
arguments, weights and state structure. A cell is any layer with `state_size` and
`call(inputs, states) -> (output, new_states)`, as the Keras RNN guide writes custom cells;
RNN loops it over the time steps with differentiable ops (a step at a time, in Python)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import chainrule as cr
from chainrule.backend import xp_of
from chainrule.keras import activations
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import _unsupported, positive_int
from chainrule.keras.layers.recurrent import forget_bias_init
from chainrule.keras.layers.wrappers import _from_entry, _layer_entry
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _is_nested(s: Any) -> bool:
    return isinstance(s, (list, tuple))


class _Cell(Layer):
    """What the three built-in cells share: Keras' kernel / recurrent_kernel / bias weights."""

    gates = 1
    _names = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
              "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer")

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        who = type(self).__name__
        _unsupported(who, kernel_constraint=kernel_constraint,
                     recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)
        for k, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= v < 1:
                raise ValueError(f"{who}: {k} must be in [0, 1), got {v!r}")
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._dropout_mask = self._recurrent_dropout_mask = None
        self.units = positive_int(who, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.recurrent_initializer = inits.get(recurrent_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.recurrent_regularizer = regs.get(recurrent_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.seed = seed
        self.bias = None

    @property
    def state_size(self) -> Any:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Any) -> None:
        n_in, G = int(input_shape[-1]), self.gates * self.units
        self._add_weight("kernel", (n_in, G), self.kernel_initializer,
                         regularizer=self.kernel_regularizer)
        self._add_weight("recurrent_kernel", (self.units, G), self.recurrent_initializer,
                         regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self._add_weight("bias", self._bias_shape(), self._bias_init(),
                             regularizer=self.bias_regularizer)

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        sizes = self.state_size if _is_nested(self.state_size) else [self.state_size]
        dtype = self.kernel.dtype if self.built else self.dtype  # float64 after .to(float64)
        return [cr.zeros((batch_size, d), dtype=dtype) for d in sizes]

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        for k in self._names:
            v = getattr(self, k)
            if k.endswith("initializer"):
                v = inits.serialize(v)
            elif k.endswith("regularizer"):
                v = regs.serialize(v)
            elif k.endswith("activation"):
                v = activations.serialize(v)
            cfg[k] = v
        return {**cfg, "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed}

    # -- Keras' DropoutRNNCell: masks drawn on the first step, shared by the others ---------
    @property
    def _mask_count(self) -> int | None:
        """Keras 3's implementation 1 (one mask per gate) when recurrent_dropout is set."""
        return self.gates if self.gates > 1 and self.recurrent_dropout else None

    def _create_dropout_mask(self, step_input: Tensor, rate: float) -> Any:
        rng = self._rng if self._rng is not None else generator_of(None)
        xp, dt = xp_of(step_input.array), step_input.array.dtype

        def one() -> Tensor:
            m = (rng.random(tuple(step_input.shape)) >= rate) / (1 - rate)
            return Tensor._make(xp.asarray(m.astype(dt)), None)
        n = self._mask_count
        return one() if n is None else [one() for _ in range(n)]

    def get_dropout_mask(self, step_input: Tensor) -> Any:
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input: Tensor) -> Any:
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(step_input,
                                                                     self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def _masks(self, x: Tensor, h: Tensor, training: Any) -> tuple[Any, Any]:
        """The (input, recurrent) dropout masks of this step: None, one Tensor, or a list."""
        if not training:
            return None, None
        return self.get_dropout_mask(x), self.get_recurrent_dropout_mask(h)


def _mm(x: Tensor, W: Tensor, masks: Any) -> Tensor:
    """x @ W, with x times one mask, or one mask per gate (column block of W)."""
    if masks is None:
        return x @ W
    if not isinstance(masks, list):
        return (x * masks) @ W
    u = W.shape[1] // len(masks)
    return cr.cat([(x * m) @ W[:, j * u:(j + 1) * u] for j, m in enumerate(masks)], -1)


class SimpleRNNCell(_Cell):
    """h = activation(x @ kernel + bias + h_prev @ recurrent_kernel); returns (h, [h])."""

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> Any:
        prev = states[0] if _is_nested(states) else states
        dp, rdp = self._masks(inputs, prev, training)
        h = _mm(inputs, self.kernel, dp)
        if self.bias is not None:
            h = h + self.bias
        out = self.activation(h + _mm(prev, self.recurrent_kernel, rdp))
        return out, ([out] if _is_nested(states) else out)


class LSTMCell(_Cell):
    """Gates i, f, c, o from x @ kernel + h @ recurrent_kernel + bias; c' = f * c + i *
    activation(c~), h' = o * activation(c'); returns (h', [h', c'])."""

    gates = 4
    _names = _Cell._names + ("recurrent_activation", "unit_forget_bias")

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self) -> Any:
        return [self.units, self.units]

    def _bias_init(self) -> Any:
        return forget_bias_init(self.bias_initializer, self.units, self.unit_forget_bias)

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> Any:
        h, c = states[0], states[1]
        dp, rdp = self._masks(inputs, h, training)
        z = _mm(inputs, self.kernel, dp) + _mm(h, self.recurrent_kernel, rdp)
        if self.bias is not None:
            z = z + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        act, rec = self.activation, self.recurrent_activation
        c = rec(f) * c + rec(i) * act(g)
        h = rec(o) * act(c)
        return h, [h, c]


class GRUCell(_Cell):
    """Gates z, r, h (Keras' order). reset_after=True (default): h~ = activation(x W_h + b_h +
    r * (h U_h + b'_h)), bias (2, 3 * units); reset_after=False: h~ = activation(x W_h + b_h +
    (r * h) U_h), bias (3 * units,). h' = z * h + (1 - z) * h~; returns (h', [h'])."""

    gates = 3
    _names = _Cell._names + ("recurrent_activation", "reset_after")

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> Any:
        h = states[0] if _is_nested(states) else states
        u, act, rec = self.units, self.activation, self.recurrent_activation
        b = self.bias
        bx = None if b is None else (b[0] if self.reset_after else b)
        dp, rdp = self._masks(inputs, h, training)
        mx = _mm(inputs, self.kernel, dp)
        if bx is not None:
            mx = mx + bx
        xz, xr, xh = mx.chunk(3, dim=-1)
        if self.reset_after:
            mh = _mm(h, self.recurrent_kernel, rdp)
            if b is not None:
                mh = mh + b[1]
            hz, hr, hh = mh.chunk(3, dim=-1)
            z, r = rec(xz + hz), rec(xr + hr)
            cand = act(xh + r * hh)
        else:
            rz, rr, rh = rdp if isinstance(rdp, list) else (rdp,) * 3
            mh = _mm(h, self.recurrent_kernel[:, :2 * u], None if rdp is None else
                     rdp[:2] if isinstance(rdp, list) else rdp)
            hz, hr = mh.chunk(2, dim=-1)
            z, r = rec(xz + hz), rec(xr + hr)
            hh = h if rh is None else h * rh
            cand = act(xh + (r * hh) @ self.recurrent_kernel[:, 2 * u:])
        out = z * h + (1 - z) * cand
        return out, ([out] if _is_nested(states) else out)


class StackedRNNCells(Layer):
    """Cells run one after the other at each step (the output of one is the input of the
    next): state_size is the list of the cells' state sizes, states are nested per cell."""

    def __init__(self, cells: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = [_from_entry(c) for c in cells]
        for c in self.cells:
            if not hasattr(c, "state_size") or not hasattr(c, "call"):
                raise ValueError(f"StackedRNNCells: every cell needs `call` and `state_size`, "
                                 f"got {c!r}")

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        s = last.state_size
        return s[0] if _is_nested(s) else s

    def get_initial_state(self, batch_size: int | None = None) -> list:
        out = []
        for c in self.cells:  # a cell's own get_initial_state keeps its structure, as in Keras
            s = _initial_state(c, batch_size, self.dtype)
            own = getattr(c, "get_initial_state", None) is not None
            out.append(s if own or _is_nested(c.state_size) else s[0])
        return out

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:
                c._maybe_build(shape)
            out = getattr(c, "output_size", None)
            if out is None:
                s = c.state_size
                out = s[0] if _is_nested(s) else s
            shape = shape[:-1] + (int(out),)

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> Any:
        new = []
        for c, s in zip(self.cells, states):
            was_list = _is_nested(s)
            inputs, s = c(inputs, list(s) if was_list else [s])
            s = list(s) if _is_nested(s) else [s]
            new.append(s if was_list or len(s) != 1 else s[0])
        return inputs, (new[0] if len(new) == 1 else new)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [_layer_entry(c) for c in self.cells]}


def _initial_state(cell: Any, batch_size: int | None, dtype: Any) -> list:
    """The zero states of a cell (its get_initial_state when it has one), as a list."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        s = fn(batch_size=batch_size)
        return list(s) if _is_nested(s) else [s]
    sizes = cell.state_size if _is_nested(cell.state_size) else [cell.state_size]
    return [cr.zeros((batch_size, d), dtype=dtype) for d in sizes]
