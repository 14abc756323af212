"""PyTorch's run-time switches at top level: threads, determinism, matmul precision, denormals,
warnings, anomaly mode, typename, and torch.compile (chainrule.compiler).

Each name means what it means in PyTorch 2.x. Where chainrule cannot do what PyTorch does, the
name says so: a switch is stored and reported back only where chainrule's result is the same
whatever its value (chainrule's CPU ops are deterministic and compute float32 products in
float32), and otherwise it returns PyTorch's "unsupported" answer or raises.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from chainrule.modes import _Mode

# -- warnings ------------------------------------------------------------------------------------
_state: dict[str, Any] = {
    "warn_always": False, "warned": set(), "interop": None, "deterministic": False,
    "warn_only": False, "matmul_precision": "highest",
}


def _check_bool(value: Any, what: str) -> None:
    if not isinstance(value, bool):
        raise RuntimeError(f"{what} expects a bool, but got {type(value).__name__}")


def set_warn_always(b: bool, /) -> None:
    """Warnings that PyTorch gives once per process are given every time when b is True."""
    _check_bool(b, "setWarnOnlyOnce")
    _state["warn_always"] = b


def is_warn_always_enabled() -> bool:
    return _state["warn_always"]


def warn_once(key: str, message: str, stacklevel: int = 3) -> None:
    """warnings.warn(message) the first time `key` is met (every time under set_warn_always)."""
    if _state["warn_always"] or key not in _state["warned"]:
        _state["warned"].add(key)
        warnings.warn(message, stacklevel=stacklevel)


# -- threads -------------------------------------------------------------------------------------
# chainrule's intra-op threads are the BLAS threads of NumPy; threadpoolctl (the `threads` extra)
# sets them while the process runs. benchmarks/_common.py pins the same library through the
# environment variables below, read by the BLAS when NumPy loads it.
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _check_count(n: Any, who: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"{who} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{who} expects a positive integer")
    return n


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_pools() -> list[dict[str, Any]] | None:
    """threadpoolctl's description of the loaded BLAS libraries; None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [p for p in threadpool_info() if p.get("user_api") == "blas"]


def set_num_threads(n: int, /) -> None:
    """Use n threads inside ops (NumPy's BLAS: matmul, conv through im2col, linear layers).

    Needs threadpoolctl (`pip install "chainrule[threads]"`); without it, or when NumPy's BLAS
    is one threadpoolctl cannot drive, it warns once that the number has no effect (set
    OPENBLAS_NUM_THREADS / MKL_NUM_THREADS / OMP_NUM_THREADS before starting Python instead).
    """
    n = _check_count(n, "set_num_threads")
    pools = _blas_pools()
    if pools:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n, user_api="blas")
        return
    why = ("threadpoolctl is not installed (pip install \"chainrule[threads]\")" if pools is None
           else "threadpoolctl finds no BLAS library it can drive in this process")
    warn_once("set_num_threads",
              f"set_num_threads({n}) has no effect: {why}; set OPENBLAS_NUM_THREADS, "
              "MKL_NUM_THREADS or OMP_NUM_THREADS before Python starts instead")


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses inside ops (threadpoolctl's report when it is
    installed; else the environment variables the BLAS read at start-up, else the CPUs this
    process may use, as PyTorch's default)."""
    pools = _blas_pools()
    if pools:
        return int(pools[0]["num_threads"])
    for var in _BLAS_ENV:
        value = os.environ.get(var, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    return _cpus()


def set_num_interop_threads(n: int, /) -> None:
    """PyTorch's pool for running independent ops side by side. chainrule runs ops one after
    another, so the number is only recorded; as in PyTorch it can be set once."""
    n = _check_count(n, "set_num_interop_threads")
    if _state["interop"] is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    _state["interop"] = n


def get_num_interop_threads() -> int:
    return _state["interop"] or _cpus()


# -- determinism, precision, denormals -----------------------------------------------------------
def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms. chainrule's CPU ops always are, so the switch is
    recorded and reported (are_deterministic_algorithms_enabled) and changes no result."""
    for name, value in (("'mode' (position 1)", mode), ("'warn_only'", warn_only)):
        if not isinstance(value, bool):
            raise TypeError(f"_set_deterministic_algorithms(): argument {name} must be bool, "
                            f"not {type(value).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """0 / 'default': off; 1 / 'warn': on, warn only; 2 / 'error': on (PyTorch's)."""
    names = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in names:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, "
                               f"`warn`, `error`, but got {debug_mode}")
        debug_mode = names[debug_mode]
    elif not isinstance(debug_mode, int):  # a bool is an int here too, as in PyTorch
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(bool(debug_mode > 0), warn_only=bool(debug_mode == 1))


def get_deterministic_debug_mode() -> int:
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """'highest', 'high' or 'medium': how much precision float32 products may give up for speed
    (TF32 / bfloat16 on GPUs). chainrule computes them in float32 always, which every setting
    allows, so the value is only recorded and reported."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _state["matmul_precision"]


def set_flush_denormal(mode: bool) -> bool:
    """PyTorch flushes denormal floats to zero on x86 CPUs with SSE3 and returns True. NumPy
    offers no way to set the CPU's flush-to-zero flags, so chainrule does as PyTorch on a CPU
    without them: nothing changes and the answer is False."""
    _check_bool(mode, "flush_denormal")
    return False


def typename(obj: Any, /) -> str:
    """'chainrule.FloatTensor' for a float32 tensor (its .type()); 'SumBackward0' for a grad_fn;
    'module.QualName' for other objects; a builtin's bare name ('int')."""
    from chainrule.autograd import Function
    from chainrule.printing import grad_fn_name
    from chainrule.tensor import Tensor

    if isinstance(obj, Tensor):
        return obj.type()
    if isinstance(obj, Function):
        return grad_fn_name(obj)
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = type(obj).__module__ or ""
        qualname = type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


# -- anomaly mode (PyTorch's: torch.autograd.detect_anomaly) -------------------------------------
def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """PyTorch's anomaly mode on or off: while on, each op records where it was made, and (with
    check_nan) a backward whose output holds NaN raises RuntimeError("Function 'XBackward0'
    returned nan values in its 0th output."), after a warning naming where X was made."""
    _Mode.anomaly = ("nan" if check_nan else "trace") if enabled else False
    _Mode.anomaly_check_nan = bool(check_nan)


def is_anomaly_enabled() -> bool:
    """Whether an anomaly mode is on (PyTorch's, or chainrule's stricter cr.detect_anomaly)."""
    return _Mode.anomaly is not False


def is_anomaly_check_nan_enabled() -> bool:
    return _Mode.anomaly_check_nan


def _anomaly_state() -> tuple[bool | str, bool]:
    return _Mode.anomaly, _Mode.anomaly_check_nan


class detect_anomaly:
    """torch.autograd.detect_anomaly(check_nan=True): PyTorch's anomaly mode inside the block.

    NaN or Inf in a forward raises nothing (PyTorch's meaning; chainrule's own, stricter
    cr.detect_anomaly() raises at the op that first makes NaN/Inf, forward or backward).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = _anomaly_state()
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc: object) -> None:
        _Mode.anomaly, _Mode.anomaly_check_nan = self.prev


class set_detect_anomaly:
    """torch.autograd.set_detect_anomaly(mode, check_nan=True): switch PyTorch's anomaly mode
    now; used as a context manager, the previous state comes back at the end of the block."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = _anomaly_state()
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _Mode.anomaly, _Mode.anomaly_check_nan = self.prev
