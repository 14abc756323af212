"""Spec rows for the breadth ops (ops/math_more.py, linalg_more.py, search.py, counting.py and
shape_more.py), registered into the one table of tests/ops/specs.py (which imports this module
at its end): gradchecked, gradgradchecked, held to float32 and compared with torch like every
other op.

Each row is written once, as `f(L, *xs)` with L either chainrule or torch (the lazy `th`), so
the two sides cannot drift apart. Domains beyond the table's: (0, 1) for logit from the positive
domain / 2.5; (-0.9, -0.5), between the poles of the gamma family, from the positive domain.
The ops that give no gradient (integer or bool results) join NOT_DIFFERENTIABLE; their values
are compared with torch in tests/torch_door/test_more_idioms.py.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import chainrule as cr

from .specs import NOT_DIFFERENTIABLE, spec, th

NOT_DIFFERENTIABLE.update({
    "gcd", "lcm", "heaviside", "bincount", "bucketize", "searchsorted", "histc", "isin",
    "tril_indices", "triu_indices", "unravel_index", "broadcast_shapes",
})

S = (3, 4)
Q = np.array([0.0, 0.3, 0.5, 0.95, 1.0])
IDX = np.array([[0, -1], [5, 2], [5, 11]])  # take: negative and repeated flat indices


def both(op: str, case: str, f: Callable[..., Any], *shapes: tuple[int, ...],
         domain: Any = "real", torch: bool = True) -> None:
    """One row, f(cr, *xs) against f(torch, *xs) (torch=False: no torch twin)."""
    twin = (lambda *xs: f(th, *xs)) if torch else None
    spec(op, case, lambda *xs: f(cr, *xs), twin, *shapes, domain=domain)


def _unit(x: Any) -> Any:
    return x / 2.5  # (0.2, 0.8)


def _between_poles(x: Any) -> Any:
    return -0.5 - (x - 0.5) * 0.26  # (-0.9, -0.5)


# == math_more =====================================================================================
both("logit", "", lambda L, x: L.logit(_unit(x)), S, domain="positive")
both("logit", "eps_clamps", lambda L, x: L.logit(_unit(x), 0.35), S, domain="positive")
both("logit", "method", lambda L, x: _unit(x).logit(eps=0.1), (2, 3), domain="positive")
both("logit", "inplace", lambda L, x: _unit(x).logit_(), (2, 3), domain="positive")
both("xlogy", "", lambda L, x, y: L.xlogy(x, y), S, (4,), domain=("real", "positive"))
both("xlogy", "zeros", lambda L, x, y: x.xlogy(y), S, S, domain=("zeros", "positive"))
both("xlogy", "scalar_other", lambda L, x: L.xlogy(x, 3.0), S)
both("xlogy", "inplace", lambda L, x, y: (x * 1.0).xlogy_(y), S, S, domain=("real", "positive"))
for _name in ("lgamma", "digamma"):
    both(_name, "", lambda L, x, n=_name: getattr(L, n)(x), S, domain="positive")
    both(_name, "negative", lambda L, x, n=_name: getattr(L, n)(_between_poles(x)), S,
         domain="positive")
    both(_name, "method", lambda L, x, n=_name: getattr(x * 3.0, n)(), (2, 3), domain="positive")
    both(_name, "inplace", lambda L, x, n=_name: getattr(x * 1.0, n + "_")(), (2, 3),
         domain="positive")
    both(_name, "0d", lambda L, x, n=_name: getattr(L, n)(x), (), domain="positive")
both("lgamma", "large", lambda L, x: L.lgamma(x * 40.0), S, domain="positive")
for _n in (1, 2, 3):
    both("polygamma", f"n{_n}", lambda L, x, n=_n: L.polygamma(n, x), S, domain="positive")
both("polygamma", "negative", lambda L, x: L.polygamma(1, _between_poles(x)), S,
     domain="positive")
both("polygamma", "method", lambda L, x: x.polygamma(2), (2, 3), domain="positive")
both("polygamma", "inplace", lambda L, x: (x * 1.0).polygamma_(1), (2, 3), domain="positive")
both("sinc", "", lambda L, x: L.sinc(x), S, domain="nonzero")
both("sinc", "method", lambda L, x: (x * 3.0).sinc(), (2, 3), domain="nonzero")
both("deg2rad", "", lambda L, x: L.deg2rad(x), S)
both("rad2deg", "", lambda L, x: x.rad2deg(), S)
both("rad2deg", "inplace", lambda L, x: (x * 1.0).rad2deg_(), S)
both("frac", "", lambda L, x: L.frac(x * 3.0), S, domain="distinct")
both("frac", "inplace", lambda L, x: (x * 3.0).frac_(), S, domain="distinct")
both("ldexp", "", lambda L, x, e: L.ldexp(x, e), S, (4,))
both("fmax", "", lambda L, a, b: L.fmax(a, b), S, (4,), domain="distinct")
both("fmin", "", lambda L, a, b: a.fmin(b), S, S, domain="distinct")
both("copysign", "", lambda L, a, b: L.copysign(a, b), S, (4,), domain="nonzero")
both("copysign", "scalar", lambda L, a: a.copysign(-1.0), S, domain="nonzero")
both("positive", "", lambda L, x: L.positive(x) * 2.0, S)
both("rsub", "", lambda L, a, b: L.rsub(a, b), S, (4,))
both("rsub", "alpha_scalar", lambda L, a: L.rsub(a, 2.0, alpha=3.0), S)

# == linalg_more ===================================================================================
both("tensordot", "int", lambda L, a, b: L.tensordot(a, b, 2), (2, 3, 4), (3, 4, 5))
both("tensordot", "lists", lambda L, a, b: L.tensordot(a, b, ([0, 2], [2, 0])), (2, 3, 4),
     (4, 5, 2))
both("tensordot", "outer", lambda L, a, b: L.tensordot(a, b, 0), (2, 3), (2,))
both("inner", "", lambda L, a, b: L.inner(a, b), (2, 4), (3, 4))
both("inner", "method_0d", lambda L, a, b: a.inner(b), S, ())
both("vdot", "", lambda L, a, b: L.vdot(a, b), (5,), (5,))
both("kron", "", lambda L, a, b: L.kron(a, b), (2, 3), (3, 2))
both("kron", "ndim", lambda L, a, b: a.kron(b), (2,), (2, 2, 3))
both("block_diag", "", lambda L, a, b, c: L.block_diag(a, b, c), (2, 3), (3,), ())
both("cross", "", lambda L, a, b: L.cross(a, b, dim=1), (4, 3), (4, 3))
both("cross", "no_dim", lambda L, a, b: a.cross(b), (3, 2), (3, 2))
both("cross", "linalg_bcast", lambda L, a, b: L.linalg.cross(a, b), (2, 4, 3), (1, 4, 3))
both("matrix_power", "", lambda L, a: L.matrix_power(a, 3), (3, 3))
both("matrix_power", "n5_batched", lambda L, a: a.matrix_power(5) * 0.01, (2, 3, 3))
both("matrix_power", "negative", lambda L, a: L.linalg.matrix_power(
    a + 3.0 * L.eye(3, dtype=a.dtype), -2), (3, 3))
both("matrix_power", "linalg_1", lambda L, a: L.linalg.matrix_power(a, 1), (2, 2))
for _p in (2, 1, 3.5, float("inf")):
    both("dist", f"p{_p}", lambda L, a, b, p=_p: L.dist(a, b, p), S, (4,), domain="distinct")
both("dist", "method", lambda L, a, b: a.dist(b), S, S)
both("renorm", "", lambda L, x: L.renorm(x, 2, 0, 1.5), S)
both("renorm", "p1_dim1", lambda L, x: x.renorm(1, 1, 1.0), (4, 3))
both("renorm", "inplace", lambda L, x: (x * 1.0).renorm_(2, -1, 1.0), (2, 3, 4))
both("cov", "", lambda L, x: L.cov(x), (3, 5))
both("cov", "1d_correction0", lambda L, x: x.cov(correction=0), (5,))
both("cov", "fweights", lambda L, x: L.cov(x, fweights=L.tensor([1, 2, 0, 3, 1])), (3, 5))
both("cov", "aweights", lambda L, x, w: L.cov(x, aweights=w), (3, 5), (5,),
     domain=("real", "positive"))
both("cov", "both_weights", lambda L, x, w: L.cov(x, correction=2, fweights=L.tensor(
    [1, 2, 1, 3, 1]), aweights=w), (2, 5), (5,), domain=("real", "positive"))
both("corrcoef", "", lambda L, x: L.corrcoef(x), (3, 6))
both("corrcoef", "method", lambda L, x: x.corrcoef(), (2, 4))

# == search ========================================================================================
for _name in ("cummax", "cummin"):
    both(_name, "", lambda L, x, n=_name: getattr(L, n)(x, 1).values, S, domain="distinct")
    both(_name, "dim0_method", lambda L, x, n=_name: getattr(x, n)(0)[0], S, domain="distinct")
    both(_name, "0d", lambda L, x, n=_name: getattr(L, n)(x, 0).values, (), domain="distinct")
both("logcumsumexp", "", lambda L, x: L.logcumsumexp(x, 1), S)
both("logcumsumexp", "large_dim0", lambda L, x: (x * 300.0).logcumsumexp(0), S)
both("aminmax", "", lambda L, x: list(L.aminmax(x)), S, domain="distinct")
both("aminmax", "dim", lambda L, x: list(x.aminmax(dim=1, keepdim=True)), S, domain="distinct")
both("nanmedian", "", lambda L, x: L.nanmedian(x), (3, 5), domain="distinct")
both("nanmedian", "dim", lambda L, x: x.nanmedian(1).values, S, domain="distinct")
both("nanmedian", "dim_keep", lambda L, x: L.nanmedian(x, 0, True)[0], S, domain="distinct")
both("mode", "", lambda L, x: L.mode(x).values, S, domain="distinct")
both("mode", "dim0", lambda L, x: x.mode(0, True)[0], S, domain="distinct")
for _interp in ("linear", "lower", "higher", "midpoint", "nearest"):
    both("quantile", _interp, lambda L, x, i=_interp: L.quantile(x, 0.3, 1, interpolation=i), S,
         domain="distinct")
both("quantile", "all", lambda L, x: x.quantile(0.7), (3, 5), domain="distinct")
both("quantile", "q_tensor", lambda L, x: L.quantile(x, L.tensor(Q, dtype=x.dtype), 0, True),
     (5, 3), domain="distinct")
both("nanquantile", "", lambda L, x: L.nanquantile(x, 0.4, 1), S, domain="distinct")
both("nanquantile", "q_tensor", lambda L, x: x.nanquantile(L.tensor(Q, dtype=x.dtype)), (2, 5),
     domain="distinct")

# == shape_more ====================================================================================
both("diff", "", lambda L, x: L.diff(x), S)
both("diff", "n2_dim0", lambda L, x: x.diff(2, 0), (4, 3))
both("diff", "prepend_append", lambda L, x, p, a: L.diff(x, 1, 1, p, a), S, (3, 1), (3, 2))
both("diff", "n_past_size", lambda L, x: L.diff(x, 6, -1) + 1.0, S)
both("rot90", "", lambda L, x: L.rot90(x), S)
both("rot90", "k3_dims", lambda L, x: x.rot90(3, [2, 0]), (2, 3, 4))
both("rot90", "k-2", lambda L, x: L.rot90(x, -2, (1, 0)), S)
both("cartesian_prod", "", lambda L, a, b, c: L.cartesian_prod(a, b, c), (2,), (3,), (2,))
both("combinations", "", lambda L, x: L.combinations(x), (4,))
both("combinations", "r3_replacement", lambda L, x: L.combinations(x, 3, True), (3,))
both("atleast_1d", "", lambda L, a, b: list(L.atleast_1d(a, b)), (), (3,))
both("atleast_2d", "", lambda L, x: L.atleast_2d(x), (3,))
both("atleast_3d", "", lambda L, a, b: list(L.atleast_3d([a, b])), (3,), (2, 3))
both("broadcast_tensors", "", lambda L, a, b, c: list(L.broadcast_tensors(a, b, c)), (3, 1),
     (4,), ())
both("column_stack", "", lambda L, a, b, c: L.column_stack([a, b, c]), (3,), (3, 2), (3,))
both("take", "", lambda L, x: L.take(x, L.tensor(IDX)), S)
both("take", "method", lambda L, x: x.take(L.tensor([2, 2, 0])), (2, 3))
for _name in ("trapezoid", "trapz", "cumulative_trapezoid"):
    both(_name, "", lambda L, y, n=_name: getattr(L, n)(y), S)
    both(_name, "dx", lambda L, y, n=_name: getattr(L, n)(y, dx=0.5, dim=0), S)
    both(_name, "x_1d", lambda L, y, x, n=_name: getattr(L, n)(y, x), S, (4,))
    both(_name, "x_bcast", lambda L, y, x, n=_name: getattr(L, n)(y, x, dim=0), (3, 4), (3, 1))
# torch 2.13's vander cannot be differentiated (its backward raises a version-counter error):
# gradchecked here, the values compared with torch in tests/torch_door/test_more_idioms.py
both("vander", "", lambda L, x: L.vander(x), (4,), torch=False)
both("vander", "N_increasing", lambda L, x: L.vander(x, 5, True), (3,), torch=False)
both("diagflat", "", lambda L, x: L.diagflat(x), (2, 2))
both("diagflat", "offset_method", lambda L, x: x.diagflat(-1), (3,))
both("chain_matmul", "", lambda L, a, b, c: L.chain_matmul(a, b, c), (2, 3), (3, 4), (4, 2))
