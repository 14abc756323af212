"""The computational graph as Graphviz DOT text, with values and gradients (no dependency).

    dot = cr.viz.graph(loss, model=model)             # DOT text; grads from a fresh grad_table
    cr.viz.graph(loss, model=model, path="g.svg")      # rendered by Graphviz's `dot` program

One node per op (ellipse) and per tensor (box); a tensor box shows its name (parameter path,
.name, or t1, t2, ... in forward order), shape, value and gradient (the numbers for tensors of a
few elements, mean/std/min/max otherwise). Fill colour and edge width grow with the gradient
norm, on a log scale across the graph. One-element unnamed constants (the 2 of x ** 2) are
written into their op's label instead of getting a node.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.tensor import Tensor
from chainrule.viz._common import norm, num, values
from chainrule.viz._walk import Walk, gradients, value_of

SHOW_WORDS = ("values", "grads")
RENDERED = (".svg", ".png", ".pdf")
_FREED_NOTE = ("after loss.backward(), tensors of over 6 elements keep only their shape:\n"
               "call loss.backward(retain_graph=True), or draw before backward,\n"
               "to see every value and gradient")
_PALE, _DARK, _NONE = (255, 245, 235), (217, 72, 1), "#eeeeee"


class GraphvizNotFound(RuntimeError):
    """Rendering needs Graphviz's `dot` program, which is not on PATH."""


def graph(output: Tensor, show: str = "values,grads", path: str | Path | None = None, *,
          grads: Any = None, model: Any = None, tiny: int = 6) -> str:
    """DOT text for the graph behind `output`; written (.dot/.gv) or rendered (.svg/.png/.pdf,
    through Graphviz's `dot`) to `path` when one is given.

    show: comma-separated subset of 'values,grads' ('' for structure and shapes only).
    grads: a GradTable to take gradients from, None for automatic (the tensors' .grad after
    backward(retain_graph=True), else a fresh grad_table of output), False for none.
    model: a Module (or {name: tensor}) naming the parameters, e.g. 'layers.0.weight'.
    tiny: tensors of at most this many elements show their values, larger ones a summary.
    """
    parts = parse_show(show)
    walk = Walk(output, model)
    g = gradients(walk, grads) if "grads" in parts else {}
    dot = build_dot(walk, g, parts, tiny=tiny)
    if path is not None:
        render_dot(dot, path)
    return Dot(dot)


class Dot(str):
    """DOT text (a str: print it, write it, compare it) that a Jupyter notebook shows as the
    picture, rendered through Graphviz's `dot` when it is installed, else as a message saying
    how to get it, followed by the text."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        exe = shutil.which("dot")
        if exe is None:
            return {"text/plain": "Graphviz's `dot` program is not installed, so the graph "
                    "cannot be drawn here: apt-get install graphviz, brew install graphviz or "
                    "conda install -c conda-forge graphviz (https://graphviz.org/download/). "
                    "The DOT text:\n" + str(self)}
        done = subprocess.run([exe, "-Tsvg"], input=str(self), text=True, capture_output=True)
        if done.returncode != 0:
            return {"text/plain": f"Graphviz's dot failed: {done.stderr.strip()}\n{self}"}
        return {"image/svg+xml": done.stdout, "text/plain": str(self)}

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")


def parse_show(show: str) -> set[str]:
    parts = {s.strip() for s in (show or "").split(",") if s.strip()}
    bad = parts - set(SHOW_WORDS)
    if bad:
        raise ValueError(f"graph: show={show!r} names {sorted(bad)}; use a comma-separated "
                         f"subset of {', '.join(SHOW_WORDS)} (or '' for shapes only)")
    return parts


@dataclass
class Box:
    """A drawn op node: one op, or (collapsed) a module call made of several ops whose inner
    tensors and own parameters are hidden inside it."""

    label: str
    ops: list[Function]
    hidden: set[int] = field(default_factory=set)  # ids of tensors drawn inside the box
    params: list[tuple[str, Tensor]] = field(default_factory=list)  # listed in the label
    inputs: list[Tensor] = field(default_factory=list)  # drawn into the box besides its ops'


def build_dot(walk: Walk, grads: dict[int, np.ndarray], parts: set[str], tiny: int = 6,
              boxes: list[Box] | None = None) -> str:
    """DOT for `walk`: `boxes` (default one per op) and the tensors they connect."""
    if boxes is None:
        boxes = [Box(_op_label(walk, f), [f]) for f in walk.ops]
    hidden = set().union(*(b.hidden for b in boxes)) if boxes else set()
    scale = _Scale([norm(a) for a in grads.values()])
    lines = ["digraph chainrule {", '  graph [rankdir=TB, fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=10];', '  edge [arrowsize=0.6];']
    tid: dict[int, str] = {}
    for i, (key, n) in enumerate(walk.nodes.items()):
        if n.kind == "const" or key in hidden:
            continue
        tid[key] = f"n{i}"
        lines.append(f"  n{i} {_tensor_attrs(n, grads.get(key), parts, scale, tiny)};")
    for j, b in enumerate(boxes):
        lines.append(f"  op{j} {_box_attrs(b, grads, scale)};")
        ins, outs = _box_edges(walk, b, hidden)
        for x in ins:
            if id(x) in tid:
                lines.append(f"  {tid[id(x)]} -> op{j} [penwidth={scale.width(grads, x)}];")
        for y in outs:
            if id(y) in tid:
                lines.append(f"  op{j} -> {tid[id(y)]} [penwidth={scale.width(grads, y)}];")
    if walk.released and any(type(n.tensor) is not Tensor for n in walk.nodes.values()
                             if n.tensor.numel() > tiny):
        lines.append(f'  freed [shape=note, fontsize=9, label="{_esc(_FREED_NOTE)}"];')
    if grads and scale.lo is not None:
        lo, hi = num(scale.lo_v, 2), num(scale.hi_v, 2)
        lines.append(f'  legend [shape=note, fontsize=9, label="fill and edge width: gradient '
                     f'norm, log scale\\npale <= {lo} .. dark {hi}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _box_edges(walk: Walk, b: Box, hidden: set[int]) -> tuple[list[Tensor], list[Tensor]]:
    """The tensors entering the box from outside and those leaving it, in order (each once
    for a module box; per operand for an op)."""
    outs: dict[int, Tensor] = {}
    if len(b.ops) == 1 and not b.inputs:  # one edge per operand: x * x has two
        f = b.ops[0]
        outs = {id(y): y for y in walk.outputs(f) if y is not None and id(y) not in hidden}
        return [x for x in walk.inputs(f) if id(x) not in hidden], list(outs.values())
    made = {id(y) for f in b.ops for y in walk.outputs(f) if y is not None}
    ins: dict[int, Tensor] = {id(x): x for x in b.inputs}
    for f in b.ops:
        for x in walk.inputs(f):
            if id(x) not in made and id(x) not in hidden:
                ins.setdefault(id(x), x)
        for y in walk.outputs(f):
            if y is not None and id(y) not in hidden:
                outs.setdefault(id(y), y)
    return list(ins.values()), list(outs.values())


def _op_label(walk: Walk, f: Function) -> str:
    xs = walk.inputs(f)
    kinds = [walk.node(x).kind for x in xs]
    if "const" not in kinds:
        return f.name
    args = [values(value_of(x), 1) if k == "const" else "\u2022" for x, k in zip(xs, kinds)]
    return f"{f.name}({', '.join(args)})"


class _Scale:
    """Maps gradient norms to colours and edge widths on a log scale over the graph."""

    def __init__(self, norms: list[float]) -> None:
        logs = [math.log10(v) for v in norms if v > 0 and math.isfinite(v)]
        self.hi = max(logs) if logs else None
        # at most 4 decades: one vanishing gradient must not wash out the rest of the picture
        self.lo = max(min(logs), self.hi - 4) if logs else None
        self.lo_v = 10 ** self.lo if logs else 0.0
        self.hi_v = 10 ** self.hi if logs else 0.0

    def frac(self, v: float) -> float | None:
        if self.lo is None or not math.isfinite(v):
            return None
        if v <= 0:
            return 0.0
        if self.hi == self.lo:
            return 1.0
        return max(0.0, (math.log10(v) - self.lo) / (self.hi - self.lo))  # below lo: palest

    def colour(self, v: float | None) -> str:
        t = None if v is None else self.frac(v)
        if t is None:
            return _NONE if v is None or math.isfinite(v) else "#ff3030"  # NaN/Inf: alarm red
        rgb = [round(p + (d - p) * t) for p, d in zip(_PALE, _DARK)]
        return "#%02x%02x%02x" % tuple(rgb)

    def width(self, grads: dict[int, np.ndarray], t: Tensor) -> str:
        g = grads.get(id(t))
        t_ = None if g is None else self.frac(norm(g))
        return "1" if t_ is None else f"{1 + 3 * t_:.2f}"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _tensor_attrs(n: Any, g: np.ndarray | None, parts: set[str], scale: _Scale,
                  tiny: int) -> str:
    t = n.tensor
    v = value_of(t)
    dt = t.array.dtype if type(t) is Tensor else t.dtype
    dtype = "" if dt == np.float32 else f" {np.dtype(dt).name}"
    lines = [n.ref, f"{tuple(t.shape)}{dtype}"]
    tip = [f"{n.ref} ({n.kind})"]
    if "values" in parts:
        lines.append("value freed by backward" if v is None else f"value {values(v, tiny)}")
    if g is None and "grads" in parts and n.kind in ("intermediate", "output") \
            and type(t) is not Tensor:
        lines.append("grad freed by backward")
    if g is not None:
        lines.append(f"grad {values(g, tiny)}")
        gn = norm(g)
        if g.size > 1:
            lines.append(f"|grad| {num(gn)}")
        tip.append(f"grad norm {gn:.10g}")
    fill = scale.colour(None if g is None else norm(g))
    shape = "box" if n.kind in ("intermediate", "output") else "box3d" if n.kind == "param" \
        else "note"
    style = "filled,bold" if n.kind == "output" else "filled,rounded" if shape == "box" \
        else "filled"
    return (f'[shape={shape}, style="{style}", fillcolor="{fill}", '
            f'label="{_esc(chr(10).join(lines))}", tooltip="{_esc("; ".join(tip))}"]')


def _box_attrs(b: Box, grads: dict[int, np.ndarray], scale: _Scale) -> str:
    lines = [b.label]
    for name, p in b.params:
        g = grads.get(id(p))
        extra = "" if g is None else f"  |grad| {num(norm(g))}"
        lines.append(f"{name} {tuple(p.shape)}{extra}")
    if len(b.ops) == 1 and not b.params:
        return f'[shape=ellipse, style=filled, fillcolor="#dbe8f5", label="{_esc(lines[0])}"]'
    return (f'[shape=box, style="filled,rounded", fillcolor="#c6dbef", penwidth=1.5, '
            f'label="{_esc(chr(10).join(lines))}"]')


def render_dot(dot: str, path: str | Path) -> Path:
    """Write DOT text to path: as text for .dot/.gv, rendered by Graphviz's `dot` program for
    .svg/.png/.pdf. Without `dot`, the text is saved beside path (as .dot) and
    GraphvizNotFound says how to install Graphviz."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".dot", ".gv"):
        path.write_text(dot)
        return path
    if suffix not in RENDERED:
        raise ValueError(f"render_dot: cannot write {path.name}: use a .dot, .gv, .svg, .png "
                         "or .pdf path")
    exe = shutil.which("dot")
    if exe is None:
        text_path = path.with_suffix(".dot")
        text_path.write_text(dot)
        raise GraphvizNotFound(
            f"rendering {path.name} needs Graphviz's `dot` program, which is not installed: "
            "apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), conda "
            "install -c conda-forge graphviz, or see https://graphviz.org/download/. The DOT "
            f"text was saved to {text_path}; render it later with "
            f"`dot -T{suffix[1:]} {text_path} -o {path}`")
    done = subprocess.run([exe, f"-T{suffix[1:]}", "-o", str(path)], input=dot, text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed on {path.name}: {done.stderr.strip()}")
    return path
