"""DataLoader: a dataset in batches, shuffled or in order, one pass (epoch) per iteration, as
torch.utils.data.DataLoader, loading in worker processes when num_workers > 0.

Batch, mini-batch and stochastic gradient descent are one switch, `batch_size`:

    batch_size=len(dataset)  batch gradient descent: one step per epoch on the exact gradient of
                             the cost; smooth and deterministic, but each step costs a full pass
                             and the noise that helps escape saddles and sharp minima is gone.
    batch_size=32..512       mini-batch SGD, the usual choice: many steps per epoch, gradients
                             noisy but cheap, and matrix products big enough to run at BLAS speed.
    batch_size=1             stochastic gradient descent: one example per step; the noisiest
                             gradients and the most steps, with Python overhead per example
                             dominating the time on a CPU.

Workers pay off when __getitem__ does real work (decoding, augmenting): each worker is a process
with its own copy of the dataset. For a TensorDataset in memory, num_workers=0 is fastest: the
loader then indexes each field once per batch instead of once per example.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import IterableDataset
from chainrule.data.fetch import create_fetcher
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from chainrule.data.worker import get_worker_info
from chainrule.random import generator_of

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


class _InfiniteConstantSampler(Sampler):
    """None forever: the 'indices' of an IterableDataset, which ends by itself."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _check_arguments(dataset: Any, num_workers: int, timeout: float, prefetch_factor: Any,
                     persistent_workers: bool, shuffle: Any, sampler: Any,
                     batch_sampler: Any) -> None:
    """PyTorch's checks, in PyTorch's order and words."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if isinstance(dataset, IterableDataset):
        # the stream decides the order: a sampler has nothing to choose from
        for name, value in (("shuffle", shuffle), ("sampler", sampler),
                            ("batch_sampler", batch_sampler)):
            if value not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"{name} option, but got {name}={value}")


class DataLoader:
    """Iterate over `dataset` in batches; each `for` loop is one epoch.

    Map-style datasets are visited in the order of `sampler` (SequentialSampler, or
    RandomSampler when shuffle=True: a fresh order each epoch), grouped by `batch_sampler`
    (BatchSampler(sampler, batch_size, drop_last)); batch_size=None turns batching off.
    collate_fn turns a list of examples into a batch (default_collate: a list with one Tensor
    per field, e.g. [xb, yb]). An IterableDataset is read as the stream it yields.

    Random draws come from `generator` (a cr.Generator, or a NumPy Generator), or from the
    default generator (cr.manual_seed); chainrule's keyword `seed=` makes a generator for this
    loader (reproducible runs whose epochs still differ).

    num_workers > 0 loads batches in that many worker processes (see
    chainrule.data.multiprocess), each seeded with base_seed + worker id, calling
    worker_init_fn(worker_id) first; the batches and their order are those of num_workers=0.
    pin_memory is accepted and does nothing (there is no pinned memory on the CPU).
    """

    _initialized = False

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True,
                 seed: int | None = None) -> None:
        _check_arguments(dataset, num_workers, timeout, prefetch_factor, persistent_workers,
                         shuffle, sampler, batch_sampler)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        generator_of(generator)  # a wrong kind of generator fails here, not at the first epoch
        generator = generator if seed is None else np.random.default_rng(seed)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self._is_iterable = isinstance(dataset, IterableDataset)
        if not self._is_iterable:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self) -> Any:
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Any) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, attr: str, val: Any) -> None:
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler",
                                          "drop_last", "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        from chainrule.data.multiprocess import _MultiProcessingDataLoaderIter

        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        """Batches per epoch (for an IterableDataset: from len(dataset), which it must have)."""
        if not self._is_iterable:
            return len(self._index_sampler)
        n = self._IterableDataset_len_called = len(self.dataset)
        if self.batch_size is not None:
            n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return n

    def check_worker_number_rationality(self) -> None:
        """Warn when num_workers exceeds the CPUs this process may use."""
        if not self.num_workers:
            return
        cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count())
        if cpus is None or self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get "
                          "DataLoader running slow or even freeze, lower the worker number to "
                          "avoid potential slowness/freeze if necessary.", stacklevel=3)

    def __repr__(self) -> str:
        n = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader(dataset of {n}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, num_workers={self.num_workers}, "
                f"drop_last={self.drop_last})")


class _BaseDataLoaderIter:
    """One epoch's iterator: what both kinds share (the sampler walk, the base seed, length)."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._sampler_iter = iter(self._index_sampler)
        # drawn every epoch, workers or not, so the generator moves on as in PyTorch and the
        # next epoch's shuffle is the same with and without workers
        self._base_seed = int(generator_of(loader.generator).integers(2 ** 63))
        self._num_yielded = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self) -> Any:
        return next(self._sampler_iter)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        n = self._IterableDataset_len_called
        if self._is_iterable and n is not None and self._num_yielded > n:
            msg = (f"Length of IterableDataset {self._dataset} was reported to be {n} (when "
                   f"accessing len(dataloader)), but {self._num_yielded} samples have been "
                   "fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker (see "
                        "get_worker_info).")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """num_workers=0: batches fetched in this process as they are asked for."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            # PyTorch's assertion: a timeout bounds the wait for a worker, and there is none
            raise AssertionError(f"_SingleProcessDataLoaderIter requires timeout == 0: "
                                 f"timeout={self._timeout} needs num_workers > 0")
        self._fetcher = create_fetcher(self._is_iterable, self._dataset, self._auto_collation,
                                       self._collate_fn, self._drop_last)
        if getattr(self._fetcher, "fast", None) is not None:
            # the batches as slices of one index array: no Python list per batch
            batches = getattr(self._index_sampler, "_array_batches", lambda: None)()
            if batches is not None:
                self._sampler_iter = batches

    def _next_data(self) -> Any:
        return self._fetcher.fetch(self._next_index())
