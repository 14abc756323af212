"""Losses: float64 gradcheck + gradgradcheck of every loss and option, torch comparison where
torch is importable, the sample_weight and half-MSE conventions checked by hand, errors, dtypes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

N, C, D = 3, 4, 2
_r = np.random.default_rng(1234)


def _away_from(v: np.ndarray, kinks: tuple[float, ...], gap: float = 0.05) -> np.ndarray:
    """Move values off the kinks of piecewise losses so finite differences stay valid."""
    for k in kinks:
        close = np.abs(v - k) < gap
        v = np.where(close, k + gap * 2 * np.sign(v - k + 1e-9), v)
    return v


# fixed inputs and targets (float64; the differentiated input is always `x`)
REG_T = _r.standard_normal((N, C))
REG_X = REG_T + _away_from(_r.standard_normal((N, C)) * 1.2, (0.0, 0.7, -0.7, 0.5, -0.5))
ELEM_W = _r.random((N, C)) + 0.5
PROB_X = _r.uniform(0.05, 0.95, (N, C))
PROB_T = _r.random((N, C))
LOGITS = _r.standard_normal((N, C)) * 2
LABELS = np.array([1, 0, 3])
LABELS_IGN = np.array([1, -100, 3])
CLASS_W = np.array([0.5, 2.0, 1.0, 1.5])
SOFT = _r.random((N, C))
SOFT /= SOFT.sum(1, keepdims=True)
LOGITS_3D = _r.standard_normal((N, C, D))
LABELS_3D = np.array([[0, 3], [2, -100], [1, 1]])
SOFT_3D = _r.random((N, C, D))
SOFT_3D /= SOFT_3D.sum(1, keepdims=True)
LOGP = LOGITS - np.log(np.exp(LOGITS).sum(1, keepdims=True))
KL_T = SOFT.copy()
KL_T[0, 1] = 0.0  # a zero probability: 0 log 0 counts as 0
SIGNS = np.array([[1, -1, 1, -1], [-1, -1, 1, 1], [1, 1, -1, -1]], dtype=np.float64)
HINGE_X = _away_from(_r.uniform(-0.5, 2.0, (N, C)), (0.0, 1.0))
X2 = _r.standard_normal((N, C))
COS_Y = np.array([1, -1, -1])


def _t(a: np.ndarray) -> Any:
    import torch

    return torch.tensor(a)


@dataclass
class Case:
    name: str
    ours: Callable[..., cr.Tensor]                 # (x, reduction, sample_weight) -> loss
    theirs: Callable[..., Any] | None              # (torch F, x, reduction) -> loss
    x: np.ndarray
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    plain_mean: bool = True  # 'mean' divides by the element count (no weights in the divisor)
    kw: dict = field(default_factory=dict)


def _ce(**kw: Any) -> Callable:
    return lambda x, r, sw, t: F.cross_entropy(x, t, reduction=r, sample_weight=sw, **kw)


def _tce(**kw: Any) -> Callable:
    def f(TF: Any, x: Any, r: str, t: np.ndarray) -> Any:
        tkw = {k: (_t(v) if k == "weight" else v) for k, v in kw.items()}
        return TF.cross_entropy(x, _t(t), reduction=r, **tkw)
    return f


def _with_target(f: Callable, t: np.ndarray) -> Callable:
    return lambda *a: f(*a, t)


def _nll(t: np.ndarray, **kw: Any) -> tuple[Callable, Callable]:
    ours = lambda x, r, sw: F.nll_loss(x, t, reduction=r, sample_weight=sw, **kw)  # noqa: E731

    def theirs(TF: Any, x: Any, r: str) -> Any:
        tkw = {k: (_t(v) if k == "weight" else v) for k, v in kw.items()}
        return TF.nll_loss(x, _t(t), reduction=r, **tkw)
    return ours, theirs


CASES = [
    Case("mse", lambda x, r, sw: F.mse_loss(x, REG_T, reduction=r, sample_weight=sw),
         lambda TF, x, r: TF.mse_loss(x, _t(REG_T), reduction=r), REG_X),
    Case("mse_weight",
         lambda x, r, sw: F.mse_loss(x, REG_T, reduction=r, weight=ELEM_W, sample_weight=sw),
         lambda TF, x, r: TF.mse_loss(x, _t(REG_T), reduction=r, weight=_t(ELEM_W)), REG_X,
         plain_mean=False),
    Case("mse_half",
         lambda x, r, sw: F.mse_loss(x, REG_T, reduction=r, half=True, sample_weight=sw),
         lambda TF, x, r: 0.5 * TF.mse_loss(x, _t(REG_T), reduction=r), REG_X),
    Case("l1", lambda x, r, sw: F.l1_loss(x, REG_T, reduction=r, sample_weight=sw),
         lambda TF, x, r: TF.l1_loss(x, _t(REG_T), reduction=r), REG_X),
    Case("l1_weight",
         lambda x, r, sw: F.l1_loss(x, REG_T, reduction=r, weight=ELEM_W, sample_weight=sw),
         lambda TF, x, r: TF.l1_loss(x, _t(REG_T), reduction=r, weight=_t(ELEM_W)), REG_X,
         plain_mean=False),
    Case("huber",
         lambda x, r, sw: F.huber_loss(x, REG_T, reduction=r, delta=0.7, sample_weight=sw),
         lambda TF, x, r: TF.huber_loss(x, _t(REG_T), reduction=r, delta=0.7), REG_X),
    Case("huber_weight",
         lambda x, r, sw: F.huber_loss(x, REG_T, reduction=r, weight=ELEM_W, sample_weight=sw),
         lambda TF, x, r: TF.huber_loss(x, _t(REG_T), reduction=r, weight=_t(ELEM_W)), REG_X),
    Case("smooth_l1",
         lambda x, r, sw: F.smooth_l1_loss(x, REG_T, reduction=r, beta=0.5, sample_weight=sw),
         lambda TF, x, r: TF.smooth_l1_loss(x, _t(REG_T), reduction=r, beta=0.5), REG_X),
    Case("smooth_l1_beta0",
         lambda x, r, sw: F.smooth_l1_loss(x, REG_T, reduction=r, beta=0.0, sample_weight=sw),
         lambda TF, x, r: TF.smooth_l1_loss(x, _t(REG_T), reduction=r, beta=0.0), REG_X),
    Case("bce", lambda x, r, sw: F.binary_cross_entropy(x, PROB_T, reduction=r, sample_weight=sw),
         lambda TF, x, r: TF.binary_cross_entropy(x, _t(PROB_T), reduction=r), PROB_X),
    Case("bce_weight",
         lambda x, r, sw: F.binary_cross_entropy(x, PROB_T, CLASS_W, reduction=r,
                                                 sample_weight=sw),
         lambda TF, x, r: TF.binary_cross_entropy(x, _t(PROB_T), _t(CLASS_W), reduction=r),
         PROB_X),
    Case("bce_logits",
         lambda x, r, sw: F.binary_cross_entropy_with_logits(x, PROB_T, reduction=r,
                                                             sample_weight=sw),
         lambda TF, x, r: TF.binary_cross_entropy_with_logits(x, _t(PROB_T), reduction=r),
         LOGITS),
    Case("bce_logits_pos_weight",
         lambda x, r, sw: F.binary_cross_entropy_with_logits(
             x, PROB_T, ELEM_W[:, :1], reduction=r, pos_weight=CLASS_W, sample_weight=sw),
         lambda TF, x, r: TF.binary_cross_entropy_with_logits(
             x, _t(PROB_T), _t(ELEM_W[:, :1]), reduction=r, pos_weight=_t(CLASS_W)), LOGITS),
    Case("ce_index", _with_target(_ce(), LABELS), _with_target(_tce(), LABELS), LOGITS),
    Case("ce_probs", _with_target(_ce(), SOFT), _with_target(_tce(), SOFT), LOGITS),
    Case("ce_probs_smooth_weight", _with_target(_ce(label_smoothing=0.1, weight=CLASS_W), SOFT),
         _with_target(_tce(label_smoothing=0.1, weight=CLASS_W), SOFT), LOGITS),
    Case("ce_smoothing", _with_target(_ce(label_smoothing=0.2), LABELS),
         _with_target(_tce(label_smoothing=0.2), LABELS), LOGITS),
    Case("ce_ignore", _with_target(_ce(), LABELS_IGN), _with_target(_tce(), LABELS_IGN), LOGITS,
         plain_mean=False),
    Case("ce_weight", _with_target(_ce(weight=CLASS_W), LABELS),
         _with_target(_tce(weight=CLASS_W), LABELS), LOGITS, plain_mean=False),
    Case("ce_weight_ignore_smooth",
         _with_target(_ce(weight=CLASS_W, label_smoothing=0.3), LABELS_IGN),
         _with_target(_tce(weight=CLASS_W, label_smoothing=0.3), LABELS_IGN), LOGITS,
         plain_mean=False),
    Case("ce_3d_index", _with_target(_ce(weight=CLASS_W), LABELS_3D),
         _with_target(_tce(weight=CLASS_W), LABELS_3D), LOGITS_3D, plain_mean=False),
    Case("ce_3d_smooth", _with_target(_ce(label_smoothing=0.1), LABELS_3D),
         _with_target(_tce(label_smoothing=0.1), LABELS_3D), LOGITS_3D, plain_mean=False),
    Case("ce_3d_probs", _with_target(_ce(), SOFT_3D), _with_target(_tce(), SOFT_3D), LOGITS_3D),
    Case("nll", *_nll(LABELS), LOGP),
    Case("nll_weight_ignore", *_nll(LABELS_IGN, weight=CLASS_W), LOGP, plain_mean=False),
    Case("nll_3d", *_nll(LABELS_3D), LOGITS_3D, plain_mean=False),
    Case("kl_div", lambda x, r, sw: F.kl_div(x, KL_T, reduction=r, sample_weight=sw),
         lambda TF, x, r: TF.kl_div(x, _t(KL_T), reduction=r), LOGP,
         ("mean", "batchmean", "sum", "none")),
    Case("kl_div_log_target",
         lambda x, r, sw: F.kl_div(x, LOGP[::-1].copy(), reduction=r, log_target=True,
                                   sample_weight=sw),
         lambda TF, x, r: TF.kl_div(x, _t(LOGP[::-1].copy()), reduction=r, log_target=True),
         LOGP, ("mean", "batchmean", "sum", "none")),
    Case("hinge_embedding",
         lambda x, r, sw: F.hinge_embedding_loss(x, SIGNS, reduction=r, sample_weight=sw),
         lambda TF, x, r: TF.hinge_embedding_loss(x, _t(SIGNS), reduction=r), HINGE_X),
    Case("cosine_embedding",
         lambda x, r, sw: F.cosine_embedding_loss(x, X2, COS_Y, 0.1, reduction=r,
                                                  sample_weight=sw),
         lambda TF, x, r: TF.cosine_embedding_loss(x, _t(X2), _t(COS_Y), 0.1, reduction=r),
         REG_X),
]
RUNS = [(c, r) for c in CASES for r in c.reductions]
IDS = [f"{c.name}-{r}" for c, r in RUNS]
SW = np.array([0.5, 2.0, 1.25])


def _ones_sw() -> np.ndarray:
    return np.ones(N)


# -- first and second derivatives --------------------------------------------------------------
@pytest.mark.parametrize("case,reduction", RUNS, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "sample_weight"])
def test_gradcheck_and_gradgradcheck(case: Case, reduction: str, weighted: bool) -> None:
    sw = SW if weighted else None

    def f(x: cr.Tensor) -> cr.Tensor:
        return case.ours(x, reduction, sw)

    assert f(cr.tensor(case.x)).dtype == np.float64
    assert cr.gradcheck(f, case.x.copy())
    assert cr.gradgradcheck(f, case.x.copy())


def test_gradcheck_through_targets_and_sample_weight() -> None:
    """Targets and sample weights given as tensors that require grad get gradients too."""
    assert cr.gradcheck(lambda x, t: F.mse_loss(x, t), REG_X, REG_T)
    assert cr.gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t), LOGITS, PROB_T)
    assert cr.gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean"), LOGP, SOFT)
    assert cr.gradgradcheck(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), LOGITS, SOFT)
    assert cr.gradcheck(lambda x, w: F.huber_loss(x, REG_T, sample_weight=w), REG_X, SW)


def test_fused_cross_entropy_fast_and_graph_backward_agree() -> None:
    """The first-order backward (saved softmax) and the create_graph one give the same numbers."""
    for target, kw in [(LABELS_IGN, {"weight": CLASS_W}), (LABELS, {"label_smoothing": 0.2}),
                       (SOFT, {})]:
        x = cr.tensor(LOGITS, requires_grad=True)
        F.cross_entropy(x, target, reduction="sum", **kw).backward()
        (g,) = cr.autograd.grad(F.cross_entropy(x, target, reduction="sum", **kw), [x],
                                create_graph=True)
        np.testing.assert_allclose(x.grad.numpy(), g.numpy(), rtol=1e-12, atol=1e-14)


# -- against PyTorch ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's kl_div
@pytest.mark.parametrize("case,reduction", RUNS, ids=IDS)
def test_matches_torch(case: Case, reduction: str) -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    x = cr.tensor(case.x, requires_grad=True)
    ours = case.ours(x, reduction, None)
    tx = torch.tensor(case.x, requires_grad=True)
    theirs = case.theirs(TF, tx, reduction)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(ours.shape)
    ours.backward(cr.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_unbatched_cross_entropy_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    for target in (np.array(2), SOFT[0]):
        for r in ("mean", "none"):
            ours = F.cross_entropy(cr.tensor(LOGITS[0]), target, reduction=r)
            theirs = TF.cross_entropy(torch.tensor(LOGITS[0]), torch.tensor(target), reduction=r)
            assert ours.shape == tuple(theirs.shape)
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_stable_for_extreme_inputs_like_torch() -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    big = np.array([[1e4, -1e4, 0.0], [-800.0, 800.0, 799.0]])
    for r in ("none", "sum"):
        ours = F.cross_entropy(cr.tensor(big), np.array([1, 2]), reduction=r).numpy()
        theirs = TF.cross_entropy(torch.tensor(big), torch.tensor([1, 2]), reduction=r).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        ours = F.binary_cross_entropy_with_logits(cr.tensor(big), np.ones_like(big), reduction=r)
        theirs = TF.binary_cross_entropy_with_logits(torch.tensor(big), torch.ones(2, 3,
                                                     dtype=torch.float64), reduction=r)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    x = cr.tensor(p, requires_grad=True)
    ours = F.binary_cross_entropy(x, y, reduction="none")  # log clamped at -100, as in torch
    theirs = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    ours.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# -- the cost conventions, by hand -------------------------------------------------------------
def _none(case: Case, sw: Any = None) -> np.ndarray:
    return case.ours(cr.tensor(case.x), "none", sw).numpy()


@pytest.mark.parametrize("case", [c for c in CASES if c.plain_mean], ids=lambda c: c.name)
def test_sample_weight_is_a_weighted_average_of_example_losses(case: Case) -> None:
    L = _none(case).reshape(N, -1)  # elementwise losses, one row per example
    x = cr.tensor(case.x)
    w = SW
    mean = case.ours(x, "mean", w).item()
    np.testing.assert_allclose(mean, (w * L.mean(1)).sum() / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(case.ours(x, "sum", w).item(), (w * L.sum(1)).sum(), rtol=1e-12)
    np.testing.assert_allclose(_none(case, w).reshape(N, -1), w[:, None] * L, rtol=1e-12)
    if "batchmean" in case.reductions:
        np.testing.assert_allclose(case.ours(x, "batchmean", w).item(),
                                   (w * L.sum(1)).sum() / w.sum(), rtol=1e-12)


@pytest.mark.parametrize("case,reduction", RUNS, ids=IDS)
def test_all_ones_sample_weight_is_the_unweighted_loss(case: Case, reduction: str) -> None:
    x = cr.tensor(case.x)
    np.testing.assert_allclose(case.ours(x, reduction, _ones_sw()).numpy(),
                               case.ours(x, reduction, None).numpy(), rtol=1e-12)


def test_sample_weight_with_class_weights_and_ignore_index() -> None:
    """'mean' divides by sum_i w_i * weight[y_i] over the positions not ignored."""
    x = cr.tensor(LOGITS)
    L = F.cross_entropy(x, LABELS_IGN, CLASS_W, reduction="none").numpy()
    valid = LABELS_IGN != -100
    wy = np.where(valid, CLASS_W[np.where(valid, LABELS_IGN, 0)], 0.0)
    got = F.cross_entropy(x, LABELS_IGN, CLASS_W, sample_weight=SW).item()
    np.testing.assert_allclose(got, (SW * L).sum() / (SW * wy).sum(), rtol=1e-12)
    assert L[1] == 0.0  # the ignored example contributes nothing


def test_sample_weight_zero_drops_an_example() -> None:
    w = np.array([1.0, 0.0, 1.0])
    got = F.cross_entropy(cr.tensor(LOGITS), LABELS, sample_weight=w).item()
    keep = F.cross_entropy(cr.tensor(LOGITS[[0, 2]]), LABELS[[0, 2]]).item()
    np.testing.assert_allclose(got, keep, rtol=1e-12)


def test_half_mse_is_the_textbook_cost() -> None:
    """half=True: J = 1/2 ||a - y||^2 with reduction='sum', dJ/da = a - y; 'mean' is half MSE."""
    a = cr.tensor(REG_X, requires_grad=True)
    J = F.mse_loss(a, REG_T, reduction="sum", half=True)
    np.testing.assert_allclose(J.item(), 0.5 * ((REG_X - REG_T) ** 2).sum(), rtol=1e-12)
    mse = F.mse_loss(cr.tensor(REG_X), REG_T).item()
    np.testing.assert_allclose(J.item(), 0.5 * mse * REG_X.size, rtol=1e-12)
    np.testing.assert_allclose(F.mse_loss(cr.tensor(REG_X), REG_T, half=True).item(), 0.5 * mse,
                               rtol=1e-12)
    J.backward()
    np.testing.assert_allclose(a.grad.numpy(), REG_X - REG_T, rtol=1e-12)
    assert repr(nn.MSELoss(half=True)) == "MSELoss(half=True)" and repr(nn.MSELoss()) == "MSELoss()"


def test_smooth_l1_is_huber_over_beta() -> None:
    x = cr.tensor(REG_X)
    np.testing.assert_allclose(F.smooth_l1_loss(x, REG_T, beta=0.5).item(),
                               F.huber_loss(x, REG_T, delta=0.5).item() / 0.5, rtol=1e-12)


# -- dtypes ------------------------------------------------------------------------------------
def test_float32_stays_float32() -> None:
    x = cr.tensor(REG_X.astype(np.float32), requires_grad=True)
    for loss in (F.mse_loss(x, REG_T, sample_weight=SW), F.l1_loss(x, REG_T.tolist()),
                 F.cross_entropy(x, LABELS, CLASS_W, label_smoothing=0.1),
                 F.cross_entropy(x, SOFT), F.nll_loss(x, LABELS),
                 F.binary_cross_entropy_with_logits(x, PROB_T, pos_weight=CLASS_W),
                 F.kl_div(x, SOFT, reduction="batchmean")):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


# -- errors ------------------------------------------------------------------------------------
def test_shape_mismatch_names_the_loss_and_both_shapes() -> None:
    with pytest.raises(cr.ShapeError, match=r"mse_loss.*\(3, 1\).*\(3,\).*reshape"):
        F.mse_loss(cr.zeros(3, 1), np.zeros(3))
    with pytest.raises(cr.ShapeError, match=r"binary_cross_entropy_with_logits.*\(3, 4\).*\(4,"):
        F.binary_cross_entropy_with_logits(cr.zeros(3, 4), np.zeros((4, 3)))
    with pytest.raises(cr.ShapeError, match=r"cross_entropy.*\(3, 4\).*\(3,\).*\(2,\)"):
        F.cross_entropy(cr.zeros(3, 4), np.array([0, 1]))


def test_class_index_out_of_range_names_index_and_C() -> None:
    with pytest.raises(IndexError, match=r"cross_entropy.*index 7.*C = 4"):
        F.cross_entropy(cr.zeros(3, 4), np.array([0, 7, 1]))
    with pytest.raises(IndexError, match=r"nll_loss.*index -2.*C = 4"):
        F.nll_loss(cr.zeros(3, 4), np.array([0, -2, 1]))


def test_unknown_reduction_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"l1_loss.*'avg'.*'mean', 'sum', 'none'"):
        F.l1_loss(cr.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"'batchmean'"):
        F.kl_div(cr.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*'mean', 'sum', 'none'"):
        nn.CrossEntropyLoss(reduction="batchmean")


def test_other_bad_arguments() -> None:
    with pytest.raises(cr.ShapeError, match=r"sample_weight.*\(3,\).*\(2,\)"):
        F.mse_loss(cr.zeros(3, 2), np.zeros((3, 2)), sample_weight=np.ones(2))
    with pytest.raises(cr.ShapeError, match=r"weight.*\(4,\).*\(3,\)"):
        F.cross_entropy(cr.zeros(2, 4), np.array([0, 1]), np.ones(3))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(cr.tensor([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(cr.zeros(2, 4), np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(cr.zeros(2, 4), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(cr.zeros(2), np.zeros(2), delta=0.0)


# -- modules -----------------------------------------------------------------------------------
def test_modules_match_the_functions() -> None:
    x = cr.tensor(LOGITS)
    pairs = [
        (nn.MSELoss(reduction="sum")(x, REG_T), F.mse_loss(x, REG_T, reduction="sum")),
        (nn.L1Loss()(x, REG_T, SW), F.l1_loss(x, REG_T, sample_weight=SW)),
        (nn.HuberLoss(delta=0.3)(x, REG_T), F.huber_loss(x, REG_T, delta=0.3)),
        (nn.SmoothL1Loss(beta=0.3)(x, REG_T), F.smooth_l1_loss(x, REG_T, beta=0.3)),
        (nn.BCELoss(CLASS_W)(cr.tensor(PROB_X), PROB_T),
         F.binary_cross_entropy(cr.tensor(PROB_X), PROB_T, CLASS_W)),
        (nn.BCEWithLogitsLoss(pos_weight=CLASS_W)(x, PROB_T),
         F.binary_cross_entropy_with_logits(x, PROB_T, pos_weight=CLASS_W)),
        (nn.CrossEntropyLoss(CLASS_W, ignore_index=3, label_smoothing=0.1)(x, LABELS),
         F.cross_entropy(x, LABELS, CLASS_W, ignore_index=3, label_smoothing=0.1)),
        (nn.NLLLoss(CLASS_W)(x, LABELS, SW), F.nll_loss(x, LABELS, CLASS_W, sample_weight=SW)),
        (nn.KLDivLoss(reduction="batchmean", log_target=True)(x, LOGP),
         F.kl_div(x, LOGP, reduction="batchmean", log_target=True)),
        (nn.HingeEmbeddingLoss(0.5)(x, SIGNS), F.hinge_embedding_loss(x, SIGNS, 0.5)),
        (nn.CosineEmbeddingLoss(0.2)(x, X2, COS_Y), F.cosine_embedding_loss(x, X2, COS_Y, 0.2)),
    ]
    for got, want in pairs:
        assert got.item() == want.item()


def test_module_weights_are_buffers() -> None:
    m = nn.CrossEntropyLoss(weight=CLASS_W.astype(np.float32))
    assert list(m.state_dict()) == ["weight"]
    assert list(m.parameters()) == []
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0]).state_dict()
    assert list(nn.MSELoss().state_dict()) == []


def test_signatures_take_pytorchs_positional_order_and_legacy_arguments():
    """Arguments land where PyTorch puts them, the deprecated size_average / reduce included
    (mapped to a reduction as PyTorch maps them, with its warning)."""
    x, t = cr.tensor(REG_X), cr.tensor(REG_T)
    assert F.huber_loss(x, t, "sum", 0.5).item() == F.huber_loss(x, t, reduction="sum",
                                                                  delta=0.5).item()
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert F.mse_loss(x, t, None, False).shape == x.shape           # reduce=False: 'none'
    with pytest.warns(UserWarning):
        assert nn.L1Loss(False).reduction == "sum"                       # size_average=False
    with pytest.warns(UserWarning):
        assert nn.KLDivLoss(None, False).reduction == "none"
    assert nn.CrossEntropyLoss(None, None, 3).ignore_index == 3
    torch = pytest.importorskip("torch")
    import inspect

    for name in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "kl_div", "nll_loss", "cross_entropy",
                 "hinge_embedding_loss", "cosine_embedding_loss"):
        theirs = list(inspect.signature(getattr(torch.nn.functional, name)).parameters)
        ours = list(inspect.signature(getattr(F, name)).parameters)
        assert ours[:len(theirs)] == theirs, name
    for name in ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss",
                 "BCEWithLogitsLoss", "KLDivLoss", "NLLLoss", "CrossEntropyLoss",
                 "HingeEmbeddingLoss", "CosineEmbeddingLoss"):
        theirs = list(inspect.signature(getattr(torch.nn, name).__init__).parameters)
        ours = list(inspect.signature(getattr(nn, name).__init__).parameters)
        assert ours[:len(theirs)] == theirs, name
