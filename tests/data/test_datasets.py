"""Built-in data sets: the synthetic sets (seeded, shaped, balanced), the IDX reader on small
files written here, the MNIST loader's checks and download path (through file:// mirrors, so
no network is needed), the real MNIST test set when present, and CSV loading."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import datasets
from chainrule.data.datasets import DatasetError, DatasetNotFoundError, images

# -- synthetic sets ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(datasets.CLASSIFICATION))
def test_classification_sets_are_seeded_shaped_and_balanced(name):
    fn = datasets.CLASSIFICATION[name]
    X, y = fn(n_samples=301, seed=3)
    assert X.shape == (301, 2) and X.dtype == np.float32
    assert y.shape == (301,) and y.dtype == np.int64
    assert np.all(np.isfinite(X)) and np.abs(X).max() < 4
    counts = np.bincount(y)
    assert len(counts) >= 2 and counts.min() > 0.3 * counts.max()
    cr.manual_seed(123)  # the global generator must not matter
    X2, y2 = fn(n_samples=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = fn(n_samples=301, seed=4)
    assert not np.array_equal(X, X3)


def test_spiral_has_one_arm_per_class_and_is_shuffled():
    X, y = datasets.spiral(n_samples=600, n_classes=5, noise=0.0)
    assert sorted(np.unique(y)) == [0, 1, 2, 3, 4]
    assert np.all(np.bincount(y) == 120)
    assert len(np.unique(y[:20])) > 1  # not sorted by class
    r = np.linalg.norm(X, axis=1)
    assert 0.04 < r.min() and r.max() <= 1.0 + 1e-6


def test_sine_is_a_noisy_regression_set():
    X, y = datasets.sine(n_samples=400, noise=0.1)
    assert X.shape == y.shape == (400, 1) and y.dtype == np.float32
    assert np.abs(X).max() <= np.pi
    residual = y - np.sin(X)
    assert 0.07 < residual.std() < 0.13
    X0, y0 = datasets.sine(n_samples=50, noise=0.0)
    np.testing.assert_allclose(y0, np.sin(X0), atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples"), ({"n_samples": 2.5}, "n_samples"),
    ({"noise": -1.0}, "noise"), ({"noise": float("nan")}, "noise"),
    ({"n_classes": 1}, "n_classes"),
])
def test_synthetic_sets_refuse_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.spiral(**kwargs)


# -- IDX files ----------------------------------------------------------------------------------
CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file written by hand, independently of the reader under test."""
    head = bytes([0, 0, CODES[arr.dtype.type], arr.ndim])
    head += b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_type_raw_and_gzip(tmp_path, rng, dtype, gz):
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = write(tmp_path / "a-idx3-ubyte", idx_bytes(arr), gz)
    out = datasets.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b"", "an empty file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
    (lambda b: b[:9], "header is truncated"),
    (lambda b: b[:-1], r"truncated: shape \(2, 3\) of uint8 needs 6 bytes of data, found 5"),
    (lambda b: b + b"\0", "longer than its header says"),
    (lambda b: b[:4] + struct.pack(">II", 2**31, 2**31) + b[12:], "promises an array"),
])
def test_bad_idx_files_name_the_file_and_what_was_expected(tmp_path, mutate, match):
    good = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))
    path = write(tmp_path / "bad-idx", mutate(good))
    with pytest.raises(DatasetError, match=match) as e:
        datasets.read_idx(path)
    assert str(path) in str(e.value)


def test_damaged_gzip_is_reported(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    path = write(tmp_path / "t10k-images-idx3-ubyte.gz", data[: len(data) // 2])
    with pytest.raises(DatasetError, match="gzip stream is damaged or truncated") as e:
        datasets.read_idx(path)
    assert str(path) in str(e.value)


def make_mnist_dir(root: Path, n: int = 6, split: str = "t10k", gz: bool = True,
                   labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    X = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8) if labels is None else labels
    suffix = ".gz" if gz else ""
    write(root / f"{split}-images-idx3-ubyte{suffix}", idx_bytes(X), gz)
    write(root / f"{split}-labels-idx1-ubyte{suffix}", idx_bytes(y), gz)
    return X, y


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loader_reads_small_files_without_verification(tmp_path, gz):
    X, y = make_mnist_dir(tmp_path, gz=gz)
    images_, labels = datasets.mnist(tmp_path, train=False, download=False, verify=False)
    np.testing.assert_array_equal(images_, X)
    np.testing.assert_array_equal(labels, y)
    assert labels.dtype == np.int64
    assert images.available_splits("mnist", tmp_path) == ["t10k"]


def test_mnist_loader_checks_md5_count_and_labels(tmp_path):
    make_mnist_dir(tmp_path)
    with pytest.raises(DatasetError, match="MD5 sum .* differs from the official mnist"):
        datasets.mnist(tmp_path, train=False, download=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    make_mnist_dir(raw, gz=False)  # raw files have no published MD5: the count is checked
    with pytest.raises(DatasetError, match="expected 10000 images, found 6"):
        datasets.mnist(raw, train=False, download=False)
    bad = tmp_path / "labels"
    bad.mkdir()
    make_mnist_dir(bad, labels=np.array([1, 2, 3, 4, 5, 12], np.uint8))
    with pytest.raises(DatasetError, match=r"labels must lie in 0..9, found 1..12"):
        datasets.mnist(bad, train=False, download=False, verify=False)
    short = tmp_path / "short"
    short.mkdir()
    make_mnist_dir(short, labels=np.array([1, 2], np.uint8))
    with pytest.raises(DatasetError, match=r"one label per image \(6\)"):
        datasets.mnist(short, train=False, download=False, verify=False)


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.fashion_mnist(tmp_path, train=True, download=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg


def _serve(monkeypatch, tmp_path, name: str, files: dict[str, bytes]) -> Path:
    """A file:// mirror holding `files`, after a mirror that does not exist."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for fname, data in files.items():
        (mirror / fname).write_bytes(data)
    sums = {f: hashlib.md5(d).hexdigest() for f, d in files.items()}
    dead = (tmp_path / "no-such-mirror").as_uri() + "/"
    monkeypatch.setitem(images.SOURCES, name, ([dead, mirror.as_uri() + "/"], sums))
    return mirror


def test_download_from_the_first_mirror_that_answers(tmp_path, monkeypatch):
    X = np.full((4, 28, 28), 7, np.uint8)
    y = np.array([0, 1, 2, 3], np.uint8)
    files = {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(X)),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(y))}
    _serve(monkeypatch, tmp_path, "mnist", files)
    cache = tmp_path / "cache" / "mnist"
    monkeypatch.setitem(images.SIZES, "t10k", 4)
    out_X, out_y = datasets.mnist(cache, train=False)
    np.testing.assert_array_equal(out_X, X)
    np.testing.assert_array_equal(out_y, y)
    assert sorted(p.name for p in cache.iterdir()) == sorted(files)  # no partial files left


def test_offline_download_failure_lists_mirrors_and_the_folder(tmp_path, monkeypatch):
    files = {"t10k-images-idx3-ubyte.gz": b"x", "t10k-labels-idx1-ubyte.gz": b"y"}
    mirror = _serve(monkeypatch, tmp_path, "mnist", files)
    (mirror / "t10k-images-idx3-ubyte.gz").write_bytes(b"not what the MD5 promised")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.mnist(cache, train=False)
    msg = str(e.value)
    assert "could not be downloaded" in msg and "wrong MD5" in msg
    assert "no-such-mirror" in msg and str(cache) in msg and "offline" in msg
    assert not any(cache.iterdir())


def test_real_mnist_test_set(mnist_dir):
    X, y = datasets.mnist(mnist_dir, train=False, download=False)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).min() > 800 and X.max() == 255


# -- CSV ----------------------------------------------------------------------------------------
def test_csv_with_header_and_named_label_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,species,b\n1,cat,2\n3,dog,4\n5,cat,6\n")
    t = datasets.load_csv(p, label_column="species")
    assert t.task == "classification" and t.classes == ["cat", "dog"]
    np.testing.assert_array_equal(t.X, [[1, 2], [3, 4], [5, 6]])
    assert t.y.tolist() == [0, 1, 0] and t.feature_names == ["a", "b"]
    with pytest.raises(DatasetError, match="feature value 'cat' is not a number"):
        datasets.load_csv(p)  # the label defaults to the last column: words become features
    q = tmp_path / "e.csv"
    q.write_text("x,Label,y\n1,b,2\n3,a,4\n")
    t = datasets.load_csv(q)
    assert t.label_name == "Label" and t.classes == ["a", "b"] and t.y.tolist() == [1, 0]


def test_csv_label_column_defaults(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("x,target,z\n1,0.5,2\n3,1.25,4\n")
    t = datasets.load_csv(p)
    assert t.task == "regression" and t.y.shape == (2, 1) and t.label_name == "target"
    q = tmp_path / "n.csv"
    q.write_text("0.1,0.2,3\n0.3,0.4,1\n0.5,0.6,3\n")
    t = datasets.load_csv(q)
    assert t.task == "classification" and t.classes == ["1", "3"] and t.y.tolist() == [1, 0, 1]
    t = datasets.load_csv(q, label_column=0)
    assert t.task == "regression" and t.X.tolist()[0] == pytest.approx([0.2, 3.0])


@pytest.mark.parametrize("text, kwargs, match", [
    ("a,b,label\n1,x,0\n", {}, r"line 2: feature value 'x' is not a number"),
    ("a,b,label\n1,2,0\n1,2\n", {}, r"line 3: 2 fields, expected 3"),
    ("a,b\n1,2\n", {"label_column": "c"}, "no column named 'c'"),
    ("1,2\n", {"label_column": 5}, "out of range"),
    ("a\n1\n", {}, "at least one feature column"),
    ("a,b\n", {}, "no data rows"),
    ("a,b\n1,nan\n", {}, "NaN or infinity"),
])
def test_bad_csv_files_name_the_problem(tmp_path, text, kwargs, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DatasetError, match=match) as e:
        datasets.load_csv(p, **kwargs)
    assert str(p) in str(e.value)
