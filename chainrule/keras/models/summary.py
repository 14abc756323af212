"""model.summary(): the layer table (name and type, output shape, parameter count, and for
graphs that are not a plain stack, the layers each one is connected to) and the totals."""

from __future__ import annotations

import math
from typing import Any

from chainrule.keras._graph import fmt_shape


def _size(n: int) -> str:
    b = 4.0 * n  # float32 weights
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024 or unit == "GB":
            return f"{b:.2f} {unit}"
        b /= 1024
    return f"{b:.2f} GB"


def _kind(layer: Any) -> str:
    """The type column: 'Functional' for a graph model used as a layer, as Keras prints it."""
    name = type(layer).__name__
    return "Functional" if name == "Model" and layer._plan is not None else name


def _node_index(node: Any) -> int:
    """Which call of its layer a node is (Keras' node index)."""
    for i, n in enumerate(node.layer._inbound_nodes):
        if n is node:
            return i
    return 0


def _rows(model: Any) -> tuple[list[tuple], bool]:
    """(name (type), output shape, params, connected to, trainable) per layer."""
    from chainrule.keras.layers.core import InputLayer

    rows = []
    nodes = getattr(model, "_nodes", None) if model._plan is not None else None
    if nodes is None:
        for layer in model.layers:
            shape = "?" if not layer._inbound_nodes else fmt_shape(layer._inbound_nodes[-1]
                                                                   .outputs[0].shape)
            n = layer.count_params() if layer.built else 0
            rows.append((f"{layer.name} ({_kind(layer)})", shape,
                         n if layer.built else "0 (unbuilt)", "", layer.trainable))
        return rows, False
    stack = type(model).__name__ == "Sequential"
    for node in nodes:
        layer = node.layer
        if stack and isinstance(layer, InputLayer):
            continue
        outs = [fmt_shape(t.shape) for t in node.outputs]
        links = [f"{t.node.layer.name}[{_node_index(t.node)}][{t.index}]" for t in node.inputs]
        rows.append((f"{layer.name} ({_kind(layer)})", ", ".join(outs),
                     layer.count_params(), ", ".join(links), layer.trainable))
    return rows, not stack


def summary_lines(model: Any, line_length: int | None, show_trainable: bool) -> list[str]:
    rows, connected = _rows(model)
    heads = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    if show_trainable:
        heads.append("Trainable")
    cells = [[r[0], r[1], f"{r[2]:,}" if isinstance(r[2], int) else str(r[2])]
             + ([r[3]] if connected else []) + ([("Y" if r[4] else "N")]
                                                 if show_trainable else []) for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) + 3 for i, h in enumerate(heads)]
    total = sum(widths)
    if line_length and line_length > total:
        widths[0] += line_length - total
        total = line_length

    def fmt(cols: list[str]) -> str:
        return " " + "".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()

    lines = [f'Model: "{model.name}"', "_" * total, fmt(heads), "=" * total]
    for i, c in enumerate(cells):
        lines.append(fmt(c))
        lines.append("=" * total if i == len(cells) - 1 else "")
    if not cells:
        lines.append("=" * total)
    lines = [ln for ln in lines if ln != ""]
    built = model.built and all(layer.built for layer in model.layers)
    if built:
        n_all = sum(math.prod(w.shape) for _, w in model._weight_entries())
        n_train = sum(math.prod(w.shape) for _, w in model._weight_entries(True))
        lines += [f"Total params: {n_all:,} ({_size(n_all)})",
                  f"Trainable params: {n_train:,} ({_size(n_train)})",
                  f"Non-trainable params: {n_all - n_train:,} ({_size(n_all - n_train)})"]
    else:
        lines.append("Total params: unknown until the model is built (give it an input shape "
                     "or call it on data)")
    lines.append("_" * total)
    return lines
