"""Built-in data sets: synthetic 2-D classification sets and a 1-D regression set (generated
from a seed, no files), MNIST and Fashion-MNIST (IDX files, downloaded when missing), and CSV.

    X, y = spiral(n_samples=1500, n_classes=3, seed=0)     # float32 (1500, 2), int64 (1500,)
    images, labels = mnist(root="data/mnist", train=False)  # uint8 (10000, 28, 28), int64
"""

from chainrule.data.datasets.idx import DatasetError, DatasetNotFoundError, parse_idx, read_idx
from chainrule.data.datasets.images import fashion_mnist, load_idx_dataset, mnist
from chainrule.data.datasets.synthetic import (
    CLASSIFICATION,
    REGRESSION,
    circles,
    gaussian,
    moons,
    sine,
    spiral,
    xor,
)
from chainrule.data.datasets.tabular import Table, load_csv, load_features

__all__ = [
    "CLASSIFICATION", "REGRESSION", "DatasetError", "DatasetNotFoundError", "Table", "circles",
    "fashion_mnist", "gaussian", "load_csv", "load_features", "load_idx_dataset", "mnist",
    "moons", "parse_idx", "read_idx", "sine", "spiral", "xor",
]
