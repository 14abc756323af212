"""RNN(cell): Keras 3's generic recurrent layer. It loops any cell (a layer with `state_size`
and `call(inputs, states) -> (output, new_states)`) over the time axis of (batch, timesteps,
features), one differentiable step at a time."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.keras._graph import KerasTensor
from chainrule.keras._layer import Layer
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
        if stateful:
            raise NotImplementedError("RNN: stateful=True is not supported in chainrule.keras")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.stateful, self.zero_output_for_mask = False, bool(zero_output_for_mask)

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
        if mask is not None:
            raise NotImplementedError(f"RNN '{self.name}': masking is not supported in "
                                      "chainrule.keras")
        x = inputs if inputs.is_floating_point() else inputs.float()
        if initial_state is None:
            states = self.get_initial_state(x.shape[0], x.dtype)
        else:
            states = initial_state if _is_nested(initial_state) else [initial_state]
            if any(isinstance(s, KerasTensor) for s in states):
                raise NotImplementedError(f"RNN '{self.name}': initial_state given as symbolic "
                                          "tensors is not supported; pass arrays when calling")
            states = [s if isinstance(s, (Tensor, list, tuple)) else as_tensor(np.asarray(s))
                      for s in states]
        steps = range(x.shape[1] - 1, -1, -1) if self.go_backwards else range(x.shape[1])
        kw = {} if training is None else {"training": training}
        if isinstance(self.cell, Layer):
            self.cell.train(self.training)
        outputs = []
        for t in steps:
            out, states = self._step(x[:, t], states, kw)
            outputs.append(out)
        y = cr.stack(outputs, dim=1) if self.return_sequences else outputs[-1]
        return [y, *states] if self.return_state else y

    def _step(self, x: Tensor, states: list, kw: dict) -> tuple:
        if kw and "training" not in inspect.signature(self.cell.call).parameters:
            kw = {}  # a custom cell whose call() takes no `training`, as in Keras
        out, new = self.cell(x, states, **kw)
        return out, (list(new) if _is_nested(new) else [new])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": _layer_entry(self.cell),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": False, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}
