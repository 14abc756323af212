"""chainrule.onnx.export: torch.onnx.export's signature, by walking the module tree.

The model runs once on the sample inputs (in eval mode, as torch.onnx.export's default
training=TrainingMode.EVAL), module by module: containers (nn.Sequential, nn.Residual) are
walked, each leaf layer is converted by chainrule.onnx.layers / activations / recurrent, and
its sample output gives the shapes the next layer needs. Nothing is traced, so a module whose
forward is the user's own Python code is refused with its path in the model.
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

import chainrule.onnx as _pkg
from chainrule import nn
from chainrule.autograd import no_grad
from chainrule.onnx import (  # noqa: F401  (activations, recurrent: their converters)
    OnnxExporterError,
    TrainingMode,
    UnsupportedModuleError,
    activations,
    recurrent,
)
from chainrule.onnx.graph import GraphBuilder, _host
from chainrule.onnx.layers import CONVERTERS
from chainrule.tensor import Tensor

DEFAULT_OPSET = 20  # torch.onnx.export's (TorchScript exporter) default in PyTorch 2.x
MIN_OPSET = 13      # Softmax's axis semantics, Squeeze/Unsqueeze and Split as PyTorch's since


def export(model: Any, args: Any = (), f: Any = None, *, kwargs: Mapping[str, Any] | None = None,
           verbose: bool | None = None, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, opset_version: int | None = None,
           dynamo: bool = True, external_data: bool = True, dynamic_shapes: Any = None,
           custom_translation_table: Any = None, report: bool = False, optimize: bool = True,
           verify: bool = False, profile: bool = False, dump_exported_program: bool = False,
           artifacts_dir: Any = ".", export_params: bool = True,
           keep_initializers_as_inputs: bool = False,
           dynamic_axes: Mapping[str, Any] | None = None,
           training: Any = TrainingMode.EVAL, operator_export_type: Any = None,
           do_constant_folding: bool = True, custom_opsets: Mapping[str, int] | None = None,
           export_modules_as_functions: Any = False, autograd_inlining: bool = True) -> None:
    """Write `model` applied to `args` as an ONNX model to `f` (a path or a binary file).

    args: a Tensor or a tuple of Tensors (a trailing dict in the tuple holds keyword inputs, as
    in PyTorch). input_names / output_names: graph names; by default the names of forward's
    parameters ("input" for nn.Sequential and the layers) and "output" ("output_0",
    "output_1", ... for several; "output", "h_n", "c_n" for an RNN/LSTM/GRU model). These
    are the names to feed and fetch in onnxruntime. dynamic_axes: {name: {axis: "label"}} or
    {name: [axes]} (labels "<name>_dynamic_axes_<k>"), e.g. {"input": {0: "batch"}} for any
    batch size; without it every size is the sample's, as in PyTorch. opset_version: 13 to
    the onnx package's newest (default 20). export_params=False makes the parameters graph
    inputs. verify=True runs the file in onnxruntime and compares its outputs with the
    model's. The model is exported in eval mode and left in the mode it was in.

    The arguments of PyTorch's torch.export-based exporter that change how it traces (dynamo,
    optimize, report, profile, dump_exported_program, artifacts_dir, do_constant_folding,
    operator_export_type, autograd_inlining, external_data) have no effect here: nothing is
    traced. dynamic_shapes, custom_translation_table, custom_opsets and
    export_modules_as_functions are refused.
    """
    onnx = _imports()
    if not isinstance(model, nn.Module):
        raise TypeError(f"onnx.export: model must be a chainrule nn.Module, got "
                        f"{type(model).__name__}")
    for name, value in (("dynamic_shapes", dynamic_shapes),
                        ("custom_translation_table", custom_translation_table),
                        ("custom_opsets", custom_opsets),
                        ("export_modules_as_functions", export_modules_as_functions)):
        if value:
            fix = (" use dynamic_axes={'input': {0: 'batch'}} instead"
                   if name == "dynamic_shapes" else "")
            raise NotImplementedError(f"onnx.export: {name} is not supported by chainrule's "
                                      f"exporter (it walks the module tree);{fix}".rstrip(";"))
    if f is None:
        raise TypeError("onnx.export: give f, the path (or binary file object) to write the "
                        "ONNX model to")
    inputs = _inputs(args, kwargs)
    opset = _opset(opset_version, onnx)
    mode = TrainingMode(int(training))
    if mode == TrainingMode.TRAINING or (mode == TrainingMode.PRESERVE and model.training):
        raise OnnxExporterError("onnx.export: exporting training behaviour (batch statistics, "
                                "active dropout) is not supported; call model.eval() or use "
                                "training=TrainingMode.EVAL")
    was_training = model.training
    model.eval()
    _pkg._exporting = True
    try:
        with no_grad():
            proto, sample_outputs = _build(model, inputs, opset, input_names, output_names,
                                           dynamic_axes, export_params,
                                           keep_initializers_as_inputs)
    finally:
        _pkg._exporting = False
        model.train(was_training)
    onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    data = proto.SerializeToString()
    if verify:
        _verify(data, proto, inputs, sample_outputs)
    _write(f, data)
    return None


def _imports() -> Any:
    from chainrule.onnx.graph import onnx_module

    return onnx_module()


def _inputs(args: Any, kwargs: Mapping[str, Any] | None) -> list[Tensor]:
    if isinstance(args, Tensor):
        args = (args,)
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"onnx.export: args must be a Tensor or a tuple of Tensors, got "
                        f"{type(args).__name__}")
    args = list(args)
    if args and isinstance(args[-1], dict):  # PyTorch: a trailing dict holds keyword inputs
        kwargs = {**args.pop(), **(kwargs or {})}
    if kwargs:
        raise NotImplementedError(f"onnx.export: keyword inputs {sorted(kwargs)} are not "
                                  "supported; pass the inputs positionally in args")
    for k, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise TypeError(f"onnx.export: args[{k}] is a {type(a).__name__}; every input must "
                            "be a Tensor (e.g. torch.randn(1, 784))")
    if len(args) != 1:
        raise NotImplementedError(f"onnx.export: the model gets {len(args)} inputs; exported "
                                  "models (nn.Sequential and the layers) take exactly one")
    return args


def _opset(opset_version: int | None, onnx: Any) -> int:
    newest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"onnx.export: opset_version={opset_version} is not supported; use "
                         f"{MIN_OPSET} to {newest} (default {DEFAULT_OPSET})")
    return opset


def _default_input_names(model: Any, n: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params[:n] + [f"input_{k}" for k in range(len(params), n)]


def _default_output_names(model: Any, n: int) -> list[str]:
    if isinstance(model, (nn.RNN, nn.LSTM, nn.GRU)) and n in (2, 3):
        return ["output", "h_n", "c_n"][:n]
    return ["output"] if n == 1 else [f"output_{k}" for k in range(n)]


def _names(given: Sequence[str] | None, default: list[str], what: str) -> list[str]:
    given = list(given or [])
    if len(given) > len(default):
        raise ValueError(f"onnx.export: {len(given)} {what}_names {given} for "
                         f"{len(default)} {what}s")
    return given + default[len(given):]


def _axes(dynamic_axes: Mapping[str, Any] | None, names: list[str]) -> dict[str, dict[int, str]]:
    """dynamic_axes as {name: {axis: label}}, PyTorch's labels for the list form."""
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            warnings.warn(f"Provided key {name} for dynamic axes is not a valid input/output "
                          f"name (the names are {names})", stacklevel=3)
            continue
        if isinstance(axes, Mapping):
            out[name] = {int(a): str(label) for a, label in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return out


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _build(model: Any, inputs: list[Tensor], opset: int, input_names: Any, output_names: Any,
           dynamic_axes: Any, export_params: bool, keep_inits: bool) -> tuple[Any, list[Any]]:
    g = GraphBuilder(opset, export_params)
    in_names = _names(input_names, _default_input_names(model, len(inputs)), "input")
    for name in in_names:
        g.reserve(name)
    for name in set(output_names or []) | {"output", "h_n", "c_n"} | {
            f"output_{k}" for k in range(8)}:  # output names never name inner values
        if name not in in_names:
            g.reserve(name)
    x = inputs[0]
    in_axes = (dynamic_axes or {}).get(in_names[0], {})
    g.dynamic_spatial = any(int(a) % max(x.ndim, 1) != 0 for a in in_axes)
    names, values = walk(g, model, "", in_names[0], x)
    out_list, values = _flatten(names), _flatten(values)
    out_names = _names(output_names, _default_output_names(model, len(out_list)), "output")
    axes = _axes(dynamic_axes, in_names + out_names)
    return make_model(g, in_names, inputs, out_list, out_names, values, axes, keep_inits), values


def make_model(g: GraphBuilder, in_names: list[str], inputs: list[Any], inner: list[str],
               out_names: list[str], values: list[Any], axes: dict[str, dict[int, str]],
               keep_inits: bool = False) -> Any:
    """The ModelProto of g's nodes: inputs (with their sample tensors), the inner values that
    are the outputs (renamed out_names), dynamic axes labelled, shapes inferred."""
    onnx, helper = g.onnx, g.onnx.helper
    nodes = _rename_outputs(helper, g.nodes, in_names, inner, out_names)
    graph_inputs = [_value_info(helper, n, t, axes.get(n, {})) for n, t in zip(in_names, inputs)]
    graph_outputs = [helper.make_tensor_value_info(n, _elem(helper, t), None)
                     for n, t in zip(out_names, values)]
    inits = g.initializers
    extra = ([helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in inits]
             if keep_inits else [])
    graph = helper.make_graph(nodes, "main_graph", graph_inputs + g.param_inputs + extra,
                              graph_outputs, inits)
    opsets = [helper.make_opsetid("", g.opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="chainrule",
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto = onnx.shape_inference.infer_shapes(proto)
    del proto.graph.value_info[:]  # inner shapes: the runtime infers its own
    for out, value in zip(proto.graph.output, values):
        _output_dims(out, tuple(value.shape), axes.get(out.name, {}))
    return proto


def _output_dims(out: Any, sample: tuple[int, ...], labels: dict[int, str]) -> None:
    """The user's labels on dynamic output axes; a static size that ONNX's shape inference got
    wrong (its MaxPool ceil_mode rule is not PyTorch's) is left unknown."""
    dims = out.type.tensor_type.shape.dim
    if len(dims) != len(sample):
        return
    for a, (d, size) in enumerate(zip(dims, sample)):
        label = labels.get(a, labels.get(a - len(sample)))
        if label is not None:
            d.Clear()
            d.dim_param = label
        elif d.HasField("dim_value") and d.dim_value != size:
            d.Clear()


def _rename_outputs(helper: Any, nodes: list[Any], in_names: list[str], inner: list[str],
                    out_names: list[str]) -> list[Any]:
    """Give each result its output name (an Identity where it is an input or repeated)."""
    for k, (v, name) in enumerate(zip(inner, out_names)):
        if v in in_names or v in inner[:k]:
            nodes.append(helper.make_node("Identity", [v], [name], name=f"/{name}/Identity"))
            continue
        for node in nodes:
            for field in (node.output, node.input):
                for i, u in enumerate(field):
                    if u == v:
                        field[i] = name
    return nodes


def _elem(helper: Any, t: Tensor) -> int:
    return helper.np_dtype_to_tensor_dtype(t.array.dtype)


def _value_info(helper: Any, name: str, t: Tensor, axes: dict[int, str]) -> Any:
    shape: list[Any] = list(t.shape)
    for a, label in axes.items():
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"onnx.export: dynamic_axes[{name!r}] names axis {a}, but the "
                             f"input has shape {tuple(shape)}")
        shape[a % len(shape)] = label
    return helper.make_tensor_value_info(name, _elem(helper, t), shape)


# -- the walk -----------------------------------------------------------------------------------
def _plain(m: Any, base: type) -> bool:
    """m is a base (or a subclass that keeps base's forward)."""
    return isinstance(m, base) and type(m).forward is base.forward


def _converter(m: Any) -> Any:
    for cls in type(m).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls] if type(m).forward is cls.forward else None
    return None


def walk(g: GraphBuilder, m: Any, path: str, x: Any, xs: Any) -> tuple[Any, Any]:
    """(graph names, sample values) of module m at `path` applied to x (sample xs)."""
    where = f"{path or 'the model'} ({type(m).__name__})"
    if _plain(m, nn.Sequential):
        for name, child in m._modules.items():
            x, xs = walk(g, child, f"{path}.{name}" if path else name, x, xs)
        return x, xs
    if _plain(m, nn.Residual):
        y, ys = walk(g, m.block, f"{path}.block" if path else "block", x, xs)
        if m.shortcut is not None:
            x, xs = walk(g, m.shortcut, f"{path}.shortcut" if path else "shortcut", x, xs)
        if tuple(ys.shape) != tuple(xs.shape):
            m(xs)  # Residual's own error names the shapes
        return g.node("Add", [y, x], (path or "residual") + "_add"), ys + xs
    convert = _converter(m)
    if convert is None:
        raise UnsupportedModuleError(_unsupported_message(m, where))
    if not isinstance(xs, Tensor):
        raise OnnxExporterError(f"onnx.export: {where} gets a {type(xs).__name__} from the "
                                "module before it; in an nn.Sequential only the last module "
                                "may return a tuple (an RNN's (output, h_n))")
    ys = m(xs)
    return convert(g, m, path, x, xs, ys), ys


def _unsupported_message(m: Any, where: str) -> str:
    supported = sorted({c.__name__ for c in CONVERTERS} | {"Sequential", "Residual"})
    known = tuple(CONVERTERS) + (nn.Sequential, nn.Residual)
    if isinstance(m, known):
        why = ("overrides its layer's forward, so its ONNX form is unknown; export a plain "
               "layer")
    elif type(m).__module__.startswith("chainrule."):
        why = "has no ONNX conversion yet"
    else:
        why = ("is a custom Module: its forward is Python code, which export does not trace (it "
               "walks the module tree). Build the model from nn.Sequential and nn.Residual "
               "(for skip connections) with the supported layers")
    return f"onnx.export: {where} {why}. Supported modules: {', '.join(supported)}"


def _verify(data: bytes, proto: Any, inputs: list[Tensor], expected: list[Any]) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError('onnx.export(verify=True) needs onnxruntime: pip install '
                          '"chainrule[onnx]"') from None
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {i.name: _host(t) for i, t in zip(sess.get_inputs(), inputs)}
    for out, got, want in zip(proto.graph.output, sess.run(None, feed), expected):
        want = _host(want)
        tol = 1e-4 if want.dtype == np.float32 else 1e-9
        if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol):
            err = np.max(np.abs(got - want)) if got.shape == want.shape else "shape"
            raise OnnxExporterError(f"onnx.export(verify=True): output {out.name!r} from "
                                    f"onnxruntime differs from the model's (max error {err})")


def _write(f: Any, data: bytes) -> None:
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"onnx.export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
