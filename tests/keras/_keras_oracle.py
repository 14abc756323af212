"""The real Keras 3 the facade is compared with: keras_or_skip() gives it on its torch backend,
or skips the test (keras or torch missing, another backend chosen, or only this tests/keras
folder found, which Python imports as a namespace package named keras)."""

from __future__ import annotations

import os
from typing import Any

import pytest


def keras_or_skip() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if not hasattr(keras, "backend"):
        pytest.skip("keras is not installed")
    if keras.backend.backend() != "torch":
        pytest.skip("these comparisons run Keras 3 on its torch backend")
    return keras


@pytest.fixture
def same_draws_each_run() -> None:
    """Keras draws initial weights from its own seed generator and torch's, the guides' data
    from NumPy's: keras.utils.set_random_seed seeds them all (and Python's), so every run
    compares the same numbers (CHAINRULE_TEST_SEED picks another seed). A test module opts in
    with `pytestmark = pytest.mark.usefixtures("same_draws_each_run")` after importing it."""
    keras_or_skip().utils.set_random_seed(int(os.environ.get("CHAINRULE_TEST_SEED", "0")))


def close(a: Any, b: Any, tol: float = 1e-5) -> None:
    """a and b equal to tol, relative and absolute (NaN equal to NaN)."""
    import numpy as np

    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=tol, atol=tol, equal_nan=True)


def same_history(hk: Any, hc: Any, tol: float = 1e-5) -> None:
    """Two History objects with the same keys and values to tol."""
    assert sorted(hc.history) == sorted(hk.history)
    for k in hk.history:
        close(hc.history[k], hk.history[k], tol)
