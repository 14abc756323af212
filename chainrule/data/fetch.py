"""Fetchers: one batch of examples from a dataset, given what the sampler produced. The same code
runs in the main process (num_workers=0) and in each worker process."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.data.collate import default_collate
from chainrule.data.dataset import batch_getter
from chainrule.operands import as_tensor


class _MapDatasetFetcher:
    """Map-style: dataset[i] for each index of a batch (or dataset.__getitems__(batch)), then
    collate. With the default collate, a dataset that can index each field once per batch
    (TensorDataset, a Subset of one) does so instead: the same batch, far fewer Python calls."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any,
                 drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.fast = batch_getter(dataset) if (auto_collation
                                              and collate_fn is default_collate) else None
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast is not None:  # what default_collate makes of the examples, in one go
            return [as_tensor(a) for a in self.fast(np.asarray(index, dtype=np.int64))]
        if self.getitems is not None:
            data = self.getitems(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    """Iterable-style: the next example (or the next batch_size examples) of the stream; raises
    StopIteration when the stream ends (or, with drop_last, cannot fill a batch)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any,
                 drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(is_iterable: bool, dataset: Any, auto_collation: bool, collate_fn: Any,
                   drop_last: bool) -> Any:
    cls = _IterableDatasetFetcher if is_iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
