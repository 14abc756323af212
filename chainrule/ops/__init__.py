"""The differentiable primitives, one family per file; this module re-exports their functions
(under PyTorch's names and meanings: cr.cat, cr.transpose(x, 0, 1), cr.max(x, 1) -> (values,
indices), ...)."""

from chainrule.ops.elementwise import (
    abs, absolute, add, astype, clamp, clamp_max, clamp_min, clip, cos, div, divide, exp, log,
    log1p, maximum, minimum, mul, multiply, neg, negative, pow, sin, sqrt, sub, subtract,
    true_divide, where,
)
from chainrule.ops.pointwise import (
    addcdiv, addcmul, ceil, exp2, expm1, fix, float_power, floor, floor_divide, fmod, lerp, log2,
    log10, reciprocal, remainder, round, rsqrt, sign, square, tan, trunc,
)
from chainrule.ops.compare import (
    allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, eq, equal, ge, greater,
    greater_equal, gt, is_nonzero, isclose, isfinite, isinf, isnan, isneginf, isposinf, le,
    less, less_equal, logical_and, logical_not, logical_or, logical_xor, lt, ne, not_equal,
    signbit,
)
from chainrule.ops.activation import (
    elu, gelu, leaky_relu, normal_cdf, relu, sigmoid, softplus, tanh,
)
from chainrule.ops.reduce import (
    all, amax, amin, any, broadcast_to, count_nonzero, cumprod, cumsum, logsumexp, mean, prod,
    sum, sum_to, sum_to_size,
)
from chainrule.ops.stats import nanmean, nansum, std, std_mean, var, var_mean
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.select import (
    argmax, argmin, argsort, gather, kthvalue, max, median, min, msort, sort, take_along_dim,
    topk,
)
from chainrule.ops.shape import (
    clone, contiguous, expand, expand_as, expand_dims, flatten, getitem, matrix_transpose,
    moveaxis, movedim, narrow, permute, ravel, reshape, reshape_as, reverse_dims, select,
    squeeze, swapaxes, swapdims, t, transpose, unflatten, unsqueeze, view, view_as,
)
from chainrule.ops.join import (
    cat, chunk, concat, concatenate, dstack, flip, fliplr, flipud, hstack, pad, repeat,
    repeat_interleave, roll, row_stack, split, stack, tensor_split, tile, unbind, vstack,
)
from chainrule.ops.linalg import (
    addbmm, addmm, addmv, addr, baddbmm, bmm, dot, einsum, ger, matmul, mm, mv, outer,
)
from chainrule.ops.trig import (
    acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin, asinh, atan,
    atan2, atanh, cosh, hypot, sinh,
)
from chainrule.ops.special import erf, erfc, erfinv, logaddexp, logaddexp2, nan_to_num, sgn
from chainrule.ops.diag import diag, diag_embed, diagonal, diagonal_scatter, trace, tril, triu
from chainrule.ops.indexing import (
    argwhere, index_select, masked_select, nonzero, unique, unique_consecutive,
)
from chainrule.ops.scatter import scatter, scatter_add, scatter_reduce
from chainrule.ops.index_write import (
    index_add, index_copy, index_fill, masked_fill, masked_scatter,
)
from chainrule.ops.norms import norm
from chainrule.ops.distance import cdist, cosine_similarity, pairwise_distance
from chainrule.ops.decompositions import det, inverse, logdet, slogdet
from chainrule.ops.activation_more import celu, hardshrink, prelu, selu, threshold
from chainrule.ops.math_more import (
    copysign, deg2rad, digamma, fmax, fmin, frac, gcd, heaviside, lcm, ldexp, lgamma, logit,
    polygamma, positive, rad2deg, rsub, sinc, xlogy,
)
from chainrule.ops.linalg_more import (
    block_diag, corrcoef, cov, cross, dist, inner, kron, matrix_power, renorm, tensordot, vdot,
)
from chainrule.ops.search import (
    aminmax, cummax, cummin, logcumsumexp, mode, nanmedian, nanquantile, quantile,
)
from chainrule.ops.counting import bincount, bucketize, histc, isin, searchsorted
from chainrule.ops.shape_more import (
    atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, cartesian_prod,
    chain_matmul, column_stack, combinations, cumulative_trapezoid, diagflat, diff, rot90, take,
    trapezoid, trapz, tril_indices, triu_indices, unravel_index, vander,
)

__all__ = [
    "abs", "absolute", "add", "addcdiv", "addcmul", "astype", "ceil", "clamp", "clamp_max",
    "clamp_min", "clip", "cos", "div", "divide", "exp", "exp2", "expm1", "fix", "float_power",
    "floor", "floor_divide", "fmod", "lerp", "log", "log1p", "log2", "log10", "maximum",
    "minimum", "mul", "multiply", "neg", "negative", "pow", "reciprocal", "remainder", "round",
    "rsqrt", "sign", "sin", "sqrt", "square", "sub", "subtract", "tan", "true_divide", "trunc",
    "where",
    "allclose", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "eq", "equal", "ge",
    "greater", "greater_equal", "gt", "is_nonzero", "isclose", "isfinite", "isinf", "isnan",
    "isneginf", "isposinf", "le", "less", "less_equal", "logical_and", "logical_not",
    "logical_or", "logical_xor", "lt", "ne", "not_equal", "signbit",
    "elu", "gelu", "leaky_relu", "normal_cdf", "relu", "sigmoid", "softplus", "tanh",
    "all", "amax", "amin", "any", "broadcast_to", "count_nonzero", "cumprod", "cumsum",
    "log_softmax", "logsumexp", "mean", "nanmean", "nansum", "prod", "softmax", "std",
    "std_mean", "sum", "sum_to", "sum_to_size", "var", "var_mean",
    "argmax", "argmin", "argsort", "gather", "kthvalue", "max", "median", "min", "msort",
    "sort", "take_along_dim", "topk",
    "clone", "contiguous", "expand", "expand_as", "expand_dims", "flatten", "getitem",
    "matrix_transpose", "moveaxis", "movedim", "narrow", "permute", "ravel", "reshape",
    "reshape_as", "reverse_dims", "select", "squeeze", "swapaxes", "swapdims", "t",
    "transpose", "unflatten", "unsqueeze", "view", "view_as",
    "cat", "chunk", "concat", "concatenate", "dstack", "flip", "fliplr", "flipud", "hstack",
    "repeat_interleave", "roll", "row_stack", "split", "stack", "tensor_split",
    "tile", "unbind", "vstack",
    "bmm", "dot", "einsum", "ger", "matmul", "mm", "mv", "outer",
    "addbmm", "addmm", "addmv", "addr", "baddbmm",
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "asin", "asinh", "atan", "atan2", "atanh", "cosh", "hypot", "sinh",
    "erf", "erfc", "erfinv", "logaddexp", "logaddexp2", "nan_to_num", "sgn",
    "diag", "diag_embed", "diagonal", "diagonal_scatter", "trace", "tril", "triu",
    "argwhere", "index_select", "masked_select", "nonzero", "unique", "unique_consecutive",
    "index_add", "index_copy", "index_fill", "masked_fill", "masked_scatter", "scatter",
    "scatter_add", "scatter_reduce",
    "norm", "cdist", "cosine_similarity", "pairwise_distance",
    "det", "inverse", "logdet", "slogdet",
    "celu", "hardshrink", "prelu", "selu", "threshold",
    "copysign", "deg2rad", "digamma", "fmax", "fmin", "frac", "gcd", "heaviside", "lcm",
    "ldexp", "lgamma", "logit", "polygamma", "positive", "rad2deg", "rsub", "sinc", "xlogy",
    "block_diag", "corrcoef", "cov", "cross", "dist", "inner", "kron", "matrix_power", "renorm",
    "tensordot", "vdot",
    "aminmax", "bincount", "bucketize", "cummax", "cummin", "histc", "isin", "logcumsumexp",
    "mode", "nanmedian", "nanquantile", "quantile", "searchsorted",
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors",
    "cartesian_prod", "chain_matmul", "column_stack", "combinations", "cumulative_trapezoid",
    "diagflat", "diff", "rot90", "take", "trapezoid", "trapz", "tril_indices", "triu_indices",
    "unravel_index", "vander",
]
