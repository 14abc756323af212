"""The overhead of chainrule.keras' fit() over a hand-written chainrule.nn training loop.

Both train the same model from the same weights on the same data: Dense 784-256-256-10
(ReLU, softmax output + sparse categorical cross-entropy, i.e. nn.Linear/ReLU + F.cross_entropy
in the loop), Keras' Adam rule in both, one epoch of 8 000 MNIST-shaped samples, shuffled each
epoch.

    loop:  perm = permutation(n); per batch: x[idx] -> forward -> F.cross_entropy -> zero_grad
           -> backward -> Adam step -> running loss (float)           [+ accuracy with -metrics]
    fit:   model.fit(x, y, batch_size=B, epochs=1, verbose=0)          [metrics=['accuracy']]

fit() is called once per timed epoch, so its per-call setup (data checks, callbacks) counts.
The two take turns, one epoch each, R times (default 9; --quick 3); the machine may be shared
and noisy, so each figure is a median: of the per-epoch times, and of the ratio of each fit
epoch to the loop epoch timed beside it (the "overhead" column). BLAS runs on one thread
(OPENBLAS_NUM_THREADS etc. default to 1) so that a busy machine disturbs both sides alike.

    python benchmarks/keras_fit_overhead.py            # about a minute
    python benchmarks/keras_fit_overhead.py --quick
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import chainrule as cr
except ImportError:  # run from a checkout: python benchmarks/keras_fit_overhead.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import chainrule as cr

from chainrule import nn, optim  # noqa: E402
from chainrule.keras import layers as L  # noqa: E402
from chainrule.keras import optimizers  # noqa: E402
from chainrule.keras.models import Sequential  # noqa: E402
from chainrule.keras.optimizers import _updates as keras_rules  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

N, D, H, C = 8000, 784, 256, 10


def make_models(seed: int) -> tuple[Sequential, nn.Sequential]:
    """The Keras model and the nn model, with the same weights."""
    cr.manual_seed(seed)
    kmodel = Sequential([L.Input((D,)), L.Dense(H, activation="relu"),
                         L.Dense(H, activation="relu"), L.Dense(C, activation="softmax")])
    net = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, C))
    w = kmodel.get_weights()
    net.load_state_dict({"0.weight": w[0].T, "0.bias": w[1], "2.weight": w[2].T,
                         "2.bias": w[3], "4.weight": w[4].T, "4.bias": w[5]})
    return kmodel, net


def loop_epoch(net: nn.Sequential, opt: optim.Optimizer, x: np.ndarray, y: np.ndarray,
               batch_size: int, rng: np.random.Generator, accuracy: bool) -> float:
    perm = rng.permutation(len(x))
    total, correct = 0.0, 0
    for s in range(0, len(x), batch_size):
        idx = perm[s:s + batch_size]
        xb, yb = cr.from_numpy(x[idx]), cr.from_numpy(y[idx])
        out = net(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        if accuracy:
            correct += int((out.argmax(-1) == yb).sum())
    return total / len(x)


def timed(fn) -> float:
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t
    finally:
        gc.enable()


def run(batch_size: int, accuracy: bool, repeats: int, x: np.ndarray,
        y: np.ndarray) -> dict[str, float]:
    kmodel, net = make_models(0)
    kmodel.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"] if accuracy else None)
    # the loop steps with the very update rule fit() uses (Keras' Adam, a chainrule.optim
    # subclass), so that the comparison measures the facade, not two Adam variants
    opt = keras_rules.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    rng = np.random.default_rng(1)
    net.train()
    loop_t, fit_t = [], []
    for r in range(repeats + 1):  # the first round warms caches and allocators up
        a = timed(lambda: loop_epoch(net, opt, x, y, batch_size, rng, accuracy))
        b = timed(lambda: kmodel.fit(x, y, batch_size=batch_size, epochs=1, verbose=0))
        if r:
            loop_t.append(a)
            fit_t.append(b)
    ratios = [f / lo for f, lo in zip(fit_t, loop_t)]
    return {"loop": statistics.median(loop_t), "fit": statistics.median(fit_t),
            "overhead": statistics.median(ratios) - 1.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats instead of 9")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 9)
    data_rng = np.random.default_rng(0)
    x = data_rng.random((N, D), dtype=np.float32)
    y = data_rng.integers(0, C, N)
    print(f"chainrule.keras fit() vs a hand-written chainrule.nn loop: Dense {D}-{H}-{H}-{C}, "
          f"Keras' Adam, 1 epoch of {N} samples, median of {repeats} alternating epochs, "
          f"BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"{'batch':>5}  {'metrics':<9} {'loop s/epoch':>12} {'fit s/epoch':>12} "
          f"{'overhead':>9}")
    for batch_size, accuracy in ((32, False), (32, True), (128, False)):
        res = run(batch_size, accuracy, repeats, x, y)
        print(f"{batch_size:>5}  {'accuracy' if accuracy else 'loss only':<9} "
              f"{res['loop']:>12.3f} {res['fit']:>12.3f} {100 * res['overhead']:>8.1f}%",
              flush=True)


if __name__ == "__main__":
    main()
