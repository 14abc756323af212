"""Utilities Keras code commonly imports: to_categorical, set_random_seed, clear_session, and the
Progbar behind fit()'s progress display."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import numpy as np

from chainrule.keras._graph import clear_session
from chainrule.random import manual_seed

__all__ = ["Progbar", "clear_session", "set_random_seed", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels (any shape) -> one-hot float32 rows (*shape, num_classes)."""
    y = np.asarray(x)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    y = y.astype(np.int64)
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(f"to_categorical: labels must lie in [0, {n}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return np.eye(n, dtype=np.float32)[y]


def set_random_seed(seed: int) -> None:
    """Seed chainrule's generator (weights' initialisation, dropout, shuffling) and NumPy's
    global one, as keras.utils.set_random_seed seeds every generator it knows."""
    manual_seed(seed)
    np.random.seed(seed)


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _per_step(seconds: float, unit: str) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _fmt_value(v: Any) -> str:
    v = float(v)
    return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.4e}"


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progbar:
    """A Keras-style progress line: '  120/250 ━━━━━━━━━──────────── 1s 5ms/step - loss: 0.3'.

    On a terminal it is redrawn in place (at most every `interval` seconds); elsewhere (logs,
    CI) nothing is printed until the end, which writes one line. `values` are shown as given
    (fit passes running means)."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, unit_name: str = "step", prefix: str = "",
                 stream: TextIO | None = None) -> None:
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit, self.prefix = interval, unit_name, prefix
        self.stream = stream if stream is not None else sys.stdout
        self.dynamic = verbose == 1 and is_terminal(self.stream)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width_drawn = 0

    def update(self, current: int, values: dict[str, Any] | None = None,
               finalize: bool | None = None) -> None:
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        line = self._line(current, values or {}, now - self.start, finalize)
        if self.dynamic:
            pad = max(self._width_drawn - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._width_drawn = len(line)
        elif finalize and self.verbose:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _line(self, current: int, values: dict[str, Any], elapsed: float,
              final: bool) -> str:
        total = self.target
        count = f"{current}/{total}" if total else f"{current}"
        if total:
            count = count.rjust(2 * len(str(total)) + 1)
        per = elapsed / max(current, 1)
        if self.dynamic:
            done = int(self.width * current / total) if total else 0
            bar = "━" * done + "─" * (self.width - done) if total else ""
            timing = f"{_fmt_time(elapsed)} {_per_step(per, self.unit)}"
            parts = [f"{count} {bar} {timing}".replace("  ", " ")]
        else:
            parts = [count, _fmt_time(elapsed), _per_step(per, self.unit)]
        parts += [f"{k}: {_fmt_value(v)}" for k, v in values.items()]
        return self.prefix + " - ".join(parts)
