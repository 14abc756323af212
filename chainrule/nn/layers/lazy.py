"""Lazy modules: LazyLinear, LazyConv1d, LazyConv2d, whose input size is read from the first
input, as in PyTorch, and the UninitializedParameter they hold until then.

At the first call a forward pre-hook materialises the parameters in place (the same Parameter
objects, now with their shapes), initialises them as the eager layer would, removes itself and
turns the module into that layer (LazyLinear becomes a Linear). As PyTorch documents, build the
optimizer after a first (dry) forward, or at least know that the optimizer holds the very
objects that get materialised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.backend import as_dtype, xp_of
from chainrule.dtypes import default_float
from chainrule.nn.layers.conv import Conv1d, Conv2d
from chainrule.nn.layers.linear import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet: materialize(shape) gives it one and turns it
    into a plain Parameter (the same object). Its shape cannot be read before that."""

    cls_to_become = Parameter
    _is_lazy = True

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        dt = default_float() if dtype is None else as_dtype(dtype)
        super().__init__(np.empty((0,), dtype=dt), requires_grad)
        if device is not None and str(device) != "cpu":
            self.array = self.to(device).array

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        """Give the parameter `shape` (uninitialised values), on its device and with its dtype
        unless given, and make it a plain Parameter."""
        xp = xp_of(self.array)
        dt = self.array.dtype if dtype is None else as_dtype(dtype)
        self.array = xp.empty(tuple(int(s) for s in shape), dtype=dt)
        self.__class__ = self.cls_to_become
        if device is not None:
            self.array = self.to(device).array
        self._bump()

    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def is_lazy(t: Any) -> bool:
    return getattr(t, "_is_lazy", False)


class LazyModuleMixin:
    """Put before the eager layer in the bases: its forward pre-hook calls
    initialize_parameters(*inputs) once, then the module becomes cls_to_become."""

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(  # type: ignore[attr-defined]
            self._infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        return any(is_lazy(t) for t in list(self._parameters.values())  # type: ignore
                   + list(self._buffers.values()))  # type: ignore[attr-defined]

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _infer_parameters(self, module: Module, args: tuple, kwargs: dict | None = None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {type(self).__name__} has not been fully initialized")
        module._initialize_hook.remove()
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose in_features is the last dimension of the first input:
    LazyLinear(out_features, bias=True)."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        if not self.has_uninitialized_params():  # materialised by load_state_dict
            self.in_features = int(self.weight.shape[1])
        else:
            with no_grad():
                self.in_features = int(input.shape[-1])
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()  # type: ignore[misc]

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation,  # type: ignore[call-arg]
                         groups, False, padding_mode)
        self._lazy_init(out_channels, bias, device, dtype)

    def _lazy_init(self, out_channels: int, bias: bool, device: Any, dtype: Any) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.has_uninitialized_params():  # materialised by load_state_dict
            self.in_channels = int(self.weight.shape[1]) * self.groups  # type: ignore
            return
        n = len(self.dims) + 1  # type: ignore[attr-defined]
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) not in (n, n + 1):
            raise RuntimeError(f"Expected {n}D (unbatched) or {n + 1}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {shape}")
        self.in_channels = int(shape[1] if len(shape) == n + 1 else shape[0])
        if self.in_channels % self.groups != 0:  # type: ignore[attr-defined]
            raise ValueError(f"{type(self).__name__}: in_channels ({self.in_channels}) must be "
                             f"divisible by groups ({self.groups})")  # type: ignore
        with no_grad():
            self.weight.materialize((self.out_channels, self.in_channels // self.groups)
                                    + self.kernel_size)  # type: ignore[attr-defined]
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


class LazyConv1d(_LazyConvMixin, Conv1d):
    """Conv1d whose in_channels is read from the first input:
    LazyConv1d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, ...)."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvMixin, Conv2d):
    """Conv2d whose in_channels is read from the first input:
    LazyConv2d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, ...)."""

    cls_to_become = Conv2d
