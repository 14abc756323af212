"""RNN(cell): Keras 3's generic recurrent layer. It loops any cell (a layer with `state_size`
and `call(inputs, states) -> (output, new_states)`) over the time axis of (batch, timesteps,
features), one differentiable step at a time."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.backend import xp_of
from chainrule.keras._graph import KerasTensor
from chainrule.keras._layer import Layer
from chainrule.keras.layers.masking import mask_array
from chainrule.keras.layers.rnn_cells import StackedRNNCells, _initial_state, _is_nested
from chainrule.keras.layers.wrappers import _from_entry, _layer_entry
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def _flat_sizes(size: Any) -> list[int]:
    if _is_nested(size):
        return [d for s in size for d in _flat_sizes(s)]
    return [int(size)]


class RNN(Layer):
    """RNN(cell, return_sequences=False, return_state=False, go_backwards=False): runs `cell`
    (or a list of cells, stacked with StackedRNNCells) over the steps. Returns the last output
    (batch, output_size), every output (batch, timesteps, output_size) with return_sequences,
    and with return_state also the final states, Keras' way: `output, *states`."""

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        cell = _from_entry(cell) if isinstance(cell, dict) else cell
        if "call" not in dir(cell) or not hasattr(cell, "state_size"):
            raise ValueError(f"RNN: argument `cell` should have a `call` method and a "
                             f"`state_size` attribute, got cell={cell!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.stateful, self.zero_output_for_mask = bool(stateful), bool(zero_output_for_mask)
        self.states, self._expected_batch = None, None

    supports_masking = True

    @property
    def state_size(self) -> Any:
        return self.cell.state_size

    def _output_size(self) -> int:
        out = getattr(self.cell, "output_size", None)
        if out is not None:
            return int(out)
        s = self.cell.state_size
        return int(_flat_sizes(s)[0])

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 3:
            raise self._shape_error("an input (batch, timesteps, features)", s)

    def build(self, input_shape: Any) -> None:
        step = (input_shape[0],) + tuple(input_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.check_input_shape(step)
            self.cell._maybe_build(step)

    def compute_output_shape(self, s: Any) -> Any:
        u = self._output_size()
        y = (s[0], s[1], u) if self.return_sequences else (s[0], u)
        if not self.return_state:
            return y
        size = self.cell.state_size
        if _is_nested(size) and any(_is_nested(e) and len(e) > 1 for e in size):
            raise NotImplementedError(f"RNN '{self.name}': return_state=True on stacked cells "
                                      "with several states each (nested states) works on "
                                      "arrays only, not in a symbolic model")
        return [y] + [(s[0], d) for d in _flat_sizes(size)]

    def get_initial_state(self, batch_size: int, dtype: Any = None) -> list:
        """Zero states: the cell's get_initial_state(batch_size), else zeros of state_size."""
        if isinstance(self.cell, StackedRNNCells):
            return self.cell.get_initial_state(batch_size)
        return _initial_state(self.cell, batch_size, dtype or self.dtype)

    def call(self, inputs: Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        x = inputs if inputs.is_floating_point() else inputs.float()
        if initial_state is None and self.stateful:
            states = self._carried(x.shape[0], x.dtype)
        elif initial_state is None:
            states = self.get_initial_state(x.shape[0], x.dtype)
        else:
            states = initial_state if _is_nested(initial_state) else [initial_state]
            if any(isinstance(s, KerasTensor) for s in states):
                raise NotImplementedError(f"RNN '{self.name}': initial_state given as symbolic "
                                          "tensors is not supported; pass arrays when calling")
            states = [s if isinstance(s, (Tensor, list, tuple)) else as_tensor(np.asarray(s))
                      for s in states]
        keep = mask_array(mask[0] if isinstance(mask, list) else mask)
        steps = range(x.shape[1] - 1, -1, -1) if self.go_backwards else range(x.shape[1])
        kw = {} if training is None else {"training": training}
        if isinstance(self.cell, Layer):
            self.cell.train(self.training)
        outputs, prev = [], None
        try:
            for t in steps:
                out, new = self._step(x[:, t], states, kw)
                if keep is not None:  # a masked step keeps the states and the last output
                    m = keep[:, t].astype(x.array.dtype)[:, None]
                    m1, m0 = Tensor._make(m, None), Tensor._make(1 - m, None)
                    new = _blend(m1, m0, new, states)
                    if prev is None:
                        prev = out * 0
                    out = m1 * out + m0 * (out * 0 if self.zero_output_for_mask else prev)
                    prev = out
                states = new
                outputs.append(out)
        finally:
            _reset_dropout_masks(self.cell)
        if self.stateful:  # carried to the next call, cut from this call's graph (as Keras)
            self.states = _detached(states)
        y = cr.stack(outputs, dim=1) if self.return_sequences else outputs[-1]
        return [y, *states] if self.return_state else y

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        m = mask[0] if isinstance(mask, list) else mask
        out = m if self.return_sequences else None
        if not self.return_state:
            return out
        return [out] + [None] * len(_flat_sizes(self.cell.state_size))

    # -- stateful=True: the final states of one call start the next ---------------------------
    def _call_symbolic(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        if self.stateful:
            shape = (inputs[0] if isinstance(inputs, (list, tuple)) else inputs).shape
            if shape[0] is None:
                raise ValueError(f"RNN '{self.name}': when using `stateful=True` in a RNN, the "
                                 f"batch size must be static. Found dynamic batch size: "
                                 f"sequence.shape={shape}. Give Input(shape, batch_size=...)")
            self._expected_batch = int(shape[0])
        return super()._call_symbolic(inputs, kwargs)

    def _carried(self, N: int, dtype: Any) -> list:
        if self.states is None:
            self._expected_batch = self._expected_batch or N
            self.states = _detached(self.get_initial_state(self._expected_batch, dtype))
        if N != self._expected_batch:
            raise ValueError(f"If an RNN is stateful, the batch size of the input sequences "
                             f"must be the same as the batch size of the initial state. \n"
                             f"- Expected batch size: {self._expected_batch}\n- Received "
                             f"batch size: {N} (RNN '{self.name}')")
        return self.states

    def reset_state(self) -> None:
        """Zero the carried states of a stateful layer (nothing to do otherwise)."""
        if self.states is not None:
            self.states = _zeros_like(self.states)

    def reset_states(self) -> None:
        """Keras' compatibility alias of reset_state()."""
        self.reset_state()

    def _step(self, x: Tensor, states: list, kw: dict) -> tuple:
        if kw and "training" not in inspect.signature(self.cell.call).parameters:
            kw = {}  # a custom cell whose call() takes no `training`, as in Keras
        out, new = self.cell(x, states, **kw)
        return out, (list(new) if _is_nested(new) else [new])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": _layer_entry(self.cell),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}


def _blend(m1: Tensor, m0: Tensor, new: Any, old: Any) -> Any:
    """m1 * new + m0 * old over (nested lists of) states."""
    if isinstance(new, (list, tuple)):
        return [_blend(m1, m0, a, b) for a, b in zip(new, old)]
    return m1 * new + m0 * old


def _detached(states: Any) -> Any:
    if isinstance(states, (list, tuple)):
        return [_detached(s) for s in states]
    return states.detach()


def _zeros_like(states: Any) -> Any:
    if isinstance(states, (list, tuple)):
        return [_zeros_like(s) for s in states]
    return Tensor._make(xp_of(states.array).zeros_like(states.array), None)


def _reset_dropout_masks(cell: Any) -> None:
    """Forget the cells' dropout masks after a call, as Keras' RNN does."""
    for c in getattr(cell, "cells", [cell]):
        for name in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if hasattr(c, name):
                getattr(c, name)()
