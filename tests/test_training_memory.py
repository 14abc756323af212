"""Training does not grow memory from step to step: each step's graph is freed."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim


def test_memory_is_flat_over_training_steps():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((64, 100)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, 64))
    model = nn.Sequential(nn.Linear(100, 128), nn.BatchNorm1d(128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    tracemalloc.start()
    try:
        for _ in range(50):  # optimizer state, buffers and Python's free lists settle here
            step()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            step()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    one_activation = 64 * 128 * 4
    assert grown < one_activation, f"memory grew by {grown} bytes over 200 steps"
