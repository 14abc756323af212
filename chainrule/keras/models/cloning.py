"""keras.models.clone_model: the same architecture with new layers (freshly initialised weights).

Each layer is replaced by clone_function(layer) (by default
`layer.__class__.from_config(layer.get_config())`, as Keras), and the graph is replayed on the
new layers; a Sequential model stays Sequential, a functional one functional. Weights are not
copied: call `clone.set_weights(model.get_weights())` for that, as in Keras.
"""

from __future__ import annotations

from typing import Any, Callable

from chainrule.keras._graph import fill_kwargs
from chainrule.keras._layer import Layer


def _default_clone(layer: Layer) -> Layer:
    return layer.__class__.from_config(layer.get_config())


def clone_model(model: Any, input_tensors: Any = None, clone_function: Callable | None = None,
                call_function: Callable | None = None, recursive: bool = False,
                **kwargs: Any) -> Any:
    """A new model of the same architecture (Sequential or functional) whose layers are
    clone_function(layer); its weights are new (initialised as the layers' initializers say).
    With recursive=True, Sequential / functional models nested inside are cloned the same way
    (else they are cloned by clone_function too)."""
    from chainrule.keras.models.functional import Model
    from chainrule.keras.models.sequential import Sequential

    if kwargs:
        raise TypeError(f"clone_model: unexpected keyword argument(s) {', '.join(kwargs)}")
    if input_tensors is not None or call_function is not None:
        raise NotImplementedError("clone_model: input_tensors= and call_function= are not "
                                  "supported; clone the model, then call it on the tensors")
    clone = clone_function or _default_clone

    def clone_layer(layer: Layer) -> Layer:
        if recursive and isinstance(layer, Model) and layer._plan is not None:
            return clone_model(layer, clone_function=clone_function, recursive=True)
        return clone(layer)

    if isinstance(model, Sequential):
        return _clone_sequential(model, clone_layer)
    if isinstance(model, Model):
        if model._plan is None:
            raise ValueError(f"clone_model: model '{model.name}' is a subclassed Model, whose "
                             "architecture is Python code; build a new instance of its class "
                             "instead (Keras: only Sequential and functional models can be "
                             "cloned without a get_config())")
        return _clone_functional(model, clone_layer)
    raise ValueError(f"clone_model: expected a Keras Model (Sequential or functional), got "
                     f"{type(model).__name__}")


def _clone_sequential(model: Any, clone_layer: Callable) -> Any:
    from chainrule.keras.layers import Input
    from chainrule.keras.models.sequential import Sequential

    new = Sequential(name=model.name, trainable=model.trainable)
    if model._input is not None:
        new.add(Input(batch_shape=model._input.shape, dtype=model._input.dtype))
    for layer in model.layers:
        new.add(clone_layer(layer))
    return new


def _clone_functional(model: Any, clone_layer: Callable) -> Any:
    from chainrule.keras.layers import InputLayer
    from chainrule.keras.models.functional import Model

    clones: dict[int, Layer] = {}
    outs: dict[int, list[Any]] = {}  # original node id -> its outputs in the clone
    for n in model._nodes:
        layer = n.layer
        if isinstance(layer, InputLayer):
            if id(layer) not in clones:
                clones[id(layer)] = InputLayer.from_config(layer.get_config())
            outs[id(n)] = [clones[id(layer)].output]
            continue
        if id(layer) not in clones:  # a shared layer is cloned once and shared again
            clones[id(layer)] = clone_layer(layer)
        args = [outs[id(t.node)][t.index] for t in n.inputs]
        kwargs = fill_kwargs(n.kwargs, args)  # tensors given by keyword: the clone's
        args = args[:n.n_args]
        y = clones[id(layer)](args if n.as_list else args[0], **kwargs)
        outs[id(n)] = y if isinstance(y, list) else [y]

    def pick(ts: list, kind: Any) -> Any:
        new = [outs[id(t.node)][t.index] for t in ts]
        if kind == "single":
            return new[0]
        return dict(zip(kind, new)) if isinstance(kind, list) else new

    return Model(pick(model._inputs, model._in_kind), pick(model._outputs, model._out_kind),
                 name=model.name, trainable=model.trainable)
