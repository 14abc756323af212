"""How fit / evaluate run under keras.distribution.DataParallel on several MPI processes (see
chainrule/keras/distribution.py): the same global batches on every rank, each rank's slice of
them, gradients averaged before the optimizer step, logs computed on the whole batch, and rank
0 alone printing and writing files."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from chainrule.autograd import no_grad
from chainrule.tensor import Tensor

_split_done = False
_WRITERS = ("ProgbarLogger", "ModelCheckpoint", "CSVLogger", "TensorBoard", "RemoteMonitor")


class _RestoreOnly:
    """BackupAndRestore on ranks > 0: they read the backup (weights, optimizer state, epoch)
    when fit starts, as rank 0 does; rank 0 alone writes and deletes it."""

    @staticmethod
    def wrap(cb: Any) -> Any:
        from chainrule.keras.callbacks import Callback

        class RestoreOnly(Callback):
            def on_train_begin(self, logs: dict | None = None) -> None:
                cb.set_model(self.model)
                cb.on_train_begin(logs)

        return RestoreOnly()


class _SameBatches:
    """The data of fit / evaluate, giving every rank the same global batches: whatever the
    epoch's first batch draws (a shuffle's permutation) is drawn from rank 0's generator."""

    def __init__(self, data: Any, runner: Runner) -> None:
        self.data, self.runner = data, runner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.data, name)

    def batches(self, shuffle: Any = False) -> Iterator[tuple]:
        from chainrule.backend import _RNG

        it = self.data.batches(shuffle)
        comm, rank = self.runner.comm, self.runner.rank
        state = comm.bcast(_RNG.generator.bit_generator.state if rank == 0 else None, root=0)
        own = _RNG.generator.bit_generator.state
        _RNG.generator.bit_generator.state = state
        try:
            first = next(it, None)
        finally:
            if rank != 0:
                _RNG.generator.bit_generator.state = own
        if first is None:
            return
        yield first
        yield from it


class Runner:
    """One fit / evaluate under a DataParallel distribution of several processes."""

    def __init__(self, dist: Any) -> None:
        from chainrule.distributed import process_group as pg

        self.dist, self.world = dist, dist._world
        self.rank, self.size = self.world.rank, self.world.size
        g = pg._default_group()
        self.comm, self.MPI = g.comm, g.MPI

    # -- set-up --------------------------------------------------------------------------------
    def for_fit(self, model: Any, data: Any, val: Any, callbacks: Any,
                verbose: int) -> tuple[Any, Any, Any, int]:
        """fit's data and validation data (same batches everywhere), its callbacks and
        verbosity (rank 0 alone prints and writes)."""
        global _split_done
        if model._overrides("train_step"):
            raise NotImplementedError(
                "fit under keras.distribution.DataParallel on several processes runs Keras' "
                "built-in train step; a train_step override would need its own gradient "
                "averaging (chainrule.distributed.average_gradients after backward); set no "
                "distribution, or use the built-in step (override compute_loss instead)")
        if not _split_done:  # each rank its own dropout stream (rank 0 keeps the 1-process one)
            self.world.split_generators()
            _split_done = True
        # rank 0 may still be writing the last fit's files (a backup every rank reads when this
        # fit starts): wait for it
        self.comm.Barrier()
        val = None if val is None else _SameBatches(val, self)
        return _SameBatches(data, self), val, self.callbacks(callbacks), self.verbose(verbose)

    def for_evaluate(self, data: Any, callbacks: Any, verbose: int) -> tuple[Any, Any, int]:
        """evaluate's data, callbacks and verbosity (as for_fit's)."""
        return _SameBatches(data, self), self.callbacks(callbacks), self.verbose(verbose)

    def callbacks(self, callbacks: Any) -> list:
        """callbacks as this rank runs them: all on rank 0; on the others, none that prints or
        writes files (BackupAndRestore only restores)."""
        cbs = list(callbacks or [])
        if self.rank == 0:
            return cbs
        kept = []
        for cb in cbs:
            names = {c.__name__ for c in type(cb).__mro__}
            if "BackupAndRestore" in names:
                kept.append(_RestoreOnly.wrap(cb))
            elif not names & set(_WRITERS):
                kept.append(cb)
        return kept

    def verbose(self, verbose: int) -> int:
        return verbose if self.rank == 0 else 0

    def sync_weights(self, model: Any) -> None:
        """Every weight (trainable or not) from rank 0, in place."""
        from chainrule.distributed import broadcast_parameters

        broadcast_parameters([p for _, w in model._weight_entries() for p in w.params])
        model.__dict__["_dp_synced"] = self.dist

    # -- the steps -----------------------------------------------------------------------------
    def _shard(self, xs: list, ys: list | None, sw: Any) -> tuple[list, Any, Any, int, int]:
        if not self.dist.auto_shard_dataset:
            n = len(xs[0])
            return xs, ys, sw, n, int(self._sum_counts(n))
        n = len(xs[0])
        lo, hi = self.world.bounds(n)
        return ([a[lo:hi] for a in xs], None if ys is None else [a[lo:hi] for a in ys],
                None if sw is None else sw[lo:hi], hi - lo, n)

    def _sum_counts(self, n: int) -> int:
        a = np.array([n], dtype=np.int64)
        self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self.MPI.SUM)
        return int(a[0])

    def train_step(self, model: Any, xs: list, ys: list | None, sw: Any,
                   params: list[Tensor]) -> None:
        """The built-in train step on this rank's slice, gradients averaged over ranks."""
        from chainrule.distributed import average_gradients

        if model.__dict__.get("_dp_synced") is not self.dist:
            self.sync_weights(model)
        c = model.compiled
        gx, gy, gsw = xs, ys, sw
        xs, ys, sw, n, total = self._shard(xs, ys, sw)
        model._clear_losses()
        for p in params:
            p.grad = None
        if n:
            outs = model._forward(xs)
            loss = model._loss_of(xs, ys, sw, outs, True)
            value = float(loss.array)
            if params:
                if n * self.size != total:  # uneven slices: weigh each by its share
                    loss = loss * (n * self.size / total)
                loss.backward()
        else:  # an empty slice (a last batch smaller than the job): outputs only, no gradient
            with no_grad():
                outs = model._forward(xs)
            value, c._parts = 0.0, []
        if params:
            average_gradients(params)
            model.optimizer._step(params)
        self._share_statistics(model)
        self._update(c, model, gx, gy, gsw, outs, value, n, total)

    @staticmethod
    def _share_statistics(model: Any) -> None:
        """Rank 0's non-trainable weights of trainable layers (BatchNormalization's moving
        statistics, which each rank updates from its own slice) to every rank, as PyTorch's
        DDP broadcasts buffers: the ranks keep identical models."""
        from chainrule.distributed import broadcast_parameters

        stats = [p for layer, w in model._weight_entries()
                 if not w.trainable and layer._trainable for p in w.params]
        if stats:
            broadcast_parameters(stats)

    def test_step(self, model: Any, xs: list, ys: list | None, sw: Any) -> None:
        """The built-in test step on this rank's slice; the logs are the whole batch's."""
        if model.__dict__.get("_dp_synced") is not self.dist:
            self.sync_weights(model)
        c = model.compiled
        gx, gy, gsw = xs, ys, sw
        xs, ys, sw, n, total = self._shard(xs, ys, sw)
        model._clear_losses()
        with no_grad():
            outs = model._forward(xs)
            if n:
                value = float(model._loss_of(xs, ys, sw, outs, False).array)
            else:
                value, c._parts = 0.0, []
        self._update(c, model, gx, gy, gsw, outs, value, n, total)

    def _update(self, c: Any, model: Any, xs: list, ys: list | None, sw: Any,
                outs: list[Tensor], value: float, n: int, total: int) -> None:
        """The compiled running values, updated with the whole batch: the loss (and each
        output's) as the size-weighted mean over ranks, the metrics on the gathered outputs."""
        if not c._resolved:
            c._resolve(len(outs))
        keys = [] if model._overrides("compute_loss") else [
            i for i, loss in enumerate(c.losses) if loss is not None]
        mine = {i: float(v.array) for i, v in c._parts}
        sums = self.world.sum([value * n] + [mine.get(i, 0.0) * n for i in keys])
        # rank order, so bit-identical on every rank
        c._parts = [(i, Tensor._make(np.asarray(sums[1 + k] / total), None))
                    for k, i in enumerate(keys)]
        metrics = c._metric_spec is not None or c._weighted_spec is not None
        outs_all = [self._gather(o.array) for o in outs] if metrics else [o.array for o in outs]
        if not self.dist.auto_shard_dataset and metrics:
            ys = None if ys is None else [self._gather(a) for a in ys]
            sw = None if sw is None else self._gather(np.asarray(sw))
        c.update(ys, [Tensor._make(a, None) for a in outs_all], sw, float(sums[0] / total),
                 total)

    def _gather(self, a: np.ndarray) -> np.ndarray:
        """The ranks' arrays joined along the first axis, in rank order (Allgatherv)."""
        a = np.ascontiguousarray(a)
        counts = np.empty(self.size, dtype=np.int64)
        self.comm.Allgather(np.array([a.size], dtype=np.int64), counts)
        out = np.empty(int(counts.sum()), dtype=a.dtype)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.comm.Allgatherv(a.reshape(-1), [out, (counts, displs)])
        return out.reshape((-1,) + a.shape[1:])
