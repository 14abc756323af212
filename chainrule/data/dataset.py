"""Datasets: the map-style Dataset protocol, TensorDataset, Subset, ConcatDataset, StackDataset,
random_split, and the iterable-style IterableDataset and ChainDataset, as in torch.utils.data.

A dataset is anything with __len__ and __getitem__(i) returning one example (usually a tuple of
fields: (x, y)). A dataset may also offer `_get_batch(indices)`, returning the whole batch at once
as one array per field; the DataLoader uses it (with the default collate) to index each field
once per batch instead of gathering examples one by one. TensorDataset offers it, and a Subset
of such a dataset passes it on (see batch_getter).
"""

from __future__ import annotations

import bisect
import collections.abc as abc
import itertools
import math
import warnings
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from chainrule.backend import on_device_of
from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor


class Dataset:
    """Base of map-style datasets: override __getitem__(index) -> example and __len__ (samplers
    and len(loader) need it), and optionally __getitems__(indices) -> list of examples."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _array(t: Any) -> Any:
    if isinstance(t, Tensor):
        return t.array
    return t if hasattr(t, "__array_namespace__") or isinstance(t, np.ndarray) else np.asarray(t)


class _SizeMismatch(ShapeError, AssertionError):
    """PyTorch raises AssertionError here; chainrule's shape errors are ShapeErrors."""


class TensorDataset(Dataset):
    """Examples are rows of the given tensors (or arrays), which share their first dimension:
    TensorDataset(X, y)[i] == (X[i], y[i]) as Tensors."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = tuple(_array(t) for t in tensors)
        for a in arrays:
            if a.ndim == 0 or a.shape[0] != arrays[0].shape[0]:
                raise _SizeMismatch(
                    "Size mismatch between tensors: TensorDataset needs every tensor to have "
                    "the same first dimension (one row per example), got shapes "
                    f"{[tuple(a.shape) for a in arrays]}")
        self.arrays = arrays
        self.tensors = tuple(as_tensor(a) for a in arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(as_tensor(a[index]) for a in self.arrays)

    def _get_batch(self, indices: Any) -> tuple[Any, ...]:
        # the sampler's host index array goes to each tensor's device once (CuPy refuses a
        # NumPy index into a device array)
        return tuple(a[on_device_of(indices, a)] for a in self.arrays)


class Subset(Dataset):
    """The examples of `dataset` at `indices` (kept as given, as PyTorch keeps them), in that
    order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        idx = np.asarray(indices)
        if idx.size and idx.dtype.kind in "iu" and hasattr(dataset, "__len__"):
            n = len(dataset)
            if idx.min() < -n or idx.max() >= n:
                raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} "
                                 f"examples, got {int(idx.min())}..{int(idx.max())}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        """The examples at these positions (the DataLoader fetches a batch through this)."""
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]


def batch_getter(dataset: Any) -> Callable[[Any], tuple] | None:
    """The dataset's way to fetch a whole batch of examples at once (an array of indices in,
    one array per field out), or None when it has none."""
    if type(dataset) is Subset:  # a subclass may change __getitem__
        inner = batch_getter(dataset.dataset)
        idx = np.asarray(dataset.indices)
        if inner is None or idx.dtype.kind not in "iu":
            return None
        return lambda i: inner(idx[i])
    return getattr(dataset, "_get_batch", None)


class _InvalidDatasets(AssertionError, ValueError):
    """PyTorch raises AssertionError for these; a bad argument, so also a ValueError."""


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other; `cumulative_sizes[k]` is the number of
    examples in datasets[0..k]."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise _InvalidDatasets("datasets should not be an empty iterable (ConcatDataset "
                                   "needs at least one dataset)")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise _InvalidDatasets("ConcatDataset does not support IterableDataset; chain "
                                       "iterable datasets with ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    @staticmethod
    def cumsum(sequence: Iterable[Any]) -> list[int]:
        return list(itertools.accumulate(len(d) for d in sequence))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError("absolute value of index should not exceed dataset length "
                                 f"(index {idx}, {n} examples)")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for {n} examples")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - self.cumulative_sizes[k - 1] if k else idx]


class IterableDataset(Dataset, abc.Iterable):
    """Base of iterable-style datasets (streams): override __iter__ to yield examples. With
    num_workers > 0 every worker iterates its own copy; use get_worker_info() in __iter__ (or
    in worker_init_fn) to give each worker its own share, or items repeat."""

    def __add__(self, other: Any) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several IterableDatasets one after the other, chained as they are iterated."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def _checked(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _InvalidDatasets("ChainDataset only supports IterableDataset (got "
                                       f"{type(d).__name__}); use ConcatDataset for "
                                       "map-style datasets")
            yield d

    def __iter__(self) -> Iterator[Any]:
        for d in self._checked():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._checked())


class StackDataset(Dataset):
    """Several datasets of one length side by side: StackDataset(a, b)[i] == (a[i], b[i]), and
    StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or ``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        self.datasets: tuple | dict = args or kwargs
        parts = list(args or kwargs.values())
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("Size mismatch between datasets: lengths "
                             f"{[len(d) for d in parts]}")

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """PyTorch's rule: lengths summing to 1 (within rounding) are fractions, each floored, and
    the remainder handed out one by one from the first part on; otherwise they are counts."""
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        for i, f in enumerate(lengths):
            if f < 0 or f > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=3)
        return sizes
    if total != n or any(v < 0 for v in lengths):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset! "
                         f"random_split: lengths {list(lengths)} sum to {total}; give counts "
                         f">= 0 that sum to {n} or fractions that sum to 1")
    return [int(v) for v in lengths]


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split a dataset into disjoint random Subsets of the given lengths (counts summing to
    len(dataset), or fractions summing to 1). `generator` (a cr.Generator or a NumPy
    Generator) or chainrule's `seed=` makes the split reproducible; without them the default
    generator (cr.manual_seed) is used."""
    if seed is not None and generator is not None:
        raise ValueError("random_split: give seed or generator, not both")
    rng = np.random.default_rng(seed) if seed is not None else generator_of(generator)
    sizes = _split_lengths(lengths, len(dataset))
    perm = rng.permutation(sum(sizes)).tolist()
    bounds = list(itertools.accumulate(sizes))
    return [Subset(dataset, perm[end - size:end]) for end, size in zip(bounds, sizes)]
