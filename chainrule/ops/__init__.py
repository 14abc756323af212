"""The differentiable primitives, one family per file; this module re-exports their functions."""

from chainrule.ops.elementwise import (
    abs, add, astype, clip, cos, div, equal, exp, greater, greater_equal, less, less_equal, log,
    log1p, maximum, minimum, mul, neg, not_equal, pow, sin, sqrt, sub, where,
)
from chainrule.ops.activation import (
    elu, gelu, leaky_relu, normal_cdf, relu, sigmoid, softplus, tanh,
)
from chainrule.ops.reduce import (
    argmax, argmin, broadcast_to, cumsum, log_softmax, logsumexp, max, mean, min, prod, softmax,
    std, sum, sum_to, var,
)
from chainrule.ops.shape import (
    concatenate, expand_dims, flatten, flip, getitem, pad, permute, repeat, reshape, split,
    squeeze, stack, swapaxes, tile, transpose, unsqueeze,
)
from chainrule.ops.linalg import einsum, matmul

__all__ = [
    "abs", "add", "astype", "clip", "cos", "div", "elu", "equal", "exp", "gelu", "greater",
    "greater_equal", "leaky_relu", "less", "less_equal", "log", "log1p", "maximum", "minimum",
    "mul", "neg", "normal_cdf", "not_equal", "pow", "relu", "sigmoid", "sin", "softplus", "sqrt",
    "sub", "tanh", "where", "argmax", "argmin", "broadcast_to", "cumsum", "log_softmax",
    "logsumexp", "max", "mean", "min", "prod", "softmax", "std", "sum", "sum_to", "var",
    "concatenate", "expand_dims", "flatten", "flip", "getitem", "pad", "permute", "repeat",
    "reshape", "split", "squeeze", "stack", "swapaxes", "tile", "transpose", "unsqueeze",
    "einsum", "matmul",
]
