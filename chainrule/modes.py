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
    anomaly = False


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


class set_grad_enabled(_ModeSwitch):
    """Turn recording of the graph on or off inside a block: `with set_grad_enabled(False): ...`."""

    attr = "grad_enabled"


class no_grad(set_grad_enabled):
    """Ops inside do not record a graph (evaluation, optimizer updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a no_grad block."""

    def __init__(self) -> None:
        super().__init__(True)


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
