"""torch.compile and torch.compiler, for programs written for PyTorch 2.

PyTorch traces a model into a graph and generates fused kernels; the results are those of the
model run eagerly, up to rounding. chainrule always runs eagerly, so `compile` checks its
arguments as PyTorch does and hands back the model to run as it is: a Module comes back wrapped
in an OptimizedModule (as in PyTorch: parameters and state_dict keys under `_orig_mod.`,
attributes read and written through to the model), a function comes back wrapped by
functools.wraps. Nothing is traced, so a custom `backend=` is never called.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from chainrule.nn.module import Module

MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_BACKENDS = ("cudagraphs", "inductor", "openxla", "tvm")
_DEBUG_BACKENDS = (  # PyTorch 2.13's, tagged debug or experimental
    "aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
    "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts",
    "dynamo_accuracy_minifier_backend", "dynamo_minifier_backend", "eager", "eager_debug",
    "eager_noexcept", "invoke_subgraph", "openxla_eval", "pre_dispatch_eager", "ts",
)


class InvalidBackend(RuntimeError):
    """An unknown backend name (PyTorch's torch._dynamo.exc.InvalidBackend, a RuntimeError)."""


def list_backends(exclude_tags: Any = ("debug", "experimental")) -> list[str]:
    """The backend names torch.compile accepts (the debug ones too unless exclude_tags)."""
    return sorted(_BACKENDS if exclude_tags else _BACKENDS + _DEBUG_BACKENDS)


class OptimizedModule(Module):
    """What compile(module) returns: the module itself runs (eagerly) when this is called.

    As PyTorch's: the model is the child `_orig_mod` (so state_dict keys read
    '_orig_mod.weight'), `training` is the model's, and other attributes are read from and
    written to the model.
    """

    _own = frozenset({"_orig_mod", "forward", "dynamo_ctx"})

    def __init__(self, mod: Module) -> None:
        super().__init__()
        self._modules["_orig_mod"] = mod

    @property  # type: ignore[override]
    def training(self) -> bool:
        return self._modules["_orig_mod"].training

    @training.setter
    def training(self, value: bool) -> None:
        mods = self.__dict__.get("_modules")
        if mods and "_orig_mod" in mods:  # Module.__init__ sets a default: the model's wins
            object.__setattr__(mods["_orig_mod"], "training", value)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._modules["_orig_mod"](*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        mods = self.__dict__.get("_modules")
        if not mods or "_orig_mod" not in mods:
            raise AttributeError(name)
        if name == "_orig_mod":
            return mods["_orig_mod"]
        return getattr(mods["_orig_mod"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name) or name in self._own:
            super().__setattr__(name, value)
        else:
            setattr(self._orig_mod, name, value)

    def __delattr__(self, name: str) -> None:
        if hasattr(type(self), name) or name in self._own:
            super().__delattr__(name)
        else:
            delattr(self._orig_mod, name)

    def __len__(self) -> int:
        mod = self._orig_mod
        if hasattr(type(mod), "__len__"):
            return len(mod)
        raise TypeError(f"{type(mod).__name__} does not support len()")

    def __dir__(self) -> list[str]:
        own = list(self._orig_mod.__dir__())
        return own + [a for a in super().__dir__() if a not in own]


def _check(backend: Any, mode: Any, options: Any) -> None:
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if isinstance(backend, str) and backend not in _BACKENDS + _DEBUG_BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see "
                             "`torch._dynamo.list_backends()` for available backends.")
    if backend in (None, "inductor") and mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: str | Callable | None = None, mode: str | None = None,
            options: dict | None = None, name: str | None = None, disable: bool = False,
            recompile_limit: int | None = None, isolate_recompiles: bool = False,
            shapes_spec: Any = None) -> Any:
    """torch.compile: check the arguments as PyTorch does and return `model` to run eagerly
    (wrapped: an OptimizedModule for a Module, functools.wraps for a function). Without a model,
    a decorator: `@compile(mode="max-autotune")`. disable=True returns the model itself."""
    if model is None:
        def decorate(model: Callable) -> Any:
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorate
    _check(backend, mode, options)
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)
    if not callable(model):  # PyTorch raises AssertionError here
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")

    @functools.wraps(model)
    def compiled(*args: Any, **kwargs: Any) -> Any:
        return model(*args, **kwargs)

    return compiled


# -- torch.compiler: the helpers that compiled code calls ----------------------------------------
def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None
            ) -> Any:
    """Keep fn out of compilation: chainrule compiles nothing, so fn itself (or a decorator)."""
    if fn is None:
        return lambda f: f
    return fn


def is_compiling() -> bool:
    """False: chainrule code always runs eagerly, never inside a traced graph."""
    return False


is_dynamo_compiling = is_exporting = is_compiling


def reset() -> None:
    """Drop compiled code: there is none."""


def allow_in_graph(fn: Callable) -> Callable:
    return fn


assume_constant_result = allow_in_graph
