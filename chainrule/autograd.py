"""The op protocol (Function), backward() and grad(), and the grad and anomaly modes.

One op is one Function subclass: `forward(self, *arrays)` computes on raw arrays,
`backward(self, gy)` returns one gradient per input built from Tensor ops, so the same code runs
as the fast numeric backward and, under create_graph=True, records a graph of its own for
higher-order gradients. The walk that runs the backward passes is chainrule.walk; the version
counters that guard saved tensors, chainrule.versions.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.backend import is_device_array, on_device_of, one_device, xp_of
from chainrule.errors import ShapeError
from chainrule.kept import TINY
from chainrule.modes import (  # noqa: F401  (re-exported: cr.autograd.no_grad, ...)
    _Mode,
    _user_frame,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.operands import as_operands
from chainrule.runtime import detect_anomaly, set_detect_anomaly  # noqa: F401  (PyTorch's)
from chainrule.tensor import Tensor
from chainrule.versions import _Version, check_saved, saved_tensors_of, version_error  # noqa: F401
from chainrule.walk import _finite, _Walk, toposort  # noqa: F401  (re-exported)


class Function:
    """An op: subclass it, write `forward(*arrays) -> array(s)` and `backward(*gys) -> Tensor(s)`.

    Apply an instance once: `Square()(x)`. In backward, `self.inputs` are the input Tensors,
    `self.output` / `self.outputs` the output Tensors, and `self.needs_input_grad[i]` says whether
    input i needs a gradient (return None for those that do not).
    """

    inputs: tuple[Tensor, ...] | None = None
    _kept: tuple | None = None  # after a plain backward: its structure (chainrule.kept)
    needs_input_grad: tuple[bool, ...] = ()
    _where = ""
    # Which tensors backward reads (checked against in-place changes, as PyTorch's saved
    # tensors are): input indices, "out" (the outputs), "cross" (each of two inputs when the
    # other needs a gradient, as in a * b). None: every input and output, the safe default.
    saves: str | None = None

    _ctx_style = False  # a PyTorch-style subclass: static forward(ctx, ...), used via apply()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fwd = cls.__dict__.get("forward")
        if isinstance(fwd, staticmethod) or "setup_context" in cls.__dict__:
            cls._ctx_style = True
            cls.__call__ = _call_ctx_style  # type: ignore[method-assign]

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run a PyTorch-style Function (static forward(ctx, ...) / backward(ctx, ...))."""
        if not cls._ctx_style:
            raise TypeError(
                f"{cls.__name__}.apply: this is a chainrule-style op (forward on arrays, "
                f"backward on Tensors): call an instance, {cls.__name__}()(x); or write "
                "forward and backward as @staticmethods taking ctx, as in PyTorch")
        from chainrule.function_ctx import apply

        return apply(cls, args, kwargs)

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__}.backward is not written: this op is not differentiable"
        )

    def __call__(self, *inputs: Any) -> Any:
        if self.inputs is not None:
            raise RuntimeError(
                f"{type(self).__name__}: a Function instance is applied once; "
                f"create a new one for each call: {type(self).__name__}()(x)"
            )
        xs = as_operands(inputs)
        try:
            ys = self.forward(*[x.array for x in xs])
        except TypeError:  # CuPy refuses host arrays: say it as PyTorch does, naming the op
            one_device(type(self).__name__, [x.array for x in xs])
            raise
        multi = type(ys) is tuple
        needs = tuple([x._requires_grad for x in xs]) if _Mode.grad_enabled else ()
        if True not in needs:
            # not recorded (no_grad, constants, and every op run inside a plain backward)
            outs = tuple(Tensor._make(y, None) for y in ys) if multi else Tensor._make(ys, None)
            if _Mode.anomaly:
                self._check_forward(xs, outs if multi else (outs,))
            return outs
        self.inputs = xs
        self.needs_input_grad = needs
        self._t = _Version.clock
        if multi:
            outs = tuple(Tensor._make(y, self) for y in ys)
            self._outputs = tuple(weakref.ref(y) for y in outs)
            self._out_meta = tuple((y.array.shape, y.array.dtype) for y in outs)
        else:
            outs = Tensor._make(ys, self)
            self._outputs = (weakref.ref(outs),)
        if _Mode.anomaly:
            self._check_forward(xs, outs if multi else (outs,))
        return outs

    @property
    def output(self) -> Tensor:
        """The (first) output Tensor, for backward formulas written in terms of the result."""
        return self._outputs[0]()

    @property
    def outputs(self) -> tuple[Tensor | None, ...]:
        return tuple(r() for r in self._outputs)

    @property
    def name(self) -> str:
        """The op's name ("Mul"); called, as PyTorch's `grad_fn.name()`, "MulBackward0"."""
        return _OpName(type(self).__name__)

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """One (node, output index) per input, as PyTorch's grad_fn.next_functions: the op that
        made it, an AccumulateGrad for a leaf that requires grad, (None, 0) for a constant."""
        d = self.__dict__
        if "inputs" in d:
            recs: Sequence[Any] = d["inputs"]
        elif self._kept is not None:  # after backward: the records chainrule.kept keeps
            recs = self._kept[0]
        else:
            return ()
        nexts = []
        for x in recs:
            if isinstance(x, tuple):  # (id, creator, shape, dtype, array, name) of a non-leaf
                nexts.append((x[1], _output_nr(x[1], x[0])))
            elif x.creator is not None:
                nexts.append((x.creator, _output_nr(x.creator, id(x))))
            elif x._requires_grad:
                nexts.append((AccumulateGrad(x), 0))
            else:
                nexts.append((None, 0))
        return tuple(nexts)

    def __repr__(self) -> str:
        from chainrule.printing import grad_fn_name

        return f"<{grad_fn_name(self)} object at {id(self):#x}>"

    def _check_forward(self, xs: Sequence[Tensor], outs: Sequence[Tensor]) -> None:
        self._where = _user_frame()
        if _Mode.anomaly is not True:
            return  # PyTorch's anomaly mode only records where the op was made
        if all(_finite(x.array) for x in xs):
            for k, y in enumerate(outs):
                if not _finite(y.array):
                    raise FloatingPointError(
                        f"{self.name}: forward produced NaN/Inf in output {k} from finite inputs "
                        f"(shapes {[x.shape for x in xs]}); the op was created at {self._where}"
                    )

    def _release(self, keep: bool = False, grads: dict | None = None) -> None:
        """Free everything backward needed (inputs, saved arrays); the graph cannot be reused.
        With keep, the structure stays (`_kept`, see chainrule.kept), as PyTorch's grad_fn
        chain does, so the graph can still be drawn after backward; grads: the tiny gradients
        this backward gave f's outputs, {id(output): array}."""
        d = self.__dict__
        kept = None
        if keep and "inputs" in d:
            recs = []
            for x in d["inputs"]:  # the records of chainrule.kept
                c = x.creator
                if c is None and x._requires_grad:
                    recs.append(x)
                else:
                    a = x.array
                    recs.append((id(x), c, a.shape, a.dtype, a.copy() if a.size <= TINY else None,
                                 x.name))
            kept = (tuple(recs), d["needs_input_grad"], grads)
        meta = d.get("_out_meta")
        d.clear()
        if meta is not None:
            self._out_meta = meta
        if kept is not None:
            self._kept = kept
        self._freed = True


class _OpName(str):
    """A str that PyTorch code may also call: `grad_fn.name()` gives "MulBackward0"."""

    def __call__(self) -> str:
        return self if self.endswith(("Backward", "Backward0")) else f"{self}Backward0"


class AccumulateGrad:
    """The node that stores a leaf's gradient into `.grad` (PyTorch's name); `variable` is the
    leaf."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_functions: tuple = ()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def _output_nr(creator: Function | None, key: int) -> int:
    refs = getattr(creator, "_outputs", ()) if creator is not None else ()
    for i, r in enumerate(refs):
        y = r()
        if y is not None and id(y) == key:
            return i
    return 0


def _call_ctx_style(self: Function, *args: Any) -> Any:
    name = type(self).__name__
    raise TypeError(f"{name} is a PyTorch-style Function (static forward(ctx, ...)): call "
                    f"{name}.apply(...), not an instance")


def _ones_for(roots: Sequence[Tensor], grads: Sequence[Any] | None, who: str) -> list[Tensor]:
    out = []
    for i, r in enumerate(roots):
        g = None if grads is None else grads[i]
        if g is None:
            if r.numel() != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for scalar outputs, but output "
                    f"{i} has shape {r.shape}; pass a gradient of that shape (e.g. ones_like)"
                )
            a = r.array
            g = Tensor._make(xp_of(a).ones(a.shape, a.dtype), None)
        else:
            if not isinstance(g, Tensor):  # an array or list: on the output's device
                g = Tensor._make(on_device_of(g.astype(r.array.dtype) if is_device_array(g)
                                              else np.asarray(g, dtype=r.array.dtype), r.array),
                                 None)
            if g.array.shape != r.array.shape:
                raise ShapeError(
                    f"{who}: the gradient given for output {i} has shape {g.shape}, but the "
                    f"output has shape {r.shape}; they must match"
                )
        out.append(g)
    return out


def _check_roots(roots: Sequence[Tensor], who: str) -> None:
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{who}: output {i} is a {type(r).__name__}, not a Tensor")
        if not r.requires_grad:
            raise RuntimeError(
                f"{who}: output {i} does not require grad and has no creator op: no input of the "
                "computation has requires_grad=True (or it ran under no_grad())"
            )


def _as_list(ts: Any) -> list:
    return list(ts) if isinstance(ts, (list, tuple)) else [ts]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate d tensors / d leaf into each leaf's .grad (what Tensor.backward calls); with
    inputs=, into the .grad of those tensors only."""
    roots = _as_list(tensors)
    _check_roots(roots, "backward")
    grads = _ones_for(roots, None if grad_tensors is None else _as_list(grad_tensors), "backward")
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        _Walk(roots, None, True, None).run(roots, grads, retain, create_graph)
        return
    xs = _as_list(inputs)
    if not xs:
        raise RuntimeError("backward: inputs= was given but is empty; leave it out to "
                           "accumulate into every leaf")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] is not a Tensor that requires grad")
    walk = _Walk(roots, xs, False, None)
    walk.run(roots, grads, retain, create_graph)
    saved = _Mode.grad_enabled
    _Mode.grad_enabled = create_graph
    try:
        for x in xs:
            g = walk.captured.get(id(x))
            if g is not None:
                walk._store(x, g)
    finally:
        _Mode.grad_enabled = saved


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """d outputs / d inputs as a tuple, one per input, without touching any .grad.

    grad_outputs weight non-scalar outputs (vector-Jacobian product); retain_graph defaults to
    create_graph, as in PyTorch, so a gradient made with create_graph=True can be differentiated.
    """
    roots = _as_list(outputs)
    xs = _as_list(inputs)
    _check_roots(roots, "grad")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a Tensor that requires grad")
    gos = _ones_for(roots, None if grad_outputs is None else _as_list(grad_outputs), "grad")
    retain = create_graph if retain_graph is None else retain_graph
    walk = _Walk(roots, xs, False, None)
    walk.run(roots, gos, retain, create_graph)
    result = []
    for i, x in enumerate(xs):
        g = walk.captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {x.shape}) is not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


def register_hooks_removable(hooks: dict, fn: Callable) -> Any:
    """Store fn in a tensor's hook dict and return a handle whose remove() takes it out."""

    class RemovableHandle:
        def __init__(self, key: int) -> None:
            self.key = key

        def remove(self) -> None:
            hooks.pop(self.key, None)

    key = max(hooks, default=-1) + 1
    hooks[key] = fn
    return RemovableHandle(key)


from chainrule.gradtable import GradRow, GradTable, grad_table  # noqa: E402,F401  (re-exported)
from chainrule.legacy import Variable  # noqa: E402,F401  (PyTorch 2: makes a plain tensor)


def _submodules() -> None:
    """chainrule.autograd.function, at PyTorch's path (torch.autograd.function): Function,
    FunctionCtx, once_differentiable."""
    import sys
    import types

    from chainrule import function_ctx

    mod = types.ModuleType(__name__ + ".function", "PyTorch-style custom autograd functions.")
    mod.Function = Function
    mod.FunctionCtx = function_ctx.FunctionCtx
    mod.once_differentiable = function_ctx.once_differentiable
    sys.modules[mod.__name__] = mod
    globals()["function"] = mod


_submodules()


def __getattr__(name: str) -> Any:
    """torch.autograd.gradcheck / gradgradcheck, at PyTorch's path (loaded on first use:
    chainrule.numerical builds on this module)."""
    if name in ("gradcheck", "gradgradcheck"):
        from chainrule import numerical

        return getattr(numerical, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
