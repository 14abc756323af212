"""DataLoader(num_workers > 0): batches really come from worker processes, the same batches in
the same order as num_workers=0, workers seeded as PyTorch seeds them, worker errors reported
in the main process, and no worker left behind however the loop ends."""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import threading
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    get_worker_info,
)

FORK = "fork" if "fork" in multiprocessing.get_all_start_methods() else None


def _loader(ds, **kw) -> DataLoader:
    kw.setdefault("multiprocessing_context", FORK if kw.get("num_workers") else None)
    return DataLoader(ds, **kw)


class Items(Dataset):
    """Example i: (i, the pid of the process that loaded it); optionally slow or failing."""

    def __init__(self, n: int = 12, delay: float = 0.0, fail_at: int = -1,
                 error: type = ValueError) -> None:
        self.n, self.delay, self.fail_at, self.error = n, delay, fail_at, error

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        if i == self.fail_at:
            raise self.error(f"item {i} is broken")
        if self.delay:
            time.sleep(self.delay)
        return i, os.getpid()


class Draws(Dataset):
    """Example i: what the worker's random generators give (NumPy's global one, Python's
    random, chainrule's default generator) and its WorkerInfo."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple:
        info = get_worker_info()
        return (np.random.randint(1 << 30), random.randrange(1 << 30),
                int(cr.randint(0, 1 << 30, (1,)).item()), info.id, info.seed,
                info.num_workers, WORKER_INIT.get("id", -1))


class Grads(Dataset):
    """Tensors that require grad: leaves travel to the main process, graph nodes cannot."""

    def __init__(self, leaf: bool = True) -> None:
        self.leaf = leaf

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> cr.Tensor:
        t = cr.zeros(2, requires_grad=True)
        return t if self.leaf else t * 2


WORKER_INIT: dict = {}


def _record_worker_id(worker_id: int) -> None:
    WORKER_INIT["id"] = worker_id


class Range(IterableDataset):
    """PyTorch's IterableDataset example 1: each worker takes its own slice of the range."""

    def __init__(self, start: int, end: int, split: bool = True) -> None:
        self.start, self.end, self.split = start, end, split

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.split:
            return iter(range(self.start, self.end))
        per_worker = -(-(self.end - self.start) // info.num_workers)
        lo = self.start + info.id * per_worker
        return iter(range(lo, min(lo + per_worker, self.end)))


def _split_in_init(worker_id: int) -> None:
    """PyTorch's example 2: worker_init_fn narrows this worker's copy of the dataset."""
    info = get_worker_info()
    ds = info.dataset
    per_worker = -(-(ds.end - ds.start) // info.num_workers)
    ds.start = ds.start + worker_id * per_worker
    ds.end = min(ds.start + per_worker, ds.end)
    ds.split = False


def _values(loader) -> list:
    return [b[0].tolist() if isinstance(b, list) else b.tolist() for b in loader]


def _assert_gone(pids) -> None:
    """No worker process left: none among our children, none in the process table."""
    assert multiprocessing.active_children() == []
    for pid in pids:
        if os.path.exists(f"/proc/{pid}/stat"):
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            pytest.fail(f"worker {pid} is still there (state {state})")


# -- the same batches, loaded elsewhere -------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_same_batches_as_without_workers(workers: int) -> None:
    single = _loader(Items(11), batch_size=3, shuffle=True, seed=5)
    multi = _loader(Items(11), batch_size=3, shuffle=True, seed=5, num_workers=workers)
    for _ in range(2):  # two epochs: the second shuffle too is the same
        assert _values(multi) == _values(single)
    pids = {p for b in multi for p in b[1].tolist()}
    assert os.getpid() not in pids and len(pids) == workers
    _assert_gone(pids)


def test_same_batches_from_the_default_generator_and_for_a_tensor_dataset() -> None:
    ds = TensorDataset(np.arange(30, dtype=np.float32).reshape(15, 2), np.arange(15))
    cr.manual_seed(0)
    single = [[t.tolist() for t in b] for b in _loader(ds, batch_size=4, shuffle=True)]
    after_single = cr.rand(1).item()
    cr.manual_seed(0)
    multi = [[t.tolist() for t in b]
             for b in _loader(ds, batch_size=4, shuffle=True, num_workers=2, pin_memory=True)]
    assert multi == single and cr.rand(1).item() == after_single


def test_workers_are_seeded_as_in_pytorch() -> None:
    loader = _loader(Draws(), batch_size=1, num_workers=2, seed=0,
                     worker_init_fn=_record_worker_id)
    rows = [[int(v) for v in b] for b in loader]
    np_draw, py_draw, cr_draw, ids, seeds, counts, init_ids = map(list, zip(*rows))
    assert ids == [0, 1, 0, 1] and counts == [2] * 4 and init_ids == ids
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    for draws in (np_draw, py_draw, cr_draw):
        assert draws[0] != draws[1]  # forked workers do not repeat each other
    again = [[int(v) for v in b] for b in _loader(Draws(), batch_size=1, num_workers=2, seed=0)]
    assert [r[:5] for r in again] == [r[:5] for r in rows]  # reproducible from the seed
    assert get_worker_info() is None  # in the main process


def test_numpy_seed_of_a_worker_is_pytorchs() -> None:
    pytest.importorskip("torch")
    from torch.utils.data._utils.worker import _generate_state as torch_state

    from chainrule.data.worker import _generate_state

    for base, wid in [(0, 0), (12345, 3), (2 ** 63 - 1, 7), (987654321987, 1)]:
        assert _generate_state(base, wid) == torch_state(base, wid)


def test_iterable_dataset_split_among_workers() -> None:
    got = _values(_loader(Range(3, 13), batch_size=2, num_workers=2))
    assert sorted(v for b in got for v in b) == list(range(3, 13))  # no duplicates, none lost
    by_init = list(_loader(Range(3, 13, split=False), batch_size=None, num_workers=2,
                           worker_init_fn=_split_in_init))
    assert sorted(by_init) == list(range(3, 13))
    naive = list(_loader(Range(0, 4, split=False), batch_size=None, num_workers=2))
    assert sorted(naive) == [0, 0, 1, 1, 2, 2, 3, 3]  # as PyTorch documents: each worker all
    _assert_gone([])


def test_persistent_workers_serve_every_epoch_then_go_with_the_loader() -> None:
    loader = _loader(Items(8), batch_size=2, num_workers=2, persistent_workers=True)
    first = _values(loader)
    pids = {p for b in loader for p in b[1].tolist()}
    assert _values(loader) == first and {p for b in loader for p in b[1].tolist()} == pids
    it = iter(loader)
    next(it)  # leave an epoch half done: the next one still starts from the beginning
    assert _values(loader) == first
    assert len(multiprocessing.active_children()) == 2
    loader.cycle = loader  # a reference cycle: only the garbage collector can free it
    del loader, it
    gc.collect()
    _assert_gone(pids)


def test_prefetch_factor_bounds_the_batches_in_flight() -> None:
    for factor in (1, 3):
        it = iter(_loader(Items(40), batch_size=2, num_workers=2, prefetch_factor=factor))
        assert it._tasks_outstanding == 2 * factor
        next(it)
        assert it._tasks_outstanding <= 2 * factor
        del it
    unordered = _loader(Items(9, delay=0.005), batch_size=2, num_workers=2, in_order=False)
    assert sorted(v for b in _values(unordered) for v in b) == list(range(9))


def test_spawned_workers() -> None:
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _values(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(AttributeError, match="pickled for each worker"):
        list(DataLoader(ds, num_workers=1, multiprocessing_context="spawn",
                        collate_fn=lambda b: b))
    _assert_gone([])


# -- errors ----------------------------------------------------------------------------------


def test_a_worker_error_is_raised_as_itself_and_the_epoch_goes_on() -> None:
    it = iter(_loader(Items(10, fail_at=5), batch_size=2, num_workers=2))
    assert _values([next(it), next(it)]) == [[0, 1], [2, 3]]
    with pytest.raises(ValueError) as err:
        next(it)
    msg = str(err.value)
    assert "Caught ValueError in DataLoader worker process 0 while loading batch 2" in msg
    assert "item 5 is broken" in msg
    del err
    assert _values(it) == [[6, 7], [8, 9]]
    _assert_gone([])


def test_other_worker_errors() -> None:
    with pytest.raises(KeyError, match="item 3 is broken"):
        list(_loader(Items(6, fail_at=3, error=KeyError), batch_size=2, num_workers=1))

    class NeedsTwoArguments(Exception):
        def __init__(self, a, b) -> None:
            super().__init__(a, b)

    class Odd(Dataset):
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i):
            raise NeedsTwoArguments(1, 2)

    with pytest.raises(RuntimeError, match="Caught NeedsTwoArguments"):
        list(_loader(Odd(), num_workers=1))

    def broken_init(worker_id: int) -> None:
        raise OSError("no disk")

    with pytest.raises(OSError, match="no disk"):
        list(_loader(Items(4), num_workers=1, worker_init_fn=broken_init))

    class Unpicklable(Dataset):
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i):
            return threading.Lock()

    with pytest.raises(TypeError, match="could not be pickled"):
        list(_loader(Unpicklable(), num_workers=1, collate_fn=lambda b: b, timeout=30))
    leaf = next(iter(_loader(Grads(), num_workers=1, collate_fn=lambda b: b[0])))
    assert leaf.requires_grad and leaf.is_leaf and leaf.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        next(iter(_loader(Grads(leaf=False), num_workers=1, collate_fn=lambda b: b[0])))
    _assert_gone([])


def test_a_dead_worker_and_a_timeout_are_errors_not_hangs() -> None:
    class Dies(Dataset):
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i):
            if i == 3:
                os._exit(3)
            return i

    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited"):
        list(_loader(Dies(), batch_size=2, num_workers=2))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        list(_loader(Items(4, delay=0.6), num_workers=1, timeout=0.2))
    assert time.perf_counter() - start < 10  # an error, not a hang
    _assert_gone([])


# -- clean shutdown --------------------------------------------------------------------------


def test_no_worker_left_after_the_loop_ends_or_breaks() -> None:
    pids = set()
    for b in _loader(Items(6), batch_size=2, num_workers=2):
        pids |= set(b[1].tolist())
    _assert_gone(pids)
    for b in _loader(Items(40, delay=0.01), batch_size=2, num_workers=2):
        pids = set(b[1].tolist())
        break
    _assert_gone(pids)


def test_no_worker_left_after_an_exception_or_ctrl_c_in_the_loop_body() -> None:
    for exc in (ZeroDivisionError, KeyboardInterrupt):
        pids: set = set()
        with pytest.raises(exc):
            for b in _loader(Items(40, delay=0.01), batch_size=2, num_workers=2):
                pids |= set(b[1].tolist())
                raise exc()
        _assert_gone(pids)


def test_no_worker_left_after_ctrl_c_while_waiting_for_a_batch() -> None:
    it = iter(_loader(Items(20, delay=0.5), batch_size=2, num_workers=2))
    pids = [w.pid for w in it._workers]
    # Ctrl-C reaches the whole foreground process group: the main process and its workers
    timer = threading.Timer(0.3, lambda: [os.kill(p, signal.SIGINT)
                                          for p in [os.getpid(), *pids]])
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in it:
            pass
    timer.join()
    del it
    _assert_gone(pids)


def test_no_worker_left_when_an_iterator_is_dropped_half_way() -> None:
    it = iter(_loader(Items(40), batch_size=2, num_workers=2))
    pids = set(next(it)[1].tolist())
    del it
    _assert_gone(pids)


# -- a program as the PyTorch tutorials write it ----------------------------------------------


class CustomImageDataset(Dataset):
    """The 'Datasets & DataLoaders' tutorial's shape: __init__, __len__, __getitem__ returning
    (image, label), with a transform that draws random numbers (an augmentation)."""

    def __init__(self, n: int = 48) -> None:
        rng = np.random.default_rng(0)
        self.images = rng.standard_normal((n, 1, 4, 4)).astype(np.float32)
        self.labels = (self.images.mean(axis=(1, 2, 3)) > 0).astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> tuple:
        noise = np.random.normal(0, 0.01, self.images[idx].shape).astype(np.float32)
        return self.images[idx] + noise, int(self.labels[idx])


def _train(num_workers: int) -> list[float]:
    from chainrule.utils.data import DataLoader

    import chainrule as torch
    import chainrule.nn as nn

    torch.manual_seed(0)
    np.random.seed(0)
    trainloader = DataLoader(CustomImageDataset(), batch_size=8, shuffle=True,
                             num_workers=num_workers,
                             multiprocessing_context=FORK if num_workers else None)
    train_features, train_labels = next(iter(trainloader))
    assert tuple(train_features.size()) == (8, 1, 4, 4) and train_labels.dtype == torch.int64
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _epoch in range(2):
        for _i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def test_a_tutorial_training_loop_is_the_same_with_workers() -> None:
    without = _train(0)
    with_workers = _train(2)
    assert len(without) == 12 and without[-1] < without[0]
    # the same batches; only the augmentation noise differs (drawn in the workers, seeded there)
    np.testing.assert_allclose(with_workers, without, atol=0.02)
    _assert_gone([])
