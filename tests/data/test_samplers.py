"""Samplers as PyTorch defines them: each index once per epoch, weights honoured, batches and
drop_last, lengths and errors; compared with torch where the result does not depend on the RNG
(SequentialSampler, BatchSampler, DistributedSampler without shuffle, errors)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)


def _torch_data():
    return pytest.importorskip("torch").utils.data


def _error(f, *args):
    try:
        f(*args)
    except Exception as e:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(e), str(e)
    return None


def _same_error(ours, theirs, *args, **kwargs) -> None:
    """ours(*args, **kwargs) raises what theirs(...) raises, and our message starts with
    PyTorch's."""
    (t1, m1) = _error(lambda: ours(*args, **kwargs))
    (t2, m2) = _error(lambda: theirs(*args, **kwargs))
    assert issubclass(t1, t2), (t1, t2, m1, m2)
    assert m1.startswith(m2.split(" (")[0]), (m1, m2)


def test_sequential_and_batch_samplers_match_torch() -> None:
    td = _torch_data()
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False), (0, 2, False)]:
        ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
        theirs = td.BatchSampler(td.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    # any iterable of indices is a sampler
    assert list(BatchSampler([5, 3, 1, 2], 3, False)) == [[5, 3, 1], [2]]


def test_random_sampler_is_a_fresh_permutation_each_epoch() -> None:
    s = RandomSampler(range(50), generator=cr.Generator().manual_seed(0))
    a, b = list(s), list(s)
    assert sorted(a) == sorted(b) == list(range(50)) and a != b and len(s) == 50
    assert all(isinstance(i, int) for i in a)
    g1, g2 = cr.Generator().manual_seed(7), cr.Generator().manual_seed(7)
    assert list(RandomSampler(range(20), generator=g1)) == list(RandomSampler(range(20),
                                                                              generator=g2))
    cr.manual_seed(3)
    d1 = list(RandomSampler(range(20)))
    cr.manual_seed(3)
    assert list(RandomSampler(range(20))) == d1  # the default generator


def test_random_sampler_num_samples_and_replacement() -> None:
    g = np.random.default_rng(0)
    long = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]  # chained perms
    assert len(set(long[8:])) == 2
    short = list(RandomSampler(range(10), num_samples=3, generator=g))
    assert len(short) == 3 and len(set(short)) == 3
    draws = list(RandomSampler(range(5), replacement=True, num_samples=5000, generator=g))
    counts = Counter(draws)
    assert set(counts) == set(range(5)) and all(800 < c < 1200 for c in counts.values())
    assert len(RandomSampler(range(5), replacement=True, num_samples=7)) == 7


def test_random_sampler_errors_match_torch() -> None:
    td = _torch_data()
    for kw in [dict(replacement=1), dict(num_samples=0), dict(num_samples=2.0)]:
        _same_error(RandomSampler, td.RandomSampler, range(3), **kw)
    _same_error(RandomSampler, td.RandomSampler, [])


def test_subset_random_sampler() -> None:
    s = SubsetRandomSampler([10, 20, 30, 40], generator=np.random.default_rng(1))
    epochs = [list(s) for _ in range(5)]
    assert all(sorted(e) == [10, 20, 30, 40] for e in epochs) and len(s) == 4
    assert len({tuple(e) for e in epochs}) > 1


def test_weighted_random_sampler_honours_the_weights() -> None:
    g = np.random.default_rng(0)
    w = [1.0, 3.0, 0.0, 6.0]
    draws = list(WeightedRandomSampler(w, 20000, generator=g))
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.3, 0.0, 0.6], atol=0.015)
    s = WeightedRandomSampler(cr.tensor([0.9, 0.4, 0.05, 0.2, 0.3, 0.1]), 5, replacement=False)
    assert len(s) == 5 and s.weights.dtype == np.float64
    firsts = Counter(list(WeightedRandomSampler([8.0, 1.0, 1.0], 3, replacement=False,
                                                generator=g))[0] for _ in range(3000))
    assert 0.75 < firsts[0] / 3000 < 0.85  # the first draw is weighted
    for _ in range(20):
        e = list(WeightedRandomSampler([8.0, 1.0, 1.0], 3, replacement=False, generator=g))
        assert sorted(e) == [0, 1, 2]  # without replacement: each index once
    # zero weights come last, as with torch.multinomial
    assert sorted(list(WeightedRandomSampler([0, 0, 1], 3, replacement=False))[1:]) == [0, 1]


def test_weighted_random_sampler_errors_match_torch() -> None:
    td = _torch_data()
    bad = [([1, 2], 0, True), ([1, 2], 2.0, True), ([1, 2], 2, 1), ([[1, 2]], 3, True)]
    for w, k, r in bad:
        _same_error(WeightedRandomSampler, td.WeightedRandomSampler, w, k, r)
    at_iteration = [([1, 2], 3, False), ([-1, 2], 3, True), ([0, 0], 3, True),
                    ([float("nan"), 1], 3, True), ([float("inf"), 1], 3, True), ([], 3, True)]
    for w, k, r in at_iteration:
        # raises when the epoch starts, as in PyTorch
        _same_error(lambda *a: list(WeightedRandomSampler(*a)),
                    lambda *a: list(td.WeightedRandomSampler(*a)), w, k, r)


def test_batch_sampler_errors_match_torch() -> None:
    td = _torch_data()
    for bs, drop in [(0, False), (-1, False), (True, False), (2.0, False), (2, 1)]:
        _same_error(BatchSampler, td.BatchSampler, range(3), bs, drop)


def test_distributed_sampler_matches_torch_without_shuffle() -> None:
    td = _torch_data()
    for n, replicas, drop in [(10, 3, False), (10, 3, True), (11, 4, False), (2, 4, False),
                              (12, 4, True)]:
        for rank in range(replicas):
            ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop)
            theirs = td.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                           drop_last=drop)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
    _same_error(DistributedSampler, td.DistributedSampler, range(4), 2, 2)
    _same_error(DistributedSampler, td.DistributedSampler, range(4))


def test_distributed_sampler_shards_a_shuffle_that_changes_with_the_epoch() -> None:
    ranks = [DistributedSampler(range(10), 3, r, seed=5) for r in range(3)]
    shards = [list(s) for s in ranks]
    assert set(sum(shards, [])) == set(range(10))
    assert all(len(s) == 4 for s in shards)  # padded to 12 by repeating the start
    again = [list(DistributedSampler(range(10), 3, r, seed=5)) for r in range(3)]
    assert again == shards  # every rank computes the same permutation
    for s in ranks:
        s.set_epoch(1)
    assert [list(s) for s in ranks] != shards
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=2, sampler=ranks[0])
    assert sum(len(b[0]) for b in loader) == 4 and len(loader) == 2


def test_custom_samplers_as_pytorch_documents_them() -> None:
    class LengthSampler(Sampler):  # the example of PyTorch's Sampler docstring
        def __init__(self, data: list[str]) -> None:
            self.data = data

        def __len__(self) -> int:
            return len(self.data)

        def __iter__(self):
            yield from np.argsort([len(x) for x in self.data], kind="stable").tolist()

    words = ["ccc", "a", "bb", "dddd"]
    loader = DataLoader(words, batch_size=2, sampler=LengthSampler(words))
    assert list(loader) == [["a", "bb"], ["ccc", "dddd"]]
    with pytest.raises(NotImplementedError):
        iter(Sampler()).__next__()
