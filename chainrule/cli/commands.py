"""`chainrule evaluate`, `chainrule predict` and `chainrule info`: use and describe checkpoints."""

from __future__ import annotations

import csv
import io as _io
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from chainrule import io
from chainrule.cli import runs
from chainrule.cli.data import Data, load_data, prepare
from chainrule.cli.models import build_model
from chainrule.cli.options import UsageError
from chainrule.cli.text import run_text_evaluate, usable_state
from chainrule.cli.trainer import evaluate, make_loss, predict
from chainrule.cli.trust import safe
from chainrule.data.datasets import DatasetError, load_features


def _warn(msg: str) -> None:
    print(f"warning: {safe(msg, newlines=True)}", file=sys.stderr)


def open_checkpoint(path: str, warn: Any) -> tuple[Path, dict[str, Any], Any]:
    """The checkpoint (a file, or a run folder's best, else last, else previous), its state
    checked field by field (trust.check_run_state), and its model with the weights loaded
    (built only when the file holds the weights its architecture describes)."""
    ckpt, state = runs.find_checkpoint(path, (runs.BEST, runs.LAST, runs.PREVIOUS), warn,
                                       usable_state)
    model = build_model(state["architecture"])
    model.load_state_dict(state["model"])
    model.eval()
    return ckpt, state, model


def _remap_labels(data: Data, classes: list[str], split_y: np.ndarray) -> np.ndarray:
    """This data's class indices renumbered into the checkpoint's class list."""
    if data.task != "classification" or data.classes == classes:
        return split_y
    unknown = [c for c in data.classes if c not in classes]
    if unknown:
        raise DatasetError(f"{data.name}: labels {unknown} were not among the classes the "
                           f"model was trained on ({safe(', '.join(classes))})")
    table = np.array([classes.index(c) for c in data.classes])
    return table[split_y]


def _check_same_task(data: Data, trained: dict[str, Any], ckpt: Path) -> None:
    """DatasetError when `data` cannot be scored by a model trained on `trained`: another
    task, or a built-in data set with other classes (its class numbers mean other things; a
    CSV file's labels are matched by name in _remap_labels instead)."""
    was = f"the model in {safe(ckpt)} was trained on {safe(trained['name'])}"
    if data.task != trained["task"]:
        raise DatasetError(f"{safe(data.name)} is a {data.task} data set, but {was}, a "
                           f"{trained['task']}; evaluate it on data of the same kind")
    csv_file = str(data.name).lower().endswith(".csv")
    if data.task == "classification" and not csv_file and data.classes != trained["classes"]:
        raise DatasetError(f"{safe(data.name)} has {len(data.classes)} classes "
                           f"({_listed(data.classes)}), but {was} with "
                           f"{len(trained['classes'])} ({_listed(trained['classes'])}): "
                           "its outputs score "
                           f"{safe(trained['name'])}'s classes, not these. Evaluate on "
                           f"{safe(trained['name'])} (the default), or train a model on "
                           f"{safe(data.name)}")
    if not csv_file and data.name != trained["name"]:
        _warn(f"{was}, not on {safe(data.name)}: the accuracy says how its decisions happen "
              "to fit another data set")


def _listed(classes: list[str], most: int = 10) -> str:
    """The class names, escaped, the first `most` of them."""
    shown = safe(", ".join(classes[:most]))
    return shown + (f", ... ({len(classes) - most} more)" if len(classes) > most else "")


def run_evaluate(path: str, given: dict[str, Any], split: str, out: TextIO) -> int:
    """Loss and accuracy (and per-class accuracy) of a checkpoint on a data split."""
    ckpt, state, model = open_checkpoint(path, _warn)
    if state["data"]["task"] == "text":
        return run_text_evaluate(ckpt, state, model, given, split, out)
    cfg = {**state["config"], **given}
    data = load_data(cfg, preprocess=state["data"]["preprocess"])
    if data.input_shape != state["architecture"]["input_shape"]:
        raise DatasetError(f"{data.name} has inputs of shape {data.input_shape}, the model "
                           f"in {ckpt} takes {state['architecture']['input_shape']}")
    _check_same_task(data, state["data"], ckpt)
    X, y = {"val": (data.X_val, data.y_val), "train": (data.X_train, data.y_train),
            "all": (np.concatenate([data.X_train, data.X_val]),
                    np.concatenate([data.y_train, data.y_val]))}[split]
    if len(y) == 0:
        raise UsageError(f"the {split} split of {data.name} is empty; try --split all")
    classes = state["data"]["classes"]
    y = _remap_labels(data, classes, y)
    classify = data.task == "classification"
    loss, acc = evaluate(model, make_loss(cfg["loss"], data.task, len(classes)), X, y, classify)
    print(f"{safe(ckpt)} (epoch {state['epoch']}) on {safe(data.name)}, {split} split, "
          f"{len(y)} examples:", file=out)
    print(f"  loss {loss:.4f}" + (f"  accuracy {acc:.2%}" if classify else ""), file=out)
    if classify and len(classes) <= 20:
        pred = predict(model, X).argmax(-1)
        for k, name in enumerate(classes):
            mask = y == k
            if mask.any():
                print(f"  class {safe(name):>12}: {np.mean(pred[mask] == k):7.2%} of "
                      f"{mask.sum()}", file=out)
    return 0


def _read_features(path: str, state: dict[str, Any], skip: bool) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """The rows of a CSV of raw features (a header row is skipped; a column named like the
    training label is dropped), checked against the model's input width, and which rows
    are usable (with skip, rows with a missing, NaN or infinite value are not)."""
    prep = state["data"]["preprocess"]
    width = int(np.prod(prep["input_shape"]))
    X, ok, header = load_features(path, prep.get("label_name"), skip)
    if X.shape[1] != width:
        raise DatasetError(f"{path}, row {1 + (header is not None)}: {X.shape[1]} values, but "
                           f"the model takes {width} features")
    return X, ok


def run_predict(path: str, input_csv: str, output: str | None, out: TextIO,
                skip_nonfinite: bool = False) -> int:
    """Predictions of a checkpoint for the rows of a CSV file, as CSV (one line per row; with
    skip_nonfinite, a row with a missing, NaN or infinite value gets empty fields)."""
    _, state, model = open_checkpoint(path, _warn)
    if state["data"]["task"] == "text":
        raise UsageError("a language model predicts the next characters of a text, not rows "
                         f"of a CSV file: use chainrule sample {path} --prompt TEXT")
    X, ok = _read_features(input_csv, state, skip_nonfinite)
    outputs = predict(model, prepare(X[ok], state["data"]["preprocess"]))
    classes = [safe(c) for c in state["data"]["classes"]]  # text from a file: escaped
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    rows = iter(outputs)
    if state["data"]["task"] == "classification":
        z = outputs - outputs.max(-1, keepdims=True)
        rows = iter(zip(outputs.argmax(-1), np.exp(z) / np.exp(z).sum(-1, keepdims=True)))
        w.writerow(["prediction"] + [f"p_{c}" for c in classes])
        for usable in ok:
            k, p = next(rows) if usable else (None, None)
            w.writerow([classes[k]] + [f"{v:.6f}" for v in p] if usable
                       else [""] * (len(classes) + 1))
    else:
        w.writerow(["prediction"])
        w.writerows([f"{next(rows)[0]:.6g}" if usable else ""] for usable in ok)
    text = buf.getvalue()
    if output:
        io.atomic_write(output, text.encode())
        print(f"wrote {len(X)} predictions to {safe(output)}", file=out)
    else:
        out.write(text)
    return 0


def run_info(path: str, out: TextIO) -> int:
    """Describe a run checkpoint (or list the tensors of any chainrule.io file); every string
    from the file is printed escaped (trust.safe)."""
    p = Path(path)
    if p.is_file():
        obj = runs.load_raw(p)
        if not (isinstance(obj, dict) and obj.get("kind") == runs.KIND):
            return _info_plain(p, obj, out)
    ckpt, state, model = open_checkpoint(path, _warn)
    cfg, d, hist = state["config"], state["data"], state["history"]
    what = (f"classification, {len(d['classes'])} classes" if d["task"] == "classification"
            else f"text, a vocabulary of {len(d['classes'])} characters" if d["task"] == "text"
            else "regression")
    print(f"checkpoint  {safe(ckpt)}  ({io.integrity(ckpt)})", file=out)
    print(f"data        {safe(d['name'])} ({what}), inputs of shape {d['input_shape']}",
          file=out)
    print(f"model       {cfg['model']}, {model.num_parameters():,} parameters", file=out)
    print("            " + repr(model).replace("\n", "\n            "), file=out)
    print(f"training    {cfg['optimizer']} lr {cfg['lr']:g}, batch {cfg['batch_size']}, "
          f"schedule {cfg['schedule']}, loss {cfg['loss']}, seed {cfg['seed']}", file=out)
    print(f"progress    epoch {state['epoch']} of {cfg['epochs']} ({state['step']} steps)",
          file=out)
    for label, row in (("first", hist[0] if hist else None), ("best", state["best"]),
                       ("last", hist[-1] if hist else None)):
        if row:
            print(f"  {label:<5} epoch {row['epoch']:>4}: " + _row_text(row), file=out)
    return 0


def _row_text(row: dict[str, Any]) -> str:
    keys = ["loss", "accuracy", "val_loss", "val_accuracy"]
    return "  ".join(f"{k} {row[k]:.2%}" if "accuracy" in k else f"{k} {row[k]:.4f}"
                     for k in keys if row.get(k) is not None)


def _info_plain(path: Path, obj: Any, out: TextIO) -> int:
    print(f"{safe(path)}: a chainrule.io file ({io.integrity(path)}), not a training "
          "checkpoint", file=out)
    arrays: list[tuple[str, np.ndarray]] = []

    todo: list[tuple[Any, str]] = [(obj, "")]  # a stack, not recursion: any depth is fine
    while todo:
        o, prefix = todo.pop()
        if isinstance(o, np.ndarray):
            arrays.append((prefix, o))
        elif isinstance(o, (dict, list, tuple)):
            items = o.items() if isinstance(o, dict) else enumerate(o)
            todo.extend((v, f"{prefix}.{k}" if prefix else str(k))
                        for k, v in reversed(list(items)))
    for name, a in arrays:
        print(f"  {safe(name):<40} {a.dtype.name:<8} {list(a.shape)}", file=out)
    print(f"{len(arrays)} tensors, {sum(a.size for _, a in arrays):,} values", file=out)
    return 0
