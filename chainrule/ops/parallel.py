"""Both cores for the passes BLAS does not run: im2col / col2im copies and max pooling split over
batch slices on a small pool of threads (NumPy releases the GIL inside its loops).

Off by default (one thread): on the 2-core machine these were measured on, shared with other
work, splitting made a CNN training step slower, not faster (benchmarks/README.md). Turn it on
with `set_workers(n)` (n = 2 on two idle cores; `set_workers(None)` reads cr.get_num_threads(),
about a millisecond's call to threadpoolctl, once). Small arrays run on the calling thread
alone: below SPLIT_ABOVE elements a hand-off costs more than it saves. Host (NumPy) arrays only.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

SPLIT_ABOVE = 1 << 17  # elements touched by one pass; below it, one thread

_state: dict[str, Any] = {"n": 1, "pool": None, "size": 0, "pid": 0}
_lock = threading.Lock()


def workers() -> int:
    """How many threads the split passes use (1 unless set_workers said otherwise)."""
    n = _state["n"]
    if n is None:
        from chainrule.runtime import get_num_threads

        n = _state["n"] = max(1, int(get_num_threads()))
    return n


def set_workers(n: int | None) -> None:
    """Use n threads for the split passes from now on; None: chainrule's intra-op thread
    count (cr.get_num_threads()), read at the next use."""
    _state["n"] = n


def _executor(n: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _state["pool"]
        # a new pool after a fork too: the parent's threads do not exist in the child
        if pool is None or _state["size"] < n or _state["pid"] != os.getpid():
            pool = ThreadPoolExecutor(n, thread_name_prefix="chainrule-split")
            _state.update(pool=pool, size=n, pid=os.getpid())
        return pool


def split(fn: Callable[[int, int], None], count: int, size: int, xp: Any) -> None:
    """Run fn(lo, hi) over [0, count) cut into one slice per worker, the first on the calling
    thread; or fn(0, count) alone for small work (size: elements one pass touches), one
    worker, or a non-NumPy array module. fn must only write disjoint slices."""
    n = min(workers(), count)
    if n < 2 or size < SPLIT_ABOVE or xp.__name__ != "numpy":
        fn(0, count)
        return
    bounds = [count * i // n for i in range(n + 1)]
    pool = _executor(n - 1)
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, n)]
    try:
        fn(bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()
