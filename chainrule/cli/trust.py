"""What the command line believes of a file, and how far: a checkpoint is checked before use,
sizes are checked against memory before anything is allocated, printed strings are escaped.

- A checkpoint's configuration goes through the parsers (and bounds) of the command line, field
  by field; a failure is a CheckpointError naming the file and the field. Paths in it are never
  followed: its data_dir is dropped, and a CSV data set's path is only a record (the user's
  --dataset / --data-dir decide where data lives).
- Its architecture may not describe more weights than the file holds (a 60 KB file cannot ask
  for terabytes), and a model to train must fit in this machine's memory.
- Text from files is printed with control characters escaped, so a name in a checkpoint or a
  CSV cannot move the cursor, retitle the terminal or hide text.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chainrule.cli.models import ACTIVATION_MODULES
from chainrule.cli.options import MAX_EPOCHS, MAX_WIDTH, MODELS, OPTIONS, fraction, widths
from chainrule.errors import CheckpointError

SMALL_MODEL = 1_000_000  # values: a model this small is built even if the file holds fewer
EVAL_BATCH = 1024  # trainer.EVAL_BATCH: examples per evaluation step
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")
# the options a training checkpoint must hold (the others default when absent)
REQUIRED = ("dataset", "model", "activation", "optimizer", "lr", "batch_size", "epochs", "seed",
            "loss", "schedule", "val_split")


class TooLarge(MemoryError):
    """A model or data set that would not fit in memory, found before allocating it."""


class Recorded(str):
    """A CSV path read from a checkpoint: a record of where the data was, never opened
    (cli.data.load_data refuses it; the user's --dataset replaces it)."""


# -- printing -------------------------------------------------------------------------------------
def safe(value: Any, newlines: bool = False) -> str:
    """str(value) with every non-printable character (controls, escapes, bidirectional
    overrides, zero-width characters) written as its Python escape, e.g. '\\x1b'; newlines kept
    when `newlines` (for messages of several lines)."""
    s = str(value)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() or (newlines and c == "\n")
                   else c.encode("unicode_escape").decode("ascii") for c in s)


# -- memory ---------------------------------------------------------------------------------------
def memory_limit() -> int:
    """Bytes this process may use at most: the least of physical memory, a cgroup limit and
    RLIMIT_AS, as far as this system tells."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if 0 < soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else 1 << 62


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**28 else f"{n / 2**20:,.0f} MiB"


def _sizes(arch: dict[str, Any]) -> tuple[int, int]:
    """(values in the model's state_dict, floats of activation per example) for the model
    build_model(arch) makes, counted without making it."""
    shape, hidden, outputs = arch["input_shape"], arch["hidden"], arch["outputs"]
    if arch["model"] == "mlp":
        width, values, acts = math.prod(shape), 0, 0
        for h in hidden:
            values, acts, width = values + width * h + h, acts + 2 * h, h
        return values + width * outputs + outputs, acts + outputs
    if len(shape) != 3:  # residual blocks of Linear-BN (cli.models._resnet_mlp)
        width = hidden[0]
        values = math.prod(shape) * width + width + 4 * width + 1
        acts = 3 * width
        for h in hidden:
            values += (width * h + h) + (h * h + h) + 2 * (4 * h + 1)
            values += 0 if h == width else width * h + h
            acts, width = acts + 6 * h, h
        return values + width * outputs + outputs, acts + outputs
    c, height, w = shape  # conv blocks (cli.models._cnn)
    values = acts = 0
    for out in hidden:
        if arch["model"] == "resnet":
            values += (c * out * 9 + out) + (out * out * 9 + out) + 2 * (4 * out + 1)
            values += 0 if out == c else c * out + out
            acts += 6 * out * height * w
        else:
            values, acts = values + c * out * 9 + out, acts + 2 * out * height * w
        c, height, w = out, height // 2, w // 2
    return values + c * height * w * outputs + outputs, acts + outputs


def parameter_count(arch: dict[str, Any]) -> int:
    """Values in the state_dict of the model of arch (weights and batch-norm buffers)."""
    return _sizes(arch)[0]


def _describe(arch: dict[str, Any]) -> str:
    hidden = ",".join(map(str, arch["hidden"]))
    return (f"{arch['model']} with --hidden {hidden} on inputs of shape {arch['input_shape']}, "
            f"{arch['outputs']} outputs: {parameter_count(arch):,} parameters")


def check_training_fits(arch: dict[str, Any], batch: int, data_bytes: int) -> None:
    """TooLarge when training the model of arch on batches of `batch` examples, with data
    arrays of data_bytes, would need more memory than this machine has: weights, gradients
    and two optimizer moments, the activations of a batch and of an evaluation batch."""
    values, acts = _sizes(arch)
    need = 4 * (5 * values + 4 * acts * batch + 2 * acts * min(batch, EVAL_BATCH)) + data_bytes
    have = memory_limit()
    if need > have:
        raise TooLarge(f"the model ({_describe(arch)}) needs about {_gib(need)} to train with "
                       f"batches of {batch:,} (data included); this machine has {_gib(have)}. "
                       "Use smaller --hidden widths or a smaller --batch-size")


def check_data_fits(what: str, need: int) -> None:
    """TooLarge when loading data of about `need` bytes would not fit in memory."""
    have = memory_limit()
    if need > have:
        raise TooLarge(f"{what} needs about {_gib(need)} of memory; this machine has "
                       f"{_gib(have)}. Use a smaller --samples")


def check_weights_held(arch: dict[str, Any], weights: Any, path: str) -> None:
    """CheckpointError when the architecture recorded in the file describes far more values
    than the weights in it: building that model first would allocate memory the file never
    paid for (checked before building; a small model is built so that load_state_dict names
    the mismatching weights)."""
    if not isinstance(weights, dict) or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) for k, v in weights.items()):
        raise CheckpointError(f"{path}: model: expected a table of named arrays (the weights)")
    held = sum(int(v.size) for v in weights.values())
    need = parameter_count(arch)
    if need > max(held, SMALL_MODEL):
        raise CheckpointError(f"{path}: architecture: it describes a model of {need:,} values "
                              f"({_describe(arch)}) but the file holds {held:,}; refusing to "
                              "build it")


# -- checkpoint contents --------------------------------------------------------------------------
def usable_state(state: dict[str, Any], path: str) -> dict[str, Any]:
    """check_run_state, and check_weights_held: a checkpoint whose model can be built."""
    state = check_run_state(state, path)
    check_weights_held(state["architecture"], state.get("model"), path)
    return state


def check_run_state(state: dict[str, Any], path: str) -> dict[str, Any]:
    """A run checkpoint's state with config, architecture, data and history checked field by
    field (CheckpointError naming the file and field otherwise); data_dir dropped."""
    def fail(name: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {name}: {safe(problem)}")

    for key, kind in (("config", dict), ("architecture", dict), ("data", dict),
                      ("history", list)):
        if not isinstance(state.get(key), kind):
            raise fail(key, f"expected a {'table' if kind is dict else 'list'}, got "
                            f"{type(state.get(key)).__name__}")
    arch = _architecture(state["architecture"], fail)
    cfg = _config(state["config"], fail)
    # cfg and arch may disagree in a forged file: --resume builds its model from cfg (its size
    # checked by check_training_fits), evaluate / predict / info from arch (check_weights_held)
    checked = {**state, "config": cfg, "architecture": arch,
               "data": _data(state["data"], arch, fail)}
    for key in ("epoch", "step"):
        checked[key] = _count(state.get(key), key, fail)
    if checked["epoch"] > MAX_EPOCHS:
        raise fail("epoch", f"{checked['epoch']} is above {MAX_EPOCHS:,}")
    checked["history"] = [_row(r, f"history[{i}]", fail) for i, r in enumerate(state["history"])]
    best = state.get("best")
    checked["best"] = None if best is None else _row(best, "best", fail)
    return checked


Fail = Callable[[str, str], CheckpointError]


def _count(v: Any, name: str, fail: Fail) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise fail(name, f"expected a whole number >= 0, got {v!r:.60}")
    return v


def _config(raw: dict[str, Any], fail: Fail) -> dict[str, Any]:
    """Every option, parsed as on the command line (unknown keys dropped); data_dir None."""
    cfg = {}
    for opt in OPTIONS:
        value = raw.get(opt.name)
        if value is None:
            if opt.name in REQUIRED:
                raise fail(f"config.{opt.name}", "missing")
            cfg[opt.name] = opt.default
            continue
        try:
            cfg[opt.name] = opt.parse(value)
        except ValueError as e:
            raise fail(f"config.{opt.name}", str(e)) from None
    cfg["data_dir"] = None  # never followed: the user's --data-dir decides (options.py)
    if cfg["dataset"].lower().endswith(".csv"):
        cfg["dataset"] = Recorded(cfg["dataset"])
    return cfg


def _architecture(raw: dict[str, Any], fail: Fail) -> dict[str, Any]:
    shape = raw.get("input_shape")
    if not (isinstance(shape, list) and len(shape) in (1, 3) and all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH
            for n in shape)):
        raise fail("architecture.input_shape", f"expected [features] or [channels, height, "
                                               f"width] of whole numbers, got {shape!r:.80}")
    out = raw.get("outputs")
    if isinstance(out, bool) or not isinstance(out, int) or not 1 <= out <= MAX_WIDTH:
        raise fail("architecture.outputs", f"expected a whole number from 1 to {MAX_WIDTH:,}, "
                                           f"got {out!r:.60}")
    if raw.get("model") not in MODELS:
        raise fail("architecture.model", f"expected one of {', '.join(MODELS)}, got "
                                         f"{raw.get('model')!r:.60}")
    if raw.get("activation") not in ACTIVATION_MODULES:
        raise fail("architecture.activation", f"expected one of {', '.join(ACTIVATION_MODULES)}"
                                              f", got {raw.get('activation')!r:.60}")
    arch = {"model": raw["model"], "input_shape": list(shape), "outputs": out,
            "activation": raw["activation"]}
    for key, parse in (("hidden", widths), ("dropout", fraction)):
        try:
            arch[key] = parse(raw.get(key, 0.0 if key == "dropout" else None))
        except ValueError as e:
            raise fail(f"architecture.{key}", str(e)) from None
    return arch


def _data(raw: dict[str, Any], arch: dict[str, Any], fail: Fail) -> dict[str, Any]:
    task, classes = raw.get("task"), raw.get("classes")
    if task not in ("classification", "regression"):
        raise fail("data.task", f"expected classification or regression, got {task!r:.60}")
    n = arch["outputs"] if task == "classification" else 0
    if not (isinstance(classes, list) and len(classes) == n
            and all(isinstance(c, str) for c in classes)):
        raise fail("data.classes", f"expected {n} class names (one per output), got "
                                   f"{safe(repr(classes))[:80]}")
    if task == "regression" and arch["outputs"] != 1:
        raise fail("architecture.outputs", "a regression model has 1 output")
    if not isinstance(raw.get("name"), str) or raw.get("input_shape") != arch["input_shape"]:
        raise fail("data", "expected a name and the architecture's input shape")
    prep = raw.get("preprocess")
    if not isinstance(prep, dict) or prep.get("input_shape") != arch["input_shape"]:
        raise fail("data.preprocess", "expected a table with the architecture's input shape")
    features = math.prod(arch["input_shape"])
    checked: dict[str, Any] = {"input_shape": list(arch["input_shape"])}
    if "scale" in prep:
        checked["scale"] = _numbers([prep["scale"]], 1, "data.preprocess.scale", fail)[0]
    if "mean" in prep or "std" in prep:
        checked["mean"] = _numbers(prep.get("mean"), features, "data.preprocess.mean", fail)
        checked["std"] = _numbers(prep.get("std"), features, "data.preprocess.std", fail)
        if min(checked["std"]) <= 0:
            raise fail("data.preprocess.std", "expected numbers > 0")
    names = prep.get("feature_names")
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(s, str) for s in names)):
            raise fail("data.preprocess.feature_names", "expected a list of names")
        checked["feature_names"] = names
    if "label_name" in prep:
        if not isinstance(prep["label_name"], str):
            raise fail("data.preprocess.label_name", "expected a name")
        checked["label_name"] = prep["label_name"]
    return {"name": raw["name"], "task": task, "classes": list(classes),
            "input_shape": list(arch["input_shape"]), "preprocess": checked}


def _numbers(v: Any, n: int, name: str, fail: Fail) -> list[float]:
    ok = isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
    if not ok:
        raise fail(name, f"expected {n} finite numbers")
    return [float(x) for x in v]


def _row(raw: Any, name: str, fail: Fail) -> dict[str, Any]:
    """An epoch's row of metrics: its epoch number and numbers (or None) for known metrics."""
    if not isinstance(raw, dict):
        raise fail(name, "expected a table of metrics")
    row = {"epoch": _count(raw.get("epoch"), f"{name}.epoch", fail)}
    for key in METRICS:
        v = raw.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise fail(f"{name}.{key}", f"expected a number, got {v!r:.60}")
        if key in raw:
            row[key] = v
    return row
