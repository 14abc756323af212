"""Sequential: a stack of layers, each feeding the next.

The input shape comes from an Input() / InputLayer added first, from the first layer's
input_shape= / input_dim=, or from the first data the model sees (deferred building). Once it
is known the stack is also a functional graph (so summary, saving and the output layer work
as for Model); running it is a plain loop over the layers.
"""

from __future__ import annotations

from typing import Any, Iterable

from chainrule.keras._graph import KerasTensor, unique_name
from chainrule.keras._layer import Layer
from chainrule.keras.layers.core import Input, InputLayer, cast_input
from chainrule.keras.models.functional import Model
from chainrule.tensor import Tensor


class Sequential(Model):
    """Sequential([Dense(64, activation='relu', input_shape=(784,)), Dense(10)])."""

    def __init__(self, layers: Iterable[Any] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        self._stack: list[Layer] = []
        self._input: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Any) -> None:
        """Append a layer (or, first, an Input() / InputLayer giving the input shape)."""
        if isinstance(layer, KerasTensor) or isinstance(layer, InputLayer):
            kt = layer if isinstance(layer, KerasTensor) else layer.output
            if not isinstance(kt.node.layer, InputLayer) or self._stack:
                raise ValueError("Sequential.add: an Input() can only be added first")
            self._input = kt
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Keras layer, got "
                            f"{type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"Sequential.add: all layer names must be unique; "
                             f"{layer.name!r} is already in the model")
        if not self._stack and self._input is None and layer._batch_input_shape is not None:
            self._input = Input(batch_shape=layer._batch_input_shape)
        self._stack.append(layer)
        self.add_module(layer.name, layer)
        if self._input is not None:
            self._rebuild()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise TypeError("Sequential.pop: there are no layers in the model")
        layer = self._stack.pop()
        del self._modules[layer.name]
        self._plan = None
        self.built = False
        if self._input is not None and self._stack:
            self._rebuild()
        return layer

    def _rebuild(self) -> None:
        """The functional graph of the stack from the known input."""
        x: Any = self._input
        for layer in self._stack:
            x = layer(x)
            if isinstance(x, list):
                raise ValueError(f"Sequential: layer {layer.name!r} returns several tensors; "
                                 "use the functional API (Model(inputs, outputs))")
        keep = dict(self._modules)
        self._init_graph(self._input, x)
        self._modules.clear()
        self._modules.update(keep)  # the stack's layers, without the InputLayer

    def _ensure_built(self, xs: list) -> None:
        if self._input is None:
            if len(xs) != 1:
                raise ValueError(f"Sequential '{self.name}' takes one input, got {len(xs)}")
            self._input = Input(batch_shape=(None,) + tuple(xs[0].shape[1:]))
            self._rebuild()
        if self._plan is None and self._stack:
            self._rebuild()
        super()._ensure_built(xs)

    def build(self, input_shape: Any = None) -> None:
        if input_shape is not None and self._input is None:
            self._input = Input(batch_shape=tuple(input_shape))
        if self._input is not None and self._stack:
            self._rebuild()

    def _input_names(self) -> list[str]:
        return [self._input.node.layer.name] if self._input is not None else ["input"]

    def _output_names(self) -> list[str]:
        return [self._stack[-1].name] if self._stack else ["output"]

    def _output_layer(self, i: int) -> Layer | None:
        return self._stack[-1] if self._stack else None

    def _forward(self, xs: list) -> list[Tensor]:
        if self._plan is None:
            self._ensure_built(xs)
        x = cast_input(xs[0], self._in_dtypes[0])
        for layer in self._stack:
            x = layer._run(x, {})  # with Keras masks
        return [x]

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._plan is None:
            x = inputs.array if isinstance(inputs, Tensor) else inputs
            self._ensure_built([x])
        return super().call(inputs, training)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self._plan is None and not isinstance(inputs, (KerasTensor, list, tuple)):
            x = inputs.array if isinstance(inputs, Tensor) else inputs
            self._ensure_built([x])
        return super().__call__(inputs, *args, **kwargs)
