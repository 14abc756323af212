"""default_collate and default_convert give PyTorch's structure, dtypes and values for every kind
of example it documents (compared with torch), and the DataLoader's fast path for TensorDataset
gives exactly what default_collate gives."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset, default_collate, default_convert

Point = namedtuple("Point", "x y")


def _plain(obj, tensor_type):
    """A comparable picture: containers by type name, tensors as (dtype, shape, values)."""
    if isinstance(obj, tensor_type):
        a = obj.numpy() if hasattr(obj, "numpy") else obj.array
        return ("tensor", str(a.dtype), a.shape, a.tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: _plain(v, tensor_type) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_plain(v, tensor_type) for v in obj])
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.tolist())
    return obj


def _examples(torch_mode: bool):
    """Batches of every documented kind of example, in torch's or in chainrule's tensors."""
    import torch

    T = torch.tensor if torch_mode else cr.tensor
    return [
        [T([1.0, 2.0]), T([3.0, 4.0])],
        [T(1), T(2)],
        [np.arange(3, dtype=np.float64), np.ones(3, np.float64)],
        [np.arange(2, dtype=np.uint8), np.arange(2, dtype=np.uint8)],
        [np.float32(1.5), np.float32(2.5)],
        [np.int16(3), np.int16(4)],
        [np.bool_(True), np.bool_(False)],
        [np.array(1.5), np.array(2.5)],
        [0.5, 1.5],
        [1, 2],
        [True, False],
        [1, 2.5],
        ["a", "b"],
        [b"x", b"y"],
        [(1, 2.0, "s", True), (3, 4.0, "t", False)],
        [[1, 2], [3, 4]],
        [{"a": 1, "b": np.zeros(2, np.float32)}, {"a": 2, "b": np.ones(2, np.float32)}],
        [OrderedDict(z=1.0, a=2), OrderedDict(z=3.0, a=4)],
        [Point(1, 2.0), Point(3, 4.0)],
        [[(1, "a")], [(2, "b")]],
        [{"nested": [(T([1.0]), 2)]}, {"nested": [(T([3.0]), 4)]}],
        (1, 2),
    ]


def test_default_collate_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    for ours, theirs in zip(_examples(False), _examples(True)):
        assert _plain(default_collate(ours), cr.Tensor) == _plain(
            torch_collate(theirs), torch.Tensor), ours


def test_default_convert_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_convert as torch_convert

    cases = [np.zeros(2), np.float32(3), np.array(["a"]), [1, np.zeros(1)], "s", 3, 2.5,
             (np.zeros(2), 1, [np.int32(3)], {"a": np.zeros(1)}, "s"), Point(np.ones(1), 2),
             np.str_("a"), OrderedDict(k=np.int8(1))]
    for case in cases:
        assert _plain(default_convert(case), cr.Tensor) == _plain(
            torch_convert(case), torch.Tensor), case
    t = cr.tensor([1.0])
    assert default_convert(t) is t


def test_default_collate_errors_match_torch() -> None:
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    cases = [[object()], [None, None], [np.array(["a"]), np.array(["b"])],
             [np.zeros(2), np.zeros(3)], [[1, 2], [3]], []]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            torch_collate(case)
        with pytest.raises(theirs.type) as ours:
            default_collate(case)
        assert str(ours.value).startswith(str(theirs.value).split(",")[0]), case
    with pytest.raises(cr.ShapeError, match="equal size.*pad or crop"):
        default_collate([cr.zeros(2), cr.zeros(3)])


class Rows(Dataset):
    """A map-style dataset without the fast path: the same examples as TensorDataset(X, y)."""

    def __init__(self, *arrays: np.ndarray) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: int) -> tuple:
        return tuple(cr.as_tensor(a[i]) for a in self.arrays)


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_tensor_dataset_fast_path_equals_default_collate(shuffle: bool) -> None:
    X = np.arange(42, dtype=np.float32).reshape(14, 3)
    y, w = np.arange(14, dtype=np.int32), np.linspace(0, 1, 14)
    fast = list(DataLoader(TensorDataset(X, y, w), batch_size=4, shuffle=shuffle, seed=3))
    slow = list(DataLoader(Rows(X, y, w), batch_size=4, shuffle=shuffle, seed=3))
    assert [_plain(b, cr.Tensor) for b in fast] == [_plain(b, cr.Tensor) for b in slow]
    assert isinstance(fast[0], list) and fast[0][1].dtype == np.int32


def test_batch_size_none_converts_each_example() -> None:
    ds = TensorDataset(np.arange(6).reshape(3, 2), np.arange(3))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 3 and isinstance(items[0], list) and items[2][0].tolist() == [4, 5]
    arrays = list(DataLoader([np.zeros(2, np.float32)] * 2, batch_size=None))
    assert isinstance(arrays[0], cr.Tensor) and arrays[0].dtype == np.float32
