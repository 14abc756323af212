"""LBFGS (a closure-based optimizer) under real `mpiexec`: it evaluates the closure several times
per step and decides on the losses it returns, so every rank must see the global batch's loss
and gradients at every evaluation. DistributedOptimizer averages both after each evaluation;
with DistributedDataParallel the closure all-reduces its loss. Either way the ranks stay
bit-identical and equal the one-process run on the global batch (float64, 1e-10), with and
without the strong-Wolfe line search."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from mpi_jobs import PROGRAMS, ROOT, check, run_mpi


@pytest.mark.parametrize("n, mode, line_search", [(2, "ddp", "strong_wolfe"),
                                                  (2, "horovod", "strong_wolfe"),
                                                  (2, "horovod", "none"),
                                                  (4, "horovod", "strong_wolfe")])
def test_lbfgs_matches_one_process(tmp_path, n, mode, line_search):
    out = check(run_mpi(n, "lbfgs.py", str(tmp_path), mode, line_search, timeout=60))
    assert all(f"rank {r} done" in out for r in range(n))
    subprocess.run([sys.executable, str(PROGRAMS / "lbfgs.py"), str(tmp_path), "single",
                    line_search], check=True, cwd=str(ROOT), capture_output=True, timeout=60,
                   env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": ""})
    ref = dict(np.load(tmp_path / "lbfgs.single.npz"))
    first = dict(np.load(tmp_path / "lbfgs.0.npz"))
    for r in range(n):
        got = dict(np.load(tmp_path / f"lbfgs.{r}.npz"))
        for k, want in ref.items():
            assert np.array_equal(got[k], first[k]), (r, k)
            np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-10, err_msg=k)
