"""Small synthetic data sets, generated procedurally from a seed: no files, no download.

Each classification set returns `(X, y)`: X float32 of shape (n_samples, 2), y int64 class
indices of shape (n_samples,). The regression set `sine` returns X and y both float32 of shape
(n_samples, 1). The same arguments always give the same arrays, whatever the global random state.
"""

from __future__ import annotations

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray]


def _check(name: str, n_samples: int, noise: float, n_classes: int | None = None) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ValueError(f"{name}: n_samples must be a positive integer, got {n_samples!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{name}: noise must be a finite number >= 0, got {noise!r}")
    if n_classes is not None and (isinstance(n_classes, bool) or n_classes < 2):
        raise ValueError(f"{name}: n_classes must be an integer >= 2, got {n_classes!r}")


def _split_counts(n_samples: int, n_classes: int) -> list[int]:
    """n_samples shared out over the classes as evenly as possible (the first get the rest)."""
    base, rest = divmod(n_samples, n_classes)
    return [base + (k < rest) for k in range(n_classes)]


def _finish(parts_x: list[np.ndarray], parts_y: list[np.ndarray],
            rng: np.random.Generator) -> Arrays:
    """Concatenate the classes and shuffle them, so any prefix is a fair sample."""
    X = np.concatenate(parts_x).astype(np.float32)
    y = np.concatenate(parts_y).astype(np.int64)
    order = rng.permutation(len(y))
    return X[order], y[order]


def spiral(n_samples: int = 1500, n_classes: int = 3, noise: float = 0.2,
           seed: int = 0) -> Arrays:
    """Interleaved spiral arms, one per class, in the unit disc (the CS231n spiral).

    Arm k starts at angle 2*pi*k/n_classes and winds 1.5 turns while its radius grows from
    0.05 to 1; `noise` is the standard deviation of a jitter of the angle, in radians.
    """
    _check("spiral", n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, n in enumerate(_split_counts(n_samples, n_classes)):
        r = np.linspace(0.05, 1.0, n)
        t = 2 * np.pi * k / n_classes + 1.5 * 2 * np.pi * r + rng.normal(0.0, noise, n)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n, k))
    return _finish(xs, ys, rng)


def circles(n_samples: int = 1000, noise: float = 0.05, factor: float = 0.5,
            seed: int = 0) -> Arrays:
    """Two concentric circles: class 0 the outer one (radius 1), class 1 the inner (`factor`)."""
    _check("circles", n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, n in enumerate(_split_counts(n_samples, 2)):
        t = rng.uniform(0, 2 * np.pi, n)
        radius = 1.0 if k == 0 else factor
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1) + rng.normal(0, noise, (n, 2)))
        ys.append(np.full(n, k))
    return _finish(xs, ys, rng)


def moons(n_samples: int = 1000, noise: float = 0.1, seed: int = 0) -> Arrays:
    """Two interleaving half circles (scikit-learn's make_moons layout)."""
    _check("moons", n_samples, noise)
    rng = np.random.default_rng(seed)
    n0, n1 = _split_counts(n_samples, 2)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    xs = [upper + rng.normal(0, noise, upper.shape), lower + rng.normal(0, noise, lower.shape)]
    return _finish(xs, [np.zeros(n0), np.ones(n1)], rng)


def xor(n_samples: int = 1000, noise: float = 0.05, seed: int = 0) -> Arrays:
    """Points in [-1, 1]^2 labelled 1 where exactly one coordinate is positive; the positions
    are then jittered by `noise`, so labels near the axes overlap a little."""
    _check("xor", n_samples, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_samples, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    X = X + rng.normal(0, noise, X.shape)
    return X.astype(np.float32), y


def gaussian(n_samples: int = 1000, n_classes: int = 3, noise: float = 0.3,
             seed: int = 0) -> Arrays:
    """Gaussian clusters of standard deviation `noise`, centred evenly on the unit circle."""
    _check("gaussian", n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, n in enumerate(_split_counts(n_samples, n_classes)):
        angle = 2 * np.pi * k / n_classes
        centre = np.array([np.cos(angle), np.sin(angle)])
        xs.append(centre + rng.normal(0, noise, (n, 2)))
        ys.append(np.full(n, k))
    return _finish(xs, ys, rng)


def sine(n_samples: int = 500, noise: float = 0.1, seed: int = 0) -> Arrays:
    """1-D regression: x uniform in [-pi, pi], y = sin(x) + Gaussian noise; both (n, 1)."""
    _check("sine", n_samples, noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, (n_samples, 1))
    y = np.sin(x) + rng.normal(0, noise, x.shape)
    return x.astype(np.float32), y.astype(np.float32)


CLASSIFICATION = {"spiral": spiral, "circles": circles, "moons": moons, "xor": xor,
                  "gaussian": gaussian}
REGRESSION = {"sine": sine}
