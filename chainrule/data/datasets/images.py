"""MNIST and Fashion-MNIST: find the IDX files, check them, download them when missing.

Files are looked up in `root` (default ~/.cache/chainrule/<name>) as `train-images-idx3-ubyte.gz`
(or the same name without .gz, uncompressed) and so on. Official .gz files are checked against
their published MD5 sums; every file is checked for its shape and its labels for their range.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from chainrule.data.datasets.idx import DatasetError, DatasetNotFoundError, read_idx

# name -> (mirrors, {file: md5}); the MD5 sums published with the data sets (also torchvision's)
SOURCES: dict[str, tuple[list[str], dict[str, str]]] = {
    "mnist": (
        ["https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/",
         "http://yann.lecun.com/exdb/mnist/"],
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion-mnist": (
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
}
SIZES = {"train": 60000, "t10k": 10000}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
DOWNLOAD_TIMEOUT_S = 20.0


def default_root(name: str) -> Path:
    """~/.cache/chainrule/<name>: where data sets are looked for and downloaded to."""
    return Path.home() / ".cache" / "chainrule" / name


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(root: Path, stem: str) -> Path | None:
    """The file for `stem` (e.g. 't10k-images-idx3-ubyte') in root: .gz first, then raw."""
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    return None


def available_splits(name: str, root: str | Path | None = None) -> list[str]:
    """Which of 'train' and 't10k' have both their files in root (nothing is downloaded)."""
    root = Path(root) if root is not None else default_root(name)
    return [split for split in SIZES
            if all(locate(root, f"{split}-{kind}") for kind in ("images-idx3-ubyte",
                                                                  "labels-idx1-ubyte"))]


def download(name: str, filename: str, root: Path) -> Path:
    """Fetch `filename` from the first mirror that answers into root, checking its MD5; the
    file appears only once complete (written beside it, then renamed)."""
    mirrors, sums = SOURCES[name]
    root.mkdir(parents=True, exist_ok=True)
    dest, tried = root / filename, []
    for base in mirrors:
        tmp = root / f".{filename}.{os.getpid()}.part"
        try:
            with urllib.request.urlopen(base + filename, timeout=DOWNLOAD_TIMEOUT_S) as r, \
                    tmp.open("wb") as f:
                f.write(r.read())
            if _md5(tmp) != sums[filename]:
                raise DatasetError("the downloaded file has the wrong MD5 sum")
            os.replace(tmp, dest)
            return dest
        except (OSError, ValueError) as e:
            tried.append(f"{base + filename}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    urls = "\n  ".join(tried)
    raise DatasetNotFoundError(
        f"{name}: {filename} is not in {root} and could not be downloaded:\n  {urls}\n"
        f"If this machine is offline, fetch the {name} files ({', '.join(sums)}) from "
        f"{mirrors[0]} elsewhere and copy them into {root} (or point root= / --data-dir at "
        "the folder that holds them)")


def _load_file(name: str, root: Path, stem: str, download_ok: bool, verify: bool) -> np.ndarray:
    path = locate(root, stem)
    if path is None:
        if not download_ok:
            raise DatasetNotFoundError(
                f"{name}: neither {stem}.gz nor {stem} is in {root}; copy the {name} files "
                f"there (from {SOURCES[name][0][0]}) or allow the download")
        path = download(name, f"{stem}.gz", root)
    expected_md5 = SOURCES[name][1].get(path.name)
    if verify and expected_md5 is not None:
        got = _md5(path)
        if got != expected_md5:
            raise DatasetError(
                f"{path}: MD5 sum {got} differs from the official {name} file's "
                f"{expected_md5}; the file is damaged or not the official one. Delete it "
                "to download it again, or pass verify=False to use it anyway")
    return read_idx(path)


def load_idx_dataset(name: str, root: str | Path | None = None, train: bool = True,
                     download: bool = True, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The train (60 000) or test ('t10k', 10 000) split of `name` ('mnist' or 'fashion-mnist'):
    images uint8 (n, 28, 28) and labels int64 (n,). With verify=False, any image count is
    accepted (small files written by tests) and the MD5 sums are not checked."""
    if name not in SOURCES:
        raise ValueError(f"unknown IDX data set {name!r}; known: {', '.join(SOURCES)}")
    root = Path(root).expanduser() if root is not None else default_root(name)
    split = "train" if train else "t10k"
    images = _load_file(name, root, f"{split}-images-idx3-ubyte", download, verify)
    labels = _load_file(name, root, f"{split}-labels-idx1-ubyte", download, verify)
    where = f"{name} {split} files in {root}"
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DatasetError(f"{where}: expected uint8 images of shape (n, 28, 28), got "
                           f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{where}: expected one label per image ({images.shape[0]}), got "
                           f"labels of shape {labels.shape}")
    if verify and images.shape[0] != SIZES[split]:
        raise DatasetError(f"{where}: expected {SIZES[split]} images, found {images.shape[0]}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"{where}: labels must lie in 0..9, found {labels.min()}.."
                           f"{labels.max()}")
    return images, labels.astype(np.int64)


def mnist(root: str | Path | None = None, train: bool = True, download: bool = True,
          verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: images uint8 (n, 28, 28), labels int64 (n,); see load_idx_dataset."""
    return load_idx_dataset("mnist", root, train, download, verify)


def fashion_mnist(root: str | Path | None = None, train: bool = True, download: bool = True,
                  verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST clothes (10 classes, CLASSES['fashion-mnist']); see load_idx_dataset."""
    return load_idx_dataset("fashion-mnist", root, train, download, verify)
