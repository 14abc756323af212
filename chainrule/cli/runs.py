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
"""

from __future__ import annotations

import csv
import datetime as dt
import io as _io
import json
import time
from pathlib import Path
from typing import Any, Callable

from chainrule import io

LAST, PREVIOUS, BEST = "last.safetensors", "previous.safetensors", "best.safetensors"
KIND = "chainrule.run"


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
        with (self.folder / "events.jsonl").open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")

    def write_metrics(self, history: list[dict[str, Any]], columns: list[str]) -> None:
        """metrics.csv with one row per epoch of history (rewritten whole: on resume the
        checkpoint's history is the truth)."""
        buf = _io.StringIO()
        w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(_rounded(row) for row in history)
        io.atomic_write(self.folder / "metrics.csv", buf.getvalue().encode())

    def append_metrics(self, row: dict[str, Any], columns: list[str]) -> None:
        path = self.folder / "metrics.csv"
        with path.open("a", newline="") as f:
            csv.DictWriter(f, columns, extrasaction="ignore",
                           lineterminator="\n").writerow(_rounded(row))

    # -- checkpoints --------------------------------------------------------------------------
    def clean_temporaries(self) -> None:
        """Remove the half-written temporary files a killed save left behind (call it only
        when no other process writes to this run)."""
        for name in (LAST, BEST, "metrics.csv", "config.json"):
            for tmp in self.folder.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)

    def save(self, state: dict[str, Any], best: bool) -> None:
        """Write last (keeping the former last as previous) and, when best, best too."""
        data = io.to_bytes({"kind": KIND, **state})
        io.atomic_write(self.folder / LAST, data, keep_previous=self.folder / PREVIOUS)
        if best:
            io.atomic_write(self.folder / BEST, data)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A run checkpoint file's contents; CheckpointError when it is not one."""
    state = io.load_raw(path)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise io.CheckpointError(f"{path}: a chainrule file, but not a checkpoint of "
                                 "`chainrule train` (no run state in it)")
    return state


def find_checkpoint(path: str | Path, prefer: tuple[str, ...],
                    warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """Load `path` (a checkpoint file), or the first loadable of `prefer` inside a run folder,
    warning about each unusable one it skips."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run folder or checkpoint: {path}")
    if path.is_file():
        return path, load_checkpoint(path)
    problems = []
    for name in prefer:
        candidate = path / name
        if not candidate.exists():
            continue
        try:
            state = load_checkpoint(candidate)
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
