"""GraphBuilder: the nodes, initializers and unique names of one ONNX graph being exported."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.onnx import OnnxExporterError


def onnx_module() -> Any:
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError('chainrule.onnx needs the onnx package: pip install "chainrule[onnx]" '
                          "(or pip install onnx onnxruntime)") from None
    return onnx


class GraphBuilder:
    """Collects ONNX nodes; `param` names a model tensor by its state-dict name (as
    torch.onnx.export does), `const` adds a constant, `node` adds an op and returns its
    output name(s). With export_params=False the parameters become graph inputs instead."""

    def __init__(self, opset: int, export_params: bool = True) -> None:
        self.onnx = onnx_module()
        self.opset, self.export_params = opset, export_params
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.param_inputs: list[Any] = []
        self._used: set[str] = set()
        self._by_id: dict[int, str] = {}
        self.dynamic_spatial = False  # a dynamic axis beyond the batch: no static sizes

    def fresh(self, hint: str) -> str:
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        if name in self._used:
            raise ValueError(f"onnx.export: the name {name!r} is used twice; give each input "
                             "and output its own name")
        self._used.add(name)

    def _add(self, name: str, array: np.ndarray, is_param: bool) -> None:
        helper = self.onnx.helper
        if is_param and not self.export_params:
            dt = helper.np_dtype_to_tensor_dtype(array.dtype)
            self.param_inputs.append(helper.make_tensor_value_info(name, dt, array.shape))
        else:
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))

    def param(self, tensor: Any, name: str) -> str:
        """The graph name of a parameter or buffer (shared tensors are stored once)."""
        key = id(tensor)
        if key in self._by_id:
            return self._by_id[key]
        # one host copy, on purpose: ONNX files hold host arrays
        array = np.ascontiguousarray(np.asarray(_host(tensor)))
        out = self.fresh(name)
        self._add(out, array, is_param=True)
        self._by_id[key] = out
        return out

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype)
        out = self.fresh(hint)
        self._add(out, array, is_param=False)
        return out

    def ints(self, values: Any, hint: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def node(self, op: str, inputs: list[str], hint: str, n_out: int = 1,
             **attrs: Any) -> Any:
        """Add one node; returns its output name (a list when n_out > 1)."""
        outs = [self.fresh(hint if n_out == 1 else f"{hint}_{k}") for k in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, name=self.fresh(
            f"/{hint}/{op}"), **attrs))
        return outs[0] if n_out == 1 else outs


def _host(tensor: Any) -> Any:
    a = tensor.array if hasattr(tensor, "array") else tensor
    if not isinstance(a, np.ndarray) and hasattr(a, "get"):  # a CuPy array: copy it to the host
        a = a.get()
    if not isinstance(a, np.ndarray):
        raise OnnxExporterError(f"onnx.export: cannot store a {type(a).__name__} in the file")
    return a
