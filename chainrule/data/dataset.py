"""Datasets: the map-style Dataset protocol, TensorDataset, Subset, ConcatDataset, random_split.

A dataset is anything with __len__ and __getitem__(i) returning one example (usually a tuple of
fields: (x, y)). A dataset may also offer `_get_batch(indices)`, returning the whole batch at once
as one array per field; the DataLoader uses it (with the default collate) to index each field
once per batch instead of gathering examples one by one. TensorDataset offers it, and a Subset
of such a dataset passes it on (see batch_getter).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor


class Dataset:
    """Base of map-style datasets: override __len__ and __getitem__(index) -> example."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _array(t: Any) -> Any:
    if isinstance(t, Tensor):
        return t.array
    return t if hasattr(t, "__array_namespace__") or isinstance(t, np.ndarray) else np.asarray(t)


class TensorDataset(Dataset):
    """Examples are rows of the given tensors (or arrays), which share their first dimension:
    TensorDataset(X, y)[i] == (X[i], y[i]) as Tensors."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = tuple(_array(t) for t in tensors)
        for a in arrays:
            if a.ndim == 0 or a.shape[0] != arrays[0].shape[0]:
                raise ShapeError(
                    "TensorDataset: every tensor needs the same first dimension (one row per "
                    f"example), got shapes {[tuple(a.shape) for a in arrays]}"
                )
        self.arrays = arrays
        self.tensors = tuple(as_tensor(a) for a in arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(as_tensor(a[index]) for a in self.arrays)

    def _get_batch(self, indices: Any) -> tuple[Any, ...]:
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} "
                             f"examples, got {int(self.indices.min())}..{int(self.indices.max())}")

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def batch_getter(dataset: Any) -> Callable[[Any], tuple] | None:
    """The dataset's way to fetch a whole batch of examples at once (an array of indices in,
    one array per field out), or None when it has none."""
    if isinstance(dataset, Subset):
        inner = batch_getter(dataset.dataset)
        return None if inner is None else (lambda idx: inner(dataset.indices[idx]))
    return getattr(dataset, "_get_batch", None)


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one dataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} examples")
        index %= n
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Integer lengths summing to n; fractions summing to 1 are floored, then the remainder is
    handed out one by one from the first part on (PyTorch's rule)."""
    if all(isinstance(v, (int, np.integer)) for v in lengths):
        if sum(lengths) != n or any(v < 0 for v in lengths):
            raise ValueError(f"random_split: lengths {list(lengths)} must be >= 0 and sum to the "
                             f"dataset's length {n} (or give fractions that sum to 1)")
        return [int(v) for v in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6) or any(v < 0 for v in lengths):
        raise ValueError(f"random_split: fractions {list(lengths)} must be >= 0 and sum to 1")
    sizes = [int(math.floor(n * f)) for f in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset: Any, lengths: Sequence[float], seed: int | None = None,
                 generator: Any = None) -> list[Subset]:
    """Split a dataset into disjoint random Subsets of the given lengths (ints summing to
    len(dataset), or fractions summing to 1). `seed` or `generator` (a cr.Generator or a numpy
    Generator) makes the split reproducible; without them the default generator
    (cr.manual_seed) is used."""
    if seed is not None and generator is not None:
        raise ValueError("random_split: give seed or generator, not both")
    rng = np.random.default_rng(seed) if seed is not None else generator_of(generator)
    sizes = _split_lengths(lengths, len(dataset))
    perm = rng.permutation(len(dataset))
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
