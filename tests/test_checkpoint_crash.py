"""Checkpoints you can trust (issue 17, item 11): saves are crash-safe. The temporary file is
fsynced before its one rename and the folder after it; a rotation (last -> previous) never has
a moment without last; the temporary files of killed writers are removed by the next save into
the folder, never those of a live writer; and SIGKILLs at random moments lose no finished save
and leave nothing behind."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, io_files
from chainrule.cli import runs


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv(io.KEY_ENV, raising=False)


def state() -> dict:
    return {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "epoch": 3}


# -- item 11: crash-safe saves ------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="directory fsync is POSIX")
def test_the_temporary_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path,
                                                                             monkeypatch):
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        events.append(("fsync", st.st_ino, stat.S_ISDIR(st.st_mode)))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.stat(src).st_ino, os.fspath(dst)))
        return real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / runs.LAST
    cr.save(state(), path)
    io.atomic_write(path, b"second", keep_previous=tmp_path / runs.PREVIOUS)
    folder_ino = os.stat(tmp_path).st_ino
    for version in range(2):  # each save: fsync(file), replace(file -> path), fsync(folder)
        final = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(path)]
        at = final[version]
        ino = events[at][1]
        before = [e for e in events[:at] if e[0] == "fsync" and e[1] == ino and not e[2]]
        after = [e for e in events[at + 1:] if e[0] == "fsync" and e[1] == folder_ino and e[2]]
        assert before, f"save {version}: the temporary file was not fsynced before the rename"
        assert after, f"save {version}: the folder was not fsynced after the rename"
    assert io.load_raw(tmp_path / runs.PREVIOUS)["epoch"] == 3


def test_the_rotation_renames_once_and_last_is_the_newest_finished_save_throughout(
        tmp_path, monkeypatch):
    """The kill between the CLI's two renames (issue 17, item 11): at the moment before the
    one rename onto last, last and previous both hold the newest finished save; no moment
    is without last."""
    run = runs.Run(tmp_path)
    run.save({"epoch": 1}, best=False)
    run.save({"epoch": 2}, best=False)
    real, seen = os.replace, []

    def replace(src, dst):
        if Path(dst).name == runs.LAST:
            seen.append((io.load_raw(tmp_path / runs.LAST)["epoch"],
                         io.load_raw(tmp_path / runs.PREVIOUS)["epoch"]))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    run.save({"epoch": 3}, best=False)
    assert seen == [(2, 2)]  # one rename onto last, and just before it: last is epoch 2
    assert io.load_raw(tmp_path / runs.LAST)["epoch"] == 3
    assert io.load_raw(tmp_path / runs.PREVIOUS)["epoch"] == 2


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    host = io_files._host_tag()
    other = hashlib.sha256(b"another machine " + socket.gethostname().encode()).hexdigest()[:8]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            f".m.safetensors.{host}-{_dead_pid()}-abcd1234.tmp": "removed",
            f".m.safetensors.{host}-{_dead_pid()}-abcd1234.prev.tmp": "removed",
            f".best.safetensors.{host}-{_dead_pid()}-zz_9zz99.tmp": "removed",
            f".m.safetensors.{host}-{sleeper.pid}-abcd1234.tmp": "kept",  # alive: writing
            f".m.safetensors.{host}-{os.getpid()}-abcd1234.tmp": "kept",  # ourselves
            f".m.safetensors.{other}-1-abcd1234.tmp": "kept",  # fresh, of another host
            ".m.safetensors.k2j4h5g6.tmp": "kept",  # the old naming, fresh
            ".notes.tmp": "kept",  # not ours
            "m.safetensors.tmp": "kept",
        }
        old = {f".m.safetensors.{other}-1-oldoldol.tmp": "removed",
               ".m.safetensors.a1b2c3d4.tmp": "removed",
               ".m.safetensors.a1b2c3d4.tmp.prev": "removed",
               ".unrelated.a1b2c3d4.tmp": "kept"}  # the old naming, but no such target
        (tmp_path / "m.safetensors").write_bytes(b"x")
        for name in {**names, **old}:
            (tmp_path / name).write_bytes(b"partial")
        for name in old:
            t = time.time() - io_files.STALE_AFTER - 60
            os.utime(tmp_path / name, (t, t))
        (tmp_path / f".m.safetensors.{host}-{_dead_pid()}-link0000.tmp").symlink_to(
            tmp_path / "m.safetensors")
        cr.save(state(), tmp_path / "m.safetensors")
        present = {p.name for p in tmp_path.iterdir()}
        for name, fate in {**names, **old}.items():
            assert (name in present) == (fate == "kept"), name
        assert any("-link0000." in n for n in present)  # symlinks are never removed
        assert cr.load(tmp_path / "m.safetensors")["epoch"] == 3
    finally:
        sleeper.kill()
        sleeper.wait()


# -- kill tests: SIGKILL at random moments, then count leftovers and lost saves -----------------
def _saver(folder: Path, report: int, rotate: bool, start: int) -> None:
    """The child: save epochs start, start + 1, ... and report each finished save through a
    pipe (as a resumed run does)."""
    try:
        w = np.zeros(200_000, np.float32)
        run = runs.Run(folder)
        for epoch in range(start, start + 100_000):
            w.fill(epoch)
            if rotate:
                run.save({"epoch": epoch, "w": w}, best=epoch % 3 == 0)
            else:
                io.atomic_write(folder / "m.safetensors", io.to_bytes({"epoch": epoch, "w": w}))
            os.write(report, struct.pack("<I", epoch))
    finally:
        os._exit(0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
@pytest.mark.parametrize("rotate", [False, True], ids=["save", "rotation"])
def test_killed_savers_lose_no_finished_save_and_leave_no_temporary_files(tmp_path, rotate):
    rng = np.random.default_rng(17)
    target = tmp_path / (runs.LAST if rotate else "m.safetensors")
    lost = killed_mid_save = 0
    epoch = 0
    for _ in range(12):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _saver(tmp_path, w, rotate, epoch + 1)
        os.close(w)
        first = os.read(r, 4)
        assert len(first) == 4  # at least one save finished
        time.sleep(float(rng.uniform(0, 0.08)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        done = first
        while chunk := os.read(r, 4096):
            done += chunk
        os.close(r)
        finished = struct.unpack_from("<I", done, len(done) - 4 - len(done) % 4)[0]
        killed_mid_save += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        on_disk = io.load_raw(target)
        assert np.all(on_disk["w"] == on_disk["epoch"])
        lost += on_disk["epoch"] < finished
        epoch = on_disk["epoch"]
        if rotate:
            assert io.load_raw(tmp_path / runs.PREVIOUS)["epoch"] <= on_disk["epoch"]
    # the next save (here: of this process) removes what the killed writers left
    io.atomic_write(tmp_path / "other.bin", b"x")
    leftovers_after_next_save = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert lost == 0
    assert leftovers_after_next_save == []
    assert killed_mid_save > 0  # saves take most of the child's time: some kills cut one
