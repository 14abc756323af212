"""Atomic saves: a child process (forked) saving checkpoints in a loop is killed with SIGKILL at
random moments, many times; what is on disk afterwards always loads and is one complete
version, never older than the last save that finished."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import runs

SIZE = 1_000_000  # float32 values per version: a save takes long enough to be cut short

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


def _saver(path: Path, keep: Path | None, start: int, ready: int) -> None:
    """The child: save versions start, start+1, ... forever; version i is SIZE values == i."""
    try:
        w = np.empty(SIZE, np.float32)
        for i in range(start, start + 100_000):
            w.fill(i)
            io.atomic_write(path, io.to_bytes({"version": i, "w": w}), keep_previous=keep)
            if i == start:
                os.write(ready, b"x")  # one complete save: the parent may start its timer
    finally:
        os._exit(0)


def _kill_during_saves(path: Path, keep: Path | None, start: int,
                       rng: np.random.Generator) -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _saver(path, keep, start, w)
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        time.sleep(float(rng.uniform(0, 0.1)))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)


def _check(state: dict, at_least: int) -> int:
    v = state["version"]
    assert v >= at_least
    assert state["w"].shape == (SIZE,) and np.all(state["w"] == v)
    return v


def test_killed_saves_leave_the_previous_file_loadable(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ckpt.safetensors"
    last = -1
    for k in range(25):
        _kill_during_saves(path, None, 1000 * k, rng)
        last = _check(io.load(path), at_least=max(last, 1000 * k))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != path.name]
    assert all(n.startswith(".ckpt.safetensors.") and n.endswith(".tmp") for n in leftovers)


def test_killed_rotations_always_leave_last_and_previous(tmp_path):
    """The run folder's rotation (last -> previous, new -> last) killed anywhere: `last` is
    always there and complete (the old one is hard-linked to previous, never moved away), and
    never older than the one before the last save."""
    rng = np.random.default_rng(1)
    last, prev = tmp_path / runs.LAST, tmp_path / runs.PREVIOUS
    for k in range(25):
        _kill_during_saves(last, prev, 1000 * k, rng)
        assert last.exists()
        newest = _check(io.load(last), at_least=1000 * (k - 1))
        assert newest >= 1000 * k  # the child's first save is never lost
        if prev.exists():
            assert _check(io.load(prev), at_least=1000 * (k - 1)) <= newest
