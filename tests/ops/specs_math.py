"""Spec rows for the math and indexing ops of the PyTorch door (trig, special, diag, indexing,
scatter, fused adds, norms, distances, decompositions), registered into the one table of
tests/ops/specs.py (which imports this module at its end), so each is gradchecked,
gradgradchecked, held to float32 and compared with torch like every other op.

Domains the ops need beyond the table's: inputs in (-1, 1) come from (x - 1.25) * 1.2 on the
positive domain; well-conditioned matrices from a + 3 I; positive-definite ones from
a a^T + 3 I.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from .specs import spec, th, thF

IDX_ROWS = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])        # scatter along dim 0: distinct per column
IDX_DUP = np.array([[0, 0, 2, 0], [0, 2, 2, 0]])         # repeated positions (scatter_add/reduce)
IDX_COLS = np.array([[3, 0], [1, 2], [0, 2]])             # along dim 1 of a (3, 4) tensor
SEL = np.array([2, 0, 2])                                 # index_select / index_add (repeats)
SEL_DISTINCT = np.array([2, 0])                           # index_copy
MASK_34 = np.array([[True, False, True, True], [False, False, True, False],
                    [True, True, False, False]])
MASK_ROW = np.array([True, False, True, False])
ZERO_ROW = np.array([[1.0], [0.0], [1.0]])


def _c(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a)


def _t(a: np.ndarray):  # noqa: ANN202 - torch is imported lazily
    return th.as_tensor(a)


def _unit(x):  # noqa: ANN001, ANN202 - (-0.9, 0.9) from the positive domain [0.5, 2]
    return (x - 1.25) * 1.2


# == trig and hyperbolic ===========================================================================
_UNARY = [("sinh", "real", None), ("cosh", "real", None), ("atan", "real", None),
          ("asinh", "real", None), ("asin", "positive", _unit), ("acos", "positive", _unit),
          ("atanh", "positive", _unit), ("acosh", "positive", lambda x: x + 1.0),
          ("erf", "real", None), ("erfc", "real", None), ("erfinv", "positive", _unit)]
for _name, _dom, _pre in _UNARY:
    def _f(x, n=_name, pre=_pre):  # noqa: ANN001, ANN202
        return getattr(cr, n)(x if pre is None else pre(x))

    def _tf(x, n=_name, pre=_pre):  # noqa: ANN001, ANN202
        return getattr(th, n)(x if pre is None else pre(x))

    spec(_name, "", _f, _tf, (3, 4), domain=_dom)
    spec(_name, "0d", _f, _tf, (), domain=_dom)
    spec(_name, "empty", _f, _tf, (0, 3), domain=_dom)
    spec(_name, "method", lambda x, n=_name, pre=_pre: getattr(x if pre is None else pre(x), n)(),
         lambda x, n=_name, pre=_pre: getattr(x if pre is None else pre(x), n)(), (2, 3),
         domain=_dom)
for _alias, _name, _dom, _pre in [("arcsin", "asin", "positive", _unit),
                                  ("arccos", "acos", "positive", _unit),
                                  ("arctan", "atan", "real", None),
                                  ("arcsinh", "asinh", "real", None),
                                  ("arccosh", "acosh", "positive", lambda x: x + 1.0),
                                  ("arctanh", "atanh", "positive", _unit)]:
    spec(_alias, "", lambda x, n=_alias, pre=_pre: getattr(cr, n)(x if pre is None else pre(x)),
         lambda x, n=_name, pre=_pre: getattr(th, n)(x if pre is None else pre(x)), (3, 4),
         domain=_dom)

for _name, _dom in [("atan2", ("real", "nonzero")), ("arctan2", ("real", "nonzero")),
                    ("hypot", ("nonzero", "real")), ("logaddexp", ("real", "real")),
                    ("logaddexp2", ("real", "real"))]:
    _f2 = getattr(cr, _name)

    def _tf2(a, b, n=_name):  # noqa: ANN001, ANN202
        return getattr(th, n)(a, b)

    spec(_name, "same", _f2, _tf2, (3, 4), (3, 4), domain=_dom)
    spec(_name, "bcast", _f2, _tf2, (3, 1, 4), (2, 4), domain=_dom)
    spec(_name, "0d", _f2, _tf2, (2, 3), (), domain=_dom)
    spec(_name, "empty", _f2, _tf2, (0, 3), (3,), domain=_dom)
    spec(_name, "method", lambda a, b, n=_name: getattr(a, n)(b),
         lambda a, b, n=_name: getattr(a, n)(b), (2, 3), (3,), domain=_dom)
spec("logaddexp", "large", lambda a, b: cr.logaddexp(a * 300.0, b * 300.0),
     lambda a, b: th.logaddexp(a * 300.0, b * 300.0), (3, 4), (3, 4))

spec("nan_to_num", "", lambda x: cr.nan_to_num(x), th.nan_to_num, (3, 4))
spec("nan_to_num", "method", lambda x: x.nan_to_num(posinf=5.0) * 2.0,
     lambda x: x.nan_to_num(posinf=5.0) * 2.0, (3, 4))
# torch.sgn's gradient is a ZeroTensor that cannot be read out: compare with sign's zeros
spec("sgn", "", cr.sgn, th.sign, (3, 4), domain="distinct")
spec("sgn", "method", lambda x: x.sgn() * x, lambda x: x.sgn() * x, (3, 4), domain="distinct")
spec("logsigmoid", "", cr.nn.functional.logsigmoid, thF.logsigmoid, (3, 4))
spec("logsigmoid", "large", lambda x: cr.nn.functional.logsigmoid(x * 40.0),
     lambda x: thF.logsigmoid(x * 40.0), (3, 4))
spec("logsigmoid", "0d", cr.nn.functional.logsigmoid, thF.logsigmoid, ())

# == triangles and diagonals =======================================================================
spec("tril", "", cr.tril, th.tril, (3, 4))
spec("tril", "k1_batched", lambda x: x.tril(1), lambda x: x.tril(1), (2, 3, 4))
spec("tril", "k-1", lambda x: cr.tril(x, diagonal=-1), lambda x: th.tril(x, diagonal=-1), (4, 3))
spec("triu", "", cr.triu, th.triu, (3, 4))
spec("triu", "k-1_batched", lambda x: x.triu(-1), lambda x: x.triu(-1), (2, 3, 4))
spec("triu", "k2", lambda x: cr.triu(x, 2), lambda x: th.triu(x, 2), (4, 3))
spec("diagonal", "", cr.diagonal, th.diagonal, (3, 4))
spec("diagonal", "offset", lambda x: x.diagonal(1), lambda x: x.diagonal(1), (3, 4))
spec("diagonal", "neg_offset", lambda x: x.diagonal(-2), lambda x: x.diagonal(-2), (4, 3))
spec("diagonal", "dims", lambda x: cr.diagonal(x, 0, 0, 2), lambda x: th.diagonal(x, 0, 0, 2),
     (3, 2, 4))
spec("diagonal", "neg_dims", lambda x: x.diagonal(offset=1, dim1=-1, dim2=0),
     lambda x: x.diagonal(offset=1, dim1=-1, dim2=0), (3, 2, 4))
spec("diagonal", "empty_offset", lambda x: x.diagonal(5), lambda x: x.diagonal(5), (3, 4))
spec("diag", "vector", cr.diag, th.diag, (3,))
spec("diag", "vector_k1", lambda x: x.diag(1), lambda x: x.diag(1), (3,))
spec("diag", "vector_k-2", lambda x: cr.diag(x, -2), lambda x: th.diag(x, -2), (3,))
spec("diag", "matrix", cr.diag, th.diag, (3, 4))
spec("diag", "matrix_k1", lambda x: x.diag(1), lambda x: x.diag(1), (3, 4))
spec("diag_embed", "", cr.diag_embed, th.diag_embed, (2, 3))
spec("diag_embed", "offset_dims", lambda x: x.diag_embed(1, 0, 2),
     lambda x: x.diag_embed(1, 0, 2), (2, 3))
spec("diag_embed", "neg_offset", lambda x: cr.diag_embed(x, -1), lambda x: th.diag_embed(x, -1),
     (3,))
spec("diagonal_scatter", "", cr.diagonal_scatter, th.diagonal_scatter, (3, 3), (3,))
spec("diagonal_scatter", "offset_dims", lambda x, s: x.diagonal_scatter(s, 1, 0, 2),
     lambda x, s: x.diagonal_scatter(s, 1, 0, 2), (3, 2, 4), (2, 3))
spec("trace", "", cr.trace, th.trace, (3, 4))
spec("trace", "method", lambda x: x.trace(), lambda x: x.trace(), (3, 3))

# == selecting by index or mask ====================================================================
spec("index_select", "dim1_repeats", lambda x: x.index_select(1, _c(SEL)),
     lambda x: x.index_select(1, _t(SEL)), (3, 4))
spec("index_select", "dim0", lambda x: cr.index_select(x, 0, _c(SEL)),
     lambda x: th.index_select(x, 0, _t(SEL)), (3, 2))
spec("index_select", "0d_index", lambda x: x.index_select(-1, cr.tensor(1)),
     lambda x: x.index_select(-1, th.tensor(1)), (2, 3))
spec("index_select", "empty_index", lambda x: x.index_select(0, _c(np.zeros(0, np.int64))),
     lambda x: x.index_select(0, _t(np.zeros(0, np.int64))), (3, 2))
spec("masked_select", "", lambda x: x.masked_select(_c(MASK_34)),
     lambda x: x.masked_select(_t(MASK_34)), (3, 4))
spec("masked_select", "bcast_input", lambda x: cr.masked_select(x, _c(MASK_34)),
     lambda x: th.masked_select(x, _t(MASK_34)), (4,))
spec("masked_select", "bcast_mask", lambda x: cr.masked_select(x, _c(MASK_ROW)),
     lambda x: th.masked_select(x, _t(MASK_ROW)), (3, 4))

# == writing by index or mask ======================================================================
spec("scatter", "src", lambda x, s: x.scatter(0, _c(IDX_ROWS), s),
     lambda x, s: x.scatter(0, _t(IDX_ROWS), s), (3, 4), (2, 4))
spec("scatter", "dim1", lambda x, s: cr.scatter(x, 1, _c(IDX_COLS), s),
     lambda x, s: th.scatter(x, 1, _t(IDX_COLS), s), (3, 4), (3, 2))
# a src larger than index: torch's backward refuses its own gradient's shape (gather gives
# index's shape); chainrule's is zero over the unread part, checked here numerically only
spec("scatter", "src_larger", lambda x, s: cr.scatter(x, 1, _c(IDX_COLS), s), None, (3, 4),
     (4, 3))
spec("scatter_add", "src_larger", lambda x, s: x.scatter_add(1, _c(IDX_COLS), s), None, (3, 4),
     (3, 3))
spec("scatter", "value", lambda x: x.scatter(1, _c(IDX_COLS), 2.5),
     lambda x: x.scatter(1, _t(IDX_COLS), 2.5), (3, 4))
spec("scatter_add", "repeats", lambda x, s: x.scatter_add(0, _c(IDX_DUP), s),
     lambda x, s: x.scatter_add(0, _t(IDX_DUP), s), (3, 4), (2, 4))
spec("scatter_add", "dim1", lambda x, s: cr.scatter_add(x, 1, _c(IDX_COLS), s),
     lambda x, s: th.scatter_add(x, 1, _t(IDX_COLS), s), (3, 4), (3, 2))
for _red, _dom in [("sum", "real"), ("prod", "nonzero"), ("mean", "real"),
                   ("amax", "distinct"), ("amin", "distinct")]:
    for _inc in (True, False):
        spec("scatter_reduce", f"{_red}{'' if _inc else '_exclude_self'}",
             lambda x, s, r=_red, i=_inc: x.scatter_reduce(0, _c(IDX_DUP), s, r,
                                                           include_self=i),
             lambda x, s, r=_red, i=_inc: x.scatter_reduce(0, _t(IDX_DUP), s, r,
                                                           include_self=i),
             (3, 4), (2, 4), domain=_dom)
spec("scatter_reduce", "prod_single_zero",
     lambda x, s: cr.scatter_reduce(x, 0, _c(IDX_DUP), s, "prod"),
     lambda x, s: th.scatter_reduce(x, 0, _t(IDX_DUP), s, "prod"), (3, 4), (2, 4),
     domain=("zeros", "nonzero"))
spec("index_add", "repeats", lambda x, s: x.index_add(0, _c(SEL), s),
     lambda x, s: x.index_add(0, _t(SEL), s), (3, 4), (3, 4))
spec("index_add", "alpha_dim1", lambda x, s: cr.index_add(x, 1, _c(SEL), s, alpha=-2.0),
     lambda x, s: th.index_add(x, 1, _t(SEL), s, alpha=-2.0), (2, 4), (2, 3))
spec("index_fill", "number", lambda x: x.index_fill(1, _c(SEL), -1.5),
     lambda x: x.index_fill(1, _t(SEL), -1.5), (3, 4))
spec("index_fill", "tensor_value", lambda x, v: cr.index_fill(x, 0, _c(SEL_DISTINCT), v),
     lambda x, v: th.index_fill(x, 0, _t(SEL_DISTINCT), v), (3, 4), ())
spec("index_copy", "", lambda x, s: x.index_copy(0, _c(SEL_DISTINCT), s),
     lambda x, s: x.index_copy(0, _t(SEL_DISTINCT), s), (3, 4), (2, 4))
spec("index_copy", "dim1", lambda x, s: cr.index_copy(x, 1, _c(SEL_DISTINCT), s),
     lambda x, s: th.index_copy(x, 1, _t(SEL_DISTINCT), s), (3, 4), (3, 2))
spec("masked_fill", "number", lambda x: x.masked_fill(_c(MASK_34), -2.0),
     lambda x: x.masked_fill(_t(MASK_34), -2.0), (3, 4))
spec("masked_fill", "tensor_value_bcast", lambda x, v: cr.masked_fill(x, _c(MASK_34), v),
     lambda x, v: th.masked_fill(x, _t(MASK_34), v), (4,), ())
spec("masked_scatter", "", lambda x, s: x.masked_scatter(_c(MASK_34), s),
     lambda x, s: x.masked_scatter(_t(MASK_34), s), (3, 4), (3, 4))
spec("masked_scatter", "bcast_longer_source", lambda x, s: cr.masked_scatter(x, _c(MASK_34), s),
     lambda x, s: th.masked_scatter(x, _t(MASK_34), s), (4,), (10,))

# == beta * input + alpha * product ===============================================================
spec("addmm", "", cr.addmm, th.addmm, (2, 3), (2, 4), (4, 3))
spec("addmm", "bcast_beta_alpha", lambda m, a, b: m.addmm(a, b, beta=0.5, alpha=-2.0),
     lambda m, a, b: m.addmm(a, b, beta=0.5, alpha=-2.0), (3,), (2, 4), (4, 3))
spec("addmm", "beta0", lambda m, a, b: cr.addmm(m, a, b, beta=0),
     lambda m, a, b: th.addmm(m, a, b, beta=0), (2, 3), (2, 4), (4, 3))
spec("addmv", "", lambda m, a, v: cr.addmv(m, a, v, alpha=3.0),
     lambda m, a, v: th.addmv(m, a, v, alpha=3.0), (2,), (2, 4), (4,))
spec("addr", "", lambda m, a, b: m.addr(a, b, beta=2.0), lambda m, a, b: m.addr(a, b, beta=2.0),
     (2, 3), (2,), (3,))
spec("addbmm", "", cr.addbmm, th.addbmm, (2, 3), (4, 2, 5), (4, 5, 3))
spec("baddbmm", "", lambda m, a, b: m.baddbmm(a, b, beta=-1.0, alpha=0.5),
     lambda m, a, b: m.baddbmm(a, b, beta=-1.0, alpha=0.5), (1, 3), (4, 2, 5), (4, 5, 3))

# == norms =========================================================================================
_VN = [("p2_all", dict(), "real"), ("p2_dim", dict(dim=1), "real"),
       ("p2_dims_keep", dict(dim=(0, 2), keepdim=True), "real"),
       ("p1", dict(ord=1, dim=-1), "distinct"), ("inf", dict(ord=float("inf"), dim=1), "distinct"),
       ("neg_inf", dict(ord=-float("inf")), "distinct"), ("p3", dict(ord=3, dim=0), "real"),
       ("p1.5", dict(ord=1.5, dim=1), "nonzero"), ("p0.5", dict(ord=0.5, dim=1), "nonzero"),
       ("p-1", dict(ord=-1, dim=1), "nonzero")]
for _case, _kw, _dom in _VN:
    spec("vector_norm", _case, lambda x, kw=_kw: cr.linalg.vector_norm(x, **kw),
         lambda x, kw=_kw: th.linalg.vector_norm(x, **kw), (2, 3, 4), domain=_dom)
spec("vector_norm", "0d", cr.linalg.vector_norm, th.linalg.vector_norm, (), domain="nonzero")
for _p in (2, 3, float("inf")):  # a row of zeros: gradient 0 there (NaN would show)
    spec("vector_norm", f"zero_row_p{_p}",
         lambda x, p=_p: cr.linalg.vector_norm(x * x.new_tensor(ZERO_ROW), p, dim=1),
         lambda x, p=_p: th.linalg.vector_norm(x * x.new_tensor(ZERO_ROW), p, dim=1), (3, 4))
for _case, _ord in [("fro", "fro"), ("1", 1), ("-1", -1), ("inf", float("inf")),
                    ("-inf", -float("inf"))]:
    spec("matrix_norm", _case, lambda x, o=_ord: cr.linalg.matrix_norm(x, o),
         lambda x, o=_ord: th.linalg.matrix_norm(x, o), (2, 3, 4), domain="distinct")
spec("matrix_norm", "dims_keep", lambda x: cr.linalg.matrix_norm(x, 1, (2, 0), keepdim=True),
     lambda x: th.linalg.matrix_norm(x, 1, (2, 0), keepdim=True), (2, 3, 4), domain="distinct")
spec("matrix_norm", "inf_dims", lambda x: cr.linalg.matrix_norm(x, float("inf"), (0, 2)),
     lambda x: th.linalg.matrix_norm(x, float("inf"), (0, 2)), (2, 3, 4), domain="distinct")
for _case, _args, _kw in [("default", (), {}), ("dim", (), dict(dim=1)),
                          ("ord_matrix", (1,), {}), ("ord_vector", (3,), dict(dim=0)),
                          ("fro_dims", ("fro",), dict(dim=(0, 1), keepdim=True))]:
    spec("linalg_norm", _case, lambda x, a=_args, kw=_kw: cr.linalg.norm(x, *a, **kw),
         lambda x, a=_args, kw=_kw: th.linalg.norm(x, *a, **kw), (3, 4), domain="distinct")
for _case, _args, _kw in [("default", (), {}), ("p1_dim", (1, 1), {}),
                          ("fro_dim_keep", ("fro", 0, True), {}),
                          ("method_dim", (), dict(dim=-1)), ("p_inf", (float("inf"),), {}),
                          ("fro_two_dims", ("fro", (0, 1)), {})]:
    spec("norm", _case, lambda x, a=_args, kw=_kw: x.norm(*a, **kw),
         lambda x, a=_args, kw=_kw: x.norm(*a, **kw), (3, 4), domain="distinct")
spec("norm", "fn", lambda x: cr.norm(x, 2, 1), lambda x: th.norm(x, 2, 1), (3, 4))

# == distances and normalisation ===================================================================
for _case, _sa, _sb, _p in [("p2", (3, 4), (5, 4), 2.0), ("p2_mm", (30, 3), (4, 3), 2.0),
                            ("p1", (3, 4), (5, 4), 1.0), ("inf", (3, 4), (5, 4), float("inf")),
                            ("p3_batched", (2, 3, 4), (2, 5, 4), 3.0),
                            ("bcast_batch", (2, 3, 4), (5, 4), 2.0)]:
    spec("cdist", _case, lambda a, b, p=_p: cr.cdist(a, b, p),
         lambda a, b, p=_p: th.cdist(a, b, p), _sa, _sb)
spec("cdist", "mm_forced", lambda a, b: cr.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
     lambda a, b: th.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), (3, 4), (5, 4))
spec("pairwise_distance", "", cr.nn.functional.pairwise_distance, thF.pairwise_distance,
     (3, 4), (3, 4))
spec("pairwise_distance", "bcast_p1_keep",
     lambda a, b: cr.pairwise_distance(a, b, 1.0, keepdim=True),
     lambda a, b: th.pairwise_distance(a, b, 1.0, keepdim=True), (3, 4), (4,))
spec("cosine_similarity", "", cr.nn.functional.cosine_similarity, thF.cosine_similarity,
     (3, 4), (3, 4))
spec("cosine_similarity", "dim0", lambda a, b: cr.cosine_similarity(a, b, 0),
     lambda a, b: th.cosine_similarity(a, b, 0), (3, 4), (3, 4))
spec("cosine_similarity", "bcast_last",
     lambda a, b: cr.nn.functional.cosine_similarity(a, b, dim=-1),
     lambda a, b: thF.cosine_similarity(a, b, dim=-1), (2, 3, 4), (3, 4))
spec("cosine_similarity", "small_norm",
     lambda a, b: cr.nn.functional.cosine_similarity(a * 1e-9, b, eps=1e-6),
     lambda a, b: thF.cosine_similarity(a * 1e-9, b, eps=1e-6), (3, 4), (3, 4))
spec("normalize", "", cr.nn.functional.normalize, thF.normalize, (3, 4))
spec("normalize", "p1_dim0", lambda x: cr.nn.functional.normalize(x, 1.0, 0),
     lambda x: thF.normalize(x, 1.0, 0), (3, 4), domain="distinct")
spec("normalize", "tiny", lambda x: cr.nn.functional.normalize(x * 1e-14, dim=-1),
     lambda x: thF.normalize(x * 1e-14, dim=-1), (2, 3))

# == decompositions ================================================================================
def _wc(a):  # noqa: ANN001, ANN202 - a well-conditioned matrix
    return a + a.new_tensor(3 * np.eye(a.shape[-1]))


def _spd(a):  # noqa: ANN001, ANN202 - a symmetric positive-definite matrix
    return a @ a.mT + a.new_tensor(3 * np.eye(a.shape[-1]))


spec("inverse", "", lambda a: cr.inverse(_wc(a)), lambda a: th.inverse(_wc(a)), (3, 3))
spec("inverse", "batched_linalg", lambda a: cr.linalg.inv(_wc(a)),
     lambda a: th.linalg.inv(_wc(a)), (2, 3, 3))
spec("det", "", lambda a: cr.det(a), lambda a: th.det(a), (3, 3))
spec("det", "batched_linalg", lambda a: cr.linalg.det(a), lambda a: th.linalg.det(a), (2, 4, 4))
spec("det", "1x1", lambda a: a.det(), lambda a: a.det(), (1, 1))
spec("slogdet", "", lambda a: cr.linalg.slogdet(a)[1], lambda a: th.linalg.slogdet(a)[1],
     (3, 3))
spec("slogdet", "both", lambda a: list(cr.slogdet(a)), lambda a: list(th.slogdet(a)), (2, 3, 3))
spec("logdet", "", lambda a: cr.logdet(_spd(a)), lambda a: th.logdet(_spd(a)), (3, 3))
spec("solve", "vector", lambda a, b: cr.linalg.solve(_wc(a), b),
     lambda a, b: th.linalg.solve(_wc(a), b), (3, 3), (3,))
spec("solve", "matrix", lambda a, b: cr.linalg.solve(_wc(a), b),
     lambda a, b: th.linalg.solve(_wc(a), b), (3, 3), (3, 2))
spec("solve", "batched_vectors", lambda a, b: cr.linalg.solve(_wc(a), b),
     lambda a, b: th.linalg.solve(_wc(a), b), (2, 3, 3), (2, 3))
spec("solve", "bcast_matrix", lambda a, b: cr.linalg.solve(_wc(a), b),
     lambda a, b: th.linalg.solve(_wc(a), b), (2, 3, 3), (3, 2))
spec("solve", "right", lambda a, b: cr.linalg.solve(_wc(a), b, left=False),
     lambda a, b: th.linalg.solve(_wc(a), b, left=False), (3, 3), (2, 3))
spec("cholesky", "", lambda a: cr.linalg.cholesky(_spd(a)),
     lambda a: th.linalg.cholesky(_spd(a)), (3, 3))
spec("cholesky", "upper_batched", lambda a: cr.linalg.cholesky(_spd(a), upper=True),
     lambda a: th.linalg.cholesky(_spd(a), upper=True), (2, 3, 3))
spec("multi_dot", "", lambda a, b, c: cr.linalg.multi_dot([a, b, c]),
     lambda a, b, c: th.linalg.multi_dot([a, b, c]), (3,), (3, 4), (4, 2))
spec("vecdot", "", lambda a, b: cr.linalg.vecdot(a, b, dim=0),
     lambda a, b: th.linalg.vecdot(a, b, dim=0), (3, 4), (3, 1))
