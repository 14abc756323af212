"""Module and Parameter: the PyTorch-style building blocks of models.

A Module registers, by attribute assignment, its Parameters (trainable leaf tensors), its
buffers (state that is saved but not trained, e.g. running statistics) and its sub-modules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator

import numpy as np

from chainrule.backend import as_dtype
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor a Module trains: requires_grad=True unless told otherwise."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: override forward(); call the module to run it."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """State saved in state_dict but not trained (running mean/var, counters)."""
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
        self._buffer_names.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        if value is None:
            self._parameters[name] = None
        else:
            setattr(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # -- running -----------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            r = hook(self, args, out)
            if r is not None:
                out = r
        return out

    def register_forward_hook(self, fn: Callable) -> Any:
        """fn(module, inputs, output) after every forward; returns a handle with remove()."""
        from chainrule.autograd import register_hooks_removable

        return register_hooks_removable(self._forward_hooks, fn)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()
                    if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, store: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules() if recurse else iter([("", self)])
        for prefix, m in mods:
            for k, t in getattr(m, store).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{k}" if prefix else k), t

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse))

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating parameter and buffer to dtype, in place (e.g. float64 for
        gradient checks)."""
        dt = as_dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind == "f":
                t.data = t.data.astype(dt)
                if t.grad is not None:
                    t.grad = None
        return self

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and buffer by dotted name, as copies of their arrays."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for k, t in list(self.named_parameters()) + list(self.named_buffers()):
            out[k] = np.array(t.numpy(), copy=True)
        return out

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list, list]:
        """Copy arrays into the parameters and buffers in place (optimizers keep working).
        With strict, missing, unexpected and mis-shaped names are all listed in one error."""
        own = dict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [f"{k}: checkpoint {tuple(np.shape(_arr(state[k])))} vs model "
                      f"{own[k].shape}" for k in own
                      if k in state and tuple(np.shape(_arr(state[k]))) != own[k].shape]
        if mismatched or (strict and (missing or unexpected)):
            parts = [f"{title}: {', '.join(names)}" for title, names in
                     (("missing keys", missing), ("unexpected keys", unexpected),
                      ("shape mismatches", mismatched)) if names]
            raise ShapeError(
                f"load_state_dict into {type(self).__name__} failed; " + "; ".join(parts)
                + ". Check that the checkpoint was saved from the same architecture"
            )
        for k, t in own.items():
            if k in state:
                t.data[...] = _arr(state[k]).astype(t.dtype, copy=False)
        return missing, unexpected

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


def _arr(v: Any) -> np.ndarray:
    return v.numpy() if isinstance(v, Tensor) else np.asarray(v)
