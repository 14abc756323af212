"""CSV files of numbers with one label column, for `chainrule train --dataset data.csv`.

A file is read as a stream: each row goes straight into float32 blocks, so loading takes about
the memory of the result arrays, not of the text (a list of strings per cell costs ~20 times the
numbers). A UTF-8 byte-order mark is skipped. Every bad cell is named by its line and column;
empty, NaN and infinite values (and numbers too large for float32) are refused, unless
skip_nonfinite=True leaves their rows out (counted in Table.skipped).
"""

from __future__ import annotations

import csv
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TextIO

import numpy as np

from chainrule.data.datasets.idx import DatasetError

LABEL_NAMES = ("label", "labels", "target", "class", "y")
BLOCK_VALUES = 1 << 18  # floats per parsed block: rows are parsed 1 MiB at a time
MAX_LABEL_STRINGS = 100_000  # distinct labels remembered; past that, labels must be numbers
SKIP_HINT = "pass --skip-nonfinite (skip_nonfinite=True) to leave such rows out"


@dataclass
class Table:
    """A loaded CSV: X float32 (n, features); y int64 class indices (classification) or
    float32 (n, 1) targets (regression); classes are the label values in index order;
    skipped counts the rows left out for a missing, NaN or infinite value."""

    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    feature_names: list[str]
    label_name: str
    classes: list[str] = field(default_factory=list)
    skipped: int = 0


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def open_text(path: Path) -> TextIO:
    """path opened as UTF-8 text, a byte-order mark skipped; only a file or a pipe (a device
    such as /dev/zero would be read forever)."""
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, not a CSV file") from None
    mode = os.fstat(f.fileno()).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        f.close()
        raise DatasetError(f"{path}: not a regular file (a device or a socket); give the path "
                           "of a CSV file")
    return f


class _Rows:
    """The non-blank rows of a CSV stream with their line numbers; csv and encoding errors
    become DatasetError naming the line."""

    def __init__(self, f: TextIO, path: Path, delimiter: str) -> None:
        self.reader, self.path = csv.reader(f, delimiter=delimiter), path

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        it = iter(self.reader)
        while True:
            try:
                row = next(it)
            except StopIteration:
                return
            except csv.Error as e:
                raise DatasetError(f"{self.path}, line {max(self.reader.line_num, 1)}: not "
                                   f"readable as CSV ({e})") from None
            except UnicodeDecodeError as e:
                raise DatasetError(f"{self.path}, near line {self.reader.line_num + 1}: not "
                                   f"a UTF-8 text CSV file ({e.reason})") from None
            if row:
                yield self.reader.line_num, row


def _is_header(row: list[str]) -> bool:
    """A header names every column: no field of it is a number. (A first row that mixes
    numbers and words is data, and its words are reported as bad values.)"""
    return not any(_is_number(v) for v in row)


class _Parser:
    """Rows parsed as they are read, into arrays that grow in place (ndarray.resize: realloc,
    which large allocations do without copying): features float32; labels as numbers and as
    codes of their distinct strings (so word classes need no string per row). Each block of
    rows is checked for NaN and infinity as it completes, naming the first bad cell's line."""

    def __init__(self, path: Path, width: int, label: int | None, names: list[str] | None,
                 skip: bool, drop: int | None = None) -> None:
        self.path, self.width, self.label, self.drop, self.names = path, width, label, drop, names
        self.skip, self.predict = skip, label is None  # features only: rows for predictions
        self.columns = [c for c in range(width) if c not in (label, drop)]
        self.nfeat = len(self.columns)
        self.block = max(1, BLOCK_VALUES // max(self.nfeat, 1))
        self.X = np.empty((self.block, self.nfeat), np.float32)
        self.y_num, self.y_code = np.empty(self.block), np.empty(self.block, np.int32)
        self.lines = np.empty(self.block, np.int64)  # of the rows not yet checked
        self.ok: list[np.ndarray] = []  # predictions: which rows are usable, per block
        self.codes: dict[str, tuple[int, float]] = {}
        self.words = self.too_many = False
        self.read = self.n = self.checked = self.skipped = 0

    def _where(self, line: int, col: int) -> tuple[str, str]:
        name = f", {self.names[col]!r}" if self.names else ""
        return (f"{self.path}, {'row' if self.predict else 'line'} {line}",
                f"column {col + 1}{name}")

    def add(self, line: int, row: list[str]) -> None:
        self.read += 1
        if len(row) != self.width:
            at = f"{self.path}, {'row' if self.predict else 'line'} {line}"
            raise DatasetError(f"{at}: {len(row)} fields, expected {self.width}")
        if self.n == len(self.X):
            self._resize(len(self.X) * 5 // 4 + self.block)
        if self.label is not None:
            text = row.pop(self.label).strip()
            if not self._label(line, text):
                self.skipped += 1
                return
        elif self.drop is not None:
            del row[self.drop]
        n = self.n
        try:  # (under np.errstate(over="ignore"): a number too big for float32 is refused below)
            self.X[n] = [float(v) for v in row]
        except ValueError:
            self.X[n] = [self._cell(line, j, v) for j, v in enumerate(row)]
        self.lines[n - self.checked] = line
        self.n += 1
        if self.n - self.checked == self.block:
            self._check()

    def _resize(self, rows: int) -> None:
        self.X.resize((rows, self.nfeat), refcheck=False)  # no view of these arrays is kept
        self.y_num.resize(rows, refcheck=False)
        self.y_code.resize(rows, refcheck=False)

    def _cell(self, line: int, j: int, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            if not text.strip():
                return float("nan")  # a missing value: refused or skipped with the NaNs
        at, col = self._where(line, self.columns[j])
        if self.predict:
            raise DatasetError(f"{at}: a value is not a number ({text!r} in {col})")
        raise DatasetError(f"{at}: feature value {text!r} is not a number ({col})")

    def _label(self, line: int, text: str) -> bool:
        """Record the label of row self.n; False when the row is skipped for it."""
        known = self.codes.get(text)
        if known is None:
            known = self._new_label(line, text)
            if known is None:
                return False
        self.y_code[self.n], self.y_num[self.n] = known
        return True

    def _new_label(self, line: int, text: str) -> tuple[int, float] | None:
        try:
            value = float(text)
        except ValueError:
            value = None
        if not text or (value is not None and not math.isfinite(value)):
            if self.skip:
                return None
            self._check()  # a bad feature on an earlier line is named first
            at, col = self._where(line, self.label)  # type: ignore[arg-type]
            raise DatasetError(f"{at}: the label {text!r} is missing, NaN or infinity ({col}); "
                               f"{SKIP_HINT}")
        if value is None:
            if self.too_many:
                raise DatasetError(f"{self.path}, line {line}: the label {text!r} is a word "
                                   f"among more than {MAX_LABEL_STRINGS:,} distinct labels")
            self.words = True
        known = (-1, np.nan if value is None else value)
        if self.too_many:
            return known
        if len(self.codes) < MAX_LABEL_STRINGS:
            known = (len(self.codes), known[1])
            self.codes[text] = known
        elif self.words:
            raise DatasetError(f"{self.path}, line {line}: more than {MAX_LABEL_STRINGS:,} "
                               "distinct labels, some of them words")
        else:
            self.too_many = True  # a regression target: numbers only from here on
        return known

    def _check(self) -> None:
        """Check the rows since the last check for NaN and infinity: refuse, drop (skip), or
        mark them unusable (skip, for predictions)."""
        a, b = self.checked, self.n
        finite = np.isfinite(self.X[a:b]).all(axis=1)
        if not finite.all():
            if not self.skip:
                r = int(np.argmin(finite))
                j = int(np.argmin(np.isfinite(self.X[a + r])))
                at, col = self._where(int(self.lines[r]), self.columns[j])
                raise DatasetError(f"{at}: a feature value is missing, NaN or infinity (or too "
                                   f"large for float32) in {col}; {SKIP_HINT}")
            if not self.predict:  # keep the finite rows, moved up over the others
                keep = a + int(finite.sum())
                for arr in (self.X, self.y_num, self.y_code):
                    arr[a:keep] = arr[a:b][finite]
                self.skipped += b - keep
                self.n = b = keep
        self.ok.append(finite)
        self.checked = b

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """X float32 (rows, features), label numbers, label codes, and (for predictions) which
        rows are finite."""
        self._check()
        self._resize(self.n)
        ok = np.concatenate(self.ok) if self.ok else np.ones(0, bool)
        return self.X, self.y_num, self.y_code, ok

    def labels(self, nums: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
        """Integers or words are classes (in sorted order); other numbers a regression target."""
        if not self.words:
            if not np.all(nums == np.round(nums)):
                return nums.astype(np.float32).reshape(-1, 1), "regression", []
            uniq = np.unique(nums)
            return (np.searchsorted(uniq, nums).astype(np.int64), "classification",
                    [str(int(u)) for u in uniq])
        names = sorted(self.codes)
        rank = np.empty(len(names), np.int64)
        for i, name in enumerate(names):
            rank[self.codes[name][0]] = i
        return rank[codes], "classification", names


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


def _first(rows: Iterator[tuple[int, list[str]]]) -> tuple[list[str] | None,
                                                            tuple[int, list[str]] | None]:
    """The header (or None) and the first data row (or None) of a stream of rows."""
    first = next(rows, None)
    if first is None or not _is_header(first[1]):
        return None, first
    return first[1], next(rows, None)


def load_csv(path: str | Path, label_column: str | int | None = None, delimiter: str = ",",
             skip_nonfinite: bool = False, max_rows: int | None = None) -> Table:
    """Read a CSV of numeric features and one label column.

    The first row is a header when none of its fields is a number. The label column is
    `label_column` (a name or a 0-based index), else the first column named label, target,
    class or y, else the last column. Labels that are integers or words are classes (mapped to
    0..k-1 in sorted order); other numbers make a regression target. A missing, NaN or
    infinite value raises DatasetError naming its line and column, or with skip_nonfinite its
    row is left out. max_rows: read only the first max_rows data rows of the file.
    """
    path = Path(path)
    with open_text(path) as f, np.errstate(over="ignore"):
        rows = iter(_Rows(f, path, delimiter))
        header, first = _first(rows)
        if first is None:
            raise DatasetError(f"{path}: no data rows")
        width = len(header) if header else len(first[1])
        if width < 2:
            raise DatasetError(f"{path}: need at least one feature column and one label column")
        li = _label_index(path, header, width, label_column)
        parser = _Parser(path, width, li, header, skip_nonfinite)
        for line, row in _chain(first, rows):
            parser.add(line, row)
            if max_rows is not None and parser.read >= max_rows:
                break
    X, nums, codes, _ = parser.arrays()
    if not len(X):
        raise DatasetError(f"{path}: no data rows" + (f" left: all {parser.skipped} had a "
                                                        "missing, NaN or infinite value"
                                                        if parser.skipped else ""))
    y, task, classes = parser.labels(nums, codes)
    names = header[:li] + header[li + 1:] if header else [f"x{i}" for i in range(width - 1)]
    label_name = header[li] if header else f"column {li}"
    return Table(X, y, task, names, label_name, classes, parser.skipped)


def _chain(first: tuple[int, list[str]],
           rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rows


def load_features(path: str | Path, drop: str | None = None, skip_nonfinite: bool = False,
                  delimiter: str = ",") -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The rows of a CSV of features only (for predictions): X float32 (rows, columns), which
    rows are usable (all True unless skip_nonfinite kept rows with a missing, NaN or infinite
    value, as NaN), and the header (None without one). A column of the header named `drop`
    (the training label) is left out."""
    path = Path(path)
    with open_text(path) as f, np.errstate(over="ignore"):
        rows = iter(_Rows(f, path, delimiter))
        header, first = _first(rows)
        if first is None:
            raise DatasetError(f"{path}: no rows")
        width = len(header) if header else len(first[1])
        li = header.index(drop) if header and drop in header else None
        parser = _Parser(path, width, None, header, skip_nonfinite, drop=li)
        for line, row in _chain(first, rows):
            parser.add(line, row)
    X, _, _, ok = parser.arrays()
    return X, ok, header
