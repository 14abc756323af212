"""ConcatDataset, ChainDataset, StackDataset, Subset, IterableDataset and random_split, as in
torch.utils.data (compared with torch where the result is deterministic)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)


def _torch_data():
    return pytest.importorskip("torch").utils.data


def _error(f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(e), str(e)
    return None


class Range(IterableDataset):
    """The IterableDataset of PyTorch's documentation (example 1)."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def __iter__(self):
        return iter(range(self.start, self.end))

    def __len__(self) -> int:
        return self.end - self.start


def test_concat_dataset_indexing_matches_torch() -> None:
    td = _torch_data()
    parts = [list(range(3)), list(range(10, 15)), [], list(range(20, 22))]
    ours, theirs = ConcatDataset(parts), td.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 10
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 8, 8, 10]
    assert all(type(c) is int for c in ours.cumulative_sizes)
    assert [ours[i] for i in range(-10, 10)] == [theirs[i] for i in range(-10, 10)]
    for bad in (-11, 10):
        assert _error(ours.__getitem__, bad)[0] is _error(theirs.__getitem__, bad)[0]
    class TorchStream(td.IterableDataset):
        def __iter__(self):
            return iter([])

    for args, targs in (([], []), ([Range(0, 2)], [TorchStream()])):
        (t1, m1), (t2, m2) = _error(ConcatDataset, args), _error(td.ConcatDataset, targs)
        assert issubclass(t1, t2) and m1.startswith(m2)
    both = TensorDataset(np.zeros((2, 1))) + TensorDataset(np.ones((3, 1)))
    assert isinstance(both, ConcatDataset) and len(both) == 5


def test_iterable_and_chain_datasets() -> None:
    ds = Range(3, 7)
    assert list(DataLoader(ds, batch_size=None)) == [3, 4, 5, 6]  # no batching: as yielded
    assert [b.tolist() for b in DataLoader(ds)] == [[3], [4], [5], [6]]
    assert [b.tolist() for b in DataLoader(ds, batch_size=3)] == [[3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(ds, batch_size=3, drop_last=True)] == [[3, 4, 5]]
    assert len(DataLoader(ds, batch_size=3)) == 2 and len(DataLoader(ds, batch_size=3,
                                                                     drop_last=True)) == 1
    chained = ds + Range(0, 2)
    assert isinstance(chained, ChainDataset) and list(chained) == [3, 4, 5, 6, 0, 1]
    assert len(chained) == 6
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(ChainDataset([ds, [1, 2]]))
    with pytest.raises(TypeError):
        IterableDataset()  # __iter__ is abstract, as in PyTorch

    class NoLen(IterableDataset):
        def __iter__(self):
            return iter([1])

    with pytest.raises(TypeError):
        len(DataLoader(NoLen()))


def test_a_stream_longer_than_its_len_warns() -> None:
    class Liar(Range):
        def __len__(self) -> int:
            return 2

    loader = DataLoader(Liar(0, 4), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert list(loader) == [0, 1, 2, 3]


def test_stack_dataset_matches_torch() -> None:
    td = _torch_data()
    a, b = list(range(4)), list("wxyz")
    assert StackDataset(a, b)[2] == td.StackDataset(a, b)[2] == (2, "y")
    assert StackDataset(x=a, y=b)[1] == td.StackDataset(x=a, y=b)[1] == {"x": 1, "y": "x"}
    assert len(StackDataset(a, b)) == 4
    for args, kwargs in [((a, b[:2]), {}), ((a,), {"y": b}), ((), {})]:
        (t1, m1) = _error(StackDataset, *args, **kwargs)
        (t2, m2) = _error(td.StackDataset, *args, **kwargs)
        assert t1 is t2 and m1.replace(" ", "").startswith(m2.replace(" ", ""))
    batch = next(iter(DataLoader(StackDataset(x=a, y=b), batch_size=4)))
    assert batch["x"].tolist() == [0, 1, 2, 3] and batch["y"] == ["w", "x", "y", "z"]


def test_subset_keeps_its_indices_and_fetches_batches() -> None:
    class Squares(Dataset):
        def __init__(self) -> None:
            self.calls = 0

        def __len__(self) -> int:
            return 10

        def __getitem__(self, i: int) -> int:
            self.calls += 1
            return int(i) ** 2

    sub = Subset(Squares(), [3, 1, 4])
    assert sub.indices == [3, 1, 4] and len(sub) == 3 and sub[0] == 9 and sub[-1] == 16
    assert sub.__getitems__([2, 0]) == [16, 9]
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[9, 1], [16]]
    with pytest.raises(IndexError, match="must lie in"):
        Subset(Squares(), [0, 10])
    keys = Subset({"a": 1, "b": 2}, ["b", "a"])  # any keys, as in PyTorch
    assert [keys[0], keys[1]] == [2, 1]


def test_random_split_lengths_match_torch() -> None:
    td = _torch_data()
    cases = [(10, [3, 7]), (11, [0.5, 0.3, 0.2]), (10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
             (10, [0, 1]), (30, [0.3, 0.3, 0.4]), (1, [1])]
    for n, lengths in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = random_split(range(n), lengths, generator=cr.Generator().manual_seed(0))
            theirs = td.random_split(range(n), lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs], (n, lengths)
        assert sorted(i for s in ours for i in s.indices) == list(range(n))
    for n, lengths in [(10, [3, 3]), (10, [0.5, 0.6]), (10, [1.5, -0.5])]:
        (t1, m1) = _error(random_split, range(n), lengths)
        (t2, m2) = _error(td.random_split, range(n), lengths)
        assert t1 is t2 and m1.startswith(m2)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])


def test_random_split_generator_is_the_third_positional_argument() -> None:
    a = random_split(range(10), [5, 5], cr.Generator().manual_seed(42))
    b = random_split(range(10), [5, 5], cr.Generator().manual_seed(42))
    assert a[0].indices == b[0].indices and isinstance(a[0].indices, list)
    assert random_split(range(10), [5, 5], seed=1)[0].indices == random_split(
        range(10), [5, 5], seed=1)[0].indices
    assert math.isclose(sum(len(s) for s in random_split(range(9), [1 / 3] * 3)), 9)
