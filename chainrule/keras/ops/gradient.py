"""keras.ops.custom_gradient with the semantics of Keras 3 on its torch backend: the decorated
function returns (output, grad_fn); the forward runs without recording (so tensors it makes
are constants in grad_fn), and the backward calls grad_fn(*inputs, upstream=gradient), which
returns one gradient per input (a tensor, or a tuple of them)."""

from __future__ import annotations

import functools
from typing import Any, Callable

from chainrule.autograd import Function, no_grad
from chainrule.keras.ops._convert import convert_to_tensor
from chainrule.tensor import Tensor


class _CustomGradient(Function):
    saves = "inputs"  # grad_fn receives the inputs, as Keras-torch's saved tensors

    def __init__(self, fn: Callable, kwargs: dict[str, Any]) -> None:
        self.fn, self.kwargs, self.grad_fn = fn, kwargs, None

    def forward(self, *arrays: Any) -> Any:
        xs = [Tensor._make(a, None) for a in arrays]
        with no_grad():
            result = self.fn(*xs, **self.kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2 and callable(result[1])):
            raise TypeError(f"ops.custom_gradient: {getattr(self.fn, '__name__', self.fn)} "
                            "must return (output, grad_fn), got "
                            f"{type(result).__name__}")
        out, self.grad_fn = result
        if not isinstance(out, Tensor):
            out = convert_to_tensor(out)
        return out.array

    def backward(self, gy: Tensor) -> Any:
        grads = self.grad_fn(*self.inputs, upstream=gy)
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        if len(grads) != len(self.inputs):
            raise ValueError(f"ops.custom_gradient: grad_fn returned {len(grads)} gradients "
                             f"for {len(self.inputs)} inputs; return one per input")
        return tuple(None if g is None else g if isinstance(g, Tensor) else
                     convert_to_tensor(g) for g in grads)


def custom_gradient(f: Callable) -> Callable:
    """Decorator: h(*args) returns f(*args)[0], and its gradient is f(*args)[1]:
    grad_fn(*args, upstream) -> one gradient per tensor argument."""

    @functools.wraps(f)
    def h(*args: Any, **kwargs: Any) -> Tensor:
        xs = [a if isinstance(a, Tensor) else convert_to_tensor(a) for a in args]
        return _CustomGradient(f, kwargs)(*xs)
    return h
