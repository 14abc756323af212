"""Module hooks as PyTorch runs them: forward pre-hooks, forward hooks and full backward hooks,
and the RemovableHandle every register_* method returns.

A full backward hook needs the gradients with respect to a module's inputs and outputs as one
event. Like PyTorch, the call wraps the inputs that require grad in one identity op and the
outputs in another: the output op's backward captures grad_output (and runs the backward
pre-hooks), the input op's backward, which runs once every gradient of the inputs is complete,
calls hook(module, grad_input, grad_output) and hands on what it returns.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any, Callable

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.modes import is_grad_enabled
from chainrule.tensor import Tensor
from chainrule.versions import _Version


class RemovableHandle:
    """What register_*_hook returns: remove() takes the hook out again (also on leaving a
    `with handle:` block); `id` is its key in the module's hook dict."""

    next_id: int = 0

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extras = extra_dict if isinstance(extra_dict, list) else (
            [] if extra_dict is None else [extra_dict])
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(hooks: dict, hook: Any, prepend: bool, extra: Any = None) -> RemovableHandle:
    handle = RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _share_version(out: Tensor, base: Tensor) -> None:
    """out holds base's array: an in-place change of either bumps the version both report."""
    if base._vc is None:
        base._vc = _Version()
    out._vc = base._vc


class _Identity(Function):
    """The identity on the tensors of a module call's inputs or outputs, as one graph node whose
    backward sees all their gradients together."""

    saves = ""

    def __init__(self, on_backward: Any) -> None:
        self.on_backward = on_backward

    def forward(self, *arrays: Any) -> Any:
        return arrays if len(arrays) > 1 else arrays[0]

    def backward(self, *gys: Tensor) -> Any:
        out = self.on_backward(gys)
        return out if len(out) > 1 else out[0]


def _wrap(args: tuple, on_backward: Any) -> tuple[tuple, list[int], list[int]]:
    """args with each Tensor that requires grad replaced by an identity op's output; the indices
    of the Tensors and of the wrapped ones."""
    tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    diff = [i for i in tensors if args[i].requires_grad]
    if not diff or not is_grad_enabled():
        return args, tensors, []
    outs = _Identity(on_backward)(*[args[i] for i in diff])
    outs = outs if isinstance(outs, tuple) else (outs,)
    new = list(args)
    for i, o in zip(diff, outs):
        _share_version(o, args[i])
        new[i] = o
    return tuple(new), tensors, diff


class BackwardHook:
    """One module call's full backward hooks and backward pre-hooks."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: tuple | None = None
        self.n_inputs = 0
        self.inputs_wrapped = False
        self.received: set[int] = set()

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        self.in_arrays = [a.array if isinstance(a, Tensor) else None for a in args]
        args, self.in_tensors, self.in_diff = _wrap(args, self._input_backward)
        self.inputs_wrapped = bool(self.in_diff)
        return args

    def setup_output_hook(self, result: Any) -> Any:
        is_tuple = isinstance(result, tuple)
        outs = result if is_tuple else (result,)
        self.n_outputs = len(outs)
        new, _, self.out_diff = _wrap(outs, self._output_backward)
        for k, i in enumerate(self.out_diff):  # which outputs a gradient reached (else None)
            new[i].register_hook(lambda g, k=k: self.received.add(k))
        return new if is_tuple else new[0]

    def _output_backward(self, gys: tuple) -> tuple:
        go: list = [None] * self.n_outputs
        for k, (i, g) in enumerate(zip(self.out_diff, gys)):
            go[i] = g if k in self.received else None
        self.received = set()
        grad_outputs = tuple(go)
        for pre in self.pre_hooks:
            r = pre(self.module, grad_outputs)
            if r is None:
                continue
            if len(r) != len(grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(r)}, but expected "
                                   f"{len(grad_outputs)}")
            grad_outputs = tuple(r)
        if not self.inputs_wrapped:
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients. See "
                          "torch.nn.Module.register_full_backward_hook's documentation for "
                          "more details.", stacklevel=2)
            none = (None,) * self.n_inputs
            for hook in self.hooks:
                r = hook(self.module, none, grad_outputs)
                if r is not None and not (isinstance(r, tuple) and all(v is None for v in r)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
        else:
            self.grad_outputs = grad_outputs
        return tuple(grad_outputs[i] for i in self.out_diff)

    def _input_backward(self, gys: tuple) -> tuple:
        if self.grad_outputs is None:  # a gradient that did not pass through the outputs
            return gys
        res: list = [None] * self.n_inputs
        for i in self.in_tensors:  # inputs that need no gradient get zeros, as in PyTorch
            a = self.in_arrays[i]
            res[i] = Tensor._make(xp_of(a).zeros(a.shape, a.dtype), None)
        for i, g in zip(self.in_diff, gys):
            res[i] = g
        grad_inputs = tuple(res)
        for hook in self.hooks:
            r = hook(self.module, grad_inputs, self.grad_outputs)
            if r is None:
                continue
            if len(r) != len(grad_inputs):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(r)}, but expected {len(grad_inputs)}")
            grad_inputs = tuple(r)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.in_diff)


class ModuleHooks:
    """Module's hook API (Module inherits it): the register_* methods, each returning a
    RemovableHandle. The hooks live in the module's OrderedDicts named in _HOOK_DICTS."""

    _forward_hooks: Any
    _forward_hooks_with_kwargs: Any
    _forward_hooks_always_called: Any
    _forward_pre_hooks: Any
    _forward_pre_hooks_with_kwargs: Any
    _backward_hooks: Any
    _backward_pre_hooks: Any

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """hook(module, args) before every forward, or hook(module, args, kwargs) with
        with_kwargs; a non-None result replaces the inputs (a single value becomes a 1-tuple;
        with kwargs, an (args, kwargs) pair). prepend runs it before the hooks already there."""
        handle = add_hook(self._forward_pre_hooks, hook, prepend,
                          self._forward_pre_hooks_with_kwargs)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """hook(module, args, output) after every forward (hook(module, args, kwargs, output)
        with with_kwargs); a non-None result replaces the output. always_call runs it even when
        forward raises."""
        handle = add_hook(self._forward_hooks, hook, prepend,
                          [self._forward_hooks_with_kwargs, self._forward_hooks_always_called])
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_hook(self, hook: Callable,
                                    prepend: bool = False) -> RemovableHandle:
        """hook(module, grad_input, grad_output) once the gradients with respect to the
        module's positional inputs are computed: tuples with one entry per input / output
        (None for non-Tensors and outputs no gradient reached; zeros for Tensor inputs that
        need none). A returned tuple replaces grad_input. If no input requires grad, it fires
        with grad_input all None when grad_output is known."""
        return add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """hook(module, grad_output) when the gradients with respect to the module's outputs
        are computed; a returned tuple replaces grad_output."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        raise NotImplementedError(
            f"{type(self).__name__}.register_backward_hook: the old (non-full) backward hooks "
            "are deprecated in PyTorch and not supported; use register_full_backward_hook, "
            "which takes the same hook(module, grad_input, grad_output)")


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """module(*args, **kwargs) with its hooks, in PyTorch's order: forward pre-hooks, backward
    hooks on the inputs, forward, forward hooks, backward hooks on the outputs. Forward hooks
    registered with always_call=True run even when forward raises."""
    result = None
    called: set[int] = set()
    try:
        for hid, hook in list(module._forward_pre_hooks.items()):
            if hid in module._forward_pre_hooks_with_kwargs:
                r = hook(module, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {r}.")
                    args, kwargs = r
            else:
                r = hook(module, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw = None
        if module._backward_hooks or module._backward_pre_hooks:
            bw = BackwardHook(module, list(module._backward_hooks.values()),
                              list(module._backward_pre_hooks.values()))
            args = bw.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        for hid, hook in list(module._forward_hooks.items()):
            called.add(hid)
            result = _forward_hook(module, hid, hook, args, kwargs, result)
        if bw is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}",
                              stacklevel=3)
            else:
                result = bw.setup_output_hook(result)
        return result
    except Exception:
        for hid, hook in list(module._forward_hooks.items()):
            if hid not in module._forward_hooks_always_called or hid in called:
                continue
            try:
                result = _forward_hook(module, hid, hook, args, kwargs, result)
            except Exception as e:
                warnings.warn("module forward hook with ``always_call=True`` raised an exception "
                              f"that was silenced as another error was raised in forward: {e}",
                              stacklevel=2)
        raise


def _forward_hook(module: Any, hid: int, hook: Any, args: tuple, kwargs: dict,
                  result: Any) -> Any:
    """Call one forward hook (with kwargs if it was registered so); its return value, when not
    None, replaces the result."""
    if hid in module._forward_hooks_with_kwargs:
        r = hook(module, args, kwargs, result)
    else:
        r = hook(module, args, result)
    return result if r is None else r
