"""F.ctc_loss and nn.CTCLoss against torch: values and gradients (float64, 1e-10) over padded
and concatenated targets, the three reductions, zero_infinity, another blank, repeated labels,
impossible alignments and empty inputs or targets; torch's own gradient with respect to
log_probs (exp(log_probs) added) and the true one through log_softmax; gradcheck and
gradgradcheck through log_softmax; reprs, errors, float32; and a small speech-style model
trained step by step beside torch, as the PyTorch docs write it."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

TOL = dict(rtol=1e-10, atol=1e-10)

T, N, C = 6, 5, 4
TARGETS = np.array([[1, 2, 1], [1, 1, 0], [2, 2, 2], [1, 0, 0], [3, 3, 0]])
INPUT_LENGTHS = np.array([6, 5, 4, 0, 6])   # sample 3 has no frame at all
TARGET_LENGTHS = np.array([3, 2, 3, 1, 2])  # sample 2 cannot fit 2 2 2 into 4 frames


def _concatenated():
    return np.concatenate([t[:k] for t, k in zip(TARGETS, TARGET_LENGTHS)])


def _both(x, targets, kw, through_log_softmax):
    """(loss, gradient of x) from chainrule and from torch for the same call."""
    torch = pytest.importorskip("torch")
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    lpc = F.log_softmax(xc, 2) if through_log_softmax else xc
    lpt = xt.log_softmax(2) if through_log_softmax else xt
    y = F.ctc_loss(lpc, cr.tensor(targets), cr.tensor(INPUT_LENGTHS), cr.tensor(TARGET_LENGTHS),
                   **kw)
    ty = torch.nn.functional.ctc_loss(lpt, torch.tensor(targets), torch.tensor(INPUT_LENGTHS),
                                      torch.tensor(TARGET_LENGTHS), **kw)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    return (y.numpy(), xc.grad.numpy()), (ty.detach().numpy(), xt.grad.numpy())


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("through_log_softmax", [False, True], ids=["log_probs", "logits"])
@pytest.mark.parametrize("blank", [0, 2])
def test_matches_torch(reduction, zero_infinity, layout, through_log_softmax, blank):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, C))
    if not through_log_softmax:  # log_probs given directly: torch's gradient adds exp(x)
        x = x - np.log(np.exp(x).sum(2, keepdims=True))
    targets = TARGETS if layout == "padded" else _concatenated()
    kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    (y, g), (ty, tg) = _both(x, targets, kw, through_log_softmax)
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, **TOL)
    if not zero_infinity:  # torch: NaN for the impossible sample's frames; chainrule: finite
        assert np.isnan(tg).any() and np.isfinite(g).all()
        keep = ~np.isnan(tg)
        g, tg = g[keep], tg[keep]
    np.testing.assert_allclose(g, tg, **TOL)


def test_the_log_probs_gradient_is_torchs_true_gradient_plus_exp_log_probs():
    """Spelled out: off the log_softmax, torch's gradient is d(loss)/d(log_probs) + exp(log_probs)
    on the frames inside each input; chainrule gives the same, and its loss VALUE has no such
    term (it is the true negative log-likelihood)."""
    rng = np.random.default_rng(3)
    lp = np.log(rng.dirichlet(np.ones(3), (4, 1)))  # (T, N, C) = (4, 1, 3)
    x = cr.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, [[1, 2]], [3], [2], reduction="sum")
    loss.backward()
    eps, numeric = 1e-6, np.zeros_like(lp)
    for i in np.ndindex(lp.shape):
        d = np.zeros_like(lp)
        d[i] = eps
        numeric[i] = (F.ctc_loss(cr.tensor(lp + d), [[1, 2]], [3], [2], reduction="sum").item()
                      - F.ctc_loss(cr.tensor(lp - d), [[1, 2]], [3], [2],
                                   reduction="sum").item()) / (2 * eps)
    inside = (np.arange(4) < 3)[:, None, None]
    np.testing.assert_allclose(x.grad.numpy(), numeric + np.exp(lp) * inside, atol=1e-6)


def test_unbatched_inputs_match_torch():
    torch = pytest.importorskip("torch")
    x = np.log(np.random.default_rng(4).dirichlet(np.ones(C), T))  # (T, C)
    for targets, il, tl in (([1, 2, 2], 6, 3), ([[3, 1, 2]], [5], [2]), ([3, 3], 6, 2)):
        y = F.ctc_loss(cr.tensor(x), cr.tensor(targets), cr.tensor(il), cr.tensor(tl),
                       reduction="none")
        ty = torch.nn.functional.ctc_loss(torch.tensor(x), torch.tensor(targets),
                                          torch.tensor(il), torch.tensor(tl), reduction="none")
        assert y.shape == tuple(ty.shape) == ()
        np.testing.assert_allclose(y.numpy(), ty.numpy(), **TOL)


def test_gradcheck_and_gradgradcheck_through_log_softmax():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 2, 3))

    def f(x):
        return F.ctc_loss(F.log_softmax(x, 2), [[1, 1], [2, 0]], [4, 3], [2, 1])

    assert cr.gradcheck(f, x)
    assert cr.gradgradcheck(f, x)


def test_module_repr_attributes_and_float32():
    torch = pytest.importorskip("torch")
    for kw in ({}, dict(blank=3, reduction="sum", zero_infinity=True)):
        ours, theirs = nn.CTCLoss(**kw), torch.nn.CTCLoss(**kw)
        assert repr(ours) == repr(theirs) == "CTCLoss()"
        assert (ours.blank, ours.reduction, ours.zero_infinity) == \
            (theirs.blank, theirs.reduction, theirs.zero_infinity)
    x = cr.tensor(np.random.default_rng(6).standard_normal((T, N, C)).astype(np.float32),
                  requires_grad=True)
    loss = nn.CTCLoss(zero_infinity=True)(F.log_softmax(x, 2), TARGETS, INPUT_LENGTHS,
                                          TARGET_LENGTHS)
    loss.backward()
    assert loss.dtype == cr.float32 and x.grad.dtype == cr.float32
    assert np.isfinite(x.grad.numpy()).all()


ERRORS = [
    dict(blank=4),
    dict(input_lengths=[7, 5, 4, 0, 6]),
    dict(input_lengths=[6, 5, 4, 0]),
    dict(target_lengths=[4, 2, 3, 1, 2]),
    dict(target_lengths=[-1, 2, 3, 1, 2]),
    dict(targets=np.array([1, 2, 1, 1])),
    dict(targets=TARGETS[:4]),
]


@pytest.mark.parametrize("bad", ERRORS, ids=[next(iter(b)) + str(i) for i, b in enumerate(ERRORS)])
def test_refuses_what_torch_refuses(bad):
    torch = pytest.importorskip("torch")
    x = np.zeros((T, N, C))
    kw = dict(targets=TARGETS, input_lengths=INPUT_LENGTHS, target_lengths=TARGET_LENGTHS) | bad
    with pytest.raises(RuntimeError):
        torch.nn.functional.ctc_loss(torch.tensor(x), **{k: torch.tensor(np.asarray(v))
                                                         for k, v in kw.items() if k != "blank"},
                                     blank=kw.get("blank", 0))
    with pytest.raises(RuntimeError):
        F.ctc_loss(cr.tensor(x), **kw)


def test_a_small_sequence_model_trains_with_ctc_loss_like_torch():
    """Frames of features -> GRU -> Linear -> log_softmax -> CTCLoss (the docs' layout: log_probs
    (T, N, C)), Adam, same weights and batches: the same losses step by step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)

    class Model:
        def __init__(self, m):
            self.rnn, self.out = m.GRU(3, 8), m.Linear(8, 5)

        def params(self):
            return list(self.rnn.parameters()) + list(self.out.parameters())

    ours, theirs = Model(nn), Model(torch.nn)
    for a, b in zip(ours.params(), theirs.params()):
        b.data = b.data.double()
        a.array[...] = b.detach().numpy()
        a.array = a.array.astype(np.float64)
    opt = cr.optim.Adam(ours.params(), lr=0.05)
    topt = torch.optim.Adam(theirs.params(), lr=0.05)
    ctc, tctc = nn.CTCLoss(), torch.nn.CTCLoss()
    losses, tlosses = [], []
    for _ in range(4):
        x = rng.standard_normal((12, 4, 3))
        il = rng.integers(8, 13, 4)
        tl = rng.integers(1, 5, 4)
        targets = rng.integers(1, 5, (4, 4))
        opt.zero_grad()
        h, _ = ours.rnn(cr.tensor(x))
        loss = ctc(F.log_softmax(ours.out(h), 2), targets, il, tl)
        loss.backward()
        opt.step()
        topt.zero_grad()
        th, _ = theirs.rnn(torch.tensor(x))
        tloss = tctc(theirs.out(th).log_softmax(2), torch.tensor(targets), torch.tensor(il),
                     torch.tensor(tl))
        tloss.backward()
        topt.step()
        losses.append(loss.item())
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < losses[0]
