"""The DataLoader's iterator for num_workers > 0: batches loaded in worker processes (the
standard library's multiprocessing), handed out in the sampler's order.

The main process walks the batch sampler and sends task k (the indices of batch k) to worker
k mod num_workers, keeping prefetch_factor tasks in flight per worker; results come back on one
queue in whatever order the workers finish and are held until their turn, so the batches are
those of num_workers=0 in the same order. Workers stop when the epoch ends (unless
persistent_workers), and when the iterator is dropped: after `break`, an exception or Ctrl-C in
the loop body, or when the DataLoader holding persistent workers is garbage collected.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import queue
from typing import Any

from chainrule.data import worker as _w
from chainrule.data.dataloader import _BaseDataLoaderIter

_exiting = False


def _mark_exiting() -> None:
    global _exiting
    _exiting = True


# Runs before multiprocessing's own exit handler (registered earlier), which terminates
# daemonic workers itself; an iterator collected after that must not talk to them.
atexit.register(_mark_exiting)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    _shutdown = True  # until the workers exist: __del__ may run on a half-built iterator
    _workers: list = []

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._data_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues: list = []
        self._workers = []
        self._workers_status = [True] * self._num_workers
        self._shutdown = False
        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            w = ctx.Process(target=_w._worker_loop, daemon=True, args=(
                self._is_iterable, self._dataset, index_queue, self._data_queue,
                self._workers_done_event, self._auto_collation, self._collate_fn,
                self._drop_last, self._base_seed, loader.worker_init_fn, i, self._num_workers))
            try:
                w.start()
            except Exception as e:
                if hasattr(e, "add_note"):
                    e.add_note("DataLoader: with the 'spawn' or 'forkserver' start method the "
                               "dataset, collate_fn and worker_init_fn are pickled for each "
                               "worker: define them at module level (no lambdas or local "
                               "classes), or use multiprocessing_context='fork'")
                self._shutdown_workers()
                raise
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._reset(loader, first_iter=True)

    def _reset(self, loader: Any, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task to send to a worker
        self._rcvd_idx = 0  # the next task to hand out
        self._task_info: dict[int, tuple] = {}  # task -> (worker,) or (worker, data)
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:  # persistent workers: drop the last epoch's leftovers, then resume
            for q in self._index_queues:
                q.put(_w._ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                pending -= isinstance(idx, _w._ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout: float) -> tuple[bool, Any]:
        try:
            return True, _w.receive(self._data_queue.get(timeout=timeout))
        except Exception as e:
            failed = [w for i, w in enumerate(self._workers)
                      if self._workers_status[i] and not w.is_alive()]
            for i, w in enumerate(self._workers):
                if w in failed:
                    self._mark_worker_as_unavailable(i)
            if failed:
                pids = ", ".join(str(w.pid) for w in failed)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                   f"(exit code(s) {', '.join(str(w.exitcode) for w in failed)})"
                                   ) from e
            if isinstance(e, queue.Empty):
                return False, None
            raise

    def _get_data(self) -> Any:
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if ok:
                return data
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        while True:
            ok, data = self._try_get_data(_w.STATUS_CHECK_INTERVAL)
            if ok:
                return data

    def _next_data(self) -> Any:
        while True:
            # skip the tasks of workers that ended their share of an IterableDataset
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:  # arrived earlier, out of turn
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if self._is_iterable and isinstance(data, _w._IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    return self._process_data(data, self._task_info.pop(idx)[0])
                self._task_info[idx] += (data,)
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next active worker, if any
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id] and (
                    self._in_order or self._workers_num_tasks[worker_id]
                    < max_tasks // sum(self._workers_status)):
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._workers_num_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data: Any, worker_id: int) -> Any:
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, _w.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        self._index_queues[worker_id].put(None)  # the worker exits when it reads this
        self._workers_status[worker_id] = False

    def _shutdown_workers(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        try:
            if not _exiting:
                self._workers_done_event.set()
                for i in range(len(self._workers)):
                    if self._persistent_workers or self._workers_status[i]:
                        self._mark_worker_as_unavailable(i)
                for w in self._workers:
                    w.join(timeout=_w.STATUS_CHECK_INTERVAL)
                for q in self._index_queues:
                    q.cancel_join_thread()
                    q.close()
        finally:
            for w in self._workers:  # a worker stuck in __getitem__ or in a full pipe
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=_w.STATUS_CHECK_INTERVAL)

    def __del__(self) -> None:
        self._shutdown_workers()
