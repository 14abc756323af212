"""What fit / evaluate / predict accept as data, checked once and then cut into batches.

Arrays (NumPy, chainrule Tensors, nested lists), one per model input / output, given alone, as a
list, or as a dict by input / output name; or an iterable of batches (x, y[, sample_weight]),
such as a chainrule DataLoader or a generator.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np

from chainrule.errors import ShapeError
from chainrule.keras._graph import fmt_shape
from chainrule.random import generator_of
from chainrule.tensor import Tensor

Arrays = list  # list[np.ndarray]


def _array(a: Any) -> np.ndarray:
    if isinstance(a, Tensor):
        return a.detach().numpy()
    a = np.asarray(a)
    if a.dtype == object:
        raise TypeError("fit: could not turn the data into a numeric array (ragged lists?); "
                        "pass NumPy arrays")
    return a


def is_batch_iterable(x: Any) -> bool:
    """A DataLoader / generator of batches rather than arrays."""
    if x is None or isinstance(x, (np.ndarray, Tensor, list, tuple, dict)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def is_py_dataset(x: Any) -> bool:
    """A keras.utils.PyDataset / Sequence: batches by index (__getitem__, __len__), not an
    array (NumPy would try to read it as one, element by element, without end)."""
    if x is None or isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str)):
        return False
    from chainrule.keras.utils import PyDataset

    if isinstance(x, PyDataset):
        return True
    return (hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "__iter__")
            and not hasattr(x, "__array__"))


def to_arrays(data: Any, names: Sequence[str], what: str) -> Arrays | None:
    """data as one array per name (model inputs or outputs), in the order of names."""
    if data is None:
        return None
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        extra = [k for k in data if k not in names]
        if missing or extra:
            raise ValueError(f"{what}: the dict's keys {sorted(data)} must be the model's "
                             f"{what} names {list(names)}")
        return [_array(data[n]) for n in names]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise ValueError(f"the model has {len(names)} {what}s ({', '.join(names)}) but got "
                             f"a list of {len(data)} arrays")
        return [_array(a) for a in data]
    if isinstance(data, (list, tuple)) and len(data) == 1 and hasattr(data[0], "shape"):
        return [_array(data[0])]
    return [_array(data)]


def check_lengths(groups: dict[str, Arrays | None]) -> int:
    """The common number of samples; ValueError naming every count when they differ."""
    counts = {f"{k}[{i}]" if len(v) > 1 else k: (len(a) if a.ndim else 0)
              for k, v in groups.items() if v is not None for i, a in enumerate(v)}
    if len(set(counts.values())) > 1:
        raise ValueError("data cardinality is ambiguous: " + ", ".join(
            f"{k} has {n} samples" for k, n in counts.items())
            + "; make sure all arrays contain the same number of samples")
    n = next(iter(counts.values()), 0)
    if n == 0:
        raise ValueError("fit/evaluate/predict: got no samples (empty arrays)")
    return n


def check_input_shapes(model_name: str, names: Sequence[str], shapes: Sequence[tuple],
                       xs: Arrays) -> None:
    """Each input array against its Input's shape; the error says which and how to fix it."""
    for name, want, a in zip(names, shapes, xs):
        got = a.shape
        ok = len(got) == len(want) and all(w is None or w == g
                                           for w, g in zip(want[1:], got[1:]))
        if ok:
            continue
        hint = ""
        known = [d for d in want[1:] if d is not None]
        if None not in want[1:] and math.prod(got[1:]) == math.prod(known):
            new = ", ".join(str(d) for d in want[1:])
            hint = f"; reshape it: x.reshape(len(x), {new})"
        raise ShapeError(f"Model '{model_name}': input '{name}' expects data of shape "
                         f"{fmt_shape(want)}, got an array of shape {fmt_shape(got)}{hint}")


def class_weights(ys: Arrays, class_weight: dict) -> np.ndarray:
    """Per-sample weights class_weight[class of sample] (1.0 for classes not listed)."""
    if len(ys) != 1:
        raise ValueError("class_weight is only supported for models with one output")
    y = ys[0]
    if y.ndim == 2 and y.shape[1] > 1:
        labels = y.argmax(1)
    else:
        labels = y.reshape(len(y)).astype(np.int64)
    table = np.ones(int(labels.max()) + 1 if len(labels) else 1, dtype=np.float32)
    for k, v in class_weight.items():
        if 0 <= int(k) < len(table):
            table[int(k)] = v
    return table[labels]


def split(arrays: Arrays | None, at: int) -> tuple[Arrays | None, Arrays | None]:
    if arrays is None:
        return None, None
    return [a[:at] for a in arrays], [a[at:] for a in arrays]


class ArrayData:
    """Arrays (inputs, targets, sample weights) served as batches."""

    def __init__(self, xs: Arrays, ys: Arrays | None, sw: np.ndarray | None,
                 batch_size: int) -> None:
        self.xs, self.ys, self.sw = xs, ys, sw
        self.n = check_lengths({"x": xs, "y": ys, "sample_weight": None if sw is None else [sw]})
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)

    @property
    def steps(self) -> int:
        return -(-self.n // self.batch_size)

    def batches(self, shuffle: Any = False) -> Iterator[tuple]:
        """(xs, ys, sw) per batch; shuffle=True draws a permutation, 'batch' shuffles the
        order of contiguous batches."""
        bs, n = self.batch_size, self.n
        starts = np.arange(0, n, bs)
        if shuffle == "batch":
            starts = generator_of(None).permutation(starts)
        if shuffle is True:
            perm = generator_of(None).permutation(n)
            for s in starts:
                idx = perm[s:s + bs]
                yield self._take(idx)
            return
        for s in starts:
            yield self._take(slice(int(s), int(s) + bs))

    def epoch_end(self) -> None:
        """Called after each pass (PyDataset.on_epoch_end)."""

    def _take(self, idx: Any) -> tuple:
        xs = [a[idx] for a in self.xs]
        ys = None if self.ys is None else [a[idx] for a in self.ys]
        return xs, ys, None if self.sw is None else self.sw[idx]


class IterableData:
    """An iterable of batches: x, (x, y) or (x, y, sample_weight), each array or list."""

    def __init__(self, source: Any, input_names: Sequence[str], output_names: Sequence[str],
                 steps: int | None) -> None:
        self.source, self.in_names, self.out_names = source, input_names, output_names
        self._steps = steps
        self._it: Iterator | None = None

    @property
    def steps(self) -> int | None:
        if self._steps is not None:
            return self._steps
        try:
            return len(self.source)
        except TypeError:
            return None

    def batches(self, shuffle: Any = False) -> Iterator[tuple]:
        if self._it is None or self._steps is None:
            self._it = iter(self.source)  # a fresh pass, unless steps_per_epoch slices a stream
        for k, item in enumerate(self._it):
            yield self._unpack(item)
            if self._steps is not None and k + 1 >= self._steps:
                return
        self._it = None

    def epoch_end(self) -> None:
        """Called after each pass (PyDataset.on_epoch_end)."""

    def _unpack(self, item: Any) -> tuple:
        if isinstance(item, dict):
            raise TypeError("fit: a batch must be x, (x, y) or (x, y, sample_weight), got a "
                            f"dict with keys {sorted(item)}; give (x_dict, y) for named inputs")
        parts = list(item) if isinstance(item, (tuple, list)) else [item]  # as Keras unpacks
        if len(parts) > 3:
            raise ValueError(f"fit: a batch must be x, (x, y) or (x, y, sample_weight), got a "
                             f"{type(item).__name__} of {len(parts)} items")
        xs = to_arrays(parts[0], self.in_names, "input")
        ys = (to_arrays(parts[1], self.out_names, "output")
              if len(parts) > 1 and parts[1] is not None else None)
        sw = _array(parts[2]) if len(parts) > 2 and parts[2] is not None else None
        return xs, ys, sw


class PyDatasetData(IterableData):
    """A keras.utils.PyDataset (or any Sequence: __getitem__(i) -> batch, __len__) read batch
    by batch; shuffle=True shuffles the batch order, on_epoch_begin/end are called per pass."""

    def __init__(self, source: Any, input_names: Sequence[str], output_names: Sequence[str],
                 steps: int | None) -> None:
        super().__init__(source, input_names, output_names, steps)
        self._started = False

    @property
    def steps(self) -> int | None:
        if self._steps is not None:
            return self._steps
        n = getattr(self.source, "num_batches", None)
        return len(self.source) if n is None and hasattr(self.source, "__len__") else n

    def batches(self, shuffle: Any = False) -> Iterator[tuple]:
        n = self.steps
        if n is None:
            raise ValueError("fit: a PyDataset without a length needs steps_per_epoch")
        order = np.arange(len(self.source) if hasattr(self.source, "__len__") else n)
        if shuffle is True:
            order = generator_of(None).permutation(order)
        if hasattr(self.source, "on_epoch_begin"):
            self.source.on_epoch_begin()
        self._started = True
        for i in order[:n]:
            yield self._unpack(self.source[int(i)])

    def epoch_end(self) -> None:
        if self._started and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()
        self._started = False
