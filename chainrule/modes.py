"""Grad mode and anomaly mode: the only global mutable state, switched by context managers."""

from __future__ import annotations

import contextlib
import os
import traceback
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _Mode:
    """The only global mutable state: grad mode and anomaly mode, switched by context managers."""

    grad_enabled = True
    # False; True: chainrule's detect_anomaly (NaN/Inf born in a forward or a backward raises);
    # "nan" / "trace": PyTorch's anomaly mode (a backward output with NaN raises / only where
    # each op was made is recorded), set by chainrule.runtime.set_anomaly_enabled
    anomaly: bool | str = False
    anomaly_check_nan = True
    inference = 0


def is_grad_enabled() -> bool:
    return _Mode.grad_enabled


class _ModeSwitch(contextlib.ContextDecorator):
    """Base of the mode context managers; usable as `with m():`, `@m()` and bare `@m`."""

    attr = ""

    def __new__(cls, *args: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])  # bare decorator: @no_grad
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(getattr(_Mode, self.attr))
        setattr(_Mode, self.attr, self.mode)

    def __exit__(self, *exc: Any) -> None:
        setattr(_Mode, self.attr, self._saved.pop())


class _GradSwitch(_ModeSwitch):
    attr = "grad_enabled"


class set_grad_enabled(_GradSwitch):
    """Turn recording of the graph on or off: inside a block (`with set_grad_enabled(False):`),
    or from now on when simply called, `set_grad_enabled(False)`, as in PyTorch."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._prev = _Mode.grad_enabled
        _Mode.grad_enabled = self.mode

    def __enter__(self) -> None:
        self._saved.append(self._prev)
        _Mode.grad_enabled = self.mode

    def __call__(self, fn: Any) -> Any:
        _Mode.grad_enabled = self._prev  # used as a decorator: it switches only inside fn
        return super().__call__(fn)


class no_grad(_GradSwitch):
    """Ops inside do not record a graph (evaluation, optimizer updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradSwitch):
    """Record the graph again inside a no_grad block."""

    def __init__(self) -> None:
        super().__init__(True)


class inference_mode(_GradSwitch):
    """No graph is recorded inside (PyTorch's faster no_grad for inference; here the same as
    no_grad). inference_mode(False) does nothing."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(False)
        self.active = bool(mode)

    def __enter__(self) -> None:
        self._saved.append(_Mode.grad_enabled)
        if self.active:
            _Mode.grad_enabled = False
            _Mode.inference += 1

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            _Mode.inference -= 1
        _Mode.grad_enabled = self._saved.pop()


def is_inference_mode_enabled() -> bool:
    return _Mode.inference > 0


class detect_anomaly(_ModeSwitch):
    """The first op whose forward or backward makes NaN/Inf raises FloatingPointError naming the op,
    which output or input, and the file:line of user code that created the op."""

    attr = "anomaly"


def _user_frame() -> str:
    """file:line of the innermost frame outside the chainrule package: where the op was made."""
    for fr in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(fr.filename).startswith(_PACKAGE_DIR):
            return f"{fr.filename}:{fr.lineno} ({fr.line})"
    return "<unknown>"
