"""The graph of a model on one batch, with each module call collapsed into one box on request.

    dot = cr.viz.model_graph(model, x, target=y, loss_fn=F.cross_entropy, path="mlp.svg")

Forward hooks record, for every module call, its inputs and outputs; the ops between them are the
module's, so a Linear layer (or, with collapse=1, a whole residual block) is drawn as one box that
lists its parameters and their gradient norms, hiding its inner tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple

from chainrule.autograd import Function
from chainrule.tensor import Tensor
from chainrule.viz._walk import Walk, gradients
from chainrule.viz.graph import Box, _op_label, build_dot, parse_show, render_dot


class Call(NamedTuple):
    """One recorded module call."""

    name: str
    module: Any
    inputs: list[Tensor]
    outputs: list[Tensor]


def model_graph(model: Any, *inputs: Any, target: Any = None,
                loss_fn: Callable[[Any, Any], Tensor] | None = None,
                collapse: bool | int = True, show: str = "values,grads",
                path: str | Path | None = None, tiny: int = 6) -> str:
    """DOT text for model(*inputs) (or loss_fn(model(*inputs), target) when loss_fn is given).

    collapse: True draws every call of a leaf module (one without children: Linear, ReLU, ...)
    as one box; an int d draws each call of a module d levels deep (1: the model's children)
    as one box; False draws every op. Gradients come from a fresh grad_table of the output.
    """
    parts = parse_show(show)
    calls: list[Call] = []
    names = {id(m): n for n, m in model.named_modules()}
    handles = [m.register_forward_hook(_recorder(calls, names)) for m in model.modules()]
    try:
        out = model(*inputs)
        output = out if loss_fn is None else loss_fn(out, target)
    finally:
        for h in handles:
            h.remove()
    walk = Walk(output, model)
    grads = gradients(walk, None) if "grads" in parts else {}
    boxes = module_boxes(walk, calls, collapse) if collapse is not False else None
    dot = build_dot(walk, grads, parts, tiny=tiny, boxes=boxes)
    if path is not None:
        render_dot(dot, path)
    return dot


def _recorder(calls: list[Call], names: dict[int, str]) -> Callable:
    def hook(module: Any, args: tuple, out: Any) -> None:
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        calls.append(Call(names.get(id(module), "?"), module,
                          [a for a in args if isinstance(a, Tensor)],
                          [o for o in outs if isinstance(o, Tensor)]))
    return hook


def _depth(name: str) -> int:
    return 0 if not name else name.count(".") + 1


def _selected(calls: list[Call], collapse: bool | int) -> list[Call]:
    leaf = [c for c in calls if not any(True for _ in c.module.children())]
    if collapse is True:
        return leaf
    d = int(collapse)
    return [c for c in calls if _depth(c.name) == d or (c in leaf and _depth(c.name) < d)]


def _ops_of(call: Call, in_walk: set[int], walk: Walk) -> list[Function]:
    """The ops between a call's inputs and its outputs (walking back from the outputs)."""
    stop = {id(x) for x in call.inputs}
    found: dict[int, Function] = {}
    stack = [y.creator for y in call.outputs if y.creator is not None and id(y) not in stop]
    while stack:
        f = stack.pop()
        if id(f) in found or id(f) not in in_walk:
            continue
        found[id(f)] = f
        stack.extend(x.creator for x in walk.inputs(f)  # also on a graph freed by backward
                     if x.creator is not None and id(x) not in stop)
    return list(found.values())


def module_boxes(walk: Walk, calls: list[Call], collapse: bool | int) -> list[Box]:
    """One Box per selected module call (its ops, hidden inner tensors and own parameters),
    and one per remaining op, in forward order (a call sorts where its last op does)."""
    order = {id(f): i for i, f in enumerate(walk.ops)}
    owner: dict[int, int] = {}
    groups: list[tuple[Call, list[Function]]] = []
    for call in _selected(calls, collapse):
        ops = [f for f in _ops_of(call, set(order), walk) if id(f) not in owner]
        if not ops:
            continue
        for f in ops:
            owner[id(f)] = len(groups)
        groups.append((call, sorted(ops, key=lambda f: order[id(f)])))
    users = walk.consumers()
    boxes: list[tuple[int, Box]] = []
    for k, (call, ops) in enumerate(groups):
        boxes.append((order[id(ops[-1])], _group_box(walk, call, ops, k, owner, users)))
    for f in walk.ops:
        if id(f) not in owner:
            boxes.append((order[id(f)], Box(_op_label(walk, f), [f])))
    return [b for _, b in sorted(boxes, key=lambda p: p[0])]


def _group_box(walk: Walk, call: Call, ops: list[Function], k: int, owner: dict[int, int],
               users: dict[int, list[Function]]) -> Box:
    own = {id(p): n for n, p in call.module.named_parameters()}
    hidden: set[int] = set()

    def inside_only(t: Tensor) -> bool:
        return all(owner.get(id(u)) == k for u in users.get(id(t), []))

    params: list[tuple[str, Tensor]] = []
    for f in ops:
        for t in list(walk.inputs(f)) + [y for y in walk.outputs(f) if y is not None]:
            if id(t) in hidden or t is walk.output:
                continue
            inside = inside_only(t)
            made_here = t.creator is not None and owner.get(id(t.creator)) == k
            node = walk.node(t)
            if inside and (made_here or id(t) in own or node.kind == "const"):
                hidden.add(id(t))
                if id(t) in own:
                    params.append((own[id(t)], t))
            elif made_here and node.kind == "intermediate":
                node.ref = f"{call.name} out"
    # an input that needs no gradient is not in the graph (its first op was not recorded):
    # the box takes it from the module's own input instead of from the array made inside
    inputs = []
    for x in call.inputs:
        if id(x) not in walk.nodes:
            walk.include(x)
            inputs.append(x)
            hidden.update(id(t) for f in ops for t in walk.inputs(f)
                          if t.creator is None and id(t) not in own and inside_only(t))
    label = f"{call.name}: {type(call.module).__name__}" if call.name else \
        type(call.module).__name__
    return Box(label, ops, hidden, params, inputs)
