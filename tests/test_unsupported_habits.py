"""A PyTorch habit chainrule does not support gets an error that names the habit and says what
to do instead (never a different meaning, never a bare failure deep inside)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _with_lambda() -> nn.Module:
    m = nn.Linear(2, 2)
    m.act = lambda x: x  # a lambda cannot be found by name when loading (nor pickled)
    return m


HABITS = [
    ("saving a module with a lambda in it", lambda: cr.save(_with_lambda(), io.BytesIO()),
     TypeError, r"cannot store an object of type function"),
    ("pickling a tensor", lambda: pickle.dumps(cr.ones(2)), TypeError, r"cr\.save"),
    ("a bfloat16 tensor", lambda: cr.zeros(2, dtype="bfloat16"), TypeError, "float32"),
    ("out= arguments", lambda: cr.sum(cr.ones(2), out=cr.zeros(())), TypeError,
     r"assign the result"),
    ("a negative slice step", lambda: cr.arange(4)[::-1], ValueError, r"flip"),
    ("cumsum without a dim", lambda: cr.ones(3).cumsum(), TypeError, r"flatten\(\)\.cumsum"),
    ("softmax without a dim", lambda: cr.ones(3).softmax(), TypeError, r"dim"),
    ("mark_dirty in a custom Function", None, NotImplementedError, r"new tensor"),
    ("max_pool2d(return_indices=True)",
     lambda: F.max_pool2d(cr.ones(1, 1, 4, 4), 2, return_indices=True), NotImplementedError,
     r"return_indices"),
    ("loading a PyTorch pickle file",
     lambda: cr.load(io.BytesIO(b"PK\x03\x04 a torch.save zip")), cr.CheckpointError,
     r"safetensors"),
    ("a leaf that requires grad changed in place",
     lambda: cr.ones(2, requires_grad=True).add_(1), RuntimeError, r"leaf Variable"),
]


def _mark_dirty() -> None:
    class Inc(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    Inc.apply(cr.ones(2, requires_grad=True) * 1)


@pytest.mark.parametrize("habit, make, error, advice", HABITS, ids=[h[0] for h in HABITS])
def test_the_error_names_what_to_do(habit, make, error, advice) -> None:
    with pytest.raises(error, match=advice):
        (make or _mark_dirty)()


def test_cuda_without_a_gpu_says_what_is_missing() -> None:
    if cr.cuda.is_available():
        pytest.skip("a GPU is available here")
    with pytest.raises(RuntimeError, match=r"CUDA is not available .*(CuPy|GPU).*device='cpu'"):
        cr.ones(2).cuda()
    assert cr.accelerator.current_accelerator() is None


def test_numpy_of_a_gpu_tensor_asks_for_cpu_first() -> None:
    class FakeCuPyArray(np.ndarray):
        """An array that says it lives on a GPU (enough for the check, no GPU needed)."""

        def get(self):
            return np.asarray(self)

    t = cr.Tensor._make(np.ones(2).view(FakeCuPyArray), None)
    with pytest.raises(TypeError, match=r"Use Tensor\.cpu\(\)"):
        t.numpy()
