"""DataLoader's arguments as PyTorch 2.x defines them: positional order, defaults, the samplers it
builds, mutually exclusive options (compared with torch's errors), len()."""

from __future__ import annotations

import multiprocessing
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    DataLoader,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
)


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(5))


def _ds(n: int = 10) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32))


BAD = [  # keyword arguments PyTorch rejects, for a map-style dataset unless noted
    dict(batch_size=0),
    dict(batch_size=None, drop_last=True),
    dict(sampler="SEQ", shuffle=True),
    dict(batch_sampler="BATCH", batch_size=2),
    dict(batch_sampler="BATCH", shuffle=True),
    dict(batch_sampler="BATCH", sampler="SEQ"),
    dict(batch_sampler="BATCH", drop_last=True),
    dict(num_workers=-1),
    dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="bogus"),
    dict(num_workers=1, multiprocessing_context=3),
    dict(timeout=-1),
    dict(stream=True, shuffle=True),
    dict(stream=True, sampler=[1]),
    dict(stream=True, batch_sampler=[[1]]),
]


def _build(module, kw: dict):
    kw = dict(kw)
    import torch

    data = module.utils.data if module is torch else cr.utils.data
    T = torch.arange if module is torch else cr.arange
    if kw.pop("stream", False):
        class S(data.IterableDataset):
            def __iter__(self):
                return iter(range(3))
        ds = S()
    else:
        ds = data.TensorDataset(T(10))
    if kw.get("sampler") == "SEQ":
        kw["sampler"] = data.SequentialSampler(ds)
    if kw.get("batch_sampler") == "BATCH":
        kw["batch_sampler"] = data.BatchSampler(data.SequentialSampler(ds), 3, False)
    return data.DataLoader(ds, **kw)


@pytest.mark.parametrize("kw", BAD, ids=[str(sorted(k)) for k in BAD])
def test_argument_errors_match_torch(kw: dict) -> None:
    torch = pytest.importorskip("torch")
    import chainrule.utils.data  # noqa: F401 - the path PyTorch programs import from

    with pytest.raises(Exception) as theirs:
        _build(torch, kw)
    with pytest.raises(theirs.type) as ours:
        _build(cr, kw)
    assert str(ours.value).startswith(str(theirs.value).split(" (")[0])


def test_attributes_cannot_be_set_after_construction() -> None:
    loader = DataLoader(_ds())
    for attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                 "persistent_workers"):
        with pytest.raises(ValueError, match=f"{attr} attribute should not be set"):
            setattr(loader, attr, None)
    loader.num_workers = 0  # the others may change, as in PyTorch


def test_defaults_and_the_samplers_it_builds() -> None:
    loader = DataLoader(_ds())
    assert loader.batch_size == 1 and loader.drop_last is False and loader.num_workers == 0
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(loader.batch_sampler, BatchSampler) and loader.collate_fn is default_collate
    assert loader.prefetch_factor is None and loader.timeout == 0 and loader.pin_memory is False
    assert loader.generator is None and loader.multiprocessing_context is None
    shuffled = DataLoader(_ds(), shuffle=True, generator=cr.Generator().manual_seed(1))
    assert isinstance(shuffled.sampler, RandomSampler)
    assert shuffled.sampler.generator is shuffled.generator
    nobatch = DataLoader(_ds(), batch_size=None)
    assert nobatch.batch_sampler is None and nobatch.collate_fn is default_convert
    assert len(nobatch) == 10
    assert DataLoader(_ds(), num_workers=2).prefetch_factor == 2
    ctx = DataLoader(_ds(), num_workers=1, multiprocessing_context="spawn")
    assert ctx.multiprocessing_context is multiprocessing.get_context("spawn")


def test_positional_order_is_pytorchs() -> None:
    # DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn)
    loader = DataLoader(_ds(6), 4, False, None, None, 0, lambda b: len(b))
    assert list(loader) == [4, 2]
    with pytest.raises(TypeError):
        DataLoader(_ds(), 1, False, None, None, 0, None, False, False, 0, None, None, None, 2)


def test_a_sampler_or_a_batch_sampler_drives_the_order() -> None:
    ds = _ds(10)
    picks = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=[9, 0, 5])]
    assert picks == [[9.0, 0.0], [5.0]]
    sub = DataLoader(ds, batch_size=3, sampler=SubsetRandomSampler([1, 2, 3, 4],
                                                                   generator=np.random.default_rng(0)))
    got = sorted(v for b in sub for v in b[0].tolist())
    assert got == [1.0, 2.0, 3.0, 4.0] and len(sub) == 2
    batches = DataLoader(ds, batch_sampler=[[0, 1, 2], [7]])
    assert [b[0].tolist() for b in batches] == [[0.0, 1.0, 2.0], [7.0]] and len(batches) == 2
    with_bs = DataLoader(ds, batch_sampler=BatchSampler(range(10), 4, True))
    assert len(with_bs) == 2 and with_bs.batch_size is None and with_bs.drop_last is False


def test_timeout_needs_workers_as_in_pytorch() -> None:
    loader = DataLoader(_ds(), timeout=5)
    with pytest.raises(AssertionError, match="timeout"):
        iter(loader)


def test_too_many_workers_warn() -> None:
    with pytest.warns(UserWarning, match="worker processes in total"):
        DataLoader(_ds(), num_workers=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataLoader(_ds(), num_workers=1)


def test_seed_extension_and_generators() -> None:
    a = [b[0].tolist() for b in DataLoader(_ds(20), batch_size=5, shuffle=True, seed=4)]
    b = [b[0].tolist() for b in DataLoader(_ds(20), batch_size=5, shuffle=True, seed=4)]
    assert a == b and sorted(sum(a, [])) == list(range(20))
    with pytest.raises(ValueError, match="not both"):
        DataLoader(_ds(), seed=1, generator=cr.Generator())
    with pytest.raises(TypeError, match="Generator"):
        DataLoader(_ds(), shuffle=True, generator=3)
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert "num_workers=0" in repr(DataLoader(_ds()))
