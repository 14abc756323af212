"""`chainrule evaluate`, `chainrule predict` and `chainrule info`: use and describe checkpoints."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from chainrule import io
from chainrule.cli import runs
from chainrule.cli.data import Data, load_data, prepare
from chainrule.cli.models import build_model
from chainrule.cli.options import UsageError
from chainrule.cli.trainer import evaluate, make_loss, predict
from chainrule.data.datasets import DatasetError


def open_checkpoint(path: str, warn: Any) -> tuple[Path, dict[str, Any], Any]:
    """The checkpoint (a file, or a run folder's best, else last, else previous), its state,
    and its model with the weights loaded."""
    ckpt, state = runs.find_checkpoint(path, (runs.BEST, runs.LAST, runs.PREVIOUS), warn)
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
                           f"model was trained on ({', '.join(classes)})")
    table = np.array([classes.index(c) for c in data.classes])
    return table[split_y]


def run_evaluate(path: str, given: dict[str, Any], split: str, out: TextIO) -> int:
    """Loss and accuracy (and per-class accuracy) of a checkpoint on a data split."""
    warn = lambda msg: print(f"warning: {msg}", file=sys.stderr)  # noqa: E731
    ckpt, state, model = open_checkpoint(path, warn)
    cfg = {**state["config"], **given}
    data = load_data(cfg, preprocess=state["data"]["preprocess"])
    if data.input_shape != state["architecture"]["input_shape"]:
        raise DatasetError(f"{data.name} has inputs of shape {data.input_shape}, the model "
                           f"in {ckpt} takes {state['architecture']['input_shape']}")
    X, y = {"val": (data.X_val, data.y_val), "train": (data.X_train, data.y_train),
            "all": (np.concatenate([data.X_train, data.X_val]),
                    np.concatenate([data.y_train, data.y_val]))}[split]
    if len(y) == 0:
        raise UsageError(f"the {split} split of {data.name} is empty; try --split all")
    classes = state["data"]["classes"]
    y = _remap_labels(data, classes, y)
    classify = data.task == "classification"
    loss, acc = evaluate(model, make_loss(cfg["loss"], data.task, len(classes)), X, y, classify)
    print(f"{ckpt} (epoch {state['epoch']}) on {data.name}, {split} split, {len(y)} examples:",
          file=out)
    print(f"  loss {loss:.4f}" + (f"  accuracy {acc:.2%}" if classify else ""), file=out)
    if classify and len(classes) <= 20:
        pred = predict(model, X).argmax(-1)
        for k, name in enumerate(classes):
            mask = y == k
            if mask.any():
                print(f"  class {name:>12}: {np.mean(pred[mask] == k):7.2%} of {mask.sum()}",
                      file=out)
    return 0


def _read_features(path: str, state: dict[str, Any]) -> np.ndarray:
    """The rows of a CSV of raw features (a header row is skipped; a column named like the
    training label is dropped), checked against the model's input width."""
    prep = state["data"]["preprocess"]
    width = int(np.prod(prep["input_shape"]))
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text CSV file") from None
    if not rows:
        raise DatasetError(f"{path}: no rows")
    header = None
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        header, rows = rows[0], rows[1:]
    drop = header.index(prep["label_name"]) if header and prep.get("label_name") in header \
        else None
    X = np.empty((len(rows), width), np.float32)
    for i, row in enumerate(rows):
        vals = [v for j, v in enumerate(row) if j != drop]
        if len(vals) != width:
            raise DatasetError(f"{path}, row {i + 1 + (header is not None)}: {len(vals)} "
                               f"values, but the model takes {width} features")
        try:
            X[i] = [float(v) for v in vals]
        except ValueError:
            raise DatasetError(f"{path}, row {i + 1 + (header is not None)}: a value is not "
                               "a number") from None
    return X


def run_predict(path: str, input_csv: str, output: str | None, out: TextIO) -> int:
    """Predictions of a checkpoint for the rows of a CSV file, as CSV."""
    warn = lambda msg: print(f"warning: {msg}", file=sys.stderr)  # noqa: E731
    _, state, model = open_checkpoint(path, warn)
    X = prepare(_read_features(input_csv, state), state["data"]["preprocess"])
    outputs = predict(model, X)
    classes = state["data"]["classes"]
    lines = []
    if state["data"]["task"] == "classification":
        z = outputs - outputs.max(-1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        lines.append(",".join(["prediction"] + [f"p_{c}" for c in classes]))
        for k, row in zip(outputs.argmax(-1), p):
            lines.append(",".join([classes[k]] + [f"{v:.6f}" for v in row]))
    else:
        lines.append("prediction")
        lines += [f"{v:.6g}" for v in outputs[:, 0]]
    text = "\n".join(lines) + "\n"
    if output:
        io.atomic_write(output, text.encode())
        print(f"wrote {len(X)} predictions to {output}", file=out)
    else:
        out.write(text)
    return 0


def run_info(path: str, out: TextIO) -> int:
    """Describe a run checkpoint (or list the tensors of any chainrule.io file)."""
    warn = lambda msg: print(f"warning: {msg}", file=sys.stderr)  # noqa: E731
    p = Path(path)
    if p.is_file():
        obj = io.load_raw(p)
        if not (isinstance(obj, dict) and obj.get("kind") == runs.KIND):
            return _info_plain(p, obj, out)
    ckpt, state, model = open_checkpoint(path, warn)
    cfg, d, hist = state["config"], state["data"], state["history"]
    what = (f"classification, {len(d['classes'])} classes" if d["task"] == "classification"
            else "regression")
    print(f"checkpoint  {ckpt}  (contents verified by SHA-256)", file=out)
    print(f"data        {d['name']} ({what}), inputs of shape {d['input_shape']}", file=out)
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
    print(f"{path}: a chainrule.io file (contents verified by SHA-256), not a training "
          "checkpoint", file=out)
    arrays: list[tuple[str, np.ndarray]] = []

    def walk(o: Any, prefix: str) -> None:
        if isinstance(o, np.ndarray):
            arrays.append((prefix, o))
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{prefix}.{i}" if prefix else str(i))
    walk(obj, "")
    for name, a in arrays:
        print(f"  {name:<40} {a.dtype.name:<8} {list(a.shape)}", file=out)
    print(f"{len(arrays)} tensors, {sum(a.size for _, a in arrays):,} values", file=out)
    return 0
