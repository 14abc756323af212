"""DataLoader: a dataset in batches, shuffled or in order, one pass (epoch) per iteration.

Batch, mini-batch and stochastic gradient descent are one switch, `batch_size`:

    batch_size=len(dataset)  batch gradient descent: one step per epoch on the exact gradient of
                             the cost; smooth and deterministic, but each step costs a full pass
                             and the noise that helps escape saddles and sharp minima is gone.
    batch_size=32..512       mini-batch SGD, the usual choice: many steps per epoch, gradients
                             noisy but cheap, and matrix products big enough to run at BLAS speed.
    batch_size=1             stochastic gradient descent: one example per step; the noisiest
                             gradients and the most steps, with Python overhead per example
                             dominating the time on a CPU.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterator

import numpy as np

from chainrule.data.dataset import batch_getter
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor


def _stack(items: list) -> Tensor:
    first = items[0]
    if isinstance(first, bool):
        arr = np.asarray(items, dtype=np.bool_)
    elif isinstance(first, numbers.Integral) and not isinstance(first, np.generic):
        arr = np.asarray(items, dtype=np.int64)
    elif isinstance(first, numbers.Real) and not isinstance(first, np.generic):
        arr = np.asarray(items, dtype=default_float())  # Python floats: the library's float32
    else:
        arrays = [t.array if isinstance(t, Tensor) else t for t in items]
        try:
            arr = np.stack(arrays)
        except ValueError:
            shapes = sorted({tuple(np.shape(a)) for a in arrays})
            raise ShapeError(f"default_collate: the examples of a field have different shapes "
                             f"{shapes}; make them equal (pad or crop) or pass a collate_fn "
                             "to the DataLoader") from None
    return as_tensor(arr)


def default_collate(batch: list) -> Any:
    """Stack a list of examples into a batch, one Tensor per field.

    An example is a Tensor, an array or a number (one field), a tuple or list of those (a
    Tensor per field, as a tuple), or a dict (a dict of Tensors). Arrays and Tensors keep their
    dtype; Python floats become float32, ints int64, bools bool; strings stay a list.
    """
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    first = batch[0]
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([ex[k] for ex in batch]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(ex) != len(first) for ex in batch):
            raise ValueError("default_collate: examples have different numbers of fields: "
                             f"{sorted({len(ex) for ex in batch})}")
        return tuple(default_collate(list(field)) for field in zip(*batch))
    if isinstance(first, (Tensor, np.ndarray, np.generic, numbers.Number)) or hasattr(
            first, "__array_namespace__"):
        return _stack(batch)
    raise TypeError(f"default_collate: cannot batch examples of type {type(first).__name__}; "
                    "pass a collate_fn to the DataLoader")


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` examples; each `for` loop is one epoch
    that visits every example exactly once (the last batch may be smaller unless drop_last).

    shuffle=True draws a fresh order every epoch from `generator` (a cr.Generator, as in
    PyTorch, or a numpy Generator), or from a generator made once from `seed` (reproducible runs
    whose epochs still differ), or else from the default generator (cr.manual_seed). collate_fn
    turns a list of examples into a batch (default_collate: a tuple with one Tensor per field,
    e.g. (x, y)).
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 generator: Any = None,
                 collate_fn: Callable[[list], Any] | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r} (use len(dataset) for full-batch descent)")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        generator_of(generator)  # a wrong kind of generator fails here, not at the first epoch
        self.generator = generator if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return generator_of(self.generator).permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        fetch = batch_getter(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            if fetch is not None:  # one indexing per field instead of one per example
                yield tuple(as_tensor(a) for a in fetch(idx))
            else:
                yield collate([self.dataset[int(i)] for i in idx])

    def __repr__(self) -> str:
        return (f"DataLoader(dataset of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
