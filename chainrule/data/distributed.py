"""DistributedSampler: each of `num_replicas` processes reads its own share of a dataset, as in
torch.utils.data.distributed.

    sampler = DistributedSampler(ds)    # num_replicas and rank from the process group
                                        # (dist.init_process_group), or pass them
    loader = DataLoader(ds, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)        # a new shuffle each epoch, the same on every rank
        for xb, yb in loader: ...
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from chainrule.data.sampler import Sampler


class DistributedSampler(Sampler):
    """Rank `rank`'s indices: the epoch's order (a permutation seeded by seed + epoch when
    shuffle, else 0..n-1), padded by repeating its start to a multiple of num_replicas (or, with
    drop_last, cut down to one), then every num_replicas-th index from position rank."""

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            # from the process group, as PyTorch (its ValueError when there is none)
            from chainrule import distributed as dist

            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            indices += (indices * math.ceil(pad / len(indices)))[:pad] if pad else []
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that, with seed, makes this epoch's shuffle (call it before each
        epoch; otherwise every epoch repeats the same order)."""
        self.epoch = epoch
