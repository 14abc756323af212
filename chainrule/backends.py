"""torch.backends: what PyTorch reports about the libraries under it, answered for chainrule.

chainrule computes with NumPy (CuPy on a GPU): it uses no cuDNN, MPS, oneDNN (mkldnn) or
OpenMP, so those report unavailable. The switches programs set at start-up
(`torch.backends.cudnn.benchmark = True`, `cudnn.deterministic = True`,
`torch.backends.cuda.matmul.allow_tf32 = True`) are checked, kept and read back as in PyTorch,
and change no result, as in PyTorch on a CPU. `import chainrule.backends.cudnn as cudnn` works.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from typing import Any, Iterator

from chainrule import runtime


def _false() -> bool:
    return False


def _switch(name: str, setter: str, kind: type = bool) -> property:
    """A module attribute that, as PyTorch's, accepts only a bool (or a str) when set."""
    def get(mod: types.ModuleType) -> Any:
        return mod._values[name]

    def put(mod: types.ModuleType, value: Any) -> None:
        if not isinstance(value, kind):
            what = "a bool" if kind is bool else "a string"
            raise RuntimeError(f"{setter} expects {what}, but got {type(value).__name__}")
        mod._values[name] = value

    return property(get, put)


def _register(mod: types.ModuleType, name: str) -> types.ModuleType:
    sys.modules[mod.__name__] = mod
    globals()[name] = mod
    return mod


# -- cudnn ---------------------------------------------------------------------------------------
class _Cudnn(types.ModuleType):
    """torch.backends.cudnn: chainrule uses no cuDNN; the switches are kept and change nothing."""

    enabled = _switch("enabled", "set_enabled_cudnn")
    benchmark = _switch("benchmark", "set_benchmark_cudnn")
    deterministic = _switch("deterministic", "set_deterministic_cudnn")
    allow_tf32 = _switch("allow_tf32", "set_allow_tf32_cudnn")
    depthwise_kernel = _switch("depthwise_kernel", "set_cudnn_depthwise_kernel", str)

    def __init__(self) -> None:
        super().__init__(f"{__name__}.cudnn", type(self).__doc__)
        self._values = {"enabled": True, "benchmark": False, "deterministic": False,
                        "allow_tf32": True, "depthwise_kernel": "auto"}
        self.benchmark_limit = None  # PyTorch's value where cuDNN is not available
        self.fp32_precision = "none"
        self.is_available = _false
        self.version = _cudnn_version
        self.is_acceptable = _is_acceptable
        self.flags = _cudnn_flags


def _cudnn_version() -> None:
    return None


def _is_acceptable(tensor: Any) -> bool:
    """Whether cuDNN would take this tensor: never, there is no cuDNN here."""
    return False


_FLAGS = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32",
          "fp32_precision", "depthwise_kernel")


@contextlib.contextmanager
def _cudnn_flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
                 deterministic: bool = False, allow_tf32: bool = True,
                 fp32_precision: str = "none", depthwise_kernel: str = "auto"
                 ) -> Iterator[None]:
    """Set the cudnn switches inside the block (PyTorch's torch.backends.cudnn.flags; as there,
    every switch not passed takes its default, enabled=False included)."""
    saved = [getattr(cudnn, n) for n in _FLAGS]
    new = (enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision,
           depthwise_kernel)
    for n, v in zip(_FLAGS, new):
        if n != "benchmark_limit":  # PyTorch sets it only where cuDNN is available
            setattr(cudnn, n, v)
    try:
        yield
    finally:
        for n, v in zip(_FLAGS, saved):
            setattr(cudnn, n, v)


cudnn = _register(_Cudnn(), "cudnn")


# -- cuda ----------------------------------------------------------------------------------------
class _Matmul:
    """torch.backends.cuda.matmul: allow_tf32 is float32_matmul_precision != 'highest', as in
    PyTorch; the reduced-precision switches are kept. Other names raise AttributeError."""

    _names = ("allow_fp16_reduced_precision_reduction",
              "allow_fp16_reduced_precision_reduction_split_k",
              "allow_bf16_reduced_precision_reduction",
              "allow_bf16_reduced_precision_reduction_split_k", "allow_fp16_accumulation")

    def __init__(self) -> None:
        values = dict.fromkeys(self._names, True)
        values["allow_fp16_accumulation"] = False
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        if name == "allow_tf32":
            return runtime.get_float32_matmul_precision() != "highest"
        if name in self._names:
            return self._values[name]
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("allow_tf32", "allow_fp16_accumulation"):
            if not isinstance(value, bool):
                who = "tf32" if name == "allow_tf32" else "fp16_accumulation"
                raise RuntimeError(f"set_allow_{who}_cublas expects a bool, but got "
                                   f"{type(value).__name__}")
            if name == "allow_tf32":
                runtime.set_float32_matmul_precision("high" if value else "highest")
            else:
                self._values[name] = value
        elif name in ("allow_fp16_reduced_precision_reduction",
                      "allow_bf16_reduced_precision_reduction"):
            self._values[name], self._values[name + "_split_k"] = _reduction_setting(value, name)
        else:
            raise AttributeError("Unknown attribute " + name)

    def __repr__(self) -> str:
        return f"<chainrule.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


def _reduction_setting(value: Any, name: str) -> tuple[bool, bool]:
    """(allow_reduced_precision, allow_splitk) from a bool or a list/tuple of one or two."""
    if isinstance(value, bool):
        return value, True
    if isinstance(value, (list, tuple)) and 1 <= len(value) <= 2:
        for v, which in zip(value, ("allow_reduced_precision", "allow_splitk")):
            if not isinstance(v, bool):
                raise TypeError(f"{name} expects a bool for {which}, but got {type(v)!r}")
        return value[0], value[1] if len(value) == 2 else True
    raise TypeError(f"{name} expects a bool or a tuple/list of bools, but got {type(value)!r}")


def _cuda_is_built() -> bool:
    """Whether chainrule can use an NVIDIA GPU here at all: CuPy is installed."""
    return importlib.util.find_spec("cupy") is not None


cuda = _register(types.ModuleType(f"{__name__}.cuda", "torch.backends.cuda: the matmul switches; "
                                  "CUDA through CuPy."), "cuda")
cuda.is_built, cuda.matmul = _cuda_is_built, _Matmul()


# -- mkldnn, mps, mkl, openmp --------------------------------------------------------------------
class _Mkldnn(types.ModuleType):
    """torch.backends.mkldnn: oneDNN; chainrule does not use it (the switch is kept)."""

    enabled = _switch("enabled", "set_enabled_mkldnn")

    def __init__(self) -> None:
        super().__init__(f"{__name__}.mkldnn", type(self).__doc__)
        self._values = {"enabled": True}
        self.is_available = _false


mkldnn = _register(_Mkldnn(), "mkldnn")


def _module(name: str, doc: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(f"{__name__}.{name}", doc)
    mod.__dict__.update(attrs)
    return _register(mod, name)


mps = _module("mps", "torch.backends.mps: Apple's Metal; chainrule cannot use it.",
              is_available=_false, is_built=_false)
openmp = _module("openmp", "torch.backends.openmp: chainrule's ops use no OpenMP.",
                 is_available=_false)


def _mkl_is_available() -> bool:
    """Whether NumPy's BLAS is Intel's MKL."""
    import numpy as np

    config = getattr(getattr(np, "__config__", None), "CONFIG", {})
    blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "")
    return "mkl" in str(blas).lower()


mkl = _module("mkl", "torch.backends.mkl: whether NumPy's BLAS is MKL.",
              is_available=_mkl_is_available)
