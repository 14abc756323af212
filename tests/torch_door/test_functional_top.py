"""The functional forms PyTorch also has at top level (torch.dropout, torch.batch_norm,
torch.embedding, torch.kl_div, torch.max_pool2d, ...), whose signatures are ATen's rather than
torch.nn.functional's: each is called the same way on chainrule and on torch, with the same
float64 inputs, and the outputs and all input gradients are compared. Also pdist's gradient at
p=0 and at a zero distance, and the errors PyTorch raises. Skipped where torch is absent, except
the checks that need no oracle.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr

RTOL, ATOL = 1e-7, 1e-9


def _tensors(lib: Any, args: list[Any]) -> list[Any]:
    """NumPy float arrays become leaves that require grad; int arrays become index tensors."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            t = lib.tensor(a)
            if a.dtype.kind == "f":
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def _run(lib: Any, fn: Callable[..., Any], args: list[Any]) -> tuple[list, list]:
    """fn's outputs and the gradients of sum(out * w) for fixed weights w, as NumPy arrays."""
    ts = _tensors(lib, args)
    outs = fn(lib, *ts)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    loss = None
    for o in outs:
        if o.requires_grad:
            w = np.cos(np.arange(o.numel())).reshape(tuple(o.shape))
            term = (o * lib.tensor(w, dtype=o.dtype)).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    grads = [None if getattr(t, "grad", None) is None else t.grad.detach().numpy().copy()
             for t in ts if hasattr(t, "requires_grad") and t.requires_grad]
    return [o.detach().numpy().copy() for o in outs], grads


def _compare(fn: Callable[..., Any], args: list[Any]) -> None:
    torch = pytest.importorskip("torch")
    (t_out, t_grads), (c_out, c_grads) = _run(torch, fn, args), _run(cr, fn, args)
    assert len(c_out) == len(t_out)
    for k, (c, t) in enumerate(zip(c_out, t_out)):
        assert c.shape == t.shape, f"output {k}: shape {c.shape}, torch {t.shape}"
        assert c.dtype == t.dtype, f"output {k}: dtype {c.dtype}, torch {t.dtype}"
        np.testing.assert_allclose(c, t, rtol=RTOL, atol=ATOL, err_msg=f"output {k}")
    assert len(c_grads) == len(t_grads)
    for k, (c, t) in enumerate(zip(c_grads, t_grads)):
        assert (c is None) == (t is None), f"grad {k}: chainrule {c}, torch {t}"
        if t is not None:
            np.testing.assert_allclose(c, t, rtol=RTOL, atol=ATOL, err_msg=f"grad of input {k}")


rng = np.random.default_rng(0)
X3 = rng.standard_normal((2, 3, 5))
X4 = rng.standard_normal((2, 3, 4, 4))
X5 = rng.standard_normal((1, 2, 3, 4, 4))
C3, C3B = rng.standard_normal(3), rng.standard_normal(3)
RM, RV = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
EMB = rng.standard_normal((6, 3))
IDX = np.array([[1, 0, 5], [1, 1, 2]])
P, Q = rng.standard_normal((4, 5)), rng.uniform(0.1, 1.0, (4, 5))
Q3 = rng.uniform(0.1, 1.0, (2, 3, 5))
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
LOGP = rng.standard_normal((6, 2, 4))
TARGETS = np.array([[1, 2, 2], [3, 1, 0]])

CASES: dict[str, tuple[Callable[..., Any], list[Any]]] = {
    # ATen's (input, p, train) with no defaults
    "dropout_eval": (lambda L, x: L.dropout(x, 0.5, False), [X3]),
    "dropout_p0": (lambda L, x: L.dropout(x, 0.0, True), [X3]),
    "dropout_p1": (lambda L, x: L.dropout(x, 1.0, True), [X3]),
    "feature_dropout_eval": (lambda L, x: L.feature_dropout(x, 0.3, False), [X4]),
    "feature_dropout_p1": (lambda L, x: L.feature_dropout(x, 1.0, True), [X4]),
    # normalization: ATen's argument order (weight, bias before the running statistics)
    "layer_norm": (lambda L, x, w, b: L.layer_norm(x, (5,), w.repeat(2)[:5], b.repeat(2)[:5],
                                                   1e-5), [X3, C3, C3B]),
    "layer_norm_list": (lambda L, x: L.layer_norm(x, [3, 5]), [X3]),
    "rms_norm": (lambda L, x, w: L.rms_norm(x, [5], w.repeat(2)[:5], 1e-6), [X3, C3]),
    "rms_norm_default_eps": (lambda L, x: L.rms_norm(x, [3, 5]), [X3]),
    "group_norm": (lambda L, x, w, b: L.group_norm(x, 3, w, b, 1e-5), [X4, C3, C3B]),
    "group_norm_no_affine": (lambda L, x: L.group_norm(x, 1), [X4]),
    "batch_norm_train": (lambda L, x, w, b: L.batch_norm(x, w, b, None, None, True, 0.1, 1e-5,
                                                         False), [X3, C3, C3B]),
    "batch_norm_eval": (lambda L, x, w, b: L.batch_norm(x, w, b, L.tensor(RM), L.tensor(RV),
                                                        False, 0.1, 1e-5, True), [X4, C3, C3B]),
    "instance_norm": (lambda L, x, w, b: L.instance_norm(x, w, b, None, None, True, 0.1, 1e-5,
                                                         False), [X4, C3, C3B]),
    "instance_norm_running": (lambda L, x: L.instance_norm(
        x, None, None, L.tensor(RM), L.tensor(RV), False, 0.1, 1e-5, False), [X3]),
    # embedding: the weight first; padding_idx -1 means none
    "embedding": (lambda L, w, i: L.embedding(w, i), [EMB, IDX]),
    "embedding_padding": (lambda L, w, i: L.embedding(w, i, 1), [EMB, IDX]),
    "embedding_freq": (lambda L, w, i: L.embedding(w, i, -1, True), [EMB, IDX]),
    # pooling and padding: an empty stride means the kernel size; no return_indices
    "max_pool1d": (lambda L, x: L.max_pool1d(x, 2), [X3]),
    "max_pool1d_args": (lambda L, x: L.max_pool1d(x, 3, 2, 1, 1, True), [X3]),
    "max_pool2d": (lambda L, x: L.max_pool2d(x, 2), [X4]),
    "max_pool2d_stride": (lambda L, x: L.max_pool2d(x, (3, 2), (1, 2), (1, 0)), [X4]),
    "max_pool3d": (lambda L, x: L.max_pool3d(x, 2), [X5]),
    "max_pool3d_ceil": (lambda L, x: L.max_pool3d(x, 2, (), 0, 1, True), [X5]),
    "adaptive_max_pool1d": (lambda L, x: L.adaptive_max_pool1d(x, 3), [X3]),
    "adaptive_avg_pool1d": (lambda L, x: L.adaptive_avg_pool1d(x, 3), [X3]),
    "avg_pool1d": (lambda L, x: L.avg_pool1d(x, 2), [X3]),
    "constant_pad_nd": (lambda L, x: L.constant_pad_nd(x, [1, 2]), [X3]),
    "constant_pad_nd_crop": (lambda L, x: L.constant_pad_nd(x, [1, -2, 0, 1], 0.5), [X3]),
    # losses: reduction is ATen's int, and nothing is reduced when it is not given
    "kl_div": (lambda L, x, y: L.kl_div(x, y), [P, Q]),
    "kl_div_mean": (lambda L, x, y: L.kl_div(x, y, 1), [P, Q]),
    "kl_div_sum_log_target": (lambda L, x, y: L.kl_div(x, y, 2, log_target=True), [P, P * 0.5]),
    "kl_div_other_int": (lambda L, x, y: L.kl_div(x, y, 5), [P, Q]),
    "cosine_embedding_loss": (lambda L, a, b: L.cosine_embedding_loss(
        a, b, L.tensor(SIGNS), 0.1), [P, Q]),
    "cosine_embedding_loss_mean": (lambda L, a, b: L.cosine_embedding_loss(
        a, b, L.tensor(SIGNS), 0.1, 1), [P, Q]),
    "hinge_embedding_loss": (lambda L, x: L.hinge_embedding_loss(
        x, L.tensor(np.sign(Q - 0.5))), [P]),
    "hinge_embedding_loss_sum": (lambda L, x: L.hinge_embedding_loss(
        x, L.tensor(np.sign(Q - 0.5)), 0.5, 2), [P]),
    "margin_ranking_loss": (lambda L, a, b: L.margin_ranking_loss(a, b, L.tensor(SIGNS), 0.2),
                            [P[:, 0], Q[:, 0]]),
    "triplet_margin_loss": (lambda L, a, p, n: L.triplet_margin_loss(a, p, n), [P, Q, P * 0.3]),
    "triplet_margin_loss_args": (lambda L, a, p, n: L.triplet_margin_loss(
        a, p, n, 0.5, 1.0, 1e-6, True, 1), [P, Q, P * 0.3]),
    "poisson_nll_loss": (lambda L, x, y: L.poisson_nll_loss(x, y, True, False, 1e-8, 1),
                         [P, Q]),
    "poisson_nll_loss_full": (lambda L, x, y: L.poisson_nll_loss(x, y * 3, False, True, 1e-8,
                                                                 0), [Q, Q]),
    "bce_with_logits": (lambda L, x, y: L.binary_cross_entropy_with_logits(x, y), [P, Q]),
    "bce_with_logits_weights": (lambda L, x, y: L.binary_cross_entropy_with_logits(
        x, y, L.tensor(Q), L.tensor(np.arange(1.0, 6.0)), 1), [P, Q]),
    "ctc_loss": (lambda L, lp: L.ctc_loss(lp.log_softmax(2), L.tensor(TARGETS), [6, 5], [3, 2]),
                 [LOGP]),
    "ctc_loss_mean": (lambda L, lp: L.ctc_loss(lp.log_softmax(2), L.tensor(TARGETS), [6, 5],
                                               [3, 2], 0, 1), [LOGP]),
    "ctc_loss_sum": (lambda L, lp: L.ctc_loss(lp.log_softmax(2), L.tensor(TARGETS), [6, 5],
                                              [3, 2], 0, 2, True), [LOGP]),
    # forms that are torch.nn.functional's own functions at top level too
    "conv1d": (lambda L, x, w: L.conv1d(x, w, None, 1, 1), [X3, X3[:, :, :3]]),
    "conv2d": (lambda L, x, w: L.conv2d(x, w, None, 2, 1, 1, 1), [X4, X4[:2, :, :3, :3]]),
    "conv3d": (lambda L, x, w: L.conv3d(x, w, padding=1), [X5, X5[:, :2, :2, :2, :2]]),
    "conv_transpose1d": (lambda L, x, w, b: L.conv_transpose1d(x, w, b, 2, 1, 1),
                         [X3, rng.standard_normal((3, 2, 3)), C3[:2]]),
    "conv_transpose2d": (lambda L, x, w: L.conv_transpose2d(x, w, stride=2),
                         [X4, rng.standard_normal((3, 2, 2, 2))]),
    "conv_transpose3d": (lambda L, x, w: L.conv_transpose3d(x, w, None, 1, 0, 0, 2),
                         [X5, rng.standard_normal((2, 1, 2, 2, 2))]),
    "bilinear": (lambda L, a, b, w: L.bilinear(a, b, w), [P, Q, rng.standard_normal((2, 5, 5))]),
    "pixel_shuffle": (lambda L, x: L.pixel_shuffle(x.reshape(2, 12, 2, 2), 2), [X4]),
    "pixel_unshuffle": (lambda L, x: L.pixel_unshuffle(x, 2), [X4]),
    "pdist": (lambda L, x: L.pdist(x), [P]),
    "pdist_p1": (lambda L, x: L.pdist(x, 1.0), [P]),
    "pdist_p0": (lambda L, x: L.pdist(x, 0.0), [P]),
    "pdist_zero_distance": (lambda L, x: L.pdist(L.cat([x, x[:1]])), [P]),
    "pdist_zero_distance_p3": (lambda L, x: L.pdist(L.cat([x, x[:1]]), 3.0), [P]),
    "pdist_empty": (lambda L, x: L.pdist(x[:1]), [P]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_top_level_form_matches_torch(name: str) -> None:
    fn, args = CASES[name]
    _compare(fn, args)


@pytest.mark.parametrize("name", ["relu_", "selu_", "celu_", "threshold_"])
def test_in_place_activations_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    args = (0.1, -2.0) if name == "threshold_" else ()
    c, t = cr.tensor(P.copy()), torch.tensor(P.copy())
    rc, rt = getattr(cr, name)(c, *args), getattr(torch, name)(t, *args)
    assert rc is c and rt is t
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=RTOL, atol=ATOL)


def test_batch_norm_updates_the_running_statistics_in_place() -> None:
    torch = pytest.importorskip("torch")
    stats = {}
    for lib in (torch, cr):
        rm, rv = lib.tensor(RM.copy()), lib.tensor(RV.copy())
        lib.batch_norm(lib.tensor(X4), None, None, rm, rv, True, 0.3, 1e-5, False)
        im, iv = lib.tensor(RM.copy()), lib.tensor(RV.copy())
        lib.instance_norm(lib.tensor(X4), None, None, im, iv, True, 0.3, 1e-5, False)
        stats[lib.__name__] = [t.numpy() for t in (rm, rv, im, iv)]
    for c, t in zip(stats["chainrule"], stats["torch"]):
        np.testing.assert_allclose(c, t, rtol=RTOL, atol=ATOL)
    assert not np.allclose(stats["chainrule"][0], RM)  # they did change


def test_dropout_in_training_zeroes_and_scales() -> None:
    """torch.dropout(x, p, True): each element 0 or x / (1 - p); feature_dropout zeroes whole
    channels; the in-place forms change and return their input."""
    cr.manual_seed(0)
    x = cr.ones(200, 50)
    y = cr.dropout(x, 0.25, True).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (y == 0).mean() < 0.3
    z = cr.feature_dropout(cr.ones(40, 30, 6), 0.5, True).numpy()
    per_channel = z.reshape(40 * 30, 6)
    assert (per_channel.min(1) == per_channel.max(1)).all()  # a channel is all 0 or all 2
    assert set(np.unique(z)) == {0.0, 2.0}
    t = cr.ones(100)
    assert cr.dropout_(t, 0.5, True) is t and (t.numpy() == 0).any()
    u = cr.ones(30, 10, 2)
    assert cr.feature_dropout_(u, 0.5, True) is u and (u.numpy() == 0).any()


def test_dropout_without_train_has_no_default() -> None:
    with pytest.raises(TypeError):
        cr.dropout(cr.ones(3), 0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        cr.feature_dropout(cr.ones(3, 2), 0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize("call", [
    "L.dropout(L.ones(2, 3), 1.5, True)",
    "L.dropout(L.ones(2, 3), -0.1, False)",
    "L.feature_dropout(L.ones(2, 3), 2.0, True)",
    "L.dropout(L.ones(2, 3, dtype=L.int64), 0.5, True)",
    "L.feature_dropout(L.ones(3), 0.5, True)",
    "L.batch_norm(L.ones(2, 3), None, None, None, None, False, 0.1, 1e-5, False)",
    "L.instance_norm(L.ones(2, 3, 4), None, None, None, None, False, 0.1, 1e-5, False)",
    "L.pdist(L.ones(3))",
    "L.pdist(L.ones(3, 2), -1.0)",
    "L.pdist(L.ones(3, 2, dtype=L.int64))",
    "L.kl_div(L.ones(3), L.ones(3), 'mean')",
    "L.kl_div(L.ones(3), L.ones(3), True)",
    "L.layer_norm(L.ones(2, 3), 3)",
    "L.max_pool1d(L.ones(1, 2, 4), 2, return_indices=True)",
])
def test_errors_match_torch(call: str) -> None:
    """The same call fails in chainrule with the type of error torch raises."""
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as t_err:
        eval(call, {"L": torch})
    with pytest.raises(Exception) as c_err:
        eval(call, {"L": cr})
    assert isinstance(c_err.value, type(t_err.value)), (c_err.value, t_err.value)


def test_dropout_of_an_int_tensor_without_effect_returns_it() -> None:
    """p = 0, p = 1 or train=False: no float scaling, so PyTorch keeps the int tensor."""
    x = cr.ones(2, 3, dtype=cr.int64)
    assert cr.dropout(x, 0.5, False).dtype == cr.int64
    assert (cr.dropout(x, 1.0, True).numpy() == 0).all()


def test_pdist_is_differentiable_twice_and_in_nn_functional() -> None:
    x = cr.tensor(P, requires_grad=True)
    assert cr.gradcheck(cr.pdist, x)
    assert cr.gradgradcheck(lambda a: cr.pdist(a, 3.0), x)
    assert cr.nn.functional.pdist is cr.pdist
    y = cr.pdist(cr.tensor(P.astype(np.float32)))
    assert y.dtype == cr.float32 and tuple(y.shape) == (6,)


def test_pdist_order_and_values_by_hand() -> None:
    """Pairs (0, 1), (0, 2), (1, 2) in that order."""
    x = cr.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    np.testing.assert_allclose(cr.pdist(x).numpy(), [5.0, 10.0, 5.0])
    np.testing.assert_allclose(cr.pdist(x, 1).numpy(), [7.0, 14.0, 7.0])
    np.testing.assert_allclose(cr.pdist(x, float("inf")).numpy(), [4.0, 8.0, 4.0])
