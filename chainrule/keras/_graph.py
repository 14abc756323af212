"""Symbolic tensors and the graph of layer calls behind the functional API.

`Input(shape=(784,))` returns a KerasTensor: a shape whose first axis (the batch) is None, a dtype,
and the Node (one call of a layer) that produced it. Calling a layer on KerasTensors records a new
Node and returns new KerasTensors; `Model(inputs, outputs)` walks the Nodes back from the outputs
and keeps them in an order that runs every layer after the layers it depends on.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

Shape = tuple  # (None, d1, d2, ...): None for the batch axis or any unknown size

_COUNTERS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """'dense', then 'dense_1', 'dense_2', ... as Keras names layers (reset by clear_session)."""
    n = _COUNTERS.get(base, 0)
    _COUNTERS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Forget the layer names handed out so far, so new layers start again at 'dense'."""
    _COUNTERS.clear()


def snake_case(name: str) -> str:
    """'BatchNormalization' -> 'batch_normalization', 'Conv2D' -> 'conv2d'."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def fmt_shape(shape: Sequence[Any]) -> str:
    """(None, 784) -> '(None, 784)', and a 1-tuple without the trailing comma's surprise."""
    return "(" + ", ".join(str(s) for s in shape) + ")"


class KerasTensor:
    """A symbolic tensor: shape (None for the batch axis), dtype, and the node that made it."""

    __slots__ = ("shape", "dtype", "node", "index", "name", "masked")

    def __init__(self, shape: Shape, dtype: str = "float32", node: Node | None = None,
                 index: int = 0, name: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node, self.index, self.name = node, index, name
        self.masked = False  # whether a Keras mask will ride along with it when data flows

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _keras_mask(self) -> KerasTensor | None:
        """Keras' attribute: the symbolic (batch, steps) boolean mask riding along, or None."""
        return KerasTensor(self.shape[:2], "bool") if self.masked and self.ndim >= 2 else None

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={fmt_shape(self.shape)}, dtype={self.dtype}, "
                f"name={self.name}>")

    def __len__(self) -> int:
        raise TypeError("a KerasTensor is symbolic: its batch size is unknown until data flows")

    def __bool__(self) -> bool:
        raise TypeError("a KerasTensor is symbolic and has no truth value; use it in layers")

    __hash__ = object.__hash__

    # symbolic arithmetic between KerasTensors builds merge layers, as in Keras
    def __add__(self, other: Any) -> KerasTensor:
        return _merge("Add", self, other)

    def __sub__(self, other: Any) -> KerasTensor:
        return _merge("Subtract", self, other)

    def __mul__(self, other: Any) -> KerasTensor:
        return _merge("Multiply", self, other)


def _merge(kind: str, a: KerasTensor, b: Any) -> KerasTensor:
    if not isinstance(b, KerasTensor):
        raise TypeError(f"KerasTensor arithmetic needs two KerasTensors, got "
                        f"{type(b).__name__}; wrap constants in a layer")
    from chainrule.keras.layers import merging

    return getattr(merging, kind)()([a, b])


class Node:
    """One call of `layer` on symbolic inputs: the flat input KerasTensors, whether they were
    passed as a list, the call's keyword arguments, and the output KerasTensors."""

    __slots__ = ("layer", "inputs", "as_list", "kwargs", "outputs", "many", "n_args")

    def __init__(self, layer: Any, inputs: list[KerasTensor], as_list: bool,
                 kwargs: dict[str, Any]) -> None:
        # KerasTensors among the keyword arguments (LSTM(...)(x, initial_state=[h, c])) join
        # the node's inputs after the positional ones, and kwargs keeps KwSlots in their place
        self.n_args = len(inputs)
        inputs = list(inputs)
        kwargs = {k: swap_tensors(v, inputs) for k, v in kwargs.items()}
        self.layer, self.inputs, self.as_list, self.kwargs = layer, inputs, as_list, kwargs
        self.outputs: list[KerasTensor] = []
        self.many = False  # the layer returns a list (e.g. an LSTM with return_state)


class KwSlot:
    """In a node's kwargs: the value of node input number i (a KerasTensor when recorded)."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def __repr__(self) -> str:
        return f"KwSlot({self.i})"


def swap_tensors(v: Any, found: list) -> Any:
    """v with each KerasTensor (also inside lists / tuples) replaced by a KwSlot pointing at
    its position in `found` (appended there)."""
    if isinstance(v, KerasTensor):
        found.append(v)
        return KwSlot(len(found) - 1)
    if isinstance(v, (list, tuple)) and any(isinstance(a, KerasTensor) for a in v):
        return type(v)(swap_tensors(a, found) for a in v)
    return v


def fill_kwargs(kwargs: dict[str, Any], values: list) -> dict[str, Any]:
    """kwargs with each KwSlot replaced by values[slot.i]."""
    def fill(v: Any) -> Any:
        if isinstance(v, KwSlot):
            return values[v.i]
        if isinstance(v, (list, tuple)) and any(isinstance(a, KwSlot) for a in v):
            return type(v)(fill(a) for a in v)
        return v
    return {k: fill(v) for k, v in kwargs.items()}


def kwargs_to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs for a saved config: a KwSlot becomes {"__node_input__": i}."""
    def enc(v: Any) -> Any:
        if isinstance(v, KwSlot):
            return {"__node_input__": v.i}
        if isinstance(v, (list, tuple)):
            return [enc(a) for a in v]
        return v
    return {k: enc(v) for k, v in kwargs.items()}


def kwargs_from_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    def dec(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"__node_input__"}:
            return KwSlot(int(v["__node_input__"]))
        if isinstance(v, list):
            return [dec(a) for a in v]
        return v
    return {k: dec(v) for k, v in kwargs.items()}


def flatten_inputs(inputs: Any) -> tuple[list[Any], bool]:
    """(flat list, whether it was a list/tuple)."""
    if isinstance(inputs, (list, tuple)):
        return list(inputs), True
    return [inputs], False


def is_symbolic(inputs: Any) -> bool:
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple)):
        return any(isinstance(t, KerasTensor) for t in inputs)
    return False


def topological_nodes(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The nodes between inputs and outputs, each after the nodes that feed it (iterative DFS).
    Raises ValueError naming the tensor when an output depends on something not in inputs."""
    input_ids = {id(t) for t in inputs}
    order: list[Node] = []
    done: set[int] = set()
    for out in outputs:
        stack: list[tuple[KerasTensor, bool]] = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            node = t.node
            if node is None:
                raise ValueError(f"{t!r} was not produced by a layer; build it from Input()")
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((t, True))
            if id(t) in input_ids:
                continue
            if not node.inputs and not _is_input_layer(node.layer):
                continue
            if _is_input_layer(node.layer):
                raise ValueError(
                    f"Model: the output depends on {t!r}, which is not among the model's inputs "
                    f"({', '.join(i.name or '?' for i in inputs)}); pass it in `inputs`")
            stack.extend((i, False) for i in reversed(node.inputs) if id(i.node) not in done)
    return order


def keras_layer_order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Any]:
    """The graph's layers in Keras' order (ops/function.py map_graph): deepest first (depth =
    layers between a layer and the outputs), ties by first visit of a depth-first walk from
    each output in turn. model.layers, model.weights and get_weights follow it."""
    input_ids = {id(t) for t in inputs}
    post: list[Node] = []
    finished: set[int] = set()
    first_seen: dict[int, int] = {}
    layers: dict[int, Any] = {}
    for out in outputs:
        stack: list[tuple[KerasTensor, bool]] = [(out, False)]
        while stack:  # Keras' recursive _build_map_helper, iteratively
            t, expanded = stack.pop()
            node = t.node
            if node is None or id(node) in finished:
                continue
            if expanded:
                finished.add(id(node))
                post.append(node)
                continue
            first_seen.setdefault(id(node.layer), len(first_seen))
            layers[id(node.layer)] = node.layer
            stack.append((t, True))
            if id(t) not in input_ids and not _is_input_layer(node.layer):
                stack.extend((i, False) for i in reversed(node.inputs))
    in_graph = {id(n) for n in post}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(post):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        if id(node.layer) in input_ids or _is_input_layer(node.layer):
            continue
        for t in node.inputs:
            if t.node is not None and id(t.node) in in_graph:
                node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in inputs:  # inputs no output depends on still belong to the model
        if t.node is not None and id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)], first_seen[id(t.node.layer)] = 0, -1
            layers[id(t.node.layer)] = t.node.layer
    keys = sorted(layer_depth, key=lambda k: (-layer_depth[k], first_seen[k]))
    return [layers[k] for k in keys]


def _is_input_layer(layer: Any) -> bool:
    return type(layer).__name__ == "InputLayer"
