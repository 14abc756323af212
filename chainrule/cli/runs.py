"""A run folder: config.json, metrics.csv, events.jsonl and the checkpoints of one training run.

    runs/2024-05-01_12-30-05/
      config.json          every option, resolved
      metrics.csv          one row per epoch
      events.jsonl         start, epoch, checkpoint, warning, end ... one JSON object a line
      last.safetensors     the latest epoch (previous.safetensors: the one before it)
      best.safetensors     the epoch with the best validation metric
      curves.png, decision_boundary.png   when matplotlib is installed

A checkpoint is one chainrule.io file holding the model, optimizer, scheduler, RNG and
data-loader state, the architecture and the history, so a run resumes bit for bit.

A folder is a run folder when its config.json holds the options of `chainrule train` and a
checkpoint lies beside it; --resume refuses any other folder. Nothing the command writes there
goes through a symbolic link: appends open with O_NOFOLLOW, whole files are written beside
their target and renamed over it (a rename replaces a link, it never follows it), and a folder
where one of the run's files is a link (or not a plain file) is refused before anything is
written.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import io as _io
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from chainrule import io

LAST, PREVIOUS, BEST = "last.safetensors", "previous.safetensors", "best.safetensors"
KIND = "chainrule.run"
PLOTS = ("curves.png", "decision_boundary.png", "gradients.png")
FILES = ("config.json", "metrics.csv", "events.jsonl", LAST, PREVIOUS, BEST) + PLOTS
MARKER_KEYS = {"dataset", "model", "optimizer", "epochs"}  # config.json of chainrule train


class RunFolderError(ValueError):
    """A folder that is not a run folder of `chainrule train`, or one whose files are links
    or not plain files: nothing is written into it."""


def _refuse_link(path: Path) -> None:
    """RunFolderError when path is a symbolic link or exists as something but a plain file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise RunFolderError(f"{path} is a symbolic link (to {os.readlink(path)!r}); chainrule "
                             "never writes through links in a run folder: remove it (or put "
                             "the file itself there) and run again")
    if not stat.S_ISREG(st.st_mode):
        raise RunFolderError(f"{path} is not a plain file; remove it and run again")


def _append(path: Path, text: str) -> None:
    """Append text to path, never through a symbolic link, never to a FIFO or device."""
    _refuse_link(path)  # O_NOFOLLOW below covers a link planted since (where it exists)
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0))
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO):
            _refuse_link(path)  # names what is there
            raise RunFolderError(f"{path} is not a plain file; remove it and run again") \
                from None
        raise
    with os.fdopen(fd, "a", encoding="utf-8", newline="") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RunFolderError(f"{path} is not a plain file; remove it and run again")
        f.write(text)


def check_run_folder(folder: Path) -> None:
    """RunFolderError unless folder is a run folder of `chainrule train` (a config.json of
    its options and a checkpoint) whose files are all plain files, not links."""
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder")
    config = folder / "config.json"
    for name in FILES:
        _refuse_link(folder / name)
    if os.path.islink(folder / "tensorboard") or (
            (folder / "tensorboard").exists() and not (folder / "tensorboard").is_dir()):
        raise RunFolderError(f"{folder / 'tensorboard'} is a link or not a folder; remove it "
                             "and run again")
    how = ("a run folder of `chainrule train` holds its config.json and a checkpoint "
           f"({LAST}); --resume continues such a run in its own folder, and writes nothing "
           "into any other")
    try:
        cfg = json.loads(config.read_bytes()) if config.stat().st_size <= 1_000_000 else None
    except FileNotFoundError:
        raise RunFolderError(f"{folder} is not a run folder: it has no config.json; {how}") \
            from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        cfg = None
    if not (isinstance(cfg, dict) and MARKER_KEYS <= set(cfg)):
        raise RunFolderError(f"{folder} is not a run folder: its config.json is not the "
                             f"options of `chainrule train`; {how}")
    if not any((folder / name).is_file() for name in (LAST, PREVIOUS, BEST)):
        raise RunFolderError(f"{folder} is not a run folder: it has no checkpoint; {how}")


class Run:
    """The files of one run in `folder`; `warn` reports problems (fallbacks) to the user."""

    def __init__(self, folder: Path, warn: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.warn = warn or (lambda msg: None)

    @classmethod
    def create(cls, out: str, name: str | None, warn: Callable[[str], None] | None = None) -> Run:
        """A new folder out/name (name: the date and time, made unique, when None)."""
        base = Path(out)
        base.mkdir(parents=True, exist_ok=True)
        if name is not None:
            folder = base / name
            if folder.exists():
                raise FileExistsError(f"the run folder {folder} already exists; choose another "
                                      f"--name, or continue it with --resume {folder}")
            folder.mkdir()
            return cls(folder, warn)
        stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        for k in range(1000):
            folder = base / (stamp if k == 0 else f"{stamp}-{k}")
            try:
                folder.mkdir()
                return cls(folder, warn)
            except FileExistsError:
                continue
        raise FileExistsError(f"cannot find a free run folder name in {base}")

    # -- logs ---------------------------------------------------------------------------------
    def write_config(self, cfg: dict[str, Any]) -> None:
        text = json.dumps(cfg, indent=2, sort_keys=True) + "\n"
        io.atomic_write(self.folder / "config.json", text.encode())

    def event(self, kind: str, **fields: Any) -> None:
        record = {"event": kind, "time": dt.datetime.now().isoformat(timespec="seconds"),
                  **fields}
        _append(self.folder / "events.jsonl", json.dumps(record, default=str) + "\n")

    def write_metrics(self, history: list[dict[str, Any]], columns: list[str]) -> None:
        """metrics.csv with one row per epoch of history (rewritten whole: on resume the
        checkpoint's history is the truth)."""
        buf = _io.StringIO()
        w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(_rounded(row) for row in history)
        io.atomic_write(self.folder / "metrics.csv", buf.getvalue().encode())

    def append_metrics(self, row: dict[str, Any], columns: list[str]) -> None:
        buf = _io.StringIO()
        csv.DictWriter(buf, columns, extrasaction="ignore",
                       lineterminator="\n").writerow(_rounded(row))
        _append(self.folder / "metrics.csv", buf.getvalue())

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """A fresh temporary path (same suffix) to write the file `name` at; once the block is
        done, it is renamed over folder/name (replacing a link there, never writing through)."""
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{Path(name).suffix}",
                                   dir=self.folder)
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the picture private
            os.replace(tmp, self.folder / name)
        finally:
            Path(tmp).unlink(missing_ok=True)

    # -- checkpoints --------------------------------------------------------------------------
    def clean_temporaries(self) -> None:
        """Remove the half-written temporary files killed saves left behind; a live writer's
        file is kept (chainrule.io_files.clean_stale_temporaries decides)."""
        from chainrule.io_files import clean_stale_temporaries

        clean_stale_temporaries(self.folder)

    def save(self, state: dict[str, Any], best: bool) -> None:
        """Write last (keeping the former last as previous) and, when best, best too."""
        data = io.to_bytes({"kind": KIND, **state})
        _refuse_link(self.folder / LAST)  # the old last is hard-linked to previous: not a link
        io.atomic_write(self.folder / LAST, data, keep_previous=self.folder / PREVIOUS)
        if best:
            io.atomic_write(self.folder / BEST, data)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}


# the first bytes of the files people mistake for a checkpoint, and what to call them
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip "
          "archive (a .npz, .pt or .keras file?)"), (b"\x80", "a Python pickle (a torch .pt "
          "file?)"), (b"\x93NUMPY", "a NumPy .npy file"), (b"\x08", "an ONNX model?"))


def what_file(path: str | Path) -> str | None:
    """What a file that is not a chainrule.io file looks like ('a JSON file (a run's
    config.json)', 'a CSV file', ...), from its name and first bytes; None when it may be a
    damaged chainrule.io file (then io's own message, which says what is wrong, is better)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[8:9] == b"{" and b"\x00" in head[:8]:  # a safetensors length and header: io's
        return None                                   # own message describes the damage
    for magic, name in _MAGIC:
        if head.startswith(magic) and not (magic == b"\x08" and p.suffix != ".onnx"):
            return name
    try:
        text = head.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        return None
    if any(c < " " and c not in "\t\n\r\f" for c in text):  # binary that happens to decode
        return None
    suffix = p.suffix.lower()
    if p.name in ("config.json", "metrics.csv", "events.jsonl"):
        return f"a run folder's {p.name} (text; the checkpoints lie beside it)"
    if suffix == ".jsonl" or (text.startswith("{") and "}\n{" in text):
        return "a JSON-lines text file"
    if suffix in (".json", ".toml") or text.startswith(("{", "[")):
        return "a JSON file" if suffix != ".toml" else "a TOML file"
    if suffix in (".csv", ".tsv") or "," in text.split("\n", 1)[0]:
        return "a CSV file"
    return "a text file" if text else "an empty file"


def not_a_checkpoint(path: str | Path, error: Exception) -> Exception:
    """A CheckpointError saying what the file is instead of a checkpoint, or `error` itself
    when the file may be a damaged one."""
    kind = what_file(path)
    if kind is None:
        return error
    return io.CheckpointError(
        f"{path} is not a checkpoint: it is {kind}. Give a run folder (its best checkpoint "
        f"is used) or a checkpoint file in it: {BEST}, {LAST} or {PREVIOUS}")


def load_raw(path: str | Path) -> Any:
    """io.load_raw(path), with an error that says what the file is when it is not a
    chainrule.io file at all (a JSON file, a CSV file, an image ...)."""
    try:
        return io.load_raw(path)
    except io.CheckpointError as e:
        raise not_a_checkpoint(path, e) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A run checkpoint file's contents; CheckpointError when it is not one."""
    state = load_raw(path)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise io.CheckpointError(f"{path}: a chainrule file, but not a checkpoint of "
                                 "`chainrule train` (no run state in it)")
    return state


def find_checkpoint(path: str | Path, prefer: tuple[str, ...], warn: Callable[[str], None],
                    check: Callable[[dict, str], dict] | None = None
                    ) -> tuple[Path, dict[str, Any]]:
    """Load `path` (a checkpoint file), or the first loadable of `prefer` inside a run folder,
    warning about each unusable one it skips; `check(state, path)` (trust.check_run_state)
    validates the contents, and a CheckpointError from it makes a checkpoint unusable too."""
    path = Path(path)
    check = check or (lambda state, where: state)
    if not path.exists():
        raise FileNotFoundError(f"no such run folder or checkpoint: {path}")
    if path.is_file():
        return path, check(load_checkpoint(path), str(path))
    problems = []
    for name in prefer:
        candidate = path / name
        if not candidate.exists():
            continue
        try:
            state = check(load_checkpoint(candidate), str(candidate))
        except (io.CheckpointError, OSError) as e:
            problems.append(str(e))
            warn(f"{candidate} cannot be used ({e}); trying the next checkpoint")
            continue
        if problems:
            warn(f"using {candidate} (epoch {state.get('epoch')}) instead")
        return candidate, state
    detail = ("; ".join(problems)) if problems else f"none of {', '.join(prefer)} is there"
    raise FileNotFoundError(f"no usable checkpoint in {path}: {detail}")


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
