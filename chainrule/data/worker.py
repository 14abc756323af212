"""The DataLoader's worker processes: what runs inside one, how it is seeded, and how its
batches and errors travel back to the main process.

Each worker gets (task number, indices) pairs on its own index queue, fetches and collates that
batch, and puts (task number, batch) on the shared result queue. A worker is seeded as PyTorch
seeds it: seed = base_seed + worker_id for Python's `random` and chainrule's default generator
(cr.manual_seed), and NumPy's global generator from a hash of both, so that workers forked from
one process do not repeat each other's random augmentations.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

# Tensors refuse to be pickled (nothing read from a file may run code); between the processes of
# one DataLoader they travel through multiprocessing's pickler as chainrule.multiprocessing
# registers them: by value, or by name when they are in shared memory
import chainrule.multiprocessing  # noqa: F401
from chainrule.data.fetch import create_fetcher
from chainrule.random import manual_seed

STATUS_CHECK_INTERVAL = 1.0  # seconds between checks that the workers are still alive
_POLL_INTERVAL = 0.1  # seconds between a waiting worker's checks of the parent and done_event


@dataclass(frozen=True)
class WorkerInfo:
    """About the worker process this code runs in: its id (0..num_workers-1), num_workers,
    the seed it was given, and its own copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str | None = "multiprocessing"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its WorkerInfo (use it in an IterableDataset's __iter__
    or in worker_init_fn to give each worker its own share). In the main process: None."""
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch."""


class KeyErrorMessage(str):
    """A KeyError's message that prints as written, not as a quoted repr."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process and raised there again, as
    its own type, with the worker's traceback in the message."""

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        exc_info = sys.exc_info() if exc_info is None else exc_info
        self.exc_type = exc_info[0]
        self.exc_name = self.exc_type.__name__
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # an exception class that needs other arguments: keep the message at least
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            # no cycle exception -> traceback -> this frame -> exception, which would keep the
            # DataLoader iterator (and its workers) alive until the garbage collector runs
            del exception




def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _send(data_queue: Any, idx: Any, data: Any, worker_id: int) -> None:
    """Pickle here rather than in the queue's feeder thread, where a failure would be printed
    and the batch lost, leaving the main process waiting for it forever."""
    try:
        payload = _dumps((idx, data))
    except Exception:
        if not isinstance(data, ExceptionWrapper):
            data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}, sending "
                                          f"batch {idx} back (it could not be pickled)")
        try:
            payload = _dumps((idx, data))
        except Exception:  # the exception's class cannot travel (a local class): its words can
            data.exc_type = RuntimeError
            payload = _dumps((idx, data))
    data_queue.put(payload)


def receive(payload: bytes) -> Any:
    """The (task number, batch) a worker sent (the inverse of _send)."""
    return pickle.loads(payload)


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """PyTorch's seed for NumPy's global generator in a worker: four 32-bit words hashed from
    the worker id and the 64-bit base seed (NumPy's SeedSequence mixing)."""
    mask = 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    const_a = [0x43B0D7E5]

    def hash32(value: int) -> int:
        value = (value ^ const_a[0]) & mask
        const_a[0] = (const_a[0] * 0x931E8875) & mask
        value = (value * const_a[0]) & mask
        return (value ^ (value >> 16)) & mask

    def mix(x: int, y: int) -> int:
        r = ((0xCA01F9DD * x) & mask) - ((0x4973F715 * y) & mask)
        r &= mask
        return (r ^ (r >> 16)) & mask

    pool = [hash32(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash32(pool[i_src]))
    const_b, state = 0x8B51F9DD, []
    for v in pool:
        v = (v ^ const_b) & mask
        const_b = (const_b * 0x58F38DED) & mask
        v = (v * const_b) & mask
        state.append((v ^ (v >> 16)) & mask)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


def _parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid  # an orphan is adopted by another process


def _load(fetcher: Any, idx: int, index: Any, is_iterable: bool, worker_id: int) -> Any:
    """Batch `idx`, or the error that loading it raised, or the end of this worker's stream."""
    try:
        return fetcher.fetch(index)
    except StopIteration:
        if is_iterable:
            return _IterableDatasetStopIteration(worker_id)
        return ExceptionWrapper(where=f"in DataLoader worker process {worker_id} while "
                                      f"loading batch {idx}")
    except Exception:
        return ExceptionWrapper(where=f"in DataLoader worker process {worker_id} while "
                                      f"loading batch {idx}")


def _worker_loop(is_iterable: bool, dataset: Any, index_queue: Any, data_queue: Any,
                 done_event: Any, auto_collation: bool, collate_fn: Any, drop_last: bool,
                 base_seed: int, init_fn: Any, worker_id: int, num_workers: int) -> None:
    """A worker's life: seed, run worker_init_fn, then serve batches until told to stop (None
    on the index queue) or until the main process is gone."""
    global _worker_info
    parent = os.getppid()
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id} (in "
                                                "worker_init_fn or iter(dataset))")
        iteration_end = False
        while _parent_alive(parent):
            try:
                r = index_queue.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    # the stop message may never come: a DataLoader collected in a reference
                    # cycle has its queues finalized before it can send it
                    break
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put(_dumps((r, None)))
                iteration_end = False
                fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                         drop_last)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue  # the epoch is over: drop what is still queued
            idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            else:
                data = _load(fetcher, idx, index, is_iterable, worker_id)
                iteration_end = isinstance(data, _IterableDatasetStopIteration)
            _send(data_queue, idx, data, worker_id)
            del data, idx, index, r  # do not hold a batch while waiting for the next task
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group: the main process handles it
    if done_event.is_set() or not _parent_alive(parent):
        # nobody will read what is left in the pipe: do not wait to flush it at exit
        data_queue.cancel_join_thread()
        data_queue.close()
