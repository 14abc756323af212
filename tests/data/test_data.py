"""Datasets and the DataLoader: epochs cover the data exactly once, shuffling is reproducible and
changes between epochs, drop_last, batch vs stochastic descent, random_split, collate dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def _data(n: int = 10) -> TensorDataset:
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(X, y)


class Pairs(Dataset):
    """A plain map-style dataset (no batch fast path): example i is (float array, int label)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        return np.full(2, i, dtype=np.float32), i


def _labels(loader: DataLoader) -> list[np.ndarray]:
    return [yb.numpy().copy() for _, yb in loader]


@pytest.mark.parametrize("ds", [_data(10), Pairs(10)], ids=["tensor", "map"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("bs", [1, 3, 4, 10, 32])
def test_an_epoch_covers_every_example_exactly_once(ds: Dataset, shuffle: bool, bs: int) -> None:
    loader = DataLoader(ds, batch_size=bs, shuffle=shuffle, seed=0)
    batches = _labels(loader)
    assert len(batches) == len(loader) == -(-10 // bs)
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert all(len(b) == bs for b in batches[:-1])
    if not shuffle:
        assert np.concatenate(batches).tolist() == list(range(10))


def test_features_travel_with_their_labels() -> None:
    for xb, yb in DataLoader(_data(10), batch_size=4, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() * 3)


def test_shuffle_is_reproducible_with_a_seed_and_differs_between_epochs() -> None:
    a = DataLoader(_data(50), batch_size=7, shuffle=True, seed=3)
    b = DataLoader(_data(50), batch_size=7, shuffle=True, seed=3)
    epochs_a = [np.concatenate(_labels(a)) for _ in range(3)]
    epochs_b = [np.concatenate(_labels(b)) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], np.arange(50))
    other = np.concatenate(_labels(DataLoader(_data(50), batch_size=7, shuffle=True, seed=4)))
    assert not np.array_equal(other, epochs_a[0])


def test_generator_and_default_generator() -> None:
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    e1 = _labels(DataLoader(_data(20), batch_size=5, shuffle=True, generator=g1))
    e2 = _labels(DataLoader(_data(20), batch_size=5, shuffle=True, generator=g2))
    np.testing.assert_array_equal(np.concatenate(e1), np.concatenate(e2))
    cr.manual_seed(5)
    d1 = _labels(DataLoader(_data(20), batch_size=5, shuffle=True))
    cr.manual_seed(5)
    d2 = _labels(DataLoader(_data(20), batch_size=5, shuffle=True))
    np.testing.assert_array_equal(np.concatenate(d1), np.concatenate(d2))


def test_a_chainrule_generator_as_in_pytorch() -> None:
    g = cr.Generator().manual_seed(9)
    e1 = np.concatenate(_labels(DataLoader(_data(20), batch_size=5, shuffle=True, generator=g)))
    g.manual_seed(9)  # the loader draws from the generator as it is at each epoch
    e2 = np.concatenate(_labels(DataLoader(_data(20), batch_size=5, shuffle=True, generator=g)))
    np.testing.assert_array_equal(e1, e2)
    assert not np.array_equal(e1, np.arange(20))
    a = random_split(_data(10), [6, 4], generator=cr.Generator().manual_seed(2))
    b = random_split(_data(10), [6, 4], generator=cr.Generator().manual_seed(2))
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    with pytest.raises(TypeError, match="Generator"):
        DataLoader(_data(), shuffle=True, generator=3)


def test_drop_last() -> None:
    loader = DataLoader(_data(10), batch_size=4, shuffle=True, seed=0, drop_last=True)
    batches = _labels(loader)
    assert len(batches) == len(loader) == 2
    assert [len(b) for b in batches] == [4, 4]
    assert len(set(np.concatenate(batches).tolist())) == 8
    assert len(DataLoader(_data(8), batch_size=4, drop_last=True)) == 2
    assert list(DataLoader(_data(3), batch_size=4, drop_last=True)) == []


def test_full_batch_and_stochastic_descent() -> None:
    ds = _data(10)
    (xb, yb), = list(DataLoader(ds, batch_size=len(ds)))  # batch gradient descent: one batch
    assert xb.shape == (10, 3) and yb.shape == (10,)
    sgd = list(DataLoader(ds, batch_size=1, shuffle=True, seed=0))  # stochastic: one example
    assert len(sgd) == 10
    assert all(xb.shape == (1, 3) and yb.shape == (1,) for xb, yb in sgd)


def test_collate_dtypes() -> None:
    xb, yb = next(iter(DataLoader(_data(4), batch_size=4)))
    assert (xb.dtype, yb.dtype) == (np.float32, np.int64)
    xb, yb = next(iter(DataLoader(Pairs(4), batch_size=4)))  # per-example path, Python int labels
    assert (xb.dtype, xb.shape, yb.dtype) == (np.float32, (4, 2), np.int64)
    f, i, b, s = default_collate([(0.5, 1, True, "a"), (1.5, 2, False, "b")])
    # PyTorch's rule: Python floats collate to float64 (unlike cr.tensor([0.5, 1.5]))
    assert (f.dtype, i.dtype, b.dtype, s) == (np.float64, np.int64, np.bool_, ("a", "b"))
    d = default_collate([{"x": cr.tensor([1.0, 2.0]), "y": np.int32(3)}] * 2)
    assert d["x"].shape == (2, 2) and d["x"].dtype == np.float32 and d["y"].dtype == np.int32
    one = default_collate([np.zeros(3, np.float64), np.ones(3, np.float64)])
    assert one.shape == (2, 3) and one.dtype == np.float64
    with pytest.raises(cr.ShapeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_collate_fn_is_used() -> None:
    loader = DataLoader(_data(6), batch_size=4, collate_fn=lambda exs: len(exs))
    assert list(loader) == [4, 2]


def test_random_split_sizes_and_disjointness() -> None:
    ds = _data(10)
    parts = random_split(ds, [7, 3], seed=0)
    assert [len(p) for p in parts] == [7, 3]
    labels = [{int(p[i][1].item()) for i in range(len(p))} for p in parts]
    assert labels[0].isdisjoint(labels[1]) and labels[0] | labels[1] == set(range(10))
    fr = random_split(_data(11), [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in fr] == [6, 3, 2]  # floor 5, 3, 2, then the remainder from the first
    again = random_split(ds, [7, 3], seed=0)
    np.testing.assert_array_equal(parts[0].indices, again[0].indices)
    assert not np.array_equal(random_split(ds, [7, 3], seed=1)[0].indices, parts[0].indices)
    with pytest.raises(ValueError, match="sum"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])


def test_subset_batches_through_the_fast_path() -> None:
    train, _ = random_split(_data(10), [6, 4], seed=2)
    got = np.concatenate(_labels(DataLoader(train, batch_size=4)))
    np.testing.assert_array_equal(got, train.indices)
    sub = Subset(Pairs(10), [3, 1])
    assert [int(y.item()) for _, y in DataLoader(sub, batch_size=1)] == [3, 1]


def test_tensor_dataset_and_concat() -> None:
    ds = _data(5)
    x, y = ds[2]
    assert isinstance(x, cr.Tensor) and x.shape == (3,) and int(y.item()) == 2
    with pytest.raises(cr.ShapeError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    both = ds + _data(3)
    assert isinstance(both, ConcatDataset) and len(both) == 8
    assert int(both[6][1].item()) == 1


def test_bad_loader_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_data(), batch_size=0)
    with pytest.raises(ValueError, match="not both"):
        DataLoader(_data(), seed=1, generator=np.random.default_rng(1))
