"""DistributedDataParallel under real `mpiexec`: after 20 steps of SGD with momentum and of Adam
on an MLP, and on a CNN whose BatchNorm2d is converted to SyncBatchNorm, the ranks hold
bit-identical weights (and batch-norm statistics), equal to a one-process run on the global
batch (1e-5 in float32, 1e-10 in float64); also with gradient accumulation under no_sync(), with a
parameter no forward uses (find_unused_parameters=True), with one bucket per parameter, and on
4 ranks (oversubscribed on a 2-core machine: MPICH allows it without flags); and the same with
Horovod's helpers (broadcast_parameters and DistributedOptimizer) instead of the wrapper."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from mpi_jobs import PROGRAMS, check, run_mpi

sys.path.insert(0, str(PROGRAMS))
from ddp_common import CONFIGS, data, make_model, make_optimizer, train, weights  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}


def _reference(kind: str, opt_name: str, dtype: str, micro: int,
               unused: bool) -> dict[str, np.ndarray]:
    model = make_model(dtype, unused, seed=0, kind=kind)
    x, y = data(dtype, micro, kind)
    train(model, make_optimizer(opt_name, model.parameters()), x, y)
    return weights(model)


@pytest.mark.parametrize("n, cap, mode", [(2, "25", "ddp"), (2, "0.0001", "ddp"),
                                          (4, "25", "ddp"), (2, "25", "horovod")],
                         ids=["2ranks", "2ranks-bucket-per-param", "4ranks",
                              "2ranks-horovod-helpers"])
def test_ddp_matches_one_process_on_the_global_batch(tmp_path, n, cap, mode):
    out = check(run_mpi(n, "ddp_train.py", str(tmp_path), cap, mode, timeout=120))
    assert all(f"rank {r} of {n} done" in out for r in range(n))
    for name, kind, opt_name, dtype, micro, unused in CONFIGS:
        ranks = [dict(np.load(tmp_path / f"{name}.rank{r}.npz")) for r in range(n)]
        ref = _reference(kind, opt_name, dtype, micro, unused)
        assert set(ranks[0]) == set(ref)
        for key, want in ref.items():
            for r in range(1, n):
                assert np.array_equal(ranks[r][key], ranks[0][key]), (name, key, r)
            got = ranks[0][key]
            assert got.dtype == want.dtype
            err = np.max(np.abs(got - want) / (1 + np.abs(want)))
            assert err <= TOL[dtype], (name, key, err)
            # the run moved the weights: the comparison is not between two untrained models
            start = weights(make_model(dtype, unused, seed=0, kind=kind))[key]
            if key.endswith("weight") and not key.startswith("head."):
                assert np.max(np.abs(want - start)) > 100 * TOL[dtype], (name, key)
