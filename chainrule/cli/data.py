"""The data of a run: a data set name in, train and validation arrays and their description out.

Synthetic sets and CSV files are split by a fixed seed (the --seed of a run never changes the
data, so runs with different seeds compare fairly). MNIST-style sets use their own test split
for validation; when only the t10k files are present, its first 8 000 images train and the last
2 000 validate (the convention of ../shared/datasets/mnist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.cli.options import IDX_SETS, UsageError
from chainrule.cli.trust import Recorded, check_data_fits, safe
from chainrule.data import datasets

DATA_SEED = 0  # the synthetic data and every split are drawn from this, whatever --seed says
SAMPLES = {"spiral": 1500, "sine": 500}
# bytes a synthetic example costs from its generation to the split model inputs (measured with
# tracemalloc: up to ~90 while generated, then the float32 copies of the splits)
BYTES_PER_SAMPLE = 256


@dataclass
class Data:
    """Arrays ready for the model: X float32 (n, features) or (n, 1, 28, 28); y int64 classes
    or float32 (n, 1) targets; `preprocess` maps raw inputs to the model's (see prepare)."""

    name: str
    task: str  # "classification" | "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: list[str]
    input_shape: list[int]
    preprocess: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def n_outputs(self) -> int:
        # a language model ("text") has one output per character of its vocabulary (classes)
        return len(self.classes) if self.task in ("classification", "text") else 1


def prepare(X: np.ndarray, preprocess: dict[str, Any]) -> np.ndarray:
    """Raw inputs -> model inputs: scale (images), or standardise with the training set's
    mean and std (CSV features); reshape to the model's input shape."""
    X = np.asarray(X, dtype=np.float32)
    if "scale" in preprocess:
        X = X * np.float32(preprocess["scale"])
    if "mean" in preprocess:
        X = (X - np.asarray(preprocess["mean"], np.float32)) / np.asarray(preprocess["std"],
                                                                          np.float32)
    return X.reshape(len(X), *preprocess["input_shape"]).astype(np.float32, copy=False)


def _split(n: int, val_split: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(DATA_SEED).permutation(n)
    n_val = int(round(n * val_split))
    if val_split > 0 and n - n_val < 1 or (val_split > 0 and n_val < 1):
        raise UsageError(f"--val-split {val_split}: {n} examples are too few to hold out a "
                         "validation set; change --val-split or --samples")
    return order[n_val:], order[:n_val]


def _from_arrays(name: str, task: str, X: np.ndarray, y: np.ndarray, classes: list[str],
                 cfg: dict[str, Any], preprocess: dict[str, Any],
                 saved: dict[str, Any] | None) -> Data:
    tr, va = _split(len(X), cfg["val_split"])
    prep = {**preprocess, "input_shape": list(X.shape[1:])}
    if saved is not None:  # a trained model's own preprocessing, whatever this data's stats
        if prep["input_shape"] != saved["input_shape"]:
            raise datasets.DatasetError(f"{name} has inputs of shape {prep['input_shape']}, "
                                        f"the model takes {saved['input_shape']}")
        prep = saved
    elif "mean" in prep:  # standardise with the training rows only: no peeking at validation
        mean, std = X[tr].mean(0), X[tr].std(0)
        prep.update(mean=mean.tolist(), std=np.where(std > 0, std, 1).tolist())
    return Data(name, task, prepare(X[tr], prep), y[tr], prepare(X[va], prep), y[va], classes,
                prep["input_shape"], prep)


def load_data(cfg: dict[str, Any], preprocess: dict[str, Any] | None = None) -> Data:
    """Train and validation data for the resolved options cfg (dataset, samples, data_dir,
    label_column, val_split); `preprocess` (a checkpoint's) replaces the one computed from
    the data."""
    name = cfg["dataset"]
    if name == "text" or str(name).lower().endswith(".txt"):
        from chainrule.cli.text import load_text_data

        return load_text_data(cfg, preprocess)
    if name in datasets.CLASSIFICATION or name in datasets.REGRESSION:
        fn = datasets.CLASSIFICATION.get(name) or datasets.REGRESSION[name]
        n = cfg["samples"] or SAMPLES.get(name, 1000)
        check_data_fits(f"--samples {n:,} of {name}", n * BYTES_PER_SAMPLE)
        X, y = fn(n_samples=n, seed=DATA_SEED)
        task = "classification" if name in datasets.CLASSIFICATION else "regression"
        classes = [str(k) for k in range(int(y.max()) + 1)] if task == "classification" else []
        return _from_arrays(name, task, X, y, classes, cfg, {}, preprocess)
    if name in IDX_SETS:
        return _load_idx(name, cfg)
    if isinstance(name, Recorded):
        raise UsageError(f"the model was trained on the CSV file {safe(name)!r}; a path "
                         "recorded in a checkpoint is never opened: pass --dataset FILE")
    table = datasets.load_csv(name, cfg["label_column"], max_rows=cfg["samples"],
                              skip_nonfinite=cfg.get("skip_nonfinite", False))
    data = _from_arrays(name, table.task, table.X, table.y, table.classes, cfg,
                        {"mean": None, "feature_names": table.feature_names,
                         "label_name": table.label_name}, preprocess)
    if table.skipped:
        data.notes.append(f"--skip-nonfinite: left out {table.skipped:,} rows of {name} with "
                          "a missing, NaN or infinite value")
    return data


def _load_idx(name: str, cfg: dict[str, Any]) -> Data:
    from chainrule.data.datasets import images as idx_sets

    root = cfg["data_dir"]
    have = idx_sets.available_splits(name, root)
    where = root or str(idx_sets.default_root(name))
    prep = {"scale": 1 / 255, "input_shape": [1, 28, 28]}
    notes = []
    if "train" not in have and "t10k" in have:
        X, y = idx_sets.load_idx_dataset(name, root, train=False, download=False)
        n_train = len(X) * 4 // 5
        Xt, yt, Xv, yv = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
        notes.append(f"only the t10k files are in {where}: training on its first {n_train} "
                     f"images, validating on the last {len(X) - n_train}")
    else:
        Xt, yt = idx_sets.load_idx_dataset(name, root, train=True)
        Xv, yv = idx_sets.load_idx_dataset(name, root, train=False)
    if cfg["samples"] and cfg["samples"] < len(Xt):
        Xt, yt = Xt[:cfg["samples"]], yt[:cfg["samples"]]
        notes.append(f"--samples {cfg['samples']}: training on the first {len(Xt)} images")
    return Data(name, "classification", prepare(Xt, prep), yt, prepare(Xv, prep), yv,
                list(idx_sets.CLASSES[name]), prep["input_shape"], prep, notes)
