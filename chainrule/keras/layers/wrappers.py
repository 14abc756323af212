"""Layer wrappers: TimeDistributed (a layer applied to every time step) and Bidirectional (an
RNN layer run forwards and backwards, outputs merged), with Keras 3's arguments and weights."""

from __future__ import annotations

import copy
from typing import Any

import chainrule as cr
from chainrule.keras._layer import Layer
from chainrule.tensor import Tensor


def _layer_entry(layer: Layer) -> dict[str, Any]:
    from chainrule.keras.models.saving import layer_config
    return layer_config(layer)


def _from_entry(entry: Any) -> Layer:
    if isinstance(entry, Layer):
        return entry
    from chainrule.keras.models.saving import deserialize
    return deserialize(entry)


class TimeDistributed(Layer):
    """Applies `layer` to every step of (batch, timesteps, ...): the steps are folded into the
    batch axis, so the same weights serve every step. Returns (batch, timesteps, ...')."""

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: please initialize with a Keras Layer instance, "
                             f"got layer={layer!r}")
        self.layer = _from_entry(layer)

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 3:
            raise self._shape_error("an input of at least 3 dimensions (batch, timesteps, ...)",
                                    s)

    def build(self, input_shape: Any) -> None:
        inner = (None,) + tuple(input_shape[2:])
        self.layer.check_input_shape(inner)
        self.layer._maybe_build(inner)

    def compute_output_shape(self, s: Any) -> Any:
        inner = self.layer.compute_output_shape((s[0],) + tuple(s[2:]))
        return (s[0], s[1]) + tuple(inner[1:])

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if x.ndim < 3:
            raise self._shape_error("an input of at least 3 dimensions", tuple(x.shape))
        n, t = x.shape[:2]
        self.layer.train(self.training)
        kw = {} if training is None else {"training": training}
        y = self.layer(x.reshape((n * t,) + tuple(x.shape[2:])), **kw)
        return y.reshape((n, t) + tuple(y.shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": _layer_entry(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        config["layer"] = _from_entry(config["layer"])
        return super().from_config(config)


_MERGES = ("concat", "sum", "mul", "ave", None)


def _renamed_copy(entry: dict[str, Any], name: str, **changes: Any) -> Layer:
    entry = copy.deepcopy(entry)
    entry["config"].update(name=name, **changes)
    entry.pop("name", None)
    return _from_entry(entry)


class Bidirectional(Layer):
    """Runs `layer` (an RNN layer) over the sequence and a copy of it (or `backward_layer`) over
    the reversed sequence; merge_mode 'concat' (default), 'sum', 'mul', 'ave' or None (a list
    of both outputs). With return_sequences the backward outputs are put back in time order.
    Weights: the forward layer's, then the backward layer's."""

    def __init__(self, layer: Any, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Any = None, **kwargs: Any) -> None:
        if not isinstance(layer, (Layer, dict)):
            raise ValueError(f"Bidirectional: please initialize with a Keras RNN layer "
                             f"instance, got layer={layer!r}")
        if merge_mode not in _MERGES:
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}; merge_mode "
                             f"should be one of {_MERGES}")
        if weights is not None:
            raise NotImplementedError("Bidirectional: weights= is not supported; call "
                                      "set_weights() after building")
        super().__init__(**kwargs)
        entry = layer if isinstance(layer, dict) else _layer_entry(layer)
        base = entry["config"]["name"]
        self.forward_layer = _renamed_copy(entry, "forward_" + base)
        if backward_layer is None:
            self.backward_layer = _renamed_copy(
                entry, "backward_" + base, go_backwards=not self.forward_layer.go_backwards)
        else:
            self.backward_layer = _from_entry(backward_layer)
        f, b = self.forward_layer, self.backward_layer
        for attr in ("return_sequences", "return_state"):
            if getattr(f, attr, None) != getattr(b, attr, None):
                raise ValueError(f"Bidirectional: forward layer {attr}={getattr(f, attr)} and "
                                 f"backward layer {attr}={getattr(b, attr)} must match")
        if f.go_backwards == b.go_backwards:
            raise ValueError("Bidirectional: forward_layer.go_backwards and backward_layer."
                             "go_backwards must differ (one of them reads the sequence "
                             "reversed)")
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = f.return_sequences, f.return_state
        self._inner_entry = entry

    def build(self, input_shape: Any) -> None:
        for layer in (self.forward_layer, self.backward_layer):
            layer.check_input_shape(input_shape)
            layer._maybe_build(input_shape)

    def _merge(self, y: Tensor, yb: Tensor) -> Any:
        if self.return_sequences:
            yb = yb.flip(1)
        m = self.merge_mode
        if m == "concat":
            return cr.cat([y, yb], dim=-1)
        if m == "sum":
            return y + yb
        if m == "mul":
            return y * yb
        if m == "ave":
            return (y + yb) / 2
        return [y, yb]

    def compute_output_shape(self, s: Any) -> Any:
        outs, backs = (o if isinstance(o, list) else [o] for o in (
            self.forward_layer.compute_output_shape(s),
            self.backward_layer.compute_output_shape(s)))
        y, yb = outs[0], backs[0]
        if self.merge_mode == "concat":
            y = tuple(y[:-1]) + (y[-1] + yb[-1],)
        ys = [y, yb] if self.merge_mode is None else [y]
        if not self.return_state:
            return ys if self.merge_mode is None else ys[0]
        return ys + outs[1:] + backs[1:]

    def call(self, inputs: Tensor, training: bool | None = None,
             initial_state: Any = None) -> Any:
        kw = {} if training is None else {"training": training}
        fs = bs = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fs, bs = list(initial_state[:half]), list(initial_state[half:])
        for layer in (self.forward_layer, self.backward_layer):
            layer.train(self.training)
        y = self.forward_layer(inputs, initial_state=fs, **kw)
        yb = self.backward_layer(inputs, initial_state=bs, **kw)
        if not self.return_state:
            return self._merge(y, yb)
        out = self._merge(y[0], yb[0])
        out = out if isinstance(out, list) else [out]
        return out + list(y[1:]) + list(yb[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": self._inner_entry,
                "merge_mode": self.merge_mode,
                "backward_layer": _layer_entry(self.backward_layer)}
