"""Module and Parameter: the PyTorch-style building blocks of models.

A Module registers, by attribute assignment, its Parameters (trainable leaf tensors), its
buffers (state that is saved but not trained, e.g. running statistics) and its sub-modules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from chainrule.backend import as_dtype, is_device_array, on_device_of, to_host
from chainrule.errors import ShapeError
from chainrule.nn.hooks import ModuleHooks, call_with_hooks
from chainrule.tensor import Tensor, _Version

_HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
               "_backward_pre_hooks")


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


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer (saved state, not trained) when assigned as
    an attribute: self.count = nn.Buffer(torch.zeros(())). It shares data's storage and keeps
    its requires_grad; persistent=False keeps it out of state_dict."""

    def __init__(self, data: Any = None, *, persistent: bool = True) -> None:
        Parameter.__init__(self, data, False)  # type: ignore[arg-type]  (shares data's storage)
        self.requires_grad = isinstance(data, Tensor) and data.requires_grad
        self.persistent = persistent


def _type_name(value: Any) -> str:
    """PyTorch's name for the type in its assignment errors ('torch.FloatTensor', 'int')."""
    if isinstance(value, Tensor):
        from chainrule.dtypes import type_name

        return f"torch.{type_name(value.array.dtype)}"
    return type(value).__qualname__


class Module(ModuleHooks):
    """Base class of layers and models: override forward(); call the module to run it."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        for name in _HOOK_DICTS:
            object.__setattr__(self, name, OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            target = params
        elif name in params:  # a parameter's name takes a Parameter or None, as in PyTorch
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                "(torch.nn.Parameter or None expected)")
            target = params
        elif isinstance(value, Module):
            target = modules
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            target = modules
        elif isinstance(value, Buffer) or name in self.__dict__.get("_buffer_names", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                "(torch.nn.Buffer, torch.Tensor or None expected)")
            target = buffers
        else:
            target = None
        for store in (params, buffers, modules):  # replaced in its own store, a name keeps
            if store is not target:               # its place, as in PyTorch
                store.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Buffer):
            self.register_buffer(name, value, value.persistent)
        else:
            target[name] = value
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

    def register_buffer(self, name: str, tensor: Tensor | None,
                        persistent: bool = True) -> None:
        """State that is not trained (running mean/var, counters); saved in state_dict unless
        persistent=False."""
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
            object.__setattr__(self, "_non_persistent_buffers_set", set())
        self._buffer_names.add(name)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

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
        if (self._forward_hooks or self._forward_pre_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every sub-module, depth first in registration
        order; a module reachable twice comes once (at its first name) unless
        remove_duplicate=False. memo: modules to skip (and add to), as in PyTorch."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # iterative: a very deep model does not hit the recursion limit
            name, m = stack.pop()
            if m in memo:
                continue
            if remove_duplicate:
                memo.add(m)
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()
                    if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        memo: set = set()
        for k, m in self._modules.items():
            if m is not None and m not in memo:
                memo.add(m)
                yield k, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, store: str, prefix: str, recurse: bool,
               remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                else iter([(prefix, self)]))
        for mp, m in mods:
            for k, t in getattr(m, store).items():
                if t is None or id(t) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(t))
                yield (f"{mp}.{k}" if mp else k), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

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

    def share_memory(self) -> Module:
        """Move every parameter and buffer (and existing gradient) into shared memory, in
        place: processes started after this update the same weights (Hogwild training)."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
            if t.grad is not None:
                t.grad.share_memory_()
        return self

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """model.compile(): torch.compile's arguments, applied in place. chainrule runs
        eagerly, so after checking them the model runs as before (see chainrule.compile)."""
        from chainrule.compiler import compile as compile_

        compile_(self, *args, **kwargs)

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
        # PyTorch's order and keys: each module's parameters, then its persistent buffers, then
        # its children's; a tensor shared by two modules (tied weights) under both names
        for mp, m in self.named_modules(remove_duplicate=False):
            skip = m.__dict__.get("_non_persistent_buffers_set", ())
            items = list(m._parameters.items()) + [(k, b) for k, b in m._buffers.items()
                                                   if k not in skip]
            for k, t in items:
                if t is not None:
                    out[prefix + (f"{mp}.{k}" if mp else k)] = (t if keep_vars or _lazy(t)
                                                            else t.detach())
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy tensors (or arrays) into the parameters and buffers in place, so optimizers keep
        working. With strict, missing and unexpected names raise; mis-shaped ones always do,
        all listed in one error."""
        state = state_dict
        own = self.state_dict(keep_vars=True)
        for k, t in list(own.items()):  # a lazy module takes its shapes from the checkpoint
            if _lazy(t) and k in state:
                if _lazy(state[k]):
                    del own[k]
                else:
                    t.materialize(_arr(state[k]).shape)
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [f"{k}: checkpoint {tuple(_arr(state[k]).shape)} vs model "
                      f"{tuple(own[k].shape)}" for k in own
                      if k in state and tuple(_arr(state[k]).shape) != tuple(own[k].shape)]
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
                src = _arr(state[k])  # copied across devices, as PyTorch's copy_ does
                src = on_device_of(src, t.array) if is_device_array(t.array) else to_host(src)
                t.array[...] = src.astype(t.array.dtype, copy=False)
                t._bump()
        return _IncompatibleKeys(missing, unexpected)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: a one-line extra_repr inline, otherwise its lines and then each
        child's repr, indented, one per line."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + repr(m).replace("\n", "\n  ")
                       for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _lazy(t: Any) -> bool:
    """An UninitializedParameter (chainrule.nn.layers.lazy) still waiting for its shape."""
    return getattr(t, "_is_lazy", False)


def _arr(v: Any) -> Any:
    """A state entry as an array: a Tensor's own (on its device), anything else on the host."""
    return v.detach().array if isinstance(v, Tensor) else np.asarray(v)


class _IncompatibleKeys(NamedTuple):
    """What load_state_dict returns: the names it did not find, and those it did not use."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")
