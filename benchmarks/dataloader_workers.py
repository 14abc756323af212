"""DataLoader with worker processes: one epoch over a dataset whose __getitem__ does a few ms of
NumPy work per example (a stand-in for decoding and augmenting an image), with num_workers 0, 1
and 2, in chainrule and (when installed) in PyTorch on the same dataset. Prints seconds per
epoch (median over rounds; worker start-up included unless --persistent) and the speedup over
num_workers=0. Rounds take every configuration in turn, so that a machine busy with other work
slows them alike.

Run: python benchmarks/dataloader_workers.py [--items 384] [--ms 3] [--repeats 3]
     [--workers 0,1,2] [--persistent] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per process: the workers are the parallelism

import numpy as np  # noqa: E402

from chainrule.data import DataLoader, Dataset  # noqa: E402


class Augmented(Dataset):
    """Example i: a 64x64 'image' made from seed i and smoothed `rounds` times through FFTs
    (NumPy's FFT runs in one thread), flattened to float32, with the label i % 10."""

    def __init__(self, n: int, rounds: int) -> None:
        self.n, self.rounds = n, rounds
        f = np.fft.rfftfreq(64)[None, :] ** 2 + np.fft.fftfreq(64)[:, None] ** 2
        self.kernel = np.exp(-40.0 * f)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        x = np.random.default_rng(i).standard_normal((64, 64))
        for _ in range(self.rounds):
            x = np.tanh(np.fft.irfft2(np.fft.rfft2(x) * self.kernel, s=(64, 64)) * 3.0)
        return x.astype(np.float32).ravel(), i % 10


def rounds_for(ms: float) -> int:
    """How many smoothing rounds make one example cost about `ms` milliseconds here."""
    probe = Augmented(1, 20)
    probe[0]
    t0 = time.perf_counter()
    for _ in range(5):
        probe[0]
    per_round = (time.perf_counter() - t0) / 5 / 20
    return max(1, round(ms / 1000 / per_round))


def epoch_seconds(loader: object) -> float:
    """Seconds of one `for` loop over the loader (workers start inside it, unless persistent)."""
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    assert n == len(loader.dataset)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=384)
    p.add_argument("--ms", type=float, default=3.0, help="work per example, in milliseconds")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--persistent", action="store_true", help="keep workers across epochs")
    p.add_argument("--quick", action="store_true", help="a smaller run, for a smoke test")
    a = p.parse_args()
    if a.quick:
        a.items, a.repeats = 96, 1
    workers = [int(w) for w in a.workers.split(",")]
    ds = Augmented(a.items, rounds_for(a.ms))
    t0 = time.perf_counter()
    for i in range(20):
        ds[i]
    per_item = (time.perf_counter() - t0) / 20 * 1000
    try:
        import torch
        import torch.utils.data as tud

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    print(f"{a.items} examples of {per_item:.1f} ms each, batch {a.batch}, "
          f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} CPUs, "
          f"persistent_workers={a.persistent}; seconds per epoch (median of {a.repeats})")
    print(f"{'num_workers':<13}{'chainrule':>11}{'speedup':>9}{'pytorch':>11}{'speedup':>9}")
    loaders = {}
    for w in workers:
        kw = dict(batch_size=a.batch, shuffle=True, num_workers=w,
                  persistent_workers=a.persistent and w > 0)
        loaders[("chainrule", w)] = DataLoader(ds, **kw)
        if torch is not None:
            loaders[("pytorch", w)] = tud.DataLoader(ds, **kw)
    # rounds over every configuration in turn, so that a busy machine slows them alike
    times: dict = {key: [] for key in loaders}
    for r in range(a.repeats + 1):
        for key, loader in loaders.items():
            t = epoch_seconds(loader)
            if r:  # round 0 warms up (imports, caches, first worker start)
                times[key].append(t)
    med = {key: statistics.median(t) for key, t in times.items()}
    for w in workers:
        row = f"{w:<13}"
        for lib in ("chainrule", "pytorch"):
            if (lib, w) in med:
                row += f"{med[(lib, w)]:11.3f}{med[(lib, workers[0])] / med[(lib, w)]:8.2f}x"
        print(row)


if __name__ == "__main__":
    main()
