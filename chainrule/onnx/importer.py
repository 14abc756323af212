"""chainrule.onnx.load: an ONNX file of the exporter's ops back into a trainable nn.Sequential.

Nothing in the file is trusted: its size, each initializer's element count and byte length,
and every weight's shape against the op's attributes are checked before anything is built;
external data (weights in other files) is refused. The graph must be a chain of layers with
skip connections (a fork that joins at an Add becomes nn.Residual); each node (or the pair
MatMul + Add, and x * sigmoid(x)) becomes one chainrule layer whose weights are Parameters.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.autograd import no_grad
from chainrule.creation import from_numpy
from chainrule.onnx import OnnxLoadError
from chainrule.onnx.graph import onnx_module
from chainrule.onnx.rebuild import Ctx, LoadError

MAX_BYTES = 1 << 31        # the protobuf limit: larger files need external data, refused here
MAX_ELEMENTS = 1 << 28     # per initializer (1 GiB of float32)
MAX_NODES = 20_000
DRY_RUN_ELEMENTS = 1 << 24
MIN_OPSET, FOLDABLE = 7, {"Constant", "Identity", "Transpose", "Reshape", "Cast", "Squeeze",
                          "Unsqueeze"}


def load(f: Any, *, max_bytes: int | None = None) -> nn.Sequential:
    """An nn.Sequential rebuilt from the ONNX model in `f` (a path, bytes or a binary file),
    its weights as Parameters (BatchNorm's running statistics as buffers). Like any new model
    it is in training mode: call .eval() for inference.

    Rebuilt: Gemm / MatMul (+ Add) -> Linear, Conv -> Conv1d/2d/3d, ConvTranspose,
    MaxPool / AveragePool / GlobalAveragePool, BatchNormalization, LayerNormalization,
    Dropout, Flatten, Gather -> Embedding, the activations (Relu, LeakyRelu, Elu, Gelu,
    Sigmoid, Tanh, Softmax, LogSoftmax, Softplus, x * Sigmoid(x) -> SiLU, ...), and Add of two
    branches -> Residual. Anything else raises OnnxLoadError naming the node and its op."""
    data = _read(f, MAX_BYTES if max_bytes is None else int(max_bytes))
    onnx = onnx_module()
    try:
        proto = onnx.ModelProto.FromString(data)
    except Exception as e:  # protobuf's DecodeError, and friends
        raise OnnxLoadError(f"onnx.load: not an ONNX model ({type(e).__name__}: {e})") from None
    if not proto.HasField("graph"):
        raise OnnxLoadError("onnx.load: the file holds no graph (is it an ONNX model?)")
    _check_opsets(proto)
    graph = proto.graph
    if len(graph.node) > MAX_NODES:
        raise OnnxLoadError(f"onnx.load: {len(graph.node)} nodes; at most {MAX_NODES} are read")
    consts = {t.name: _initializer(onnx, t) for t in graph.initializer}
    nodes = _fold_constants(onnx, graph.node, consts)
    inputs = [i.name for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxLoadError(f"onnx.load: the graph has inputs {inputs} and outputs "
                            f"{[o.name for o in graph.output]}; a model with one input and "
                            "one output is rebuilt as an nn.Sequential")
    ranks = _ranks(onnx, proto)
    ctx = Ctx(onnx, consts, ranks)
    try:
        mods = Structure(nodes, ctx).chain(inputs[0], graph.output[0].name)
    except LoadError as e:
        raise OnnxLoadError(f"onnx.load: {e}") from None
    model = nn.Sequential(*mods)
    _dry_run(onnx, model, graph.input[[i.name for i in graph.input].index(inputs[0])])
    return model


def _dry_run(onnx: Any, model: Any, value_info: Any) -> None:
    """Run the rebuilt model once on zeros of the input's declared shape (symbolic sizes as 1),
    so weights that do not fit the data are reported now, naming the layer."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return
    shape = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
    if any(d <= 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > DRY_RUN_ELEMENTS:
        return
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type))
    except Exception:
        return
    model.eval()
    try:
        with no_grad():
            model(from_numpy(np.zeros(shape, dtype)))
    except (ValueError, RuntimeError, IndexError) as e:
        raise OnnxLoadError(f"onnx.load: the rebuilt model does not run on the declared input "
                            f"{value_info.name!r} of shape {tuple(shape)}: {e}") from None
    finally:
        model.train()


def _read(f: Any, limit: int) -> bytes:
    if isinstance(f, (bytes, bytearray)):
        data = bytes(f)
    elif isinstance(f, (str, os.PathLike)):
        size = os.path.getsize(f)
        if size > limit:
            raise OnnxLoadError(f"onnx.load: {f} is {size:,} bytes, more than the limit of "
                                f"{limit:,} bytes (max_bytes)")
        with open(f, "rb") as fh:
            data = fh.read()
    elif hasattr(f, "read"):
        data = f.read(limit + 1)
    else:
        raise TypeError(f"onnx.load: f must be a path, bytes or a binary file, got "
                        f"{type(f).__name__}")
    if len(data) > limit:
        raise OnnxLoadError(f"onnx.load: the model is more than {limit:,} bytes (max_bytes)")
    return data


def _check_opsets(proto: Any) -> None:
    onnx = onnx_module()
    newest = onnx.defs.onnx_opset_version()
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx"):
            if not MIN_OPSET <= op.version <= newest:
                raise OnnxLoadError(f"onnx.load: opset {op.version} of the ONNX domain; "
                                    f"{MIN_OPSET} to {newest} are read")
    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise OnnxLoadError(f"onnx.load: node {node.name!r} is {node.op_type} of the "
                                f"domain {node.domain!r}; only standard ONNX ops are rebuilt")


def _initializer(onnx: Any, t: Any) -> np.ndarray:
    """The array of initializer t, after checking that its declared shape, its element count
    and its stored bytes agree (a forged file cannot make this allocate more than it holds)."""
    TP = onnx.TensorProto
    if t.data_location == TP.EXTERNAL or t.external_data:
        raise OnnxLoadError(f"onnx.load: initializer {t.name!r} keeps its data in another file; "
                            "external data is not read (save the model in one file)")
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise OnnxLoadError(f"onnx.load: initializer {t.name!r} has negative dimensions {dims}")
    n = 1
    for d in dims:
        n *= d
        if n > MAX_ELEMENTS:
            raise OnnxLoadError(f"onnx.load: initializer {t.name!r} declares shape {dims}, more "
                                f"than {MAX_ELEMENTS:,} elements")
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type))
    except Exception:
        dtype = None
    if dtype is None or dtype.kind not in "fiub":
        raise OnnxLoadError(f"onnx.load: initializer {t.name!r} has data type {t.data_type}; "
                            "numbers (float, int, bool) are read")
    if t.HasField("raw_data"):
        held = len(t.raw_data) // max(dtype.itemsize, 1)
        if len(t.raw_data) != n * dtype.itemsize:
            raise OnnxLoadError(f"onnx.load: initializer {t.name!r} declares shape {dims} "
                                f"({n:,} values of {dtype}) but holds {len(t.raw_data):,} "
                                "bytes")
    else:
        held = max(len(t.float_data), len(t.double_data), len(t.int32_data),
                   len(t.int64_data), len(t.uint64_data))
        if dtype == np.float16 or dtype.kind == "b" or dtype.itemsize < 4:
            held = len(t.int32_data)
        if held != n:
            raise OnnxLoadError(f"onnx.load: initializer {t.name!r} declares shape {dims} "
                                f"({n:,} values) but holds {held:,}")
    try:
        return np.array(onnx.numpy_helper.to_array(t))
    except Exception as e:
        raise OnnxLoadError(f"onnx.load: initializer {t.name!r} cannot be read: {e}") from None


def _fold_constants(onnx: Any, nodes: Any, consts: dict[str, np.ndarray]) -> list[Any]:
    """Evaluate the nodes that only rearrange constants (Constant, Identity, Transpose, ...);
    the rest, which compute on the data, are returned."""
    rest = []
    for node in nodes:
        ins = [i for i in node.input if i]
        if node.op_type in FOLDABLE and all(i in consts for i in ins):
            try:
                consts[node.output[0]] = _fold(onnx, node, [consts[i] for i in ins])
                continue
            except LoadError as e:
                raise OnnxLoadError(f"onnx.load: {e}") from None
            except Exception as e:
                raise OnnxLoadError(f"onnx.load: node {node.name!r} ({node.op_type}) on "
                                    f"constants fails: {e}") from None
        rest.append(node)
    return rest


def _fold(onnx: Any, node: Any, xs: list[np.ndarray]) -> np.ndarray:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    op = node.op_type
    if op == "Constant":
        if "value" not in attrs:
            raise LoadError(f"node {node.name!r}: a Constant without a tensor value")
        return _initializer(onnx, attrs["value"])
    x = xs[0]
    if op == "Identity":
        return x
    if op == "Transpose":
        return np.transpose(x, attrs.get("perm"))
    if op == "Cast":
        return x.astype(onnx.helper.tensor_dtype_to_np_dtype(attrs["to"]))
    if op in ("Squeeze", "Unsqueeze"):
        axes = attrs.get("axes", xs[1] if len(xs) > 1 else None)
        if op == "Squeeze":
            return np.squeeze(x, None if axes is None else tuple(int(a) for a in axes))
        return np.expand_dims(x, tuple(int(a) for a in axes))
    shape = [int(s) for s in xs[1]]  # Reshape: 0 copies the input's size
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _ranks(onnx: Any, proto: Any) -> dict[str, int]:
    """The rank of each value that ONNX shape inference can tell (empty where it fails)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:
        return {}
    ranks = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + \
            list(inferred.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            ranks[vi.name] = len(t.shape.dim)
    return ranks


class Structure:
    """The graph's data nodes as chains of layers: chain(v, end) walks from value v to value
    end, turning each node into a layer and each fork that joins at an Add into a Residual."""

    def __init__(self, nodes: list[Any], ctx: Ctx) -> None:
        self.nodes, self.ctx = nodes, ctx
        self.producer = {o: k for k, n in enumerate(nodes) for o in n.output if o}
        self.consumers: dict[str, list[int]] = {}
        for k, n in enumerate(nodes):
            for i in n.input:
                if i and i not in ctx.consts:
                    self.consumers.setdefault(i, []).append(k)

    def data_inputs(self, k: int) -> list[str]:
        return [i for i in self.nodes[k].input if i and i not in self.ctx.consts]

    def ancestors(self, value: str, stop: str) -> set[int]:
        seen: set[int] = set()
        stack = [value]
        while stack:
            v = stack.pop()
            if v == stop or v not in self.producer:
                continue
            k = self.producer[v]
            if k not in seen:
                seen.add(k)
                stack += self.data_inputs(k)
        return seen

    def chain(self, v: str, end: str, region: set[int] | None = None) -> list[Any]:
        region = self.ancestors(end, v) if region is None else region
        mods: list[Any] = []
        while v != end:
            users = sorted(k for k in self.consumers.get(v, []) if k in region)
            if not users:
                raise LoadError(f"the value {v!r} does not lead to {end!r}")
            if len(users) == 1 and len(self.data_inputs(users[0])) == 1:
                k = users[0]
                mod, v = self.ctx.build(self, k, region)
                mods.append(mod)
                continue
            silu = self._silu(v, users)
            if silu is not None:
                mods.append(nn.SiLU())
                v = silu
                continue
            j = self._join(v, end, region)
            mods.append(self._residual(v, j, region))
            v = self.nodes[j].output[0]
        return mods

    def _silu(self, v: str, users: list[int]) -> str | None:
        if len(users) != 2:
            return None
        ops = {self.nodes[k].op_type: k for k in users}
        if set(ops) != {"Sigmoid", "Mul"}:
            return None
        mul, sig = self.nodes[ops["Mul"]], self.nodes[ops["Sigmoid"]]
        return mul.output[0] if set(mul.input) == {v, sig.output[0]} else None

    def _join(self, v: str, end: str, region: set[int]) -> int:
        """The first node that every path from v to end passes through."""
        if len(region) > 2000:
            raise LoadError(f"a fork at {v!r} in a graph of {len(region)} nodes is too large "
                            "to rebuild")
        for j in sorted(region):
            reached, stack = set(), [k for k in self.consumers.get(v, []) if k in region]
            while stack:
                k = stack.pop()
                if k == j or k in reached:
                    continue
                reached.add(k)
                for o in self.nodes[k].output:
                    stack += [c for c in self.consumers.get(o, []) if c in region]
            if not any(end in self.nodes[k].output for k in reached):
                return j
        raise LoadError(f"the branches that start at {v!r} do not join again")

    def _residual(self, v: str, j: int, region: set[int]) -> Any:
        node = self.nodes[j]
        ins = self.data_inputs(j)
        if node.op_type != "Add" or len(ins) != 2 or ins[0] == ins[1]:
            raise LoadError(f"the branches that start at {v!r} join at node {node.name!r} "
                            f"({node.op_type}); only an Add of two branches (a skip "
                            "connection) is rebuilt")
        branches = []
        for end in ins:
            sub = self.ancestors(end, v) & region
            mods = self.chain(v, end, sub) if end != v else []
            branches.append(mods)
        block, shortcut = branches
        if not block:
            block, shortcut = shortcut, block
        one = lambda ms: ms[0] if len(ms) == 1 else nn.Sequential(*ms)  # noqa: E731
        return nn.Residual(one(block), one(shortcut) if shortcut else None)
