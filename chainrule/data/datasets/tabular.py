"""CSV files of numbers with one label column, for `chainrule train --dataset data.csv`."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.data.datasets.idx import DatasetError

LABEL_NAMES = ("label", "labels", "target", "class", "y")


@dataclass
class Table:
    """A loaded CSV: X float32 (n, features); y int64 class indices (classification) or
    float32 (n, 1) targets (regression); classes are the label values in index order."""

    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    feature_names: list[str]
    label_name: str
    classes: list[str] = field(default_factory=list)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _label_index(path: Path, header: list[str] | None, width: int,
                 label_column: str | int | None) -> int:
    if label_column is None:
        lowered = [h.strip().lower() for h in header] if header else []
        hits = [i for i, h in enumerate(lowered) if h in LABEL_NAMES]
        return hits[0] if hits else width - 1
    if isinstance(label_column, int) or str(label_column).lstrip("-").isdigit():
        i = int(label_column)
        if not -width <= i < width:
            raise DatasetError(f"{path}: label column {i} is out of range for {width} columns")
        return i % width
    if header is None or label_column not in header:
        raise DatasetError(f"{path}: no column named {label_column!r}; the columns are "
                           f"{header if header else 'unnamed (give an index instead)'}")
    return header.index(label_column)


def _parse_labels(raw: list[str]) -> tuple[np.ndarray, str, list[str]]:
    """Integers or words are classes; other numbers are regression targets."""
    if all(_is_number(v) for v in raw):
        values = np.array([float(v) for v in raw])
        if not np.all(values == np.round(values)):
            return values.astype(np.float32).reshape(-1, 1), "regression", []
        uniq = np.unique(values)
        return (np.searchsorted(uniq, values).astype(np.int64), "classification",
                [str(int(u)) for u in uniq])
    uniq = sorted(set(raw))
    index = {v: i for i, v in enumerate(uniq)}
    return np.array([index[v] for v in raw], dtype=np.int64), "classification", uniq


def _features(path: Path, body: list[list[str]], li: int, width: int,
              first_line: int) -> np.ndarray:
    """Every column but the label's, as float32 (rows, width - 1)."""
    X = np.empty((len(body), width - 1), dtype=np.float32)
    for r, row in enumerate(body):
        if len(row) != width:
            raise DatasetError(f"{path}, line {r + first_line}: {len(row)} fields, expected "
                               f"{width}")
        feats = row[:li] + row[li + 1:]
        try:
            X[r] = [float(v) for v in feats]
        except ValueError:
            bad = next(v for v in feats if not _is_number(v))
            raise DatasetError(f"{path}, line {r + first_line}: feature value {bad!r} is not "
                               "a number") from None
    if not np.all(np.isfinite(X)):
        raise DatasetError(f"{path}: features contain NaN or infinity")
    return X


def load_csv(path: str | Path, label_column: str | int | None = None,
             delimiter: str = ",") -> Table:
    """Read a CSV of numeric features and one label column.

    The first row is a header when any of its fields is not a number. The label column is
    `label_column` (a name or a 0-based index), else the first column named label, target,
    class or y, else the last column. Labels that are integers or words are classes (mapped to
    0..k-1 in sorted order); other numbers make a regression target.
    """
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(f, delimiter=delimiter) if r]
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not a text CSV file ({e})") from None
    header = rows[0] if rows and not all(_is_number(v) for v in rows[0]) else None
    body = rows[1:] if header else rows
    if not body:
        raise DatasetError(f"{path}: no data rows")
    width = len(header) if header else len(body[0])
    if width < 2:
        raise DatasetError(f"{path}: need at least one feature column and one label column")
    li = _label_index(path, header, width, label_column)
    X = _features(path, body, li, width, first_line=2 if header else 1)
    y, task, classes = _parse_labels([row[li].strip() for row in body])
    if task == "regression" and not np.all(np.isfinite(y)):
        raise DatasetError(f"{path}: the label column contains NaN or infinity")
    names = header[:li] + header[li + 1:] if header else [f"x{i}" for i in range(width - 1)]
    label_name = header[li] if header else f"column {li}"
    return Table(X, y, task, names, label_name, classes)
