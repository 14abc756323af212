"""Shared fixtures: a seeded generator, and the MNIST test set beside the checkout when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def mnist_dir() -> Path:
    """../shared/datasets/mnist (the real MNIST test set); tests using it skip when absent."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/datasets/mnist is not present")
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def _no_checkpoint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CHAINRULE_CHECKPOINT_KEY in the developer's environment would sign every save and
    refuse every unsigned load; the tests that want a key set it themselves."""
    monkeypatch.delenv("CHAINRULE_CHECKPOINT_KEY", raising=False)
