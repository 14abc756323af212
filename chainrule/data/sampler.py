"""Samplers: the order in which a DataLoader visits a map-style dataset, as in torch.utils.data.

A sampler is an iterable of indices (or, for a batch sampler, of lists of indices) that may also
have a length. The DataLoader builds SequentialSampler (shuffle=False) or RandomSampler
(shuffle=True) and wraps it in a BatchSampler; pass your own with `sampler=` or `batch_sampler=`.

    loader = DataLoader(ds, batch_size=32, sampler=WeightedRandomSampler(w, num_samples=len(w)))

Random samplers draw from `generator` (a cr.Generator, or a NumPy Generator), or from the default
generator (cr.manual_seed) when it is None. The numbers differ from PyTorch's for the same seed
(another RNG); what matches is each sampler's documented behaviour.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any, Iterable, Iterator, Sized

import numpy as np

from chainrule.operands import as_tensor
from chainrule.random import generator_of


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class Sampler:
    """Base of all samplers: override __iter__ (indices, or lists of indices for a batch
    sampler) and, where it is known, __len__."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} does not define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, the same order every epoch."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def _epoch_array(self) -> np.ndarray:
        return np.arange(len(self.data_source))


class RandomSampler(Sampler):
    """A fresh random order every epoch: a permutation of range(len(data_source)), or, with
    `replacement=True`, `num_samples` independent uniform draws (num_samples defaults to
    len(data_source); without replacement a larger num_samples chains permutations)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_array(self) -> np.ndarray:
        n, k = len(self.data_source), int(self.num_samples)
        rng = generator_of(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        perms = [rng.permutation(n) for _ in range(k // n)]
        perms.append(rng.permutation(n)[:k % n])
        return np.concatenate(perms)

    def __iter__(self) -> Iterator[int]:
        # a generator, so that the draw happens at the first next() as in PyTorch
        yield from self._epoch_array().tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a fresh random order every epoch (without replacement)."""

    def __init__(self, indices: Any, generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        for i in generator_of(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices into range(len(weights)), index i drawn with probability
    weights[i] / sum(weights) (weights need not sum to 1). With replacement=False an index
    is drawn at most once per epoch (successive draws among the indices left)."""

    def __init__(self, weights: Any, num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.array if hasattr(weights, "array") else weights, np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights = as_tensor(w)  # a float64 tensor, as PyTorch keeps it
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _epoch_array(self) -> np.ndarray:
        w, k = self.weights.array, self.num_samples
        # torch.multinomial's checks and messages; raised when the epoch starts, as there
        if np.isnan(w).any() or (w < 0).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        if np.isinf(w).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry = infinity or NaN)")
        if w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        rng = generator_of(self.generator)
        if self.replacement:
            return rng.choice(w.size, size=k, replace=True, p=w / w.sum()).astype(np.int64)
        if k > w.size:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement (num_samples={k}, {w.size} weights)")
        # The exponential race: i wins with probability w_i / (sum of the weights left), so the
        # top k of w / Exp(1) are k successive draws without replacement (zero weights last)
        keys = w / rng.exponential(size=w.size)
        return np.argsort(-keys, kind="stable")[:k].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        yield from self._epoch_array().tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` (any iterable of indices) into lists of `batch_size`;
    the last, shorter list is dropped when drop_last."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size} (use batch_size=len(dataset) for "
                             "full-batch descent)")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while batch := list(itertools.islice(it, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _array_batches(self) -> Iterator[np.ndarray] | None:
        """The batches as slices of one index array, when the inner sampler is one of ours (the
        DataLoader's fast path); else None."""
        if type(self) is not BatchSampler or type(self.sampler) not in _OURS:
            return None  # a subclass may change __iter__: honour it
        return _slices(self.sampler._epoch_array, self.batch_size, self.drop_last)


def _slices(epoch: Any, b: int, drop_last: bool) -> Iterator[np.ndarray]:
    order = epoch()
    stop = len(order) - len(order) % b if drop_last else len(order)
    for start in range(0, stop, b):
        yield order[start:start + b]


_OURS = (SequentialSampler, RandomSampler, WeightedRandomSampler)
