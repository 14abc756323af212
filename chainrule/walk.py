"""The backward walk: the textbook backprop algorithm over the graph of Functions.

Sort the graph's ops once (iteratively, so a 100 000-op chain is fine), visit each op once in
reverse topological order, and fill a table of gradients keyed by tensor (the grad_table).
Broadcasting is undone in one place, here, with `sum_to`. In-place changes are honoured here too:
an op's gradient reaches the value it saw (the stand-in an in-place op left behind, or a view
re-made from its changed base), and saved tensors changed since are refused.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from chainrule.backend import is_floating, xp_of
from chainrule.errors import ShapeError
from chainrule.kept import TINY
from chainrule.modes import _Mode
from chainrule.tensor import Tensor
from chainrule.versions import _Version, check_saved

# Tensor.register_post_accumulate_grad_hook's hooks, by id of the leaf: kept here rather than in
# a slot of every tensor, so that tensors without such hooks (all but a few leaves) pay nothing.
# (Not a WeakKeyDictionary: it compares keys with ==, which is elementwise on tensors.)
POST_ACCUMULATE_HOOKS: dict[int, tuple[weakref.ref, dict]] = {}


def post_accumulate_hooks(x: Tensor) -> dict:
    """x's dict of post-accumulate-grad hooks (made on first use, gone with x)."""
    entry = POST_ACCUMULATE_HOOKS.get(id(x))
    if entry is None or entry[0]() is not x:
        key = id(x)
        entry = POST_ACCUMULATE_HOOKS[key] = (
            weakref.ref(x, lambda _: POST_ACCUMULATE_HOOKS.pop(key, None)), {})
    return entry[1]

if TYPE_CHECKING:
    from chainrule.autograd import Function
    from chainrule.gradtable import GradTable


def _finite(a: np.ndarray) -> bool:
    return not is_floating(a.dtype) or bool(xp_of(a).isfinite(a).all())


def _anomalous(a: Any, mode: bool | str) -> bool:
    """Whether a backward output trips the anomaly mode: NaN/Inf in chainrule's, NaN in
    PyTorch's ("nan"); nothing in PyTorch's with check_nan=False ("trace")."""
    if mode is True:
        return not _finite(a)
    return mode == "nan" and is_floating(a.dtype) and bool(xp_of(a).isnan(a).any())


def _anomaly_error(f: Function, k: int, x: Tensor, mode: bool | str) -> Exception:
    if mode is True:
        where = f._where or "<run the forward pass inside detect_anomaly()>"
        return FloatingPointError(
            f"{f.name}: backward produced NaN/Inf in the gradient of input {k} (shape "
            f"{x.shape}) from finite upstream gradients; the op was created at {where}")
    import warnings

    from chainrule.printing import grad_fn_name

    name = grad_fn_name(f)  # PyTorch's warning, then its error
    warnings.warn(f"Error detected in {name}. " + (
        f"Traceback of forward call that caused the error:\n  {f._where}" if f._where else
        "No forward pass information available. Enable detect anomaly during forward pass "
        "for more information."), stacklevel=4)
    return RuntimeError(f"Function '{name}' returned nan values in its {k}th output.")


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
        self.keep = False  # a plain backward: keep the structure and tiny gradients
        self.kgrads: dict[int, dict[int, Any]] = {}  # id(creator) -> {id(tensor): tiny grad}

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
            self.keep = not retain_graph  # after the roots: their gradient is the seed given
            if retain_graph:
                for f in self.order:
                    self._visit(f)
            else:
                kgrads = self.kgrads
                for f in self.order:
                    self._visit(f)
                    f._release(True, kgrads.pop(id(f), None) if kgrads else None)
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
        if anomaly is True:  # chainrule's mode: only NaN/Inf born in this backward
            anomaly = all(g is None or _finite(g.array) for g in gys)
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
                if anomaly and _anomalous(gx.array, anomaly):
                    raise _anomaly_error(f, k, x, anomaly)
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
        if self.keep and x.creator is not None and g.array.size <= TINY:
            # tiny: kept with its creator (released after x's consumers), for pictures after
            self.kgrads.setdefault(id(x.creator), {})[id(x)] = g.array.copy()
        if self.target_ids is not None and id(x) in self.target_ids:
            self.captured[id(x)] = g
        if x.creator is None or id(x.creator) not in self.in_order:
            del self.pending[id(x)]
            if self.accumulate and x.creator is None and x.requires_grad:
                self._store(x, g)
                if POST_ACCUMULATE_HOOKS and id(x) in POST_ACCUMULATE_HOOKS:
                    _post_accumulate(x)
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
        elif x._grad is not None:
            g = x._grad + g
        x._grad = g  # the slot: backward's own gradient needs none of the setter's user checks


def _post_accumulate(x: Tensor) -> None:
    """Run x's post-accumulate-grad hooks, in registration order, once x.grad holds the sum."""
    ref, hooks = POST_ACCUMULATE_HOOKS[id(x)]
    if ref() is not x:
        return
    for hook in list(hooks.values()):
        r = hook(x)
        if r is not None:
            raise TypeError(f"a post-accumulate-grad hook must return None (it may change "
                            f"the tensor and its .grad in place), but it returned "
                            f"'{type(r).__name__}'")


def _unbroadcast(f: Function, k: int, gx: Tensor, shape: tuple[int, ...]) -> Tensor:
    from chainrule.ops.reduce import sum_to

    try:
        return sum_to(gx, shape)
    except ShapeError:
        raise ShapeError(
            f"{f.name}.backward returned a gradient of shape {gx.shape} for input {k} of shape "
            f"{shape}; it must have the input's shape or broadcast to it"
        ) from None
