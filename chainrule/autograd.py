"""The op protocol (Function), the backward walk, grad(), the grad_table, grad and anomaly modes.

One op is one Function subclass: `forward(self, *arrays)` computes on raw arrays,
`backward(self, gy)` returns one gradient per input built from Tensor ops, so the same code runs
as the fast numeric backward and, under create_graph=True, records a graph of its own for
higher-order gradients.

The walk (`_Walk`) is the textbook backprop algorithm: sort the graph's ops once (iteratively, so
a 100 000-op chain is fine), visit each op once in reverse topological order, and fill a table of
gradients keyed by tensor. Broadcasting is undone in one place, here, with `sum_to`.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.backend import is_floating, xp_of
from chainrule.dtypes import type_name
from chainrule.errors import ShapeError
from chainrule.modes import (  # noqa: F401  (re-exported: cr.autograd.no_grad, ...)
    _Mode,
    _user_frame,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.tensor import Tensor, _Version, as_operands


def _finite(a: np.ndarray) -> bool:
    return not is_floating(a.dtype) or bool(xp_of(a).isfinite(a).all())


class Function:
    """An op: subclass it, write `forward(*arrays) -> array(s)` and `backward(*gys) -> Tensor(s)`.

    Apply an instance once: `Square()(x)`. In backward, `self.inputs` are the input Tensors,
    `self.output` / `self.outputs` the output Tensors, and `self.needs_input_grad[i]` says whether
    input i needs a gradient (return None for those that do not).
    """

    inputs: tuple[Tensor, ...] | None = None
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
        ys = self.forward(*[x.array for x in xs])
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
        return type(self).__name__

    def __repr__(self) -> str:
        from chainrule.printing import grad_fn_name

        return f"<{grad_fn_name(self)} object at {id(self):#x}>"

    def _check_forward(self, xs: Sequence[Tensor], outs: Sequence[Tensor]) -> None:
        self._where = _user_frame()
        if all(_finite(x.array) for x in xs):
            for k, y in enumerate(outs):
                if not _finite(y.array):
                    raise FloatingPointError(
                        f"{self.name}: forward produced NaN/Inf in output {k} from finite inputs "
                        f"(shapes {[x.shape for x in xs]}); the op was created at {self._where}"
                    )

    def _release(self) -> None:
        """Free everything backward needed (inputs, saved arrays); the graph cannot be reused."""
        meta = self.__dict__.get("_out_meta")
        self.__dict__.clear()
        if meta is not None:
            self._out_meta = meta
        self._freed = True


def _call_ctx_style(self: Function, *args: Any) -> Any:
    name = type(self).__name__
    raise TypeError(f"{name} is a PyTorch-style Function (static forward(ctx, ...)): call "
                    f"{name}.apply(...), not an instance")


def saved_tensors_of(f: Function) -> list[tuple[Tensor, str]]:
    """The tensors f's backward reads, with a description of each ("input 1", "output 0")."""
    spec = f.saves
    tokens = ("inputs", "out") if spec is None else spec.split()
    n = f.needs_input_grad
    out = []
    for tok in tokens:
        if tok == "inputs":
            out += [(x, f"input {i}") for i, x in enumerate(f.inputs)]
        elif tok == "out":
            out += [(y, f"output {k}") for k, y in enumerate(f.outputs) if y is not None]
        elif tok == "cross":
            out += [(x, f"input {i}") for i, x in enumerate(f.inputs[:2]) if n[1 - i]]
        else:
            out.append((f.inputs[int(tok)], f"input {tok}"))
    return out


def check_saved(f: Function) -> None:
    """Refuse to run f's backward when a tensor it saved was changed in place since (PyTorch's
    version counter check)."""
    for x, what in saved_tensors_of(f):
        vc = x._vc
        if vc is not None and vc.t > f._t:
            raise version_error(x, f, vc, what)


def version_error(x: Tensor, f: Any, vc: _Version, what: str) -> RuntimeError:
    then = vc.version_at(f._t)
    expected = "an earlier version" if then is None else f"version {then}"
    made = f", which is output 0 of {x.creator.name}," if x.creator is not None else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [chainrule.{type_name(x.array.dtype)} {list(x.array.shape)}]{made} is at "
        f"version {vc.v}; expected {expected} instead. It is {what} of {f.name}, saved for its "
        "backward. Hint: do the in-place change after backward(), or on a copy (x = x.clone() "
        "or x = x + ... instead of x += ...); an optimizer step or an nn.init call between the "
        "forward pass and backward() is the usual cause.")


def _freed_error(f: Function) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (at {f.name}): its saved values were "
        "freed after the first backward. Pass retain_graph=True to the first backward()/grad() "
        "if you need to backpropagate through the same graph twice."
    )


def toposort(roots: Sequence[Tensor],
             targets: set[int] | None) -> tuple[list[Function], dict[int, bool]]:
    """Ops behind `roots` in reverse topological order, and for each op whether it leads to one
    of `targets` (ops that lead nowhere are dropped when targets are given)."""
    post: list[Function] = []
    seen: set[int] = set()
    leads: dict[int, bool] = {}
    stack: list[tuple[Function, bool]] = [(r.creator, False) for r in roots if r.creator]
    while stack:
        f, expanded = stack.pop()
        if expanded:
            if targets is not None:
                leads[id(f)] = any(_leads(x, targets, leads) for x in f.inputs)
            post.append(f)
            continue
        if id(f) in seen:
            continue
        seen.add(id(f))
        if f.inputs is None:
            raise _freed_error(f)
        stack.append((f, True))
        for x in f.inputs:
            if x._rebased is not None or (x._view is not None
                                          and x._view[0]._rebased is not None):
                _route(f)
                break
        for x in f.inputs:
            c = x.creator
            if c is not None and id(c) not in seen:
                stack.append((c, False))
    post.reverse()
    if targets is not None:
        post = [f for f in post if leads[id(f)]]
    return post, leads


def _route(f: Function) -> None:
    """Inputs of f whose graph changed through an in-place op: f's gradient must reach the
    value f saw. A tensor changed in place after f used it: the stand-in the in-place op left
    behind. A view whose base was changed in place before f used it (but after the view was
    made): the view re-made from the base as it was when f ran (PyTorch regenerates a view's
    grad_fn the same way)."""
    xs = []
    for x in f.inputs:
        if x._rebased is not None:
            old = next((o for clock, o in x._rebased if clock > f._t), None)
            if old is not None:
                x = old
        elif x._view is not None and x.creator is not None:
            x = _fresh_view(x, f._t)
        xs.append(x)
    f.inputs = tuple(xs)


def _fresh_view(x: Tensor, when: int) -> Tensor:
    """View x as f (recorded at clock `when`) saw it: if its base was changed in place after x
    was made and before `when`, x re-made from the base as it was at `when`."""
    base, replay = x._view
    if base._rebased is None:
        return x
    made = getattr(x.creator, "_t", 0)
    changes = [clock for clock, _ in base._rebased]
    if not any(made < c <= when for c in changes):
        return x
    then = next((o for clock, o in base._rebased if clock > when), base)
    saved = _Mode.grad_enabled
    _Mode.grad_enabled = True
    try:
        return replay(then)
    finally:
        _Mode.grad_enabled = saved


def _leads(x: Tensor, targets: set[int] | None, leads: dict[int, bool]) -> bool:
    if targets is None:
        return True
    return id(x) in targets or (x.creator is not None and leads.get(id(x.creator), False))


class _Walk:
    """One backward pass: the grad_table being filled, visiting each op once."""

    def __init__(self, roots: Sequence[Tensor], targets: Sequence[Tensor] | None,
                 accumulate: bool, table: GradTable | None) -> None:
        self.target_ids = None if targets is None else {id(t) for t in targets}
        self.order, leads = toposort(roots, self.target_ids)
        self.in_order = {id(f) for f in self.order}
        uses: dict[int, int] = {}
        self.masks: dict[int, tuple[bool, ...]] = {}  # needs_input_grad narrowed to the targets
        for f in self.order:
            mask = f.needs_input_grad
            if self.target_ids is not None:
                narrowed = tuple(need and _leads(x, self.target_ids, leads)
                                 for x, need in zip(f.inputs, mask))
                if narrowed != mask:
                    self.masks[id(f)] = mask = narrowed
            for x, need in zip(f.inputs, mask):
                if need:
                    uses[id(x)] = uses.get(id(x), 0) + 1
        self.uses = uses
        self.pending: dict[int, list] = {}  # id(tensor) -> [tensor, grad so far]
        self.captured: dict[int, Tensor] = {}
        self.accumulate = accumulate
        self.table = table
        self.handed: set[int] = set()

    def run(self, roots: Sequence[Tensor], grads: Sequence[Tensor], retain_graph: bool,
            create_graph: bool) -> None:
        saved = _Mode.grad_enabled
        _Mode.grad_enabled = create_graph
        try:
            for r, g in zip(roots, grads):
                self._add(r, g)
            for r in roots:
                if self.uses.get(id(r), 0) == 0 and id(r) in self.pending:
                    self._finalize(r)
            for f in self.order:
                self._visit(f)
                if not retain_graph:
                    f._release()
        finally:
            _Mode.grad_enabled = saved

    def _visit(self, f: Function) -> None:
        pending = self.pending
        if len(f._outputs) == 1:
            e = pending.pop(id(f._outputs[0]()), None)
            if e is None:
                return self._no_gradient(f)
            gys = [e[1]]
        else:
            gys = []
            for ref in f._outputs:
                y = ref()
                e = pending.pop(id(y), None) if y is not None else None
                gys.append(None if e is None else e[1])
            if all(g is None for g in gys):
                return self._no_gradient(f)
            xp = xp_of(f.inputs[0].array)
            gys = [Tensor._make(xp.zeros(s, d), None) if g is None else g
                   for g, (s, d) in zip(gys, f._out_meta)]
        if f._t != _Version.clock:
            check_saved(f)
        mask = self.masks.get(id(f))
        anomaly = _Mode.anomaly
        if mask is None and not anomaly:
            mask = f.needs_input_grad
            gxs = f.backward(*gys)
        else:
            gxs = self._backward_narrowed(f, gys, mask)
            mask = f.needs_input_grad if mask is None else mask
        if type(gxs) is not tuple:
            gxs = (gxs,)
        if len(gxs) != len(f.inputs):
            raise RuntimeError(
                f"{f.name}.backward returned {len(gxs)} gradients for {len(f.inputs)} inputs"
            )
        anomaly = anomaly and all(g is None or _finite(g.array) for g in gys)
        uses, pending = self.uses, self.pending
        for k, (x, gx, need) in enumerate(zip(f.inputs, gxs, mask)):
            if not need:
                continue
            key = id(x)
            if gx is not None:
                xa, ga = x.array, gx.array
                if ga.shape != xa.shape:
                    gx = _unbroadcast(f, k, gx, xa.shape)
                if ga.dtype != xa.dtype:
                    gx = gx.astype(xa.dtype)
                if anomaly and not _finite(gx.array):
                    raise FloatingPointError(
                        f"{f.name}: backward produced NaN/Inf in the gradient of input {k} "
                        f"(shape {x.shape}) from finite upstream gradients; the op was created "
                        f"at {f._where or '<run the forward pass inside detect_anomaly()>'}"
                    )
                e = pending.get(key)
                if e is None:
                    pending[key] = [x, gx]
                else:
                    e[1] = e[1] + gx
            left = uses[key] - 1
            uses[key] = left
            if left == 0 and key in pending:
                self._finalize(x)

    def _no_gradient(self, f: Function) -> None:
        """No gradient reached f (a backward returned None for its output): its inputs lose
        one pending use each, so the gradients they get from elsewhere are still handed on."""
        mask = self.masks.get(id(f), f.needs_input_grad)
        uses, pending = self.uses, self.pending
        for x, need in zip(f.inputs, mask):
            if need:
                key = id(x)
                uses[key] -= 1
                if uses[key] == 0 and key in pending:
                    self._finalize(x)

    @staticmethod
    def _backward_narrowed(f: Function, gys: list, mask: tuple | None) -> Any:
        """f.backward with needs_input_grad narrowed to the requested inputs, and anomaly mode
        paused: the ops inside a backward are checked as that op's backward, by the walk."""
        needs = f.needs_input_grad
        anomaly = _Mode.anomaly
        f.needs_input_grad = needs if mask is None else mask
        _Mode.anomaly = False
        try:
            return f.backward(*gys)
        finally:
            f.needs_input_grad = needs
            _Mode.anomaly = anomaly

    def _add(self, x: Tensor, g: Tensor) -> None:
        e = self.pending.get(id(x))
        if e is None:
            self.pending[id(x)] = [x, g]
        else:
            e[1] = e[1] + g

    def _finalize(self, x: Tensor) -> None:
        """x's gradient is complete: run hooks, record it, hand it to x.grad or to the caller."""
        e = self.pending[id(x)]
        g = e[1]
        if x._hooks:
            for hook in list(x._hooks.values()):
                r = hook(g)
                if r is not None:
                    g = r
            e[1] = g
        if self.table is not None:
            self.table._add(x, g)
        if self.target_ids is not None and id(x) in self.target_ids:
            self.captured[id(x)] = g
        if x.creator is None or id(x.creator) not in self.in_order:
            del self.pending[id(x)]
            if self.accumulate and x.creator is None and x.requires_grad:
                self._store(x, g)
        if x._retains_grad and x.creator is not None:
            self._store(x, g)

    def _store(self, x: Tensor, g: Tensor) -> None:
        """Accumulate into x.grad; a stored array is never shared with another tensor's .grad."""
        if not _Mode.grad_enabled:
            old = x.grad
            if old is not None:
                if (old.creator is None and old.array.shape == g.array.shape
                        and old.array.dtype == g.array.dtype
                        and getattr(old.array.flags, "writeable", True)):
                    old.array += g.array  # accumulate in place, as PyTorch's AccumulateGrad
                    old._bump()
                    return
                g = Tensor._make(old.array + g.array, None)
            elif (g.array.base is not None or id(g.array) in self.handed
                  or not getattr(g.array.flags, "writeable", True)):
                g = Tensor._make(g.array.copy(), None)
            self.handed.add(id(g.array))
        elif x.grad is not None:
            g = x.grad + g
        x.grad = g


def _unbroadcast(f: Function, k: int, gx: Tensor, shape: tuple[int, ...]) -> Tensor:
    from chainrule.ops.reduce import sum_to

    try:
        return sum_to(gx, shape)
    except ShapeError:
        raise ShapeError(
            f"{f.name}.backward returned a gradient of shape {gx.shape} for input {k} of shape "
            f"{shape}; it must have the input's shape or broadcast to it"
        ) from None


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
            g = g if isinstance(g, Tensor) else Tensor._make(np.asarray(g, dtype=r.array.dtype),
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
