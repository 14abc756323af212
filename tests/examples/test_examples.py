"""The examples reach the accuracy the README promises on the real MNIST test set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_mlp_reaches_95_5_percent(mnist_dir, capsys):
    acc = load("mnist_mlp").main(["--data-dir", str(mnist_dir)])
    assert acc >= 0.955
    assert "final test accuracy" in capsys.readouterr().out


def test_mnist_cnn_reaches_97_percent(mnist_dir):
    assert load("mnist_cnn").main(["--data-dir", str(mnist_dir)]) >= 0.97
