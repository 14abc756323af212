"""Layer: the Keras layer protocol (build on first input, call, weights) over chainrule.nn.Module.

A Layer IS a chainrule Module: its weights are Parameters, so the engine, the optimizers and
state_dict see them as usual. Keras' view of the weights (get_weights, set_weights, `weights`)
may use another layout than the arrays the layer computes with (a Dense kernel is (in, out) for
Keras, stored (out, in) so that the layer runs F.linear exactly as nn.Linear does); each weight
carries the two conversions.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from chainrule.autograd import no_grad
from chainrule.backend import as_dtype
from chainrule.errors import ShapeError
from chainrule.keras import initializers, regularizers
from chainrule.keras._graph import (
    KerasTensor,
    Node,
    flatten_inputs,
    fmt_shape,
    is_symbolic,
    snake_case,
    unique_name,
)
from chainrule.keras._masks import (  # noqa: F401  (get/set_keras_mask re-exported)
    _MASKS,
    _dummy_masks,
    _masks_of,
    _takes_mask,
    get_keras_mask,
    set_keras_mask,
)
from chainrule.keras._weight import Variable, Weight
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

# While load_model rebuilds a saved architecture: how many weight elements may still be made
# (the file's own total), so a forged config cannot allocate more than the file holds.
_weight_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(elements: int) -> Iterator[None]:
    """Inside the block, layers may create at most `elements` weight values in all; one more
    raises ValueError before anything is allocated."""
    token = _weight_budget.set([elements])
    try:
        yield
    finally:
        _weight_budget.reset(token)

# inside a layer's __call__: only the outermost call clears the add_loss() lists
_IN_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("_IN_CALL", default=False)


# How many layer calls are running: 0 means a call comes straight from the user, where Keras
# resolves training=None to the call's own default (True for the random augmentation layers).
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("_layer_depth", default=0)


_INPUT_KWARGS = ("input_shape", "input_dim", "batch_size", "batch_input_shape", "input_length")


def _batch_shape(layer: str, kwargs: dict[str, Any]) -> tuple | None:
    """The batch input shape that input_shape= / input_dim= / batch_input_shape= declare."""
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    shape = kwargs.get("input_shape")
    if shape is None and kwargs.get("input_dim") is not None:
        shape = (kwargs["input_dim"],)
        if kwargs.get("input_length") is not None:
            shape = (kwargs["input_length"],)
    if shape is None:
        return None
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{layer}: input_shape must be a tuple such as (784,), got {shape!r}")
    return (kwargs.get("batch_size"),) + tuple(shape)


class Layer(Module):
    """Base class of the Keras layers: `build(input_shape)` creates the weights on the first
    call, `call(inputs, training=None)` computes. Calling a layer on KerasTensors records a
    graph node instead of computing."""

    def __init__(self, *, name: str | None = None, trainable: bool = True, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__()
        object.__setattr__(self, "training", False)  # Keras: inference unless fit() says so
        unknown = sorted(set(kwargs) - set(_INPUT_KWARGS))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(unknown)}; see help({type(self).__name__}) for the "
                            f"accepted arguments")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = "float32" if dtype is None else as_dtype(dtype).name
        self.built = False
        self._weights: list[Weight] = []
        self._inbound_nodes: list[Node] = []
        self._build_input_shape: Any = None
        self._regularized: list[tuple[Weight, Callable]] = []
        self._batch_input_shape = _batch_shape(type(self).__name__, kwargs)

    # Keras: a layer passes the mask of its input on (compute_mask) only when it supports
    # masking; one that does not drops it. Layers that override compute_mask support it.
    supports_masking = False
    _direct_training = False  # training=None in a direct call means training=True (Keras)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The mask of this layer's output for `inputs` whose mask is `previous_mask`."""
        return previous_mask

    def _run(self, x: Any, kwargs: dict[str, Any], args: tuple = ()) -> Any:
        """call(x, *args, **kwargs) with Keras' masks: the inputs' masks are passed as
        `mask=` when call takes one, and the outputs get compute_mask's masks."""
        token = _DEPTH.set(_DEPTH.get() + 1)
        try:
            return self._call_with_masks(x, kwargs, args)
        finally:
            _DEPTH.reset(token)

    def _call_with_masks(self, x: Any, kwargs: dict[str, Any], args: tuple) -> Any:
        own = type(self).compute_mask is not Layer.compute_mask
        if not _MASKS and not own:
            return self.call(x, *args, **kwargs)
        prev = _masks_of(x)
        has = any(m is not None for m in prev) if isinstance(prev, list) else prev is not None
        if has and kwargs.get("mask") is None and _takes_mask(type(self)):
            kwargs = {**kwargs, "mask": prev}
        if kwargs.get("mask") is not None:
            prev = kwargs["mask"]
        y = self.call(x, *args, **kwargs)
        if (has or own) and (self.supports_masking or own):
            outs = y if isinstance(y, (list, tuple)) else [y]
            masks = self.compute_mask(x, prev)
            masks = masks if isinstance(masks, (list, tuple)) else [masks]
            for t, m in zip(outs, masks):
                if isinstance(t, Tensor) and m is not None and get_keras_mask(t) is None:
                    set_keras_mask(t, m)
        return y

    def __setattr__(self, name: str, value: Any) -> None:
        # Keras tracks lists of layers assigned to attributes (subclassed models)
        if (isinstance(value, (list, tuple)) and value
                and all(isinstance(v, Module) for v in value) and "_modules" in self.__dict__):
            for i, v in enumerate(value):
                self.add_module(f"{name}_{i}", v)
        # and a keras.Variable made by the user (not by add_weight) becomes one of its weights
        if (isinstance(value, Variable) and "_keras_trainable" in value.__dict__
                and "_weights" in self.__dict__
                and all(value is not p for w in self._weights for p in w.params)):
            w = Weight(getattr(value, "name", None) or name, tuple(value.shape),
                       value.trainable)
            w.params.append(value)
            self._weights.append(w)
        super().__setattr__(name, value)

    # -- building ------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of this shape (batch axis None)."""

    def add_weight(self, shape: Sequence[int] | None = None, initializer: Any = None,
                   dtype: Any = None, trainable: bool = True, autocast: bool = True,
                   regularizer: Any = None, constraint: Any = None,
                   name: str | None = None) -> Parameter:
        """Keras' add_weight, for custom layers (in build()): a new trainable Parameter of
        `shape` initialised by `initializer` (default glorot_uniform). Keras 2's order
        add_weight(name, shape, ...) is accepted too."""
        if isinstance(shape, str):  # Keras 2: add_weight("kernel", shape=...)
            name, shape = shape, initializer if isinstance(initializer, (tuple, list)) else None
        if constraint is not None:
            raise NotImplementedError(f"{self.name}.add_weight: constraints are not supported")
        if dtype is not None and as_dtype(dtype) != as_dtype(self.dtype):
            raise NotImplementedError(f"{self.name}.add_weight: weights are {self.dtype}")
        k = len(self._weights)
        name = name or ("variable" if k == 0 else f"variable_{k}")
        return self._add_weight(name, () if shape is None else shape,
                                "glorot_uniform" if initializer is None else initializer,
                                trainable, regularizer, attr=f"_w{k}_{name}")

    def _add_weight(self, name: str, shape: Sequence[int], initializer: Any = "glorot_uniform",
                    trainable: bool = True, regularizer: Any = None, *,
                    attr: str | Sequence[str] | None = None, owner: Module | None = None,
                    layout: Sequence[int] | None = None,
                    convert: tuple[Callable, Callable] | None = None) -> Parameter:
        """A new weight of Keras shape `shape`, initialised in that layout, stored as the
        Parameter(s) `attr` (default: name) of `owner` (default: self) in the layout that
        `layout` / `convert` give. Returns the (first) Parameter."""
        shape = tuple(int(s) for s in shape)
        budget = _weight_budget.get()
        if budget is not None:
            need = math.prod(shape)
            if need > budget[0]:
                raise ValueError(f"{self.name}/{name}: the saved architecture asks for a weight "
                                 f"of shape {shape} ({need} values), more than the file's "
                                 f"weights hold ({budget[0]} values left)")
            budget[0] -= need
        value = np.asarray(initializers.get(initializer)(shape, self.dtype))
        w = Weight(name, shape, trainable, layout, convert)
        names = [attr or name] if attr is None or isinstance(attr, str) else list(attr)
        for a, n in zip(w.stored(value), names):
            p = Variable(as_tensor(np.ascontiguousarray(a)),
                          requires_grad=trainable and self._trainable)
            p.name = f"{self.name}/{name}"
            setattr(owner if owner is not None else self, n, p)
            w.params.append(p)
        self._weights.append(w)
        reg = regularizers.get(regularizer)
        if reg is not None:
            self._regularized.append((w, reg))
        return w.params[0]

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self._build_input_shape = input_shape
            self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape(s) for an input shape; by default found by running the layer once on
        zeros (batch 2) in inference mode, without recording a graph."""
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        xs = [as_tensor(np.zeros([2 if d is None else d for d in s], dtype=np.float32))
              for s in shapes]
        was = self.training
        self.eval()
        kwargs = dict(getattr(self, "_symbolic_kwargs", None) or {})  # tensors by keyword
        flags = getattr(self, "_symbolic_masks", None)
        if _takes_mask(type(self)) and flags is not None and any(np.ravel(flags)):
            kwargs["mask"] = _dummy_masks(input_shape, flags)
        try:
            with no_grad():
                y = self.call(xs if isinstance(input_shape, list) else xs[0], **kwargs)
        finally:
            self.train(was)
        # a static batch size (Input(batch_shape=...)) stays static, as Keras' symbolic call
        static = all(len(s) and s[0] is not None for s in shapes)
        if isinstance(y, (list, tuple)):
            return [(t.shape[0] if static else None,) + tuple(t.shape[1:]) for t in y]
        return (y.shape[0] if static else None,) + tuple(y.shape[1:])

    def check_input_shape(self, input_shape: Any) -> None:
        """Raise ShapeError when a built layer is called on an input shape it cannot take."""

    def _shape_error(self, expected: str, got: Any, hint: str = "") -> ShapeError:
        got = fmt_shape(got) if isinstance(got, tuple) else got
        return ShapeError(f"{type(self).__name__} '{self.name}': expected {expected}, got an "
                          f"input of shape {got}{hint}")

    # -- calling -------------------------------------------------------------------------------
    def call(self, inputs: Any, training: bool | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def forward(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return self.call(inputs, *args, **kwargs)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if is_symbolic(inputs):
            if args:  # layer(targets, logits): the later tensors become call's named arguments
                names = [n for n, p in inspect.signature(self.call).parameters.items()
                         if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
                if len(args) > len(names):
                    raise TypeError(f"{type(self).__name__} '{self.name}': call() takes "
                                    f"{len(names) + 1} positional inputs, got {len(args) + 1}")
                kwargs = {**dict(zip(names, args)), **kwargs}
            return self._call_symbolic(inputs, kwargs)
        x = _as_tensors(inputs)
        if not self.built:
            shapes = _shapes_of(x)
            self.check_input_shape(shapes)
            self._maybe_build(shapes)
        if self._direct_training and kwargs.get("training") is None and _DEPTH.get() == 0:
            kwargs["training"] = True
        if _IN_CALL.get():
            return self._run(x, kwargs, args)
        self._clear_losses()  # an outermost call starts the add_loss() list afresh, as Keras
        token = _IN_CALL.set(True)
        try:
            return self._run(x, kwargs, args)
        finally:
            _IN_CALL.reset(token)

    def _call_symbolic(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        flat, as_list = flatten_inputs(inputs)
        if not all(isinstance(t, KerasTensor) for t in flat):
            raise TypeError(f"{type(self).__name__} '{self.name}': all inputs must be "
                            f"KerasTensors (from Input() or other layers), got "
                            f"{[type(t).__name__ for t in flat]}")
        shapes = [t.shape for t in flat] if as_list else flat[0].shape
        self.check_input_shape(shapes)
        self._maybe_build(shapes)
        flags = [t.masked for t in flat]
        self._symbolic_masks = flags if as_list else flags[0]
        self._symbolic_kwargs = {k: _zeros_like_kt(v) for k, v in kwargs.items()
                                 if is_symbolic(v)}
        try:
            out = self.compute_output_shape(shapes)
        finally:
            self._symbolic_masks = self._symbolic_kwargs = None
        node = Node(self, flat, as_list, dict(kwargs))
        many = isinstance(out, list)
        outs = out if many else [out]
        dtype = getattr(self, "_output_dtype", "float32")
        node.outputs = [KerasTensor(s, dtype, node, i, self.name) for i, s in enumerate(outs)]
        node.many = many
        mark_masked(self, node.outputs, shapes, flags if as_list else flags[0])
        self._inbound_nodes.append(node)
        return list(node.outputs) if many else node.outputs[0]

    # -- the graph this layer took part in -----------------------------------------------------
    @property
    def input(self) -> Any:
        return self._node_attr("inputs")

    @property
    def output(self) -> Any:
        return self._node_attr("outputs")

    def _node_attr(self, what: str) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(f"layer '{self.name}' has never been called on a symbolic "
                                 "input, so it has no input/output tensor")
        ts = getattr(self._inbound_nodes[0], what)
        return ts[0] if len(ts) == 1 else list(ts)

    @property
    def input_shape(self) -> Any:
        return _shapes_of_kt(self.input)

    @property
    def output_shape(self) -> Any:
        return _shapes_of_kt(self.output)

    # -- weights -------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self._flat_layers():
            layer._trainable = bool(value)
            for w in layer._weights:
                for p in w.params:
                    p.requires_grad = w.trainable and layer._trainable

    @property
    def layers(self) -> list[Layer]:
        """The Keras layers directly inside this one (in order)."""
        return [m for m in self.children() if isinstance(m, Layer)]

    def _flat_layers(self) -> Iterator[Layer]:
        """self, then every Keras layer inside, depth first, each once."""
        seen: set[int] = set()
        stack: list[Layer] = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield layer
            stack.extend(reversed(layer.layers))

    def _weight_entries(self, trainable: bool | None = None) -> list[tuple[Layer, Weight]]:
        out, seen = [], set()
        for layer in self._flat_layers():
            own = ([w for w in layer._weights if w.trainable]
                   + [w for w in layer._weights if not w.trainable])
            for w in own:
                if id(w.param) in seen:
                    continue
                seen.add(id(w.param))
                trains = w.trainable and layer._trainable and self._trainable
                if trainable is None or trains == trainable:
                    out.append((layer, w))
        return out

    @property
    def weights(self) -> list[Tensor]:
        return [w.view(layer.name) for layer, w in self._weight_entries()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w.view(layer.name) for layer, w in self._weight_entries(True)]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [w.view(layer.name) for layer, w in self._weight_entries(False)]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras' layout and order (per layer: trainable ones first)."""
        return [np.array(t.detach().numpy(), copy=True) for t in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight (same order and shapes as get_weights()); checked first."""
        entries = self._weight_entries()
        weights = list(weights)
        if len(weights) != len(entries):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': set_weights expects {len(entries)} "
                f"arrays of shapes {[w.shape for _, w in entries]}, got {len(weights)}")
        arrays = [np.asarray(a.detach().numpy() if isinstance(a, Tensor) else a) for a in weights]
        for (layer, w), a in zip(entries, arrays):
            if tuple(a.shape) != w.shape:
                raise ShapeError(f"{type(self).__name__} '{self.name}': weight "
                                 f"'{layer.name}/{w.name}' has shape {w.shape}, got an array "
                                 f"of shape {tuple(a.shape)}")
        for (_, w), a in zip(entries, arrays):
            w.assign(a)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"count_params: layer '{self.name}' is not built yet: call it on "
                             f"data or give the model an input shape first")
        return sum(math.prod(w.shape) for _, w in self._weight_entries())

    def add_loss(self, loss: Any) -> None:
        """Add a loss tensor (or a list of them) computed in call(): fit adds its sum to the
        training loss, and `losses` lists it until the next outermost call."""
        values = list(loss) if isinstance(loss, (list, tuple)) else [loss]
        for v in values:
            if not isinstance(v, Tensor):
                raise ValueError("`add_loss()` can only be called from inside `build()` or "
                                 f"`call()`, on a tensor input. Received invalid value: {v}")
        self.__dict__.setdefault("_added_losses", []).extend(values)

    def _clear_losses(self) -> None:
        for layer in self._flat_layers():
            layer.__dict__.pop("_added_losses", None)

    def _added_loss_list(self) -> list[Tensor]:
        return [v for layer in self._flat_layers() for v in layer.__dict__.get("_added_losses", [])]

    @property
    def losses(self) -> list[Tensor]:
        """The add_loss() losses of the last call, then the regularization penalties, of this
        layer and the layers inside it."""
        return self._added_loss_list() + self._regularization_losses()

    def _regularization_losses(self) -> list[Tensor]:
        out = []
        for layer in self._flat_layers():
            for w, reg in layer._regularized:
                if w.layout is not None and not isinstance(reg, regularizers.L1L2):
                    out.append(reg(w.param.permute(
                        *(int(i) for i in np.argsort(w.layout)))))
                else:  # L1 / L2 sums do not depend on the layout
                    terms = [reg(p) for p in w.params]
                    out.append(terms[0] if len(terms) == 1 else sum(terms[1:], terms[0]))
        return out

    # -- configuration -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        allowed = {"name", "trainable", "dtype", *_INPUT_KWARGS}
        for klass in cls.__mro__:
            if issubclass(klass, Layer) and "__init__" in vars(klass):
                allowed |= set(inspect.signature(klass.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(f"{cls.__name__}.from_config: unknown option(s) "
                             f"{', '.join(unknown)}")
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def mark_masked(layer: Layer, outputs: list[KerasTensor], shapes: Any, flags: Any) -> None:
    """Flag the symbolic outputs that will carry a Keras mask, by asking the layer's
    compute_mask about stand-in inputs (zeros) and masks (all True)."""
    own = type(layer).compute_mask is not Layer.compute_mask
    anyflag = any(np.ravel(flags)) if isinstance(flags, list) else bool(flags)
    if not (own or (layer.supports_masking and anyflag)):
        return
    if not own:
        outputs[0].masked = True
        return
    one = isinstance(shapes, tuple)
    xs = [as_tensor(np.zeros([2 if d is None else d for d in s], dtype=np.float32))
          for s in ([shapes] if one else shapes)]
    masks = layer.compute_mask(xs[0] if one else xs, _dummy_masks(shapes, flags))
    masks = masks if isinstance(masks, (list, tuple)) else [masks]
    for t, m in zip(outputs, masks):
        t.masked = m is not None


def _as_tensors(inputs: Any) -> Any:
    if isinstance(inputs, Tensor):
        return inputs
    if isinstance(inputs, (list, tuple)):
        return [t if isinstance(t, Tensor) else as_tensor(np.asarray(t)) for t in inputs]
    return as_tensor(np.asarray(inputs))


def _shapes_of(x: Any) -> Any:
    if isinstance(x, list):
        return [(None,) + tuple(t.shape[1:]) for t in x]
    return (None,) + tuple(x.shape[1:])


def _shapes_of_kt(t: Any) -> Any:
    return [k.shape for k in t] if isinstance(t, list) else t.shape


def _zeros_like_kt(v: Any) -> Any:
    """Zeros (batch 2) in place of the KerasTensors of a call's keyword argument, to run the
    layer once for its output shape."""
    if isinstance(v, KerasTensor):
        return as_tensor(np.zeros([2 if d is None else d for d in v.shape], dtype=v.dtype))
    if isinstance(v, (list, tuple)):
        return type(v)(_zeros_like_kt(i) for i in v)
    if isinstance(v, dict):
        return {k: _zeros_like_kt(i) for k, i in v.items()}
    return v
