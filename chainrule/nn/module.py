"""Module and Parameter: the PyTorch-style building blocks of models.

A Module registers, by attribute assignment, its Parameters (trainable leaf tensors), its
buffers (state that is saved but not trained, e.g. running statistics) and its sub-modules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from chainrule.backend import as_dtype
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, _Version


class Parameter(Tensor):
    """A leaf tensor a Module trains: requires_grad=True unless told otherwise."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        """data (a Tensor or an array) keeps its dtype; nn.Parameter() is an empty float
        tensor, as in PyTorch. A Parameter made from a tensor shares its storage."""
        from chainrule.backend import to_array
        from chainrule.dtypes import default_float

        if data is None:
            data = np.zeros((0,), dtype=default_float())
        arr = data.array if isinstance(data, Tensor) else to_array(data)
        Tensor.__init__(self, arr, dtype=arr.dtype)
        if isinstance(data, Tensor):
            if data._vc is None:
                data._vc = _Version()
            self._vc = data._vc  # the same storage: in-place changes are seen through both
        self.requires_grad = requires_grad

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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (set_to_none=False zeroes it in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.creator is not None:
                    p.grad = p.grad.detach()
                p.grad.zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """fn(m) for every sub-module, children first, then this one (as PyTorch)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target: str) -> Module:
        m: Module = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no attribute `{part}`")
            m = m._modules[part]
        return m

    def get_parameter(self, target: str) -> Parameter:
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._parameters:
            raise AttributeError(f"{type(m).__name__} has no parameter `{name}`")
        return m._parameters[name]

    # -- dtype and device ----------------------------------------------------------------------
    def _apply(self, fn: Callable[[Any], Any], floating_only: bool = False) -> Module:
        """Replace every parameter's and buffer's array (and gradient's) by fn(array), keeping
        the Tensor objects, so an optimizer built before still holds them."""
        for t in list(self.parameters()) + list(self.buffers()):
            if floating_only and t.array.dtype.kind not in "fc":
                continue
            t.array = fn(t.array)
            if t.grad is not None:
                t.grad.array = fn(t.grad.array)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move to a device and/or convert floating parameters and buffers to a dtype, in place:
        model.to('cpu'), model.to(cr.float64), model.to(device, dtype), model.to(tensor)."""
        from chainrule.backend import check_device, to_device
        from chainrule.methods import _parse_to

        device, dtype, _ = _parse_to(args, kwargs)
        if dtype is not None:
            dt = as_dtype(dtype)
            if dt.kind not in "fc":
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
            self._apply(lambda a: a.astype(dt), floating_only=True)
        if device is not None:
            d = check_device(device, f"{type(self).__name__}.to")
            self._apply(lambda a: to_device(a, d, "to"))
        return self

    def _to_device(self, device: Any) -> None:
        """For layer constructors: move the new parameters to `device` (None: the default)."""
        from chainrule.backend import default_device

        d = default_device() if device is None else device
        if str(d) != "cpu":
            self.to(d)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to("cuda" if device is None else
                       (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def type(self, dst_type: Any) -> Module:
        return self._apply(lambda a: a.astype(as_dtype(dst_type)))

    # -- state -------------------------------------------------------------------------------
    def state_dict(self, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer by dotted name, as tensors sharing their storage (cut
        from the graph unless keep_vars), as in PyTorch: copy.deepcopy it to keep a snapshot."""
        out: Any = OrderedDict() if destination is None else destination
        for k, t in list(self.named_parameters()) + list(self.named_buffers()):
            out[prefix + k] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy tensors (or arrays) into the parameters and buffers in place, so optimizers keep
        working. With strict, missing and unexpected names raise; mis-shaped ones always do,
        all listed in one error."""
        state = state_dict
        own = dict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [f"{k}: checkpoint {tuple(np.shape(_arr(state[k])))} vs model "
                      f"{tuple(own[k].shape)}" for k in own
                      if k in state and tuple(np.shape(_arr(state[k]))) != tuple(own[k].shape)]
        if mismatched or (strict and (missing or unexpected)):
            parts = [f"{title}: {', '.join(names)}" for title, names in
                     (("missing keys", missing), ("unexpected keys", unexpected),
                      ("shape mismatches", mismatched)) if names]
            raise ShapeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(parts)
                + ". Check that the checkpoint was saved from the same architecture"
            )
        for k, t in own.items():
            if k in state:
                t.array[...] = _arr(state[k]).astype(t.array.dtype, copy=False)
                t._bump()
        return _IncompatibleKeys(missing, unexpected)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


def _arr(v: Any) -> np.ndarray:
    return v.numpy(force=True) if isinstance(v, Tensor) else np.asarray(v)


class _IncompatibleKeys(NamedTuple):
    """What load_state_dict returns: the names it did not find, and those it did not use."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")
