"""PyTorch-style custom autograd functions, beside chainrule's own op protocol:

    class Exp(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    y = Exp.apply(x)

forward receives Tensors and runs with grad mode off; backward receives one gradient per
output and returns one per forward argument (None for non-tensors). The forward(*args) +
setup_context(ctx, inputs, output) form of PyTorch 2 works too. Under create_graph=True,
backward runs with grad mode on, so a backward written with tensor ops is differentiable again.

chainrule's own style (an instance with forward on arrays and backward on Tensors, applied as
F()(x)) is what the library's ops use; see chainrule.autograd.Function.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any, Callable

from chainrule.autograd import Function
from chainrule.modes import _Mode, no_grad
from chainrule.tensor import Tensor, _Version


class FunctionCtx:
    """The ctx a PyTorch-style Function's forward and backward share."""

    def __init__(self, n_args: int) -> None:
        self.needs_input_grad: tuple[bool, ...] = (False,) * n_args
        self._saved: tuple = ()
        self._clock = 0
        self._non_diff: set[int] = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument "
                                f"{len(self._saved)} is of type {type(t).__name__}; keep "
                                "other values as attributes of ctx")
        self._saved = tensors
        self._clock = _Version.clock

    @property
    def saved_tensors(self) -> tuple:
        from chainrule.versions import version_error

        for t in self._saved:
            if t is not None and t._vc is not None and t._vc.t > self._clock:
                raise version_error(t, _Named(self), t._vc, "a tensor saved with "
                                    "ctx.save_for_backward")
        return tuple(self._saved)

    def mark_non_differentiable(self, *outputs: Any) -> None:
        self._non_diff.update(id(o) for o in outputs)

    def mark_dirty(self, *tensors: Any) -> None:
        raise NotImplementedError("mark_dirty (in-place custom Functions) is not supported: "
                                  "return a new tensor from forward instead")

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class _Named:
    """What version_error needs to name the op."""

    def __init__(self, ctx: FunctionCtx) -> None:
        self.name = getattr(ctx, "_name", "a custom Function")
        self._t = ctx._clock


def apply(cls: type, args: tuple, kwargs: dict) -> Any:
    """Run a PyTorch-style Function: forward without recording, then one graph node for it."""
    ctx = FunctionCtx(len(args))
    ctx._name = cls.__name__
    record = _Mode.grad_enabled
    needs = tuple(record and isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx.needs_input_grad = needs
    with no_grad():
        if "setup_context" in _own_attrs(cls):
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    multi = isinstance(out, tuple)
    outs = list(out) if multi else [out]
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    for k, o in enumerate(outs):
        if isinstance(o, Tensor) and id(o) in inputs:
            outs[k] = Tensor._make(o.array, None)  # an input returned as is: a new tensor
    if not any(needs):
        return tuple(outs) if multi else outs[0]
    node = CustomBackward(cls, ctx, [i for i, a in enumerate(args) if isinstance(a, Tensor)])
    node.inputs = tuple(a for a in args if isinstance(a, Tensor))
    node.needs_input_grad = tuple(needs[i] for i in node.arg_index)
    node._t = _Version.clock
    metas, refs = [], []
    for o in outs:
        if isinstance(o, Tensor):
            metas.append((tuple(o.shape), o.array.dtype))
            if id(o) not in ctx._non_diff and o.array.dtype.kind in "fc":
                o.creator, o._requires_grad = node, True
            refs.append(weakref.ref(o))
    node._outputs = tuple(refs)
    node._out_meta = tuple(metas)
    return tuple(outs) if multi else outs[0]


def _own_attrs(cls: type) -> set:
    names: set = set()
    for k in cls.__mro__:
        if k is Function:
            break
        names.update(vars(k))
    return names


class CustomBackward(Function):
    """The graph node of one PyTorch-style Function call (made by apply())."""

    saves = ""

    def __init__(self, user_cls: type, ctx: FunctionCtx, arg_index: list[int]) -> None:
        self.user_cls, self.ctx, self.arg_index = user_cls, ctx, arg_index

    @property
    def name(self) -> str:
        from chainrule.autograd import _OpName

        return _OpName(f"{self.user_cls.__name__}Backward")

    def backward(self, *gys: Tensor) -> tuple:
        grads = self.user_cls.backward(self.ctx, *gys)
        if not isinstance(grads, tuple):
            grads = (grads,)
        n_args = len(self.ctx.needs_input_grad)
        if len(grads) > n_args and all(g is None for g in grads[n_args:]):
            grads = grads[:n_args]  # extra Nones are allowed, as in PyTorch
        if len(grads) != n_args:
            raise RuntimeError(
                f"function {self.name} returned an incorrect number of gradients (expected "
                f"{n_args}, got {len(grads)})")
        out = []
        for i in self.arg_index:
            g = grads[i]
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"{self.user_cls.__name__}.backward returned a "
                                f"{type(g).__name__} as gradient {i}; return Tensors or None")
            out.append(g)
        return tuple(out)


def once_differentiable(fn: Callable) -> Callable:
    """Mark a backward that is not itself differentiable: it runs without recording, even under
    create_graph=True (PyTorch's torch.autograd.function.once_differentiable)."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        with no_grad():
            return fn(ctx, *args)

    return wrapper
