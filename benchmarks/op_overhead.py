"""Per-op overhead of forward + backward on small tensors: chainrule against PyTorch (CPU).

What is measured, per op and per library, in one process on the same data:

    step():  every leaf's .grad = None;  y = op(leaves);  y.sum().backward()

timed as a loop of N calls with time.perf_counter (garbage collection off during the loop, as
timeit does), repeated R times; the figure is the median over the repeats, in microseconds per
step. The leaves are 8x8 float32 tensors (requires_grad=True), so the arithmetic is negligible and
the time is the per-op Python / dispatch / graph-bookkeeping cost. Binary ops (add mul div matmul
concatenate) take two leaves, both requiring grad.

The same step with `op` = identity (`x.sum().backward()` on one leaf) is the *baseline*: the fixed
cost of one reduction, starting backward and accumulating one leaf gradient. Columns:

    total  median time of the op's step                     (us / step)
    net    total - baseline: what adding this one op costs  (us / step)
    ratio  chainrule / torch, of net and of total; the geometric mean over ops closes the table

chainrule and torch are timed alternately within each repeat, so slow drift on a shared machine
hits both. torch runs with torch.set_num_threads(1) unless --threads says otherwise; 8x8 tensors
never benefit from more. Without torch installed only chainrule's figures are printed.

    python benchmarks/op_overhead.py            # full run (about half a minute)
    python benchmarks/op_overhead.py --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

try:
    import chainrule as cr
except ImportError:  # run from a checkout without installing: python benchmarks/op_overhead.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import chainrule as cr

SHAPE = (8, 8)


@dataclass(frozen=True)
class OpSpec:
    """One op: its chainrule form, its torch form, and how many leaf inputs it takes."""

    name: str
    cr_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    arity: int = 1


def _torch_ops(torch: ModuleType | None) -> dict[str, Callable[..., Any]]:
    """The torch side of each op (functions that need the torch module itself)."""
    if torch is None:
        return {}
    return {
        "max": lambda x: torch.amax(x, dim=1),
        "concatenate": lambda x, w: torch.cat([x, w]),
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    }


def op_specs(torch: ModuleType | None) -> list[OpSpec]:
    """The ops compared, in the order they are printed."""
    t = _torch_ops(torch)
    return [
        OpSpec("add", lambda x, w: x + w, lambda x, w: x + w, 2),
        OpSpec("mul", lambda x, w: x * w, lambda x, w: x * w, 2),
        OpSpec("div", lambda x, w: x / w, lambda x, w: x / w, 2),
        OpSpec("matmul", lambda x, w: x @ w, lambda x, w: x @ w, 2),
        OpSpec("exp", lambda x: x.exp(), lambda x: x.exp()),
        OpSpec("tanh", lambda x: x.tanh(), lambda x: x.tanh()),
        OpSpec("sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid()),
        OpSpec("relu", lambda x: x.relu(), lambda x: x.relu()),
        OpSpec("sum", lambda x: x.sum(), lambda x: x.sum()),
        OpSpec("mean", lambda x: x.mean(), lambda x: x.mean()),
        OpSpec("max(axis=1)", lambda x: x.max(axis=1), t.get("max", _missing)),
        OpSpec("reshape", lambda x: x.reshape(4, 16), lambda x: x.reshape(4, 16)),
        OpSpec("transpose", lambda x: x.transpose(1, 0), lambda x: x.transpose(0, 1)),
        OpSpec("getitem[2:6]", lambda x: x[2:6], lambda x: x[2:6]),
        OpSpec("concatenate", lambda x, w: cr.concatenate([x, w]), t.get("concatenate", _missing),
               2),
        OpSpec("softmax", lambda x: x.softmax(axis=-1), t.get("softmax", _missing)),
        OpSpec("log_softmax", lambda x: x.log_softmax(axis=-1), t.get("log_softmax", _missing)),
    ]


def _missing(*args: Any) -> Any:
    raise RuntimeError("torch is not installed")


def _identity(x: Any) -> Any:
    return x


BASELINE = OpSpec("(baseline: sum+backward)", _identity, _identity)


def make_step(fn: Callable[..., Any], leaves: list[Any]) -> Callable[[], None]:
    """One benchmark step: clear the leaves' grads, run fn, backward from the sum of its output."""
    if len(leaves) == 1:
        x = leaves[0]

        def step() -> None:
            x.grad = None
            fn(x).sum().backward()
    else:
        def step() -> None:
            for leaf in leaves:
                leaf.grad = None
            fn(*leaves).sum().backward()
    return step


def time_step(step: Callable[[], None], iters: int) -> float:
    """Seconds per call of step over a loop of iters calls, garbage collection off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        return (time.perf_counter() - t0) / iters
    finally:
        if enabled:
            gc.enable()


def measure(steps: dict[str, Callable[[], None]], iters: int, repeats: int) -> dict[str, float]:
    """Median microseconds per step for each library, the libraries interleaved per repeat."""
    for step in steps.values():  # warm-up: caches, lazy imports, first-call allocations
        time_step(step, max(iters // 10, 5))
    samples: dict[str, list[float]] = {lib: [] for lib in steps}
    for _ in range(repeats):
        for lib, step in steps.items():
            samples[lib].append(time_step(step, iters))
    return {lib: statistics.median(s) * 1e6 for lib, s in samples.items()}


def make_leaves(torch: ModuleType | None, arity: int) -> dict[str, list[Any]]:
    """The same 8x8 float32 inputs for both libraries; the second one stays away from zero."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(SHAPE).astype(np.float32)]
    if arity == 2:
        arrays.append((rng.random(SHAPE) + 0.5).astype(np.float32))
    leaves = {"chainrule": [cr.tensor(a, requires_grad=True) for a in arrays]}
    if torch is not None:
        leaves["torch"] = [torch.tensor(a, requires_grad=True) for a in arrays]
    return leaves


def bench_op(spec: OpSpec, torch: ModuleType | None, iters: int,
             repeats: int) -> dict[str, float]:
    """Median us/step of one op for each available library."""
    leaves = make_leaves(torch, spec.arity)
    steps = {"chainrule": make_step(spec.cr_fn, leaves["chainrule"])}
    if torch is not None:
        steps["torch"] = make_step(spec.torch_fn, leaves["torch"])
    return measure(steps, iters, repeats)


def _ratio(a: float, b: float) -> float | None:
    return a / b if a > 0 and b > 0 else None


def _fmt(v: float | None, spec: str = "8.2f") -> str:
    return f"{v:{spec}}" if v is not None else f"{'n/a':>{int(spec.split('.')[0])}}"


def geomean(values: list[float | None]) -> float | None:
    vs = [v for v in values if v is not None]
    return math.exp(sum(math.log(v) for v in vs) / len(vs)) if vs else None


def header(torch: ModuleType | None, iters: int, repeats: int) -> str:
    """The run's conditions: versions, threads, shape, iterations."""
    versions = (f"python {platform.python_version()}  numpy {np.__version__}  chainrule "
                f"{cr.__version__}  torch {torch.__version__ if torch else 'missing'}")
    threads = (f"torch.set_num_threads({torch.get_num_threads()})" if torch
               else "torch missing (not installed or --no-torch): chainrule figures only")
    cores = f"{platform.machine()}, {os.cpu_count()} logical cores; {threads}"
    what = (f"inputs {SHAPE[0]}x{SHAPE[1]} float32; step = grad=None, op, .sum().backward(); "
            f"median of {repeats} repeats x {iters} steps; us per step")
    where = f"chainrule imported from {Path(cr.__file__).parent}"
    return f"{versions}\n{cores}\n{what}\n{where}"


def table_row(name: str, r: dict[str, float], base: dict[str, float]) -> tuple[str, list]:
    """One printed row and its (net ratio, total ratio) for the geometric means."""
    cr_tot, cr_net = r["chainrule"], r["chainrule"] - base["chainrule"]
    row = f"{name:<26}{cr_tot:9.2f}{cr_net:9.2f}"
    if "torch" not in r:
        return row, [None, None]
    t_tot, t_net = r["torch"], r["torch"] - base["torch"]
    net_ratio, tot_ratio = _ratio(cr_net, t_net), _ratio(cr_tot, t_tot)
    row += f"{t_tot:9.2f}{t_net:9.2f}  {_fmt(net_ratio, '9.2f')}  {_fmt(tot_ratio, '9.2f')}"
    return row, [net_ratio, tot_ratio]


def run(torch: ModuleType | None, iters: int, repeats: int) -> None:
    """Benchmark the baseline and every op, printing each row as soon as it is measured."""
    print(header(torch, iters, repeats))
    cols = f"{'op':<26}{'cr tot':>9}{'cr net':>9}"
    if torch is not None:
        cols += f"{'pt tot':>9}{'pt net':>9}  {'net ratio':>9}  {'tot ratio':>9}"
    print(cols + "\n" + "-" * len(cols))
    base = bench_op(BASELINE, torch, iters, repeats)
    print(table_row(BASELINE.name, base, {k: 0.0 for k in base})[0], flush=True)
    ratios = []
    for spec in op_specs(torch):
        row, rs = table_row(spec.name, bench_op(spec, torch, iters, repeats), base)
        ratios.append(rs)
        print(row, flush=True)
    if torch is not None:
        g_net, g_tot = geomean([r[0] for r in ratios]), geomean([r[1] for r in ratios])
        print("-" * len(cols))
        print(f"{'geometric mean (cr / pt)':<62}{_fmt(g_net, '9.2f')}  {_fmt(g_tot, '9.2f')}")


def import_torch(threads: int) -> ModuleType | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few iterations and repeats")
    p.add_argument("--iters", type=int, default=None, help="steps per repeat (default 2000)")
    p.add_argument("--repeats", type=int, default=None, help="repeats, median taken (default 7)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = p.parse_args(argv)
    iters = args.iters or (50 if args.quick else 2000)
    repeats = args.repeats or (3 if args.quick else 7)
    torch = None if args.no_torch else import_torch(args.threads)
    run(torch, iters, repeats)


if __name__ == "__main__":
    main()
