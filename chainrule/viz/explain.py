"""A backward pass narrated, op by op, with the numbers: the chain rule and its fan-in sums.

    print(cr.viz.explain(loss))          # plain text for the terminal
    cr.viz.explain(loss).records         # the same rows as dicts (pandas.DataFrame(records))

For each op, in the order backprop visits them: the upstream gradient (d output / d the op's
result), the local derivative of the op, and the product sent to each input. Where a tensor feeds
several ops, its gradient is the sum of what each sends: that sum is shown as a 'sum' row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function, GradTable, grad_table, no_grad
from chainrule.creation import ones_like, zeros_like
from chainrule.kept import FREED_HINT
from chainrule.ops import sum_to
from chainrule.tensor import Tensor
from chainrule.viz._common import host, values
from chainrule.viz._walk import Walk

# local derivative of each input, per op, in words, written with the inputs' own names ({0},
# {1}) and the op's function: never "y" for the result, which a reader takes for the target
FORMULAS: dict[str, tuple[str, ...]] = {
    "Add": ("1", "1"), "Sub": ("1", "-1"), "Mul": ("{1}", "{0}"),
    "Div": ("1/{1}", "-{0}/{1}^2"), "Pow": ("{1} * {0}^({1}-1)", "{0}^{1} * ln {0}"),
    "Neg": ("-1",), "Abs": ("sign({0})",), "Exp": ("exp({0})",), "Log": ("1/{0}",),
    "Log1p": ("1/(1+{0})",), "Sqrt": ("1/(2 sqrt({0}))",), "Sin": ("cos({0})",),
    "Cos": ("-sin({0})",), "Tanh": ("1 - tanh({0})^2",),
    "Sigmoid": ("sigmoid({0}) (1 - sigmoid({0}))",),
    "Softplus": ("sigmoid(beta {0})",), "Relu": ("1 where {0} > 0, else 0",),
    "LeakyRelu": ("1 where {0} > 0, else the slope",),
    "Elu": ("1 where {0} > 0, else elu({0}) + alpha",),
    "Clip": ("1 inside [min, max], else 0",), "Maximum": ("1 where {0} wins", "1 where {1} wins"),
    "Minimum": ("1 where {0} wins", "1 where {1} wins"), "Where": ("0", "1 where the condition "
                                                                  "holds", "1 where it does not"),
    "Scale": ("the constant factor",), "Cast": ("1",), "NormalCdf": ("normal pdf({0})",),
    "Sum": ("1 for each element",), "Mean": ("1/n for each element",),
    "Max": ("1 at the maximum, else 0",), "Min": ("1 at the minimum, else 0",),
    "Reshape": ("1 (elements move, values do not change)",),
    "Transpose": ("1 (elements move, values do not change)",),
    "BroadcastTo": ("1 per copy (the copies' gradients are summed)",),
    "SumTo": ("1 for each element",), "GetItem": ("1 where selected, else 0",),
    "MatMul": ("upstream @ {1}^T", "{0}^T @ upstream"),
    "LinearFunction": ("upstream @ {1}", "upstream^T @ {0}", "upstream summed over the batch"),
    "SoftmaxCrossEntropy": ("softmax({0}) - onehot(target), times upstream (and / N where "
                            "the node also takes the mean over the N rows)",),
    "Softmax": ("s * (upstream - sum(upstream * s)), s = softmax({0})",),
    "LogSoftmax": ("upstream - softmax({0}) * sum(upstream)",),
}
# ops whose local derivative is one number per element of the result: shown as numbers
PER_ELEMENT = {"Add", "Sub", "Mul", "Div", "Pow", "Neg", "Abs", "Exp", "Log", "Log1p", "Sqrt",
               "Sin", "Cos", "Tanh", "Sigmoid", "Softplus", "Relu", "LeakyRelu", "Elu", "Clip",
               "Maximum", "Minimum", "Where", "Scale", "Cast", "NormalCdf", "Sum", "Mean", "Max",
               "Min", "Reshape", "Transpose", "BroadcastTo", "GetItem"}


class Explanation:
    """The narration of one backward pass: `records` (a list of dicts) and its text (str())."""

    def __init__(self, records: list[dict[str, Any]], output_ref: str, tiny: int,
                 released: bool = False) -> None:
        self.records = records
        self.output_ref = output_ref
        self.tiny = tiny
        self.released = released  # narrated from what a plain backward kept

    def __iter__(self) -> Any:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __str__(self) -> str:
        o = self.output_ref

        def v(a: Any) -> str:
            return "(freed by backward)" if a is None else values(a, self.tiny).replace("\n", "")

        steps = max((r["step"] for r in self.records), default=0)
        lines = [f"Backward pass from {o}: {steps} ops, in the order backprop visits them.",
                 f"Each op passes d {o}/d input = upstream x local derivative to its inputs."]
        if self.released:
            lines.append("Told after loss.backward(), which freed the numbers of tensors over 6 "
                         f"elements and the parts of each sum: {FREED_HINT}.")
        for r in self.records:
            if r["kind"] == "op":
                lines += ["", f"step {r['step']}  {r['op']}: {r['output']} = "
                              f"{r['op']}({', '.join(r['inputs'])})",
                          f"  upstream  d {o}/d {r['output']} = {v(r['upstream'])}"]
            elif r["kind"] == "send":
                shown = None if r["local_value"] is None else v(r["local_value"])
                local = r["local"] + ("" if shown in (None, r["local"]) else f" = {shown}")
                lines += [f"  local     d {r['output']}/d {r['input']} = {local}",
                          f"  sends     d {o}/d {r['input']} += {v(r['sent'])}"]
            elif r["kind"] == "sum":
                parts = " + ".join(f"{v(p)} (from {op})" for p, op in zip(r["parts"], r["ops"]))
                lines += [f"  sum       {r['tensor']} is used {len(r['parts'])} times: "
                          f"d {o}/d {r['tensor']} = {parts} = {v(r['total'])}"]
        leaves = [r for r in self.records if r["kind"] == "leaf"]
        if leaves:
            lines += ["", "Gradients of the leaves:"]
            lines += [f"  d {o}/d {r['tensor']} = {v(r['total'])}" for r in leaves]
        return "\n".join(lines)

    __repr__ = __str__


def explain(output: Tensor, model: Any = None, tiny: int = 6) -> Explanation:
    """Narrate one backward pass from `output` (a scalar: the loss) on its retained graph.

    records (in order): {'kind': 'op', step, op, output, inputs, upstream}, then per input that
    needs a gradient {'kind': 'send', step, op, output, input, local, local_value, sent}, a
    {'kind': 'sum', tensor, parts, ops, total} row once a tensor fed by several ops has all its
    parts, and finally one {'kind': 'leaf', tensor, total} per leaf. Arrays are NumPy (floats
    for one-element values). model names the parameters (a Module or {name: tensor})."""
    walk = Walk(output, model)
    table = grad_table(output)
    if walk.released:
        return _explain_kept(walk, table, tiny)
    grads = {id(row.tensor): row.grad for row in table}
    uses = {k: len(v) for k, v in walk.consumers().items()}
    parts: dict[int, list[tuple[np.ndarray, str]]] = {}
    records: list[dict[str, Any]] = []
    step = 0
    for f in reversed(walk.ops):
        ys = [y for y in f.outputs if y is not None]
        if not any(id(y) in grads for y in ys):
            continue
        step += 1
        records += _visit(f, step, walk, grads, parts)
        for x in f.inputs:
            uses[id(x)] -= 1
            if uses[id(x)] == 0 and len(parts.get(id(x), ())) > 1:
                got = parts[id(x)]
                records.append({"kind": "sum", "step": step, "tensor": walk.node(x).ref,
                                "parts": [p for p, _ in got], "ops": [o for _, o in got],
                                "total": _plain(grads[id(x)])})
    for n in walk.nodes.values():
        if n.tensor.creator is None and id(n.tensor) in grads:
            records.append({"kind": "leaf", "step": step, "tensor": n.ref,
                            "total": _plain(grads[id(n.tensor)])})
    return Explanation(records, walk.node(output).ref, tiny)


def _plain(a: Any) -> Any:
    x = host(a)
    return x.reshape(()).item() if x.size == 1 else np.array(x, copy=True)


def _visit(f: Function, step: int, walk: Walk, grads: dict[int, Tensor],
           parts: dict[int, list[tuple[np.ndarray, str]]]) -> list[dict[str, Any]]:
    """The rows of one op's visit: its upstream gradient, and per input what it sends."""
    outs = list(f.outputs)
    gys = [grads.get(id(y)) if y is not None else None for y in outs]
    gys = [zeros_like(y) if g is None else g for y, g in zip(outs, gys)]
    refs = [walk.node(x).ref for x in f.inputs]
    out_ref = walk.node(outs[0]).ref
    rows = [{"kind": "op", "step": step, "op": f.name, "output": out_ref, "inputs": refs,
             "upstream": _plain(gys[0]) if len(gys) == 1 else [_plain(g) for g in gys]}]
    with no_grad():
        sent = _as_tuple(f.backward(*gys))
        local = _as_tuple(f.backward(*[ones_like(g) for g in gys])) \
            if f.name in PER_ELEMENT else None
        formulas = FORMULAS.get(f.name, ())
        for k, x in enumerate(f.inputs):
            if not f.needs_input_grad[k] or sent[k] is None:
                continue
            gx = sent[k] if sent[k].shape == x.shape else sum_to(sent[k], x.shape)
            parts.setdefault(id(x), []).append((_plain(gx), f"{f.name}, step {step}"))
            words = formulas[k].format(*refs) if k < len(formulas) else \
                f"{f.name}.backward (its vector-Jacobian product)"
            rows.append({"kind": "send", "step": step, "op": f.name, "output": out_ref,
                         "input": refs[k], "local": words,
                         "local_value": None if local is None or local[k] is None
                         else _plain(local[k]), "sent": _plain(gx)})
    return rows


def _as_tuple(g: Any) -> tuple:
    return g if isinstance(g, tuple) else (g,)


def _explain_kept(walk: Walk, table: GradTable, tiny: int) -> Explanation:
    """The narration from what a plain backward kept: every op and its formulas; the numbers
    where they were kept (tensors of at most chainrule.kept.TINY elements, leaves' .grad); the
    parts of a fan-in sum are not kept, only its total."""
    done = {id(row.tensor) for row in table}
    grads = {id(row.tensor): row.grad for row in table if row.grad is not None}
    edges: dict[int, int] = {}  # x * x: two edges from x, each sending a part
    for f in walk.ops:
        for x in walk.inputs(f):
            edges[id(x)] = edges.get(id(x), 0) + 1
    records: list[dict[str, Any]] = []
    step = 0
    for f in reversed(walk.ops):
        ys = [y for y in walk.outputs(f) if y is not None]
        if not any(id(y) in done for y in ys):
            continue
        step += 1
        xs = walk.inputs(f)
        refs, out = [walk.node(x).ref for x in xs], walk.node(ys[0]).ref
        up = [None if id(y) not in grads else _plain(grads[id(y)]) for y in ys]
        records.append({"kind": "op", "step": step, "op": f.name, "output": out,
                        "inputs": refs, "upstream": up[0] if len(up) == 1 else up})
        formulas = FORMULAS.get(f.name, ())
        for k, (x, need) in enumerate(zip(xs, walk.structure.needs(f))):
            if not need:
                continue
            whole = edges.get(id(x), 0) == 1 and id(x) in grads  # sole use: sent = total
            words = formulas[k].format(*refs) if k < len(formulas) else \
                f"{f.name}.backward (its vector-Jacobian product)"
            records.append({"kind": "send", "step": step, "op": f.name, "output": out,
                            "input": refs[k], "local": words, "local_value": None,
                            "sent": _plain(grads[id(x)]) if whole else None})
    for n in walk.nodes.values():
        if n.tensor.creator is None and id(n.tensor) in grads:
            records.append({"kind": "leaf", "step": step, "tensor": n.ref,
                            "total": _plain(grads[id(n.tensor)])})
    return Explanation(records, walk.node(walk.output).ref, tiny, released=True)
