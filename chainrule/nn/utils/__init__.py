"""torch.nn.utils at its PyTorch path: gradient clipping, parameters as one flat vector, and
nn.utils.rnn (padding and packing sequences)."""

from __future__ import annotations

from typing import Iterable

from chainrule.nn.utils import rnn  # noqa: F401  (torch.nn.utils.rnn)
from chainrule.optim.clip import clip_grad_norm_, clip_grad_value_
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and joined into one 1-D tensor (differentiable)."""
    from chainrule.ops import cat

    ps = list(parameters)
    if not ps:
        raise RuntimeError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive pieces of a 1-D vector into the parameters, in place."""
    from chainrule.autograd import no_grad

    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"expected a 1-D Tensor, but got: {type(vec).__name__}")
    ps = list(parameters)
    n = sum(p.numel() for p in ps)
    if vec.numel() != n:
        raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements, the "
                           f"parameters {n}")
    start = 0
    with no_grad():
        for p in ps:
            k = p.numel()
            p.copy_(vec[start:start + k].view_as(p))
            start += k
