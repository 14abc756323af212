"""A tiny reader for the DOT text chainrule.viz writes: nodes with their attributes, edges."""

from __future__ import annotations

import re

NODE = re.compile(r"^\s+(\w+) \[(.*)\];$")
EDGE = re.compile(r"^\s+(\w+) -> (\w+) \[(.*)\];$")
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\]]+)')


def _unquote(v: str) -> str:
    if v.startswith('"'):
        v = v[1:-1]
        return v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
    return v


def parse(dot: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """({node id: attributes}, [(source id, target id, attributes)])."""
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for line in dot.splitlines():
        m = EDGE.match(line)
        if m:
            edges.append((m[1], m[2], {k: _unquote(v) for k, v in ATTR.findall(m[3])}))
            continue
        m = NODE.match(line)
        if m and m[1] not in ("graph", "node", "edge"):
            nodes[m[1]] = {k: _unquote(v) for k, v in ATTR.findall(m[2])}
    return nodes, edges


def ops(dot: str) -> list[tuple[str, frozenset, frozenset]]:
    """Each op (or module) node as (label's first line, names of its inputs, of its outputs)."""
    nodes, edges = parse(dot)
    name = {k: v["label"].split("\n")[0] for k, v in nodes.items()}
    out = []
    for k, attrs in nodes.items():
        if not k.startswith("op"):
            continue
        ins = frozenset(name[s] for s, t, _ in edges if t == k)
        outs = frozenset(name[t] for s, t, _ in edges if s == k)
        out.append((attrs["label"].split("\n")[0], ins, outs))
    return out
