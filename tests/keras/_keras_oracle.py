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
