"""The math and indexing functions against torch, row by row, where the spec table cannot reach:
the non-differentiable ones (unique, nonzero, argwhere, one_hot), integer and bool inputs,
errors (raised where torch raises, of the same family), the in-place forms (result, identity,
the input's values and its version counter afterwards), writes through diagonal views, and the
gradients at points the finite-difference domains avoid (ties, zeros, infinities).

Each row is one function of the module `t` (torch or chainrule) run on both with the same inputs
and compared as idiom_table.py says (outputs, inputs afterwards, versions, gradients, errors).
Skipped where torch is not installed.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from idiom_table import Idiom, Table, check

import chainrule as cr

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter"),
              pytest.mark.filterwarnings("ignore:invalid value encountered")]

_rng = np.random.default_rng(20250101)


def R(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape)


def I(*shape: int, lo: int = 0, hi: int = 4) -> np.ndarray:  # noqa: E743
    return _rng.integers(lo, hi, shape)


TABLE = Table("float64")
row = TABLE.row


# == not differentiable: unique, nonzero, argwhere, one_hot =======================================
DUP = np.array([3, 1, 2, 3, 1, 5, 2, 2])
DUP2 = np.array([[1, 2], [1, 2], [0, 5], [1, 2]])
row("unique", lambda t, a: t.unique(a), DUP, dtype="int64")
row("unique-all", lambda t, a: t.unique(a, return_inverse=True, return_counts=True), DUP,
    dtype="int64")
row("unique-2d-inverse-shape", lambda t, a: a.unique(return_inverse=True), DUP2, dtype="int64")
row("unique-sorted-false", lambda t, a: a.unique(sorted=False), DUP, dtype="int64")
row("unique-dim0", lambda t, a: t.unique(a, dim=0, return_inverse=True, return_counts=True),
    DUP2, dtype="int64")
row("unique-dim1", lambda t, a: a.unique(dim=1, return_counts=True), DUP2.T.copy(),
    dtype="int64")
row("unique-float-requires-grad", lambda t, a: (t.unique(a).detach(), t.unique(a).requires_grad),
    np.array([1.0, 2.0, 1.0]))
row("unique-backward-raises", lambda t, a: t.unique(a).sum(), np.array([1.0, 2.0, 1.0]),
    raises=True)
row("unique-nan-distinct", lambda t, a: t.unique(a, return_counts=True),
    np.array([1.0, np.nan, np.nan, 0.0]), grad=False)
row("unique-0d", lambda t, a: t.unique(a, return_inverse=True), np.array(3.0), grad=False)
row("unique-empty", lambda t, a: t.unique(a, return_counts=True), np.zeros(0), grad=False)
row("unique-dim-zero-other-raises", lambda t, a: t.unique(a, dim=0), np.zeros((2, 0)),
    grad=False, raises=True)
row("unique_consecutive", lambda t, a: t.unique_consecutive(a, return_inverse=True,
                                                            return_counts=True),
    np.array([1, 1, 2, 2, 3, 1, 1, 2]), dtype="int64")
row("unique_consecutive-dim", lambda t, a: a.unique_consecutive(dim=0, return_counts=True),
    DUP2, dtype="int64")
row("nonzero", lambda t, a: t.nonzero(a), np.array([[0.0, 1.5], [2.0, 0.0]]), grad=False)
row("nonzero-as-tuple", lambda t, a: a.nonzero(as_tuple=True),
    np.array([[0, 1, 0], [2, 0, 3]]), dtype="int64")
row("nonzero-0d", lambda t, a: (t.nonzero(a), t.nonzero(a, as_tuple=True)), np.array(5),
    dtype="int64")
row("nonzero-0d-zero", lambda t, a: (t.nonzero(a), t.nonzero(a, as_tuple=True)), np.array(0),
    dtype="int64")
row("nonzero-bool", lambda t, a: t.nonzero(a > 0), R(3, 4), grad=False)
row("argwhere", lambda t, a: t.argwhere(a), np.array([[0, 1, 0], [2, 0, 3]]), dtype="int64")
row("argwhere-method-0d", lambda t, a: a.argwhere(), np.array(2.0), grad=False)
row("where-one-arg-same-as-nonzero", lambda t, a: t.where(a > 0), R(2, 3), grad=False)
row("one_hot", lambda t, a: t.nn.functional.one_hot(a), np.array([0, 2, 1]), dtype="int64")
row("one_hot-classes", lambda t, a: t.nn.functional.one_hot(a, 5), I(2, 3), dtype="int64")
row("one_hot-0d", lambda t, a: t.nn.functional.one_hot(a, 3), np.array(2), dtype="int64")
row("one_hot-empty-classes", lambda t, a: t.nn.functional.one_hot(a, 3), np.zeros(0, int),
    dtype="int64")
for _id, _a, _k in [("float", np.array([0.0, 1.0]), -1), ("negative", np.array([-1, 1]), -1),
                    ("too-large", np.array([0, 3]), 3), ("empty-infer", np.zeros(0, int), -1),
                    ("zero-classes", np.array([0, 1]), 0)]:
    row(f"one_hot-{_id}-raises", lambda t, a, k=_k: t.nn.functional.one_hot(a, k), _a,
        dtype="float64" if _id == "float" else "int64", grad=False, raises=True)
row("one_hot-int32-raises", lambda t, a: t.nn.functional.one_hot(a), np.array([0, 1]),
    dtype="int32", raises=True)

# == integer and bool inputs, dtypes ===============================================================
row("sinh-int", lambda t, a: t.sinh(a), I(3), dtype="int64")
row("atan2-int", lambda t, a, b: t.atan2(a, b), I(3), I(3, lo=1, hi=4), dtype="int64")
row("hypot-int-raises", lambda t, a: t.hypot(a, a), I(3), dtype="int64", raises=True)
row("logaddexp-int-raises", lambda t, a: t.logaddexp(a, a), I(3), dtype="int64", raises=True)
row("atan2-mixed-dtypes", lambda t, a, b: t.atan2(a, b), R(3), R(3), dtype=("float32", "float64"))
row("erfinv-edges", lambda t, a: t.erfinv(a), np.array([-1.0, 1.0, 0.5, -0.999999, 2.0]),
    grad=False)
row("nan_to_num-defaults", lambda t, a: t.nan_to_num(a),
    np.array([np.nan, np.inf, -np.inf, 1.5]), dtype="float32", grad=False)
row("nan_to_num-values", lambda t, a: a.nan_to_num(1.0, 2.0, -3.0),
    np.array([np.nan, np.inf, -np.inf, 1.5]), grad=False)
row("nan_to_num-int", lambda t, a: t.nan_to_num(a), I(4), dtype="int64")
row("nan_to_num-grad-zero-where-replaced", lambda t, a: t.nan_to_num(a * a.new_tensor(
    [1.0, np.inf, 1.0, np.nan])), R(4))
row("sgn-int-bool", lambda t, a: (t.sgn(a), t.sgn(a > 0), t.sign(a > 0)), I(4, lo=-2, hi=3),
    dtype="int64")
row("tril-int", lambda t, a: t.tril(a, -1), I(3, 3), dtype="int64")
row("triu-bool", lambda t, a: (a > 0).triu(), R(3, 4), grad=False)
row("tril-1d-raises", lambda t, a: t.tril(a), R(3), raises=True)
row("diag-3d-raises", lambda t, a: t.diag(a), R(2, 2, 2), raises=True)
row("diagonal-same-dims-raises", lambda t, a: a.diagonal(0, 1, 1), R(2, 2), raises=True)
row("diagonal-1d-raises", lambda t, a: a.diagonal(), R(3), raises=True)
row("diag_embed-0d-raises", lambda t, a: t.diag_embed(a), R(), raises=True)
row("trace-int", lambda t, a: t.trace(a), I(3, 3), dtype="int32")
row("trace-3d-raises", lambda t, a: t.trace(a), R(2, 2, 2), raises=True)
row("diagonal_scatter-bad-src-raises", lambda t, a, b: t.diagonal_scatter(a, b), R(3, 3), R(2),
    raises=True)

# == scatter, index_*, masked_*: values, errors, not-differentiable forms ==========================
X34 = R(3, 4)
IDX = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
DUPS = np.array([[0, 0, 2, 0], [0, 2, 2, 0]])
row("scatter-value-int", lambda t, a, i: a.scatter(0, i, 7), I(3, 4), IDX,
    dtype=("int64", "int64"))
row("scatter-value-float-into-long", lambda t, a, i: a.scatter(0, i, 1.7), I(3, 4), IDX,
    dtype=("int64", "int64"))
row("scatter-0d", lambda t, a, i, s: t.scatter(a, 0, i, s), np.array(1.0), np.array(0),
    np.array(5.0), dtype=("float64", "int64", "float64"))
row("scatter-empty-index", lambda t, a, i: a.scatter(0, i, 7.0), X34, np.zeros((0, 4), int),
    dtype=("float64", "int64"))
row("scatter-reduce-add", lambda t, a, i, s: a.scatter(0, i, s, reduce="add"), X34, DUPS,
    R(2, 4), dtype=("float64", "int64", "float64"), grad=False)
row("scatter-reduce-multiply-value", lambda t, a, i: a.scatter(0, i, 2.0, reduce="multiply"),
    X34, DUPS, dtype=("float64", "int64"), grad=False)
row("scatter-reduce-backward-raises", lambda t, a, i, s: a.scatter(0, i, s, reduce="add").sum(),
    X34, DUPS, R(2, 4), dtype=("float64", "int64", "float64"), raises=True)
row("scatter-reduce-bad-raises", lambda t, a, i: a.scatter(0, i, 2.0, reduce="mean"), X34, DUPS,
    dtype=("float64", "int64"), raises=True)
for _id, _f in [("float-index", lambda t, a, i: a.scatter(0, i.double(), 1.0)),
                ("index-oob", lambda t, a, i: a.scatter(0, i + 3, 1.0)),
                ("index-negative", lambda t, a, i: a.scatter(0, i - 1, 1.0)),
                ("index-ndim", lambda t, a, i: a.scatter(0, i[0], 1.0)),
                ("dim-oob", lambda t, a, i: a.scatter(2, i, 1.0)),
                ("index-too-wide", lambda t, a, i: a.scatter(0, t.cat([i, i], 1), 1.0)),
                ("src-dtype", lambda t, a, i: a.scatter(0, i, a.float())),
                ("src-too-small", lambda t, a, i: a.scatter(0, i, a[:1, :2])),
                ("scatter_add-dtype", lambda t, a, i: a.scatter_add(0, i, a.float()[:2])),
                ("scatter_reduce-bad", lambda t, a, i: a.scatter_reduce(0, i, a[:2], "add"))]:
    row(f"scatter-{_id}-raises", _f, X34, IDX, dtype=("float64", "int64"), grad=False,
        raises=True)
for _red in ("sum", "prod", "mean", "amax", "amin"):
    row(f"scatter_reduce-int-{_red}", lambda t, a, i, s, r=_red: a.scatter_reduce(0, i, s, r),
        I(3, 4, lo=-9, hi=9), DUPS, I(2, 4, lo=-9, hi=9), dtype="int64")
    row(f"scatter_reduce-int-{_red}-exclude", lambda t, a, i, s, r=_red: a.scatter_reduce(
        0, i, s, r, include_self=False), I(3, 4, lo=-9, hi=9), DUPS, I(2, 4, lo=-9, hi=9),
        dtype="int64")
TIES = np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 1.0, 2.0, 4.0], [0.0, 0.0, 1.0, 1.0]])
TIES_SRC = np.array([[1.0, 5.0, 2.0, 4.0], [1.0, 5.0, 1.0, 4.0]])
for _red in ("amax", "amin"):
    row(f"scatter_reduce-{_red}-ties", lambda t, a, i, s, r=_red: a.scatter_reduce(0, i, s, r),
        TIES, DUPS, TIES_SRC, dtype=("float64", "int64", "float64"))
for _red in ("max", "min"):  # accepted by the forward, refused by the backward, as in torch
    row(f"scatter_reduce-{_red}-alias", lambda t, a, i, s, r=_red: a.scatter_reduce(0, i, s, r),
        TIES, DUPS, TIES_SRC, dtype=("float64", "int64", "float64"), grad=False)
    row(f"scatter_reduce-{_red}-backward-raises", lambda t, a, i, s, r=_red: a.scatter_reduce(
        0, i, s, r), TIES, DUPS, TIES_SRC, dtype=("float64", "int64", "float64"), raises=True)
row("scatter_reduce-mean-exclude-unhit", lambda t, a, i, s: a.scatter_reduce(
    0, i, s, "mean", include_self=False), X34, DUPS, R(2, 4), dtype=("float64", "int64",
                                                                      "float64"))
ZSELF = np.array([[0.0, 2.0, 3.0, 0.0], [1.0, 0.0, 2.0, 1.0], [2.0, 1.0, 0.0, 3.0]])
ZSRC = np.array([[0.0, 2.0, 0.0, 0.5], [3.0, 0.0, 0.0, 0.0]])
row("scatter_reduce-prod-zeros", lambda t, a, i, s: a.scatter_reduce(0, i, s, "prod"), ZSELF,
    DUPS, ZSRC, dtype=("float64", "int64", "float64"))
row("scatter_reduce-prod-zeros-exclude", lambda t, a, i, s: a.scatter_reduce(
    0, i, s, "prod", include_self=False), ZSELF, DUPS, ZSRC, dtype=("float64", "int64",
                                                                     "float64"))
row("index_select-errors-float-index", lambda t, a, i: a.index_select(0, i.double()), X34,
    np.array([0, 1]), dtype=("float64", "int64"), raises=True)
row("index_select-2d-index-raises", lambda t, a, i: a.index_select(0, i), X34, IDX,
    dtype=("float64", "int64"), raises=True)
row("index_select-oob-raises", lambda t, a, i: a.index_select(1, i), X34, np.array([0, 4]),
    dtype=("float64", "int64"), raises=True)
row("index_select-0d-input", lambda t, a, i: a.index_select(0, i), np.array(5.0), np.array(0),
    dtype=("float64", "int64"))
row("index_select-int", lambda t, a, i: t.index_select(a, 1, i), I(3, 4), np.array([3, 3, 0]),
    dtype="int64")
row("index_add-shape-raises", lambda t, a, i, s: a.index_add(0, i, s), X34, np.array([0, 0]),
    R(2, 3), dtype=("float64", "int64", "float64"), raises=True)
row("index_add-count-raises", lambda t, a, i, s: a.index_add(0, i, s), X34, np.array([0, 0]),
    R(3, 4), dtype=("float64", "int64", "float64"), raises=True)
row("index_add-dtype-raises", lambda t, a, i, s: a.index_add(0, i, s.float()), X34,
    np.array([0, 0]), R(2, 4), dtype=("float64", "int64", "float64"), raises=True)
row("index_add-int-alpha", lambda t, a, i, s: a.index_add(1, i, s, alpha=3), I(2, 4),
    np.array([1, 1]), I(2, 2), dtype="int64")
row("index_fill-int-float-value", lambda t, a, i: a.index_fill(1, i, 1.5), I(3, 4),
    np.array([0, 2]), dtype="int64")
row("index_fill-1d-value-raises", lambda t, a, i: a.index_fill(1, i, a.new_tensor([1.0])),
    X34, np.array([0, 2]), dtype=("float64", "int64"), raises=True)
row("index_fill-tensor-value-grad-repeats", lambda t, a, i, v: a.index_fill(1, i, v), X34,
    np.array([0, 2, 0]), np.array(0.5), dtype=("float64", "int64", "float64"))
row("index_copy-dtype-raises", lambda t, a, i, s: a.index_copy(0, i, s.float()), X34,
    np.array([2, 0]), R(2, 4), dtype=("float64", "int64", "float64"), raises=True)
row("index_copy-count-raises", lambda t, a, i, s: a.index_copy(0, i, s), X34, np.array([2, 0]),
    R(3, 4), dtype=("float64", "int64", "float64"), raises=True)
row("masked_select-int-mask-raises", lambda t, a: a.masked_select(a > 0).sum() + a.masked_select(
    (a > 0).long()).sum(), X34, raises=True)
row("masked_select-bool", lambda t, a: (a > 0).masked_select(a > 1), X34, grad=False)
row("masked_scatter-too-few-raises", lambda t, a, s: a.masked_scatter(a > -10, s), X34, R(3),
    raises=True)
row("masked_scatter-dtype-raises", lambda t, a, s: a.masked_scatter(a > 0, s.float()), X34,
    R(12), raises=True)
row("masked_scatter-int", lambda t, a, s: a.masked_scatter(a > 1, s), I(3, 4), I(12, lo=5,
                                                                                 hi=9),
    dtype="int64")

# == fused adds, norms, distances, decompositions: errors and special points =======================
row("addmm-beta0-ignores-nan", lambda t, m, a, b: t.addmm(m * float("nan"), a, b, beta=0),
    R(2, 3), R(2, 4), R(4, 3))
row("addmm-shape-raises", lambda t, m, a, b: t.addmm(m, a, b), R(2, 3), R(2, 4), R(3, 4),
    raises=True)
row("addmm-input-bcast-raises", lambda t, m, a, b: t.addmm(m, a, b), R(4), R(2, 4), R(4, 3),
    raises=True)
row("addmm-dtype-raises", lambda t, m, a, b: t.addmm(m.float(), a, b), R(2, 3), R(2, 4),
    R(4, 3), raises=True)
row("addmm-int", lambda t, m, a, b: t.addmm(m, a, b, beta=2, alpha=3), I(2, 3), I(2, 4),
    I(4, 3), dtype="int64")
row("addmv-size-raises", lambda t, m, a, v: t.addmv(m, a, v), R(2), R(2, 4), R(3), raises=True)
row("baddbmm-batch-raises", lambda t, m, a, b: t.baddbmm(m, a, b), R(3), R(5, 2, 4),
    R(4, 4, 3), raises=True)
row("norm-grad-zero-at-zero", lambda t, a: (t.linalg.vector_norm(a * 0.0), t.norm(a * 0.0, dim=1),
                                            a.mul(0.0).norm(3), t.linalg.norm(a * 0.0)), R(2, 3))
row("norm-inf-ties-share", lambda t, a: t.linalg.vector_norm(a, float("inf")),
    np.array([1.0, -3.0, 3.0, 2.0]))
row("norm-p0-count", lambda t, a: t.linalg.vector_norm(a * a.new_tensor([1.0, 0.0, 1.0]), 0),
    R(3))
row("norm-int-raises", lambda t, a: t.norm(a), I(3), dtype="int64", raises=True)
row("vector_norm-int-raises", lambda t, a: t.linalg.vector_norm(a), I(3), dtype="int64",
    raises=True)
row("vector_norm-inf-empty-raises", lambda t, a: t.linalg.vector_norm(a, float("inf")),
    np.zeros(0), raises=True)
row("vector_norm-empty", lambda t, a: t.linalg.vector_norm(a), np.zeros((0, 3)))
row("vector_norm-dtype", lambda t, a: t.linalg.vector_norm(a, dtype=t.float64), R(3),
    dtype="float32")
row("vector_norm-narrowing-raises", lambda t, a: t.linalg.vector_norm(a, dtype=t.float32), R(3),
    raises=True)
row("vector_norm-str-raises", lambda t, a: t.linalg.vector_norm(a, "fro"), R(3), raises=True)
row("matrix_norm-1d-raises", lambda t, a: t.linalg.matrix_norm(a), R(3), raises=True)
row("matrix_norm-ord3-raises", lambda t, a: t.linalg.matrix_norm(a, 3), R(2, 2), raises=True)
row("matrix_norm-three-dims-raises", lambda t, a: t.norm(a, "fro", dim=(0, 1, 2)), R(2, 2, 2),
    raises=True)
row("linalg_norm-3d-ord-raises", lambda t, a: t.linalg.norm(a, 2), R(2, 2, 2), raises=True)
row("linalg_norm-3d-dims-raises", lambda t, a: t.linalg.norm(a, dim=(0, 1, 2)), R(2, 2, 2),
    raises=True)
row("linalg_norm-3d-default", lambda t, a: t.linalg.norm(a), R(2, 2, 2))
row("cdist-p0", lambda t, a, b: t.cdist(a, b, 0.0), R(3, 2), R(2, 2))
row("cdist-zero-distance-grad", lambda t, a: t.cdist(a, a), R(3, 2))
row("cdist-zero-distance-grad-mm",
    lambda t, a: t.cdist(a, a, compute_mode="use_mm_for_euclid_dist"), R(3, 2))
row("cdist-cols-raises", lambda t, a, b: t.cdist(a, b), R(3, 2), R(2, 3), raises=True)
row("cdist-1d-raises", lambda t, a, b: t.cdist(a, b), R(3), R(3), raises=True)
row("cdist-negative-p-raises", lambda t, a, b: t.cdist(a, b, -1.0), R(3, 2), R(2, 2),
    raises=True)
row("cdist-int-raises", lambda t, a, b: t.cdist(a, b), I(3, 2), I(2, 2), dtype="int64",
    raises=True)
row("cdist-bad-mode-raises", lambda t, a, b: t.cdist(a, b, compute_mode="fast"), R(3, 2),
    R(2, 2), raises=True)
row("cdist-large-float32", lambda t, a, b: t.cdist(a, b), R(40, 5), R(30, 5), dtype="float32")
row("cosine_similarity-zero-vector", lambda t, a, b: t.nn.functional.cosine_similarity(
    a * 0.0, b), R(3, 4), R(3, 4))
row("cosine_similarity-int-raises", lambda t, a: t.cosine_similarity(a, a), I(3, 4),
    dtype="int64", raises=True)
row("cosine_similarity-int-float", lambda t, a, b: t.cosine_similarity(a, b), I(3, 4), R(3, 4),
    dtype=("int64", "float64"))
row("normalize-zero-rows", lambda t, a: t.nn.functional.normalize(a * 0.0), R(3, 4))
row("pairwise_distance-int", lambda t, a, b: t.pairwise_distance(a, b), I(3, 4), I(3, 4),
    dtype="int64")
SING = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])
row("det-singular-value", lambda t, a: t.det(a), SING, grad=False)
row("det-zero-matrix-grad", lambda t, a: t.linalg.det(a * 0.0), SING)
row("det-0x0", lambda t, a: t.linalg.det(a), np.zeros((0, 0)))
row("inv-singular-raises", lambda t, a: t.linalg.inv(a), SING, raises=True)
row("inv-nonsquare-raises", lambda t, a: t.linalg.inv(a), R(2, 3), raises=True)
row("inv-int-raises", lambda t, a: t.linalg.inv(a), I(2, 2), dtype="int64", raises=True)
row("det-1d-raises", lambda t, a: t.det(a), R(3), raises=True)
row("solve-singular-raises", lambda t, a, b: t.linalg.solve(a, b), SING, R(3), raises=True)
row("solve-shape-raises", lambda t, a, b: t.linalg.solve(a, b), R(2, 2), R(3), raises=True)
row("cholesky-not-pd-raises", lambda t, a: t.linalg.cholesky(a),
    np.array([[1.0, 2.0], [2.0, 1.0]]), raises=True)
row("slogdet-negative", lambda t, a: t.linalg.slogdet(a), np.array([[1.0, 2.0], [2.0, 1.0]]))
row("logdet-negative-and-zero", lambda t, a: (t.logdet(a), t.logdet(a.new_tensor(
    [[0.0, 0.0], [0.0, 1.0]]))), np.array([[1.0, 2.0], [2.0, 1.0]]), grad=False)
row("multi_dot-one-raises", lambda t, a: t.linalg.multi_dot([a]), R(2, 2), raises=True)

# == in place: result, identity, the input after, its version ======================================
row("tril_", lambda t, a: a.tril_(1), R(3, 4), grad=False)
row("triu_-twice", lambda t, a: a.triu_().triu_(-1), R(3, 4), grad=False)
for _name, _dom in [("sinh", R), ("cosh", R), ("atan", R), ("asinh", R), ("erf", R),
                    ("erfc", R), ("sgn", R), ("nan_to_num", R),
                    ("arctan", R), ("arcsinh", R)]:
    row(f"{_name}_", lambda t, a, n=_name: getattr(a, n + "_")(), _dom(3), grad=False)
for _name in ("asin", "acos", "atanh", "erfinv", "arcsin", "arccos", "arctanh"):
    row(f"{_name}_", lambda t, a, n=_name: getattr(a, n + "_")(), np.array([-0.5, 0.1, 0.7]),
        grad=False)
row("acosh_", lambda t, a: a.acosh_(), np.array([1.5, 2.0]), grad=False)
row("atan2_", lambda t, a, b: a.atan2_(b), R(3, 4), R(4), grad=False)
row("arctan2_", lambda t, a, b: a.arctan2_(b), R(3), R(3), grad=False)
row("hypot_", lambda t, a, b: a.hypot_(b), R(3, 4), R(4), grad=False)
row("sinh_-int-raises", lambda t, a: a.sinh_(), I(3), dtype="int64", raises=True)
row("hypot_-bcast-self-raises", lambda t, a, b: a.hypot_(b), R(4), R(3, 4), grad=False,
    raises=True)
row("scatter_", lambda t, a, i, s: a.scatter_(0, i, s), X34, IDX, R(2, 4),
    dtype=("float64", "int64", "float64"), grad=False)
row("scatter_-value", lambda t, a, i: a.scatter_(1, i, -1.0), X34, np.array([[3], [0], [1]]),
    dtype=("float64", "int64"), grad=False)
row("scatter_-reduce-add", lambda t, a, i, s: a.scatter_(0, i, s, reduce="add"), X34, DUPS,
    R(2, 4), dtype=("float64", "int64", "float64"), grad=False)
row("scatter_-reduce-multiply", lambda t, a, i: a.scatter_(0, i, 3.0, reduce="multiply"), X34,
    DUPS, dtype=("float64", "int64"), grad=False)
row("scatter_add_", lambda t, a, i, s: a.scatter_add_(0, i, s), X34, DUPS, R(2, 4),
    dtype=("float64", "int64", "float64"), grad=False)
row("scatter_reduce_", lambda t, a, i, s: a.scatter_reduce_(0, i, s, "amax", include_self=False),
    X34, DUPS, R(2, 4), dtype=("float64", "int64", "float64"), grad=False)
row("index_add_", lambda t, a, i, s: a.index_add_(1, i, s, alpha=2.0), X34, np.array([1, 1]),
    R(3, 2), dtype=("float64", "int64", "float64"), grad=False)
row("index_fill_", lambda t, a, i: a.index_fill_(0, i, 9.0), X34, np.array([2]),
    dtype=("float64", "int64"), grad=False)
row("index_copy_", lambda t, a, i, s: a.index_copy_(1, i, s), X34, np.array([3, 0]), R(3, 2),
    dtype=("float64", "int64", "float64"), grad=False)
row("masked_scatter_", lambda t, a, s: a.masked_scatter_(a > 0, s), X34, R(12), grad=False)
row("masked_scatter_-bcast-self-raises", lambda t, a, s: a.masked_scatter_(
    a.new_ones(3, 4) > 0, s), R(4), R(12), grad=False, raises=True)
row("addmm_", lambda t, m, a, b: m.addmm_(a, b, beta=0.5), R(2, 3), R(2, 4), R(4, 3),
    grad=False)
row("addmm_-shape-raises", lambda t, m, a, b: m.addmm_(a, b), R(3), R(2, 4), R(4, 3),
    grad=False, raises=True)
row("addmv_", lambda t, m, a, v: m.addmv_(a, v, alpha=2.0), R(2), R(2, 4), R(4), grad=False)
row("addr_", lambda t, m, a, b: m.addr_(a, b), R(2, 3), R(2), R(3), grad=False)
row("addbmm_", lambda t, m, a, b: m.addbmm_(a, b), R(2, 3), R(4, 2, 5), R(4, 5, 3),
    grad=False)
row("baddbmm_", lambda t, m, a, b: m.baddbmm_(a, b, alpha=-1.0), R(4, 2, 3), R(4, 2, 5),
    R(4, 5, 3), grad=False)
row("inplace-leaf-raises", lambda t, a, i, s: a.scatter_add_(0, i, s), X34, DUPS, R(2, 4),
    dtype=("float64", "int64", "float64"), raises=True)


def _nonleaf(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn applied in place to a non-leaf copy of the first input: recorded by autograd."""
    def run(t: Any, a: Any, *rest: Any) -> Any:
        b = a * 1.0
        out = fn(t, b, *rest)
        return out, out is b, b._version
    return run


row("scatter_-recorded", _nonleaf(lambda t, b, i, s: b.scatter_(0, i, s)), X34, IDX, R(2, 4),
    dtype=("float64", "int64", "float64"))
row("scatter_reduce_-recorded", _nonleaf(lambda t, b, i, s: b.scatter_reduce_(0, i, s, "mean")),
    X34, DUPS, R(2, 4), dtype=("float64", "int64", "float64"))
row("index_add_-recorded", _nonleaf(lambda t, b, i, s: b.index_add_(0, i, s)), X34,
    np.array([0, 0]), R(2, 4), dtype=("float64", "int64", "float64"))
row("index_fill_-tensor-value-recorded", _nonleaf(lambda t, b, i, v: b.index_fill_(1, i, v)),
    X34, np.array([1, 3]), np.array(0.3), dtype=("float64", "int64", "float64"))
row("masked_scatter_-recorded", _nonleaf(lambda t, b, s: b.masked_scatter_(b > 0, s)), X34,
    R(12))
row("tril_-recorded", _nonleaf(lambda t, b: b.tril_()), R(3, 3))
row("sinh_-recorded", _nonleaf(lambda t, b: b.sinh_().cosh_()), R(3))
row("addmm_-recorded", _nonleaf(lambda t, b, x, y: b.addmm_(x, y, alpha=2.0)), R(2, 3),
    R(2, 4), R(4, 3))
row("atan2_-recorded-other-grad", _nonleaf(lambda t, b, c: b.atan2_(c)), R(3), R(3))


def _saved_then_changed(t: Any, a: Any) -> Any:
    b = a * 1.0
    y = t.sinh(b)  # saves b
    b.tril_()
    return y.sum()


row("sinh-saved-input-changed-raises", _saved_then_changed, R(3, 3), raises=True)


def _diag_write(t: Any, a: Any) -> Any:
    d = a.diagonal()
    d.fill_(0.0)
    return a, d._version, a._version


def _diag_write_recorded(t: Any, a: Any) -> Any:
    b = a * 2.0
    b.diagonal(1).mul_(3.0)
    return b


row("diagonal-view-write", _diag_write, R(3, 4), grad=False)
row("diagonal-view-write-offset-dims", lambda t, a: (a.diagonal(-1, 2, 0).zero_(), a), R(3, 2, 4),
    grad=False)
row("diagonal-view-write-recorded", _diag_write_recorded, R(3, 4))
row("diagonal-view-of-leaf-raises", lambda t, a: a.diagonal().zero_(), R(3, 3), raises=True)
row("diagonal-is-view", lambda t, a: (a.diagonal()._version, a.diag()._version), R(3, 3),
    grad=False)


@pytest.mark.parametrize("idiom", TABLE.rows, ids=TABLE.ids())
def test_matches_torch(idiom: Idiom) -> None:
    check(torch, idiom)


def test_ids_unique() -> None:
    ids = TABLE.ids()
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix() -> None:
    """det is a polynomial: its gradient is the cofactor matrix everywhere. torch 2.x gives it
    under create_graph=True but returns zeros from a plain backward at an exactly singular
    matrix; chainrule gives the cofactors in both modes, and differentiates them again."""
    cof = np.array([[-2.0, 4.0, -2.0], [1.0, -2.0, 1.0], [0.0, 0.0, 0.0]])
    for create_graph in (False, True):
        a = cr.tensor(SING, requires_grad=True)
        (g,) = cr.autograd.grad(cr.det(a), a, create_graph=create_graph)
        np.testing.assert_allclose(g.numpy(), cof, atol=1e-12)
    u = torch.tensor(SING, requires_grad=True)
    (gu,) = torch.autograd.grad(torch.det(u), u, create_graph=True)
    np.testing.assert_allclose(gu.detach().numpy(), cof, atol=1e-12)
    (h,) = cr.autograd.grad(g.sum(), a)
    (hu,) = torch.autograd.grad(gu.sum(), u)
    np.testing.assert_allclose(h.numpy(), hu.numpy(), atol=1e-12)
    two = cr.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    cr.det(two).backward()
    np.testing.assert_allclose(two.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]])


def test_scatter_reduce_amax_excluded_self_does_not_take_a_share() -> None:
    """With include_self=False an element of self equal to the result is not among the ties.
    torch 2.x counts it (a known bug: src gets half the gradient); chainrule gives src all."""
    s = cr.tensor([3.0, 5.0], requires_grad=True)
    src = cr.tensor([3.0, 1.0], requires_grad=True)
    out = s.scatter_reduce(0, cr.tensor([0, 0]), src, "amax", include_self=False)
    out.backward(cr.ones(2))
    np.testing.assert_array_equal(out.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(src.grad.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(s.grad.numpy(), [0.0, 1.0])


def test_scatter_reduce_prod_double_backward_with_two_zeros_raises_like_torch() -> None:
    x = np.array([2.0, 3.0])
    src = np.array([0.0, 0.0, 4.0])
    idx = [0, 0, 1]
    outs = []
    for t in (torch, cr):
        a = t.tensor(x, requires_grad=True)
        b = t.tensor(src, requires_grad=True)
        y = a.scatter_reduce(0, t.tensor(idx), b, "prod")
        (ga, gb) = t.autograd.grad(y.sum(), (a, b), create_graph=True)
        outs.append((ga.detach().numpy(), gb.detach().numpy()))
        with pytest.raises(RuntimeError, match="[Dd]ouble backward"):
            t.autograd.grad(gb.sum(), b)
    np.testing.assert_allclose(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1], outs[1][1])


@pytest.mark.parametrize("bounds", ["both", "min", "max", "crossed"])
def test_clamp_tensor_bounds_give_ties_to_the_input_as_torch(bounds: str) -> None:
    # integer-valued data: x equals a bound in many places; torch gives those to x, not the bound
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xa = rng.integers(-2, 3, (3, 4)).astype(float)
    la, ha = rng.integers(-2, 3, (4,)).astype(float), rng.integers(-2, 3, (3, 1)).astype(float)
    if bounds == "crossed":
        la, ha = np.full(4, 1.0), np.full((3, 1), -1.0)
    weights = np.arange(12.0).reshape(3, 4)

    def run(lib: Any) -> list:
        x, lo, hi = (lib.tensor(a, requires_grad=True) for a in (xa, la, ha))
        kw = {"both": {"min": lo, "max": hi}, "crossed": {"min": lo, "max": hi},
              "min": {"min": lo}, "max": {"max": hi}}[bounds]
        y = lib.clamp(x, **kw)
        (y * lib.tensor(weights)).sum().backward()
        return [y.detach().numpy()] + [None if t.grad is None else t.grad.numpy()
                                       for t in (x, lo, hi)]

    for ours, theirs in zip(run(cr), run(torch)):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(2, 3), (3, 2), (2, 3, 4), (1, 5), (4,)])
def test_meshgrid_shapes_values_and_gradients_as_torch(sizes: tuple, indexing: str) -> None:
    # 'xy' is Cartesian: meshgrid(x (2,), y (3,), indexing='xy') gives (3, 2) grids
    torch = pytest.importorskip("torch")
    arrays = [np.arange(float(n)) + 10 * k for k, n in enumerate(sizes)]

    def run(lib: Any) -> list:
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        grids = lib.meshgrid(*xs, indexing=indexing)
        sum(((g * (k + 1)) ** 2).sum() for k, g in enumerate(grids)).backward()
        return [g.detach().numpy() for g in grids] + [x.grad.numpy() for x in xs]

    for ours, theirs in zip(run(cr), run(torch)):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs)
