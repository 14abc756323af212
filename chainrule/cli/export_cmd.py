"""`chainrule export RUN_OR_CHECKPOINT model.onnx`: a run's model as an ONNX file.

The file takes a batch of any size under the input name "input" and gives "output" (logits
for classification). By default the input is what the model sees (the prepared inputs of
`chainrule.cli.data.prepare`); with --raw-inputs the preprocessing (scaling, standardising with
the training mean and std, reshaping) is part of the graph, so the file takes the same rows of
raw features as `chainrule predict`. The class names, the task and the preprocessing are in the
file's metadata (metadata_props).
"""

from __future__ import annotations

import io as _io
import json
import math
import sys
from typing import Any, TextIO

import numpy as np

from chainrule import io
from chainrule.cli.commands import open_checkpoint
from chainrule.creation import zeros


def run_export(path: str, output: str, opset: int | None, raw_inputs: bool, verify: bool,
               out: TextIO) -> int:
    from chainrule import onnx as cr_onnx
    from chainrule.onnx.graph import onnx_module

    onnx = onnx_module()
    warn = lambda msg: print(f"warning: {msg}", file=sys.stderr)  # noqa: E731
    ckpt, state, model = open_checkpoint(path, warn)
    if state["data"].get("task") == "text":
        raise ValueError(f"{ckpt} is a character-level language model: `chainrule export` writes "
                         "the classifiers and regressors of `chainrule train` only (the text "
                         "models' own forward is not walked by chainrule.onnx yet)")
    shape = [int(d) for d in state["architecture"]["input_shape"]]
    prep, d = state["data"]["preprocess"], state["data"]
    name = "model_input" if raw_inputs else "input"
    buf = _io.BytesIO()
    cr_onnx.export(model, zeros(2, *shape), buf, input_names=[name], output_names=["output"],
                   dynamic_axes={name: {0: "batch"}, "output": {0: "batch"}},
                   opset_version=opset, verify=verify)
    proto = onnx.load_model_from_string(buf.getvalue())
    if raw_inputs:
        _prepend_preprocessing(onnx, proto, prep, shape)
    meta = {"chainrule.checkpoint": str(ckpt), "chainrule.epoch": str(state["epoch"]),
            "chainrule.task": d["task"], "chainrule.classes": json.dumps(d["classes"]),
            "chainrule.inputs": "raw" if raw_inputs else "prepared",
            "chainrule.preprocess": json.dumps(prep)}
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    proto.doc_string = (f"chainrule {state['config']['model']} trained on {d['name']} "
                        f"({d['task']}); output: " + ("logits over classes " + ", ".join(
                            d["classes"]) if d["task"] == "classification" else "predictions"))
    onnx.checker.check_model(proto)
    io.atomic_write(output, proto.SerializeToString())
    dims = [math.prod(shape)] if raw_inputs else shape
    print(f"wrote {output}: {ckpt} (epoch {state['epoch']}) as ONNX opset "
          f"{proto.opset_import[0].version}", file=out)
    print(f"  input  'input'  float32 (batch, {', '.join(map(str, dims))}), "
          + ("raw features, as `chainrule predict` reads them" if raw_inputs else
             "prepared inputs (see --raw-inputs)"), file=out)
    print("  output 'output' float32 (batch, " + str(len(d["classes"]) or 1) + "), "
          + ("logits" if d["task"] == "classification" else "predictions"), file=out)
    return 0


def _prepend_preprocessing(onnx: Any, proto: Any, prep: dict[str, Any],
                           shape: list[int]) -> None:
    """Make the graph take raw rows (batch, features): scale, standardise and reshape them
    into the model's input, as chainrule.cli.data.prepare does."""
    helper, g = onnx.helper, proto.graph
    width = math.prod(shape)
    x, nodes, inits = "input", [], []

    def const(name: str, value: Any) -> str:
        inits.append(onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    if "scale" in prep:
        nodes.append(helper.make_node("Mul", [x, const("prep_scale", np.float32(
            prep["scale"]))], ["prep_scaled"], name="/prep/Mul"))
        x = "prep_scaled"
    if "mean" in prep:
        mean = const("prep_mean", np.asarray(prep["mean"], np.float32).reshape(width))
        std = const("prep_std", np.asarray(prep["std"], np.float32).reshape(width))
        nodes.append(helper.make_node("Sub", [x, mean], ["prep_centred"], name="/prep/Sub"))
        nodes.append(helper.make_node("Div", ["prep_centred", std], ["prep_standard"],
                                      name="/prep/Div"))
        x = "prep_standard"
    nodes.append(helper.make_node("Reshape", [x, const("prep_shape", np.asarray(
        [-1] + shape, np.int64))], ["model_input"], name="/prep/Reshape"))
    old = list(g.node)
    del g.node[:]
    g.node.extend(nodes + old)
    g.initializer.extend(inits)
    rest = list(g.input)[1:]
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                                  ["batch", width])] + rest)
