"""The file side of chainrule.io: crash-safe writes, cleanup after killed writers, and opening
only regular files for reading.

atomic_write puts the new bytes in a temporary file next to the target, fsyncs it, renames it
over the target in one step and fsyncs the folder, so a reader (or a resume after a crash) sees
the old file or the new one, never a part. A writer killed before its rename leaves its
temporary file behind; the name says who wrote it:

    .<target name>.<host tag>-<pid>-<random>.tmp       (and .<...>.prev.tmp while rotating)

and the next save into the folder removes those whose writer is gone: same host and a pid that
no longer runs, or (another host, or the unnamed temporaries of chainrule before 0.x) untouched
for STALE_AFTER seconds. A file of a live writer is never removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from chainrule.errors import CheckpointError

STALE_AFTER = 3600.0  # seconds without a write: the temporary file of a writer we cannot ask
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]+"
                   r"(?:\.prev)?\.tmp$")
_OLD_TEMP = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp(?:\.prev)?$")  # before the pid


def _host_tag() -> str:
    """8 hex digits naming this machine (a pid means something only on its own host)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int) -> bool:
    """Whether process pid runs on this machine (True when we cannot tell)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would signal the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process (or a pid we cannot ask about): keep its file
    return True


def _stale(entry: os.DirEntry, names: set[str], now: float) -> bool:
    m = _TEMP.match(entry.name)
    if m is not None and m["host"] == _host_tag():
        return not _alive(int(m["pid"]))
    if m is None:
        m = _OLD_TEMP.match(entry.name)
        if m is None or m["target"] not in names:  # not recognisably ours: never touched
            return False
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
    except OSError:
        return False


def clean_stale_temporaries(folder: str | Path) -> list[str]:
    """Remove the temporary files that killed writers left in folder (see the module's
    docstring for which); returns their names. Symlinks and folders are never removed."""
    folder = Path(folder)
    now, removed = time.time(), []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".")
                   and (e.name.endswith(".tmp") or e.name.endswith(".tmp.prev"))]
        names = set(os.listdir(folder)) if entries else set()
    except OSError:
        return removed
    for e in entries:
        try:
            if e.is_file(follow_symlinks=False) and _stale(e, names, now):
                os.unlink(e.path)
                removed.append(e.name)
        except OSError:  # gone already (another cleaner), or not ours to remove
            continue
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes, keep_previous: str | Path | None = None) -> Path:
    """Write data to path so that readers see the old file or the new one, never a part:
    a temporary file in the same folder, fsync, one os.replace, fsync of the folder.

    With keep_previous, the old file also goes to that name before the new one replaces it: it
    is hard-linked (copied where links are not supported), not moved, so path exists at every
    moment and always holds the newest complete save. Stale temporary files of killed writers
    in the folder are removed first."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist")
    clean_stale_temporaries(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host_tag()}-{os.getpid()}-",
                               suffix=".tmp", dir=folder)
    prev = tmp[:-len(".tmp")] + ".prev.tmp"
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if keep_previous is not None and path.exists():
            try:
                os.link(path, prev)
            except OSError:  # a file system without hard links: a copy does the same
                shutil.copyfile(path, prev)
            os.replace(prev, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        Path(prev).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return path


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular(path: str | Path, who: str = "cr.load") -> tuple[BinaryIO, int]:
    """path opened for binary reading and its size, when it is a regular file (a symlink to
    one is fine); CheckpointError for a FIFO, a device or a socket, checked on the open file
    before reading anything (O_NONBLOCK: opening a FIFO does not wait for a writer)."""
    nonblock = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"{who}: no such checkpoint file: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{who}: {path} is a folder, not a checkpoint file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(f"{who}: {path} is a folder, not a checkpoint file")
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
            raise CheckpointError(f"{path}: {kind}, not a checkpoint file; chainrule reads "
                                  "checkpoints only from regular files")
        if nonblock:
            os.set_blocking(fd, True)
        f: Any = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size
