"""Fuzz the checkpoint loaders with damaged and forged files (issue 17).

    python scripts/fuzz_checkpoints.py --files 10000 [--seed 0] [--no-cli] [--show 20]

Seed files are written first (a state dict, an optimizer state, a whole module, a Keras model,
a plain safetensors file and, unless --no-cli, a `chainrule train` run checkpoint); each case
takes one, damages it with a seeded mutator, and hands it to every reader of that kind of file:

- raw:        bit flips, byte overwrites, truncation, insertions, a new header length
- header:     the safetensors JSON header edited (dtypes, shapes, byte ranges, metadata)
- forged:     the document inside edited and its SHA-256 recomputed, as anyone can (no key):
              this reaches the validation of every field after the digest

Every outcome must be a clean load (of identical content, for raw and header damage) or a
library error: CheckpointError / ValueError from the Python API, exit status 1 or 2 without
"internal error" from the CLI (info, evaluate, train --resume). Anything else, a case over 5
seconds, or the process growing by more than 1 GiB (its address space is capped to find it) is
a failure, printed with the case number to replay: --only N. Results of the run recorded for
the issue are in scripts/fuzz_checkpoints.md. tests/test_checkpoint_fuzz.py runs a bounded
number of cases of the same engine in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io as _io
import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chainrule as cr  # noqa: E402
from chainrule import io, nn, optim  # noqa: E402
from chainrule.errors import CheckpointError  # noqa: E402

LIMIT_S = 5.0
GIB = 1 << 30
INTERESTING: list[Any] = [None, True, 0, -1, 1, 7, 2**31, 2**63, 2**64 + 5, -2**63, 1e308,
                          float("nan"), 0.5, "", "x", "F32", "BF16", "__metadata__", [], [0],
                          [0, 0], [-1, 10], [2**62, 2**62], {}, {"__tensor__": "nope"},
                          {"__ref__": 0}, {"__tuple__": 1}, {"__float__": "inf"},
                          {"__global__": ["os", "system"]}, {"__dtype__": "float64"},
                          {"__device__": "cuda:7"}, [[[[[[[[[[[]]]]]]]]]]], ["a", "b"]]


class Slow(Exception):
    """A case ran past LIMIT_S."""


# -- seed files ------------------------------------------------------------------------------------
def make_seeds(folder: Path, cli: bool) -> dict[str, Path]:
    """The original files, one per kind of reader; returns kind -> path."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(cr.randn(5, 4)).sum().backward()
    opt.step()
    seeds = {"state_dict": folder / "state.safetensors", "optimizer": folder / "opt.safetensors",
             "module": folder / "module.safetensors", "plain": folder / "plain.safetensors",
             "keras": folder / "model.keras"}
    cr.save({"model": model.state_dict(), "epoch": 3, "history": [{"loss": 0.5}]},
            seeds["state_dict"])
    cr.save(opt.state_dict(), seeds["optimizer"])
    cr.save(model, seeds["module"])
    from safetensors.numpy import save_file
    save_file({k: v.numpy() for k, v in model.state_dict().items()}, str(seeds["plain"]))
    from chainrule.keras import Input, Sequential, layers
    km = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    km.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    km.fit(x, x[:, :2], epochs=1, verbose=0)
    km.save(seeds["keras"])
    if cli:
        from chainrule.cli import main
        with contextlib.redirect_stdout(_io.StringIO()):
            status = main(["train", "--samples", "60", "--epochs", "1", "--hidden", "4",
                           "--quiet", "--out", str(folder), "--name", "run"])
        assert status == 0, "the seed run did not train"
        seeds["run"] = folder / "run" / "last.safetensors"
    return seeds


# -- mutators ----------------------------------------------------------------------------------
def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def mutate_raw(data: bytes, r: random.Random) -> bytes:
    b = bytearray(data)
    kind = r.randrange(6)
    if kind == 0:
        for _ in range(r.randint(1, 8)):
            i = r.randrange(len(b))
            b[i] ^= 1 << r.randrange(8)
    elif kind == 1:
        i = r.randrange(len(b))
        b[i:i + r.randint(1, 16)] = bytes(r.randrange(256) for _ in range(r.randint(1, 16)))
    elif kind == 2:
        del b[r.randrange(len(b)):]
    elif kind == 3:
        i = r.randrange(len(b))
        b[i:i] = bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
    elif kind == 4:
        b[:8] = struct.pack("<Q", r.choice([0, 1, 7, len(b), len(b) - 8, 2**27, 2**63,
                                             struct.unpack("<Q", data[:8])[0] + r.randint(-9, 9)]))
    else:
        i, j = sorted(r.randrange(len(b)) for _ in range(2))
        b[i:j] = b"\0" * (j - i)
    return bytes(b)


def _pick_path(doc: Any, r: random.Random) -> list:
    """A random path of keys / indices into a JSON value (possibly the root)."""
    path: list = []
    while isinstance(doc, (dict, list)) and doc and r.random() < 0.8:
        k = r.choice(list(doc)) if isinstance(doc, dict) else r.randrange(len(doc))
        path.append(k)
        doc = doc[k]
    return path


def _edit_json(doc: Any, r: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    path = _pick_path(doc, r)
    if not path:
        return r.choice(INTERESTING)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    k = path[-1]
    action = r.randrange(4)
    if action == 0 and isinstance(parent, dict):
        del parent[k]
    elif action == 1 and isinstance(parent, list):
        parent.insert(k, copy.deepcopy(parent[k]))
    elif action == 2 and isinstance(parent[k], (int, float)) and not isinstance(parent[k], bool):
        parent[k] = r.choice([0, -1, parent[k] + 1, parent[k] * 1000, 2**40, 2**31 - 1])
    else:
        parent[k] = copy.deepcopy(r.choice(INTERESTING))
    return doc


def mutate_header(data: bytes, r: random.Random) -> bytes:
    header, body = split(data)
    meta = header.get("__metadata__")
    if isinstance(meta, dict) and r.random() < 0.3:
        field = r.choice(sorted(meta))
        if field == "document" or r.random() < 0.5:
            meta[field] = json.dumps(r.choice(INTERESTING))
        else:
            meta[field] = r.choice(INTERESTING)
        return join(header, body)
    return join(_edit_json(header, r), body)


def mutate_forged(data: bytes, r: random.Random) -> bytes:
    """Edit the document and recompute its SHA-256: a consistent but malicious file."""
    header, body = split(data)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or "document" not in meta:
        return mutate_header(data, r)
    for _ in range(r.randint(1, 3)):
        meta["document"] = json.dumps(_edit_json(json.loads(meta["document"]), r))
    arrays = io._arrays(join(header, body), "seed")
    meta["sha256"] = io._digest(meta["document"], arrays)
    return join(header, body)


MUTATORS = {"raw": mutate_raw, "header": mutate_header, "forged": mutate_forged}


# -- readers ---------------------------------------------------------------------------------------
def same(a: Any, b: Any) -> bool:
    if isinstance(a, cr.Tensor) or isinstance(b, cr.Tensor):
        return isinstance(a, cr.Tensor) and isinstance(b, cr.Tensor) and same(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, nn.Module):
        return type(a) is type(b) and same(a.state_dict(), b.state_dict())
    return type(a) is type(b) and (a == b or a != a and b != b)


def _still_ours(data: bytes, kind: str) -> bool:
    """Whether damaged data must load as the original or not at all: a chainrule file that
    still says it is one. A plain safetensors file has no checksum (a flipped bit in a tensor
    loads as a different value, in any safetensors reader), and a header edit that removes a
    chainrule file's metadata leaves a valid plain file, which loads as one."""
    if kind == "plain":
        return False
    try:
        meta = split(data)[0].get("__metadata__")
    except Exception:  # noqa: BLE001  (unparseable: the loader must refuse it)
        return True
    return isinstance(meta, dict) and bool({"format", "document", "sha256"} & set(meta))


def read_library(kind: str, path: Path, original: Any, must_match: bool) -> str:
    """The Python readers of one file; returns 'ok' or the library error's class name."""
    try:
        if kind == "keras":
            from chainrule.keras.models import load_model
            model = load_model(path)
            got = model.get_weights()
            if must_match:
                assert same(got, original), "a damaged Keras file loaded different weights"
            return "ok"
        got = cr.load(path) if kind != "plain" else cr.load(path, key=False)
        raw = io.load_raw(path, plain_ok=True) if kind != "module" else None
        if must_match:
            assert same(got, original), "a damaged file loaded different content"
        if kind == "optimizer":
            params = [nn.Parameter(np.zeros(s)) for s in ((3, 4), (3,), (2, 3), (2,))]
            optim.Adam(params).load_state_dict(raw)
        return "ok"
    except (CheckpointError, ValueError) as e:
        return type(e).__name__


def read_cli(path: Path, data: bytes, folder: Path, expected: dict[str, str]) -> str:
    """info, evaluate and train --resume of a run folder whose last checkpoint is `data`."""
    from chainrule.cli import main

    run = folder / "case"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(path.parent, run)
    (run / "last.safetensors").write_bytes(data)
    (run / "previous.safetensors").unlink(missing_ok=True)
    (run / "best.safetensors").unlink(missing_ok=True)
    outcomes = []
    for argv in (["info", str(run / "last.safetensors")], ["evaluate", str(run)],
                 ["train", "--resume", str(run), "--epochs", "2", "--quiet"]):
        out, err = _io.StringIO(), _io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        if "internal error" in err.getvalue() or status not in (0, 1, 2):
            raise AssertionError(f"chainrule {argv[0]}: status {status}: "
                                 f"{err.getvalue().strip()[:300]}")
        outcomes.append(f"{argv[0]}:{status}")
    return " ".join(outcomes)


# -- the driver --------------------------------------------------------------------------------
def _alarm(*_: Any) -> None:
    raise Slow(f"over {LIMIT_S} s")


@contextlib.contextmanager
def guarded(extra_bytes: int = GIB):
    """Cap the address space at its current size + extra_bytes (an allocation beyond raises
    MemoryError instead of swapping), and raise Slow in a case that runs past LIMIT_S."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    cap = size + extra_bytes if hard == resource.RLIM_INFINITY else min(hard, size + extra_bytes)
    old = signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old)


def run_cases(n: int, seed: int, folder: Path, cli: bool = True, only: int | None = None,
              log: Callable[[str], None] = print) -> tuple[Counter, list[str]]:
    """n cases (or just case `only`); returns (outcome counts, failure descriptions)."""
    seeds = make_seeds(folder, cli)
    originals = {}
    for kind, path in seeds.items():
        if kind == "keras":
            from chainrule.keras.models import load_model
            originals[kind] = load_model(path).get_weights()
        elif kind != "run":
            originals[kind] = cr.load(path, key=False)
    expected: dict[str, str] = {}
    counts: Counter = Counter()
    failures: list[str] = []
    kinds = sorted(seeds)
    target = folder / "case.safetensors"
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with guarded():
        for i in range(n) if only is None else [only]:
            r = random.Random(seed * 1_000_003 + i)
            kind, how = r.choice(kinds), r.choice(sorted(MUTATORS))
            data = MUTATORS[how](seeds[kind].read_bytes(), r)
            target.write_bytes(data)
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, LIMIT_S + 1)
            try:
                if kind == "run":
                    outcome = read_cli(seeds[kind], data, folder, expected)
                else:
                    outcome = read_library(kind, target, originals[kind],
                                           how != "forged" and _still_ours(data, kind))
            except Exception as e:  # noqa: BLE001  (every other exception is a finding)
                outcome = "FAIL"
                tb = traceback.format_exc(limit=-3) if only is not None else ""
                failures.append(f"case {i} ({kind}, {how}): {type(e).__name__}: "
                                f"{str(e)[:300]}\n{tb}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.perf_counter() - t0
            if elapsed > LIMIT_S:
                failures.append(f"case {i} ({kind}, {how}): took {elapsed:.1f} s")
            counts[(kind, how, outcome)] += 1
            if only is None and (i + 1) % 500 == 0:
                log(f"{i + 1} cases, {len(failures)} failures")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start_rss
    if grown > GIB:
        failures.append(f"the process grew by {grown / GIB:.2f} GiB")
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="cases to run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", type=int, default=None, help="replay one case, with traceback")
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI readers (faster)")
    ap.add_argument("--show", type=int, default=20, help="failures to print")
    args = ap.parse_args(argv)
    os.environ.pop(io.KEY_ENV, None)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        counts, failures = run_cases(args.files, args.seed, Path(tmp), not args.no_cli,
                                     args.only)
    total = sum(counts.values())
    print(f"{total} cases in {time.perf_counter() - t0:.0f} s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"{len(failures)} failures")
    by: Counter = Counter()
    for (kind, how, outcome), c in sorted(counts.items()):
        by[(kind, how, outcome.split(" ")[0] if outcome != "ok" else "ok")] += c
    for (kind, how, outcome), c in sorted(by.items()):
        print(f"  {kind:<11} {how:<7} {outcome:<30} {c}")
    for f in failures[:args.show]:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
