"""Data-parallel scaling: time per training step of the examples' MNIST MLP and CNN under
DistributedDataParallel on 1, 2 and 4 MPI ranks, with the global batch fixed (each rank trains on
global / ranks examples, as `mpiexec -n N chainrule train` does), the scaling efficiency
t(1) / (N * t(N)), and the time one Allreduce of all the gradients takes on its own.

Ranks beyond the machine's cores are oversubscribed (they share cores): the table marks them,
and their efficiency measures the sharing, not MPI. One BLAS thread per rank.

Run: python benchmarks/distributed.py [--ranks 1,2,4] [--batch 128] [--steps 20] [--quick]
(it launches itself under mpiexec once per rank count; needs pip install "chainrule[mpi]")
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one BLAS thread per rank: the ranks are the parallelism


def _models() -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    from mnist_cnn import cnn
    from mnist_mlp import mlp

    return {"MLP": (mlp, (784,)), "CNN": (cnn, (1, 28, 28))}


def _median_seconds(fn, steps: int, repeats: int) -> float:
    """Median over repeats of the seconds per call, after a warm-up block."""
    for _ in range(max(2, steps // 5)):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def _time_model(make, shape: tuple, batch: int, steps: int, repeats: int) -> dict:
    """Seconds per DDP step on this rank's slice of the global batch, and per lone Allreduce
    of the gradients' size, each the slowest rank's (it sets the pace of a synchronous step)."""
    import numpy as np

    import chainrule as cr
    import chainrule.nn.functional as F
    from chainrule.distributed.process_group import _default_group
    from chainrule.nn.parallel import DistributedDataParallel

    g = _default_group()
    cr.manual_seed(0)
    model = DistributedDataParallel(make())
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    lo, hi = batch * g.rank // g.size, batch * (g.rank + 1) // g.size
    x = cr.tensor(rng.standard_normal((batch, *shape)).astype(np.float32)[lo:hi])
    y = cr.tensor(rng.integers(0, 10, batch)[lo:hi])

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    flat = np.zeros(sum(p.numel() for p in model.parameters()), np.float32)

    def allreduce() -> None:
        g.comm.Allreduce(g.MPI.IN_PLACE, flat, op=g.MPI.SUM)

    g.comm.Barrier()
    t_step = _median_seconds(step, steps, repeats)
    g.comm.Barrier()
    t_comm = _median_seconds(allreduce, steps, repeats) if g.size > 1 else 0.0
    return {"ranks": g.size, "step": g.comm.allreduce(t_step, op=g.MPI.MAX),
            "allreduce": g.comm.allreduce(t_comm, op=g.MPI.MAX),
            "mbytes": flat.nbytes / 2 ** 20}


def worker(batch: int, steps: int, repeats: int) -> None:
    """One rank of the job; rank 0 prints one JSON line per model."""
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    for name, (make, shape) in _models().items():
        result = _time_model(make, shape, batch, steps, repeats)
        if dist.get_rank() == 0:
            print(json.dumps({"model": name, **result}), flush=True)


def _mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    exe = str(here) if here.exists() else shutil.which("mpiexec")
    if exe is None:
        sys.exit('benchmarks/distributed.py: mpiexec not found (pip install "chainrule[mpi]")')
    return exe


def launch(n: int, batch: int, steps: int, repeats: int) -> list[dict]:
    cmd = [_mpiexec(), "-n", str(n), sys.executable, __file__, "--worker", "--batch",
           str(batch), "--steps", str(steps), "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        sys.exit(f"mpiexec -n {n} failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def table(results: list[dict], batch: int, cores: int) -> str:
    lines = [f"data-parallel train step (Adam, cross-entropy), global batch {batch} split "
             f"over the ranks; {cores} cores; 1 BLAS thread per rank; medians",
             f"{'model':<6}{'ranks':>7}{'ms/step':>10}{'speed-up':>10}{'efficiency':>12}"
             f"{'allreduce ms':>14}{'grad MB':>9}"]
    base = {r["model"]: r["step"] for r in results if r["ranks"] == 1}
    for r in results:
        t1 = base.get(r["model"])
        speed = t1 / r["step"] if t1 else float("nan")
        note = "  (oversubscribed)" if r["ranks"] > cores else ""
        comm = f"{1e3 * r['allreduce']:14.2f}" if r["ranks"] > 1 else f"{'-':>14}"
        lines.append(f"{r['model']:<6}{r['ranks']:>7}{1e3 * r['step']:10.2f}{speed:9.2f}x"
                     f"{speed / r['ranks']:12.0%}{comm}{r['mbytes']:9.2f}{note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="1,2,4", help="comma-separated rank counts")
    p.add_argument("--batch", type=int, default=128, help="the global batch")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps, repeats = (3, 1) if args.quick else (args.steps, args.repeats)
    if args.worker:
        worker(args.batch, steps, repeats)
        return
    results = []
    for n in (int(k) for k in args.ranks.split(",")):
        results += launch(n, args.batch, steps, repeats)
    results.sort(key=lambda r: (r["model"] != "MLP", r["ranks"]))
    print(table(results, args.batch, os.cpu_count() or 1))


if __name__ == "__main__":
    main()
