"""torch.amp: autocast and GradScaler, with PyTorch's meanings.

autocast runs chosen ops in a lower precision (bfloat16 or float16) inside a block. chainrule
has no bfloat16 and no per-op casting policy, so it never autocasts: where PyTorch itself
would not autocast (enabled=False; a dtype CPU autocast does not support; device_type='cuda'
without a GPU) the block runs as PyTorch runs it, and where PyTorch would autocast, it raises
NotImplementedError instead of silently computing in float32.

GradScaler is PyTorch's loss scaling, computed as PyTorch computes it: scale(loss) multiplies by
the scale, step() unscales the gradients, skips the step when one is inf/NaN, update() grows or
backs off the scale. Disabled (enabled=False, or device 'cuda' without a GPU) it passes through.
"""

from __future__ import annotations

import functools
import warnings
from collections import abc
from typing import Any, Callable

import numpy as np

from chainrule.backend import cuda_available, xp_of
from chainrule.dtypes import float16
from chainrule.tensor import Tensor

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]

# PyTorch's device types; chainrule's tensors live on two of them
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


def _check_device_type(device_type: Any) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    base = device_type.split(":")[0]
    if base not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of "
                           f"device string: {device_type}")
    return base


def is_autocast_available(device_type: str) -> bool:
    """False for every device: chainrule has no autocast (see autocast)."""
    _check_device_type(device_type)
    return False


class autocast:
    """torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None): a context
    manager and a decorator.

    enabled=False runs the block unchanged, as in PyTorch. So do the cases where PyTorch turns
    autocast off with a warning: device_type='cuda' when chainrule has no GPU, and on the CPU a
    dtype other than bfloat16/float16. An autocast for a device chainrule has no tensors on
    ('mps', 'xpu', ...) is on, as in PyTorch, and changes no chainrule tensor, as PyTorch's
    changes no tensor on another device. Real autocasting of chainrule's tensors (on the CPU,
    bfloat16 by default or float16; on a GPU) is not available: it raises NotImplementedError
    rather than compute in float32 while claiming autocast.
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        self.device = _check_device_type(device_type)
        self.fast_dtype = dtype
        self._cache_enabled = cache_enabled
        if enabled:
            enabled = self._stays_enabled(dtype)
        self._enabled = enabled
        self._prev: list[bool] = []
        if enabled and self.device in ("cpu", "cuda"):
            what = "bfloat16 (the CPU default)" if dtype is None else str(dtype)
            raise NotImplementedError(
                f"autocast('{self.device}', dtype={dtype}): chainrule cannot run ops in {what} "
                "under autocast (it has no bfloat16 and no per-op casting policy); remove the "
                "autocast block, or pass enabled=False to run in the tensors' own dtype")

    def _stays_enabled(self, dtype: Any) -> bool:
        """False where PyTorch itself would turn this autocast off (with its warnings)."""
        if self.device == "cpu":
            if dtype is None or _dtype_name(dtype) in ("bfloat16", "float16"):
                return True
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          "torch.float16 currently.", stacklevel=3)
            return False
        if self.device != "cuda" or cuda_available():
            return True
        warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                      stacklevel=3)
        return False

    def __enter__(self) -> autocast:
        self._prev.append(_enabled.get(self.device, False))
        _enabled[self.device] = bool(self._enabled)
        return self

    def __exit__(self, *exc: object) -> bool:
        _enabled[self.device] = self._prev.pop()
        return False

    def __call__(self, func: Callable) -> Callable:
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you "
                "mean to use autocast as a context manager? For example:\n"
                "    with torch.autocast(device_type=...):\n        output = model(input)")

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return run


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


_enabled: dict[str, bool] = {}  # device type -> inside an autocast that is on (never cpu, cuda)


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an autocast for device_type is on here (torch.is_autocast_enabled): never for
    'cpu' or 'cuda', the devices of chainrule's tensors, which it never autocasts."""
    return _enabled.get(_check_device_type(device_type), False)


def custom_fwd(fwd: Callable | None = None, *, device_type: str,
               cast_inputs: Any = None) -> Any:
    """For the forward of a custom autograd.Function: PyTorch casts its inputs to cast_inputs
    only while autocast is enabled, which in chainrule it never is; fwd runs as written."""
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str) -> Any:
    """For the backward of a custom autograd.Function: runs under the forward's autocast state,
    which in chainrule is always off; bwd runs as written."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd


class GradScaler:
    """Loss scaling, as torch.amp.GradScaler(device='cuda', init_scale=2.**16,
    growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True).

    scaler.scale(loss).backward(); scaler.step(opt); scaler.update(): the scale is a float32
    number; step unscales the gradients (multiplies by the float32 reciprocal of the scale) and
    skips opt.step() when any is inf/NaN; update multiplies the scale by backoff_factor after a
    skipped step, by growth_factor after growth_interval steps in a row without one.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if device == "cuda" and enabled and not cuda_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:  # PyTorch's checks raise AssertionError (explicitly, not by assert)
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale: np.float32 | None = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: int | None = None
            self._per_optimizer_states: dict[int, dict[str, Any]] = {}

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._per_optimizer_states.setdefault(id(optimizer),
                                                     {"stage": "ready", "found_inf": None})

    def _started(self, what: str) -> None:
        if self._scale is None:
            raise AssertionError(f"Attempted {what} but _scale is None.  This may indicate your "
                                 "script did not use scaler.scale(loss or outputs) earlier in "
                                 "the iteration.")

    def scale(self, outputs: Any) -> Any:
        """outputs (a Tensor, or an iterable of them) times the scale; unchanged if disabled."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        if isinstance(outputs, Tensor):
            scale = xp_of(outputs.array).asarray(self._scale)
            return outputs * Tensor._make(scale, None)
        if isinstance(outputs, abc.Iterable):
            scaled = map(self.scale, outputs)
            return type(outputs)(scaled) if isinstance(outputs, (list, tuple)) else scaled
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _unscale_grads(self, optimizer: Any, inv_scale: np.float32, allow_fp16: bool
                       ) -> bool | None:
        """Multiply every gradient of optimizer by inv_scale in place; whether one is inf/NaN
        (None when no parameter has a gradient: PyTorch then records no inf check)."""
        from chainrule.autograd import no_grad

        found_inf = None
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    a = g.array
                    if not allow_fp16 and a.dtype == float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    found_inf = bool(found_inf) or not bool(xp_of(a).isfinite(a).all())
                    if inv_scale != 1:
                        g.mul_(float(inv_scale))
        return found_inf

    def unscale_(self, optimizer: Any) -> None:
        """Divide optimizer's gradients by the scale now (to clip or inspect them before step);
        once per optimizer per update()."""
        if not self._enabled:
            return
        self._started("unscale_")
        state = self._state(optimizer)
        if state["stage"] == "unscaled":
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] == "stepped":
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))  # the reciprocal in float64
        state["found_inf"] = self._unscale_grads(optimizer, inv_scale, False)
        state["stage"] = "unscaled"

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """unscale_ (unless done), then optimizer.step(*args, **kwargs) unless a gradient is
        inf/NaN; returns what optimizer.step returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._started("step")
        state = self._state(optimizer)
        if state["stage"] == "stepped":
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == "ready":
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = "stepped"
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Set the scale for the next iteration (PyTorch's _amp_update_scale_), or to
        new_scale."""
        if not self._enabled:
            return
        self._started("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError("new_scale should be a float or a 1-element "
                                         "torch.cuda.FloatTensor or torch.FloatTensor with "
                                         "requires_grad=False.")
                new_scale = new_scale.item()
            self._scale = np.float32(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values()
                     if s["found_inf"] is not None]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            self._update_scale(any(found))
        self._per_optimizer_states = {}

    def _update_scale(self, found_inf: bool) -> None:
        """PyTorch's _amp_update_scale_: the float32 scale times a factor, computed in float64
        and rounded to float32."""
        if found_inf:
            self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
            self._growth_tracker = 0
            return
        successful = self._growth_tracker + 1
        if successful == self._growth_interval:
            with np.errstate(over="ignore"):  # an overflow to inf keeps the old scale
                grown = np.float32(np.float64(self._scale) * self._growth_factor)
            if np.isfinite(grown):
                self._scale = grown
            successful = 0
        self._growth_tracker = successful

    def get_scale(self) -> float:
        """The current scale as a float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when
        disabled), as PyTorch's."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale = np.float32(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker = state_dict["_growth_tracker"]


def device_amp(device: str) -> Any:
    """torch.cuda.amp / torch.cpu.amp: PyTorch's deprecated per-device autocast and GradScaler
    (a FutureWarning, then the same as torch.amp's with device_type=device)."""
    import sys
    import types

    class _DeviceAutocast(autocast):
        def __init__(self, enabled: bool = True, dtype: Any = None,
                     cache_enabled: bool = True) -> None:
            warnings.warn(f"`torch.{device}.amp.autocast(args...)` is deprecated. Please use "
                          f"`torch.amp.autocast('{device}', args...)` instead.", FutureWarning,
                          stacklevel=2)
            if dtype is None and device == "cuda":
                dtype = float16
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class _DeviceGradScaler(GradScaler):
        def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                     backoff_factor: float = 0.5, growth_interval: int = 2000,
                     enabled: bool = True) -> None:
            warnings.warn(f"`torch.{device}.amp.GradScaler(args...)` is deprecated. Please use "
                          f"`torch.amp.GradScaler('{device}', args...)` instead.",
                          FutureWarning, stacklevel=2)
            super().__init__(device, init_scale, growth_factor, backoff_factor,
                             growth_interval, enabled)

    name = f"chainrule.{device}.amp"
    mod = types.ModuleType(name, f"torch.{device}.amp: deprecated aliases of chainrule.amp.")
    _DeviceAutocast.__name__ = _DeviceAutocast.__qualname__ = "autocast"
    _DeviceGradScaler.__name__ = _DeviceGradScaler.__qualname__ = "GradScaler"
    _DeviceAutocast.__module__ = _DeviceGradScaler.__module__ = name
    mod.autocast, mod.GradScaler = _DeviceAutocast, _DeviceGradScaler
    mod.custom_fwd = functools.partial(custom_fwd, device_type=device)
    mod.custom_bwd = functools.partial(custom_bwd, device_type=device)
    sys.modules[name] = mod
    return mod
