"""Model: the functional API (Model(inputs, outputs) over any DAG of layer calls) and the base
of Sequential and of subclassed models (a `call` method written by the user).

A functional model turns its graph into a flat plan once: each step is (layer, input slots,
output slots), so a forward pass is a loop over layer.call with list indexing, no graph search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.errors import ShapeError
from chainrule.keras._graph import (
    KerasTensor,
    fill_kwargs,
    fmt_shape,
    is_symbolic,
    keras_layer_order,
    snake_case,
    topological_nodes,
    unique_name,
)
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import InputLayer, cast_input
from chainrule.keras.models._data import check_input_shapes
from chainrule.keras.models.training import Trainer
from chainrule.tensor import Tensor


def _structure(ts: Any, what: str) -> tuple[list[KerasTensor], Any]:
    """Flat tensors and how they were given: 'single', 'list' or the dict's keys."""
    if isinstance(ts, dict):
        keys = list(ts)
        flat, kind = [ts[k] for k in keys], keys
    elif isinstance(ts, (list, tuple)):
        flat, kind = list(ts), "list"
    else:
        flat, kind = [ts], "single"
    for t in flat:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"Model: {what} must be KerasTensors (from Input() and layer calls), "
                            f"got {type(t).__name__}")
    return flat, kind


class Model(Layer, Trainer):
    """Model(inputs, outputs, name=None): a graph of layers from Input() tensors to outputs.
    Subclass Model and define call(inputs, training=None) for a model written as code."""

    # Keras' compile(optimizer, loss, ...), not the torch.compile of nn.Module (a Layer is a
    # Module, as in Keras on its torch backend, where Model's compile wins the same way)
    compile = Trainer.compile

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > 2:
            raise TypeError("Model(inputs, outputs, name=None): too many positional arguments")
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        functional = inputs is not None or outputs is not None
        default = "functional" if functional else snake_case(type(self).__name__)
        name = kwargs.pop("name", None) or unique_name(default)
        super().__init__(name=name, **kwargs)
        self._trainer_init()
        self._plan: list | None = None
        if functional:
            if inputs is None or outputs is None:
                raise ValueError("Model: give both inputs and outputs: Model(inputs, outputs)")
            self._init_graph(inputs, outputs)

    # -- the graph ------------------------------------------------------------------------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        ins, self._in_kind = _structure(inputs, "inputs")
        outs, self._out_kind = _structure(outputs, "outputs")
        for t in ins:
            if t.node is None or not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: inputs must come straight from Input(), got {t!r}")
        nodes = topological_nodes(ins, outs)
        self._inputs, self._outputs, self._nodes = ins, outs, nodes
        slot = {id(t): i for i, t in enumerate(ins)}
        plan = []
        for node in nodes:
            if isinstance(node.layer, InputLayer):
                continue
            in_slots = [slot[id(t)] for t in node.inputs]
            out_slots = []
            for t in node.outputs:
                slot[id(t)] = len(slot)
                out_slots.append(slot[id(t)])
            plan.append((node.layer, in_slots, node.as_list, node.kwargs, out_slots, node.many,
                         node.n_args))
        missing = [t for t in outs if id(t) not in slot]
        if missing:
            raise ValueError(f"Model: outputs {missing} cannot be computed from the inputs")
        self._plan, self._n_slots = plan, len(slot)
        self._out_slots = [slot[id(t)] for t in outs]
        self._in_dtypes = [t.dtype for t in ins]
        seen: dict[str, Layer] = {}
        # Keras flattens a dict of outputs in sorted key order, and walks the graph that way
        walk = [outputs[k] for k in sorted(outputs)] if isinstance(outputs, dict) else outs
        for layer in keras_layer_order(ins, walk):
            if seen.get(layer.name, layer) is not layer:
                raise ValueError(f"Model: all layer names must be unique, but two layers are "
                                 f"named {layer.name!r}")
            if layer.name not in seen:
                seen[layer.name] = layer
                self.add_module(layer.name, layer)
        self.built = True

    def _run_graph(self, xs: list) -> list[Tensor]:
        vals: list[Any] = [None] * self._n_slots
        for i, (x, dt) in enumerate(zip(xs, self._in_dtypes)):
            vals[i] = cast_input(x, dt)
        for layer, ins, as_list, kwargs, outs, many, n_args in self._plan:
            args = [vals[i] for i in ins]
            if n_args < len(args):  # tensors given by keyword (initial_state=...)
                kwargs = fill_kwargs(kwargs, args)
                args = args[:n_args]
            y = layer._run(args if as_list else args[0], kwargs)  # with Keras masks
            if many:
                for s, t in zip(outs, y):
                    vals[s] = t
            else:
                vals[outs[0]] = y
        return [vals[s] for s in self._out_slots]

    @property
    def input(self) -> Any:
        if self._plan is None:
            return super().input
        return self._inputs[0] if len(self._inputs) == 1 else list(self._inputs)

    @property
    def output(self) -> Any:
        if self._plan is None:
            return super().output
        return self._outputs[0] if len(self._outputs) == 1 else list(self._outputs)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs) if self._plan is not None else []

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs) if self._plan is not None else []

    # -- names, shapes and structure used by training ------------------------------------------
    def _input_names(self) -> list[str]:
        if self._plan is None:
            return ["input"]
        return [t.node.layer.name for t in self._inputs]

    def _output_names(self) -> list[str]:
        if self._plan is None:
            return ["output"]
        return [t.node.layer.name for t in self._outputs]

    def _output_layer(self, i: int) -> Layer | None:
        if self._plan is None:
            return None
        layer = self._outputs[i].node.layer
        return layer if not isinstance(layer, Model) else layer._output_layer(
            self._outputs[i].index)

    def _input_dtypes(self) -> list[str]:
        return self._in_dtypes if self._plan is not None else ["float32"]

    def _ensure_built(self, xs: list) -> None:
        if self._plan is not None:
            shapes = [t.shape for t in self._inputs]
            check_input_shapes(self.name, self._input_names(), shapes, xs)
            return
        if not self.built:  # a subclassed model: one forward on two samples builds its layers
            self._build_by_running([np.asarray(x[:2]) for x in xs])

    def _build_by_running(self, xs: list) -> None:
        was = self.training
        self.eval()
        try:
            with no_grad():
                self(xs[0] if len(xs) == 1 else xs)
        finally:
            self.train(was)

    def build(self, input_shape: Any) -> None:
        """For a subclassed model: create the weights by running it once on zeros."""
        if self._plan is not None or self.built:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        xs = [np.zeros([2 if d is None else d for d in s], dtype=np.float32) for s in shapes]
        self.built = True  # so that the call below does not come back here
        self._build_by_running(xs)

    def _forward(self, xs: list) -> list[Tensor]:
        if self._plan is not None:
            return self._run_graph(xs)
        out = self(xs[0] if len(xs) == 1 else xs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, dict) and not is_symbolic(list(inputs.values())):
            inputs = [inputs[n] for n in self._input_names()]
        if self._plan is not None and not is_symbolic(inputs):
            xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            check_input_shapes(self.name, self._input_names(), [t.shape for t in self._inputs],
                               [x if hasattr(x, "shape") else np.asarray(x) for x in xs])
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._plan is None:
            raise NotImplementedError(f"{type(self).__name__}: a subclassed Model must define "
                                      "call(self, inputs, training=None)")
        xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(xs) != len(self._inputs):
            raise ValueError(f"Model '{self.name}' takes {len(self._inputs)} inputs "
                             f"({', '.join(self._input_names())}), got {len(xs)}")
        switch = training is not None and bool(training) != self.training
        if switch:
            self.train(bool(training))
        try:
            outs = self._run_graph(xs)
        finally:
            if switch:
                self.train(not training)
        if self._out_kind == "single":
            return outs[0]
        if isinstance(self._out_kind, list):
            return dict(zip(self._out_kind, outs))
        return outs

    def check_input_shape(self, s: Any) -> None:
        if self._plan is None:
            return
        shapes = s if isinstance(s, list) else [s]
        want = [t.shape for t in self._inputs]
        ok = len(shapes) == len(want) and all(
            len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))
            for a, b in zip(shapes, want))
        if not ok:
            raise ShapeError(f"Model '{self.name}': expected inputs of shape "
                             f"{', '.join(fmt_shape(w) for w in want)}, got "
                             f"{', '.join(fmt_shape(g) for g in shapes)}")

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._plan is None:
            return super().compute_output_shape(input_shape)
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if self._out_kind == "single" else shapes

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer of the model by name or by index in model.layers."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range: the model has "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are "
                         f"{[layer.name for layer in layers]}")

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Model:
        from chainrule.keras.models.saving import deserialize

        kind = "Sequential" if cls.__name__ == "Sequential" else "Functional"
        return deserialize({"class_name": kind, "config": config}, custom_objects)

    # -- summary, saving -----------------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, expand_nested: bool = False,
                show_trainable: bool = False) -> None:
        """Print the layers with their output shapes and parameter counts, and the totals."""
        from chainrule.keras.models.summary import summary_lines

        for line in summary_lines(self, line_length, show_trainable):
            (print_fn or print)(line)

    def get_config(self) -> dict[str, Any]:
        from chainrule.keras.models.saving import functional_config

        return functional_config(self)

    def to_json(self) -> str:
        from chainrule.keras.models.saving import model_to_json

        return model_to_json(self)

    def export(self, filepath: Any, format: str = "tf_saved_model", verbose: Any = None,
               input_signature: Any = None, **kwargs: Any) -> None:
        """model.export(path, format="onnx"): the ONNX file of a Sequential model of the
        standard layers (chainrule.onnx.keras_export); Keras' other formats are TensorFlow's."""
        if format != "onnx":
            raise NotImplementedError(f"export: format={format!r} needs TensorFlow; chainrule "
                                      "exports format='onnx'")
        from chainrule.onnx.keras_export import export_keras

        return export_keras(self, filepath, verbose, input_signature, **kwargs)

    def save(self, filepath: Any, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Architecture (JSON), weights, compile settings and optimizer state in one
        safetensors file, written atomically. Load with chainrule.keras.models.load_model."""
        from chainrule.keras.models.saving import save_model

        save_model(self, filepath, overwrite, include_optimizer)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        from chainrule.keras.models.saving import save_weights

        save_weights(self, filepath, overwrite)

    def load_weights(self, filepath: Any) -> None:
        from chainrule.keras.models.saving import load_weights

        load_weights(self, filepath)
