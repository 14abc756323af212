"""Utilities Keras code commonly imports: to_categorical, set_random_seed, clear_session,
PyDataset / Sequence, unpack_x_y_sample_weight, and the Progbar behind fit()'s progress display."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import numpy as np

from chainrule.keras._graph import clear_session
from chainrule.random import manual_seed

__all__ = ["Progbar", "PyDataset", "Sequence", "clear_session", "pack_x_y_sample_weight",
           "pad_sequences", "set_random_seed", "to_categorical", "unpack_x_y_sample_weight"]


class PyDataset:
    """Keras' PyDataset: batches by index. Subclass it, call super().__init__(**kwargs), and
    define __getitem__(index) -> a whole batch (x, y[, sample_weight]) and __len__ -> the number
    of batches; on_epoch_begin / on_epoch_end run around each pass. fit(dataset) reads it in
    order (shuffle=True shuffles the batch order). Batches are read in this process: workers and
    use_multiprocessing are accepted and ignored."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        self._workers, self._use_multiprocessing = workers, use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning one batch")

    @property
    def num_batches(self) -> int | None:
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of "
                                  "batches) or the num_batches property")

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""


Sequence = PyDataset  # keras.utils.Sequence is PyDataset in Keras 3


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """(x, y, sample_weight) from a batch x, (x,), (x, y) or (x, y, sample_weight)."""
    from chainrule.keras.models.steps import unpack_x_y_sample_weight as unpack

    return unpack(data)


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """The batch tuple Keras builds: x (a lone non-tuple x), (x,), (x, y) or (x, y, w)."""
    if y is None:
        return x if not isinstance(x, tuple) else (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels (any shape; a last axis of 1 is dropped) -> one-hot float64 rows
    (*shape, num_classes), as Keras returns them for NumPy input."""
    y = np.asarray(x)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    y = y.astype(np.int64)
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(f"to_categorical: labels must lie in [0, {n}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return np.eye(n, dtype=np.float64)[y]


def pad_sequences(sequences: Any, maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre",
                  value: float = 0.0) -> np.ndarray:
    """A list of sequences (lists of numbers, or of equal-shaped arrays) -> one array
    (n, maxlen, ...): shorter ones padded with `value`, longer ones cut, at the start ('pre',
    the default) or the end ('post'); maxlen defaults to the longest."""
    for what, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {what} must be 'pre' or 'post', got {v!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be iterable.")
    seqs = [np.asarray(s) for s in sequences]
    lengths = [len(s) for s in seqs]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    sample_shape = next((s.shape[1:] for s in seqs if len(s)), ())
    out = np.full((len(seqs), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not len(s) or maxlen == 0:
            continue
        cut = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if cut.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: shape of sample {cut.shape[1:]} of sequence at "
                             f"position {i} is different from expected shape "
                             f"{tuple(sample_shape)}")
        if padding == "post":
            out[i, :len(cut)] = cut
        else:
            out[i, -len(cut):] = cut
    return out


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
    try:
        v = float(v)
    except (TypeError, ValueError):  # a custom train_step may log anything
        return str(v)
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
