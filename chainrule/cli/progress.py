"""A one-line progress bar per epoch on a terminal; one plain line per epoch elsewhere.

Written here rather than taken from tqdm: the main job then needs no extra package, and the
non-terminal output (logs, CI, pipes) is exactly one readable line per epoch.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

BAR = 24


def fmt_metrics(row: dict[str, Any], keys: list[str]) -> str:
    parts = []
    for k in keys:
        v = row.get(k)
        if v is None:
            continue
        if "accuracy" in k:
            parts.append(f"{k} {v:.2%}")
        elif k == "lr":  # 1e-05 and 1e+30 stay readable where .4f would print 0.0000 or 31 digits
            parts.append(f"lr {v:.4g}")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


class Progress:
    """progress.start(epoch); progress.step(done, loss, acc) per batch; progress.end(row)."""

    def __init__(self, epochs: int, steps: int, quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.epochs, self.steps, self.quiet = epochs, steps, quiet
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = len(str(epochs))
        self._last_draw = 0.0

    def start(self, epoch: int) -> None:
        self.epoch = epoch
        self._t0 = time.perf_counter()

    def step(self, done: int, loss: float, acc: float | None) -> None:
        """Redraw the bar at most 10 times a second, on a terminal only."""
        if self.quiet or not self.tty:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and done < self.steps:
            return
        self._last_draw = now
        filled = BAR * done // max(self.steps, 1)
        bar = "#" * filled + "." * (BAR - filled)
        tail = f"loss {loss:.4f}" + (f"  accuracy {acc:.2%}" if acc is not None else "")
        self._write(f"\r{self._head()} [{bar}] {done}/{self.steps}  {tail}\x1b[K")

    def end(self, row: dict[str, Any], keys: list[str]) -> None:
        """The epoch's summary line (replacing the bar on a terminal)."""
        if self.quiet:
            return
        secs = time.perf_counter() - self._t0
        line = f"{self._head()}  {fmt_metrics(row, keys)}  ({secs:.2f}s)"
        self._write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")

    def abort(self) -> None:
        """End a half-drawn bar's line, so that an error printed next starts on its own."""
        if not self.quiet and self.tty:
            self._write("\x1b[K\n")

    def message(self, text: str) -> None:
        if not self.quiet:
            self._write(text + "\n")

    def _head(self) -> str:
        return f"epoch {self.epoch:>{self.width}}/{self.epochs}"

    def _write(self, s: str) -> None:
        self.stream.write(s)
        self.stream.flush()
