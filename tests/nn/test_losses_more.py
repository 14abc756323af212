"""The ranking, margin and likelihood losses (F.margin_ranking_loss ... F.gaussian_nll_loss and
their modules) against torch: values and the gradients of every differentiable input (float64,
1e-10) over the three reductions, with weights, broadcasting and inputs ON the hinge's kink
(where the subgradient torch picks is the one to match); float64 gradcheck and gradgradcheck;
the legacy positional size_average / reduce slots; reprs and buffers; errors torch raises; and
three programs written as the PyTorch docs write them (a siamese embedding with
TripletMarginLoss, a multi-label classifier, a heteroscedastic regression with GaussianNLLLoss)
trained step by step beside torch from the same weights."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

TOL = dict(rtol=1e-10, atol=1e-10)
REDUCTIONS = ["none", "mean", "sum"]


# -- cases: (F name, arrays, indices of the differentiable arrays, keyword arguments) -----------
def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], shape)


def margin_ranking(rng, kink):
    x1, x2, y = rng.standard_normal(6), rng.standard_normal(6), _signs(rng, 6)
    if kink:  # -y (x1 - x2) + margin = 0 exactly: torch's clamp_min passes the gradient there
        x1[:2], x2[:2], y[:2] = [1.0, 0.25], [0.5, 0.75], [1.0, -1.0]
    return [x1, x2, y], (0, 1, 2), dict(margin=0.5)


def margin_ranking_broadcast(rng, kink):
    return ([rng.standard_normal((2, 3)), rng.standard_normal((1, 3)), _signs(rng, (2, 1))],
            (0, 1, 2), dict(margin=0.2))


def triplet(p, swap):
    def case(rng, kink):
        a, pos, neg = (rng.standard_normal((5, 4)) for _ in range(3))
        kw = dict(margin=1.0, p=p, swap=swap)
        if kink:  # d(a, p) = 1, d(a, n) = 2 exactly (eps = 0): the hinge is 0
            a[0], pos[0], neg[0] = [0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0]
            if swap:  # and d(p, n) = d(a, n): minimum splits its gradient, as torch's
                a[0], pos[0], neg[0] = [0, 0, 0, 0], [0, 1, 0, 0], [1.5, 0.5, 0, 0]
            kw["eps"] = 0.0
        return [a, pos, neg], (0, 1, 2), kw
    return case


def triplet_1d(rng, kink):
    return [rng.standard_normal(4) for _ in range(3)], (0, 1, 2), dict(margin=2.0, p=1.5)


def soft_margin(rng, kink):
    return [rng.standard_normal((3, 4)) * 2, _signs(rng, (3, 4))], (0,), {}


def soft_margin_broadcast(rng, kink):
    return [rng.standard_normal((3, 4)), _signs(rng, (4,))], (0,), {}


def multilabel_soft(weighted):
    def case(rng, kink):
        x, y = rng.standard_normal((3, 5)) * 2, rng.integers(0, 2, (3, 5)).astype(float)
        kw = dict(weight=rng.uniform(0.5, 2, 5)) if weighted else {}
        return [x, y], (0, 1), kw
    return case


def multilabel_soft_1d(rng, kink):
    return [rng.standard_normal(4), rng.integers(0, 2, 4).astype(float)], (0, 1), {}


def multi_margin(p, margin, weighted):
    def case(rng, kink):
        x, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
        if kink:  # margin - x[y] + x[i] = 0 exactly: torch's kernel tests z > 0, no gradient
            x[0] = [0.5, 1.0, 0.25, -1.0, 0.0]
            y[0] = 1
            x[0, 2], x[0, 4] = 1.0 - margin, 1.0 - margin + 0.125
        kw = dict(p=p, margin=margin)
        if weighted:
            kw["weight"] = rng.uniform(0.5, 2, 5)
        return [x, y], (0,), kw
    return case


def multi_margin_1d(rng, kink):
    return [rng.standard_normal(5), np.array(3)], (0,), dict(p=2)


def multilabel_margin(rng, kink):
    x = rng.standard_normal((3, 5))
    t = np.array([[3, 0, -1, 1, 1],    # stops at the -1: classes 3, 0
                  [1, 1, 4, -1, -1],   # a repeated class counts twice
                  [-1, 2, 2, 2, 2]])   # no class at all
    if kink:  # 1 - (x[j] - x[i]) = 0 exactly for target j = 3, non-target i = 2
        x[0, 3], x[0, 2] = 0.75, -0.25
    return [x, t], (0,), {}


def multilabel_margin_1d(rng, kink):
    return [rng.standard_normal(4), np.array([2, 0, -1, 3])], (0,), {}


def poisson(log_input, full):
    def case(rng, kink):
        x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.2, 3, (3, 4))
        t = rng.integers(0, 6, (3, 4)).astype(float)
        t[t == 1] = 2.0
        t[0, :2] = [0.0, 0.5]  # Stirling's term is masked where t <= 1 ...
        if kink:
            t[1, :2] = 1.0  # ... so it jumps at t = 1 (no finite differences there)
        return [x, t], (0, 1), dict(log_input=log_input, full=full)
    return case


def gaussian(var_shape, full):
    def case(rng, kink):
        x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
        if var_shape == "float":
            return [x, t, 0.7], (0, 1), dict(full=full)
        v = rng.uniform(0.2, 2, var_shape)
        if kink:  # below eps: clamped in value, the gradient passes all the same, as torch's
            v.reshape(-1)[0] = 1e-8
        return [x, t, v], (0, 1, 2), dict(full=full)
    return case


CASES = {
    "margin_ranking_loss": margin_ranking,
    "margin_ranking_loss-broadcast": margin_ranking_broadcast,
    "triplet_margin_loss-p2": triplet(2, False),
    "triplet_margin_loss-p1-swap": triplet(1, True),
    "triplet_margin_loss-p2-swap": triplet(2, True),
    "triplet_margin_loss-p3": triplet(3, False),
    "triplet_margin_loss-1d": triplet_1d,
    "soft_margin_loss": soft_margin,
    "soft_margin_loss-broadcast": soft_margin_broadcast,
    "multilabel_soft_margin_loss": multilabel_soft(False),
    "multilabel_soft_margin_loss-weight": multilabel_soft(True),
    "multilabel_soft_margin_loss-1d": multilabel_soft_1d,
    "multi_margin_loss-p1": multi_margin(1, 1.0, False),
    "multi_margin_loss-p2-weight": multi_margin(2, 0.5, True),
    "multi_margin_loss-p1-weight": multi_margin(1, 2.0, True),
    "multi_margin_loss-1d": multi_margin_1d,
    "multilabel_margin_loss": multilabel_margin,
    "multilabel_margin_loss-1d": multilabel_margin_1d,
    "poisson_nll_loss-log": poisson(True, False),
    "poisson_nll_loss-log-full": poisson(True, True),
    "poisson_nll_loss-rate": poisson(False, False),
    "poisson_nll_loss-rate-full": poisson(False, True),
    "gaussian_nll_loss-same": gaussian((4, 3), False),
    "gaussian_nll_loss-per-sample": gaussian((4,), True),
    "gaussian_nll_loss-col": gaussian((4, 1), False),
    "gaussian_nll_loss-row": gaussian((1, 3), True),
    "gaussian_nll_loss-float": gaussian("float", False),
}
KINKED = [k for k in CASES if k.startswith(("margin_ranking_loss", "triplet_margin_loss-p2",
                                            "triplet_margin_loss-p1", "multi_margin_loss-p",
                                            "multilabel_margin_loss", "poisson_nll_loss",
                                            "gaussian_nll_loss"))]


def _fn(key):
    return key.split("-")[0]


def _run(lib, fn, arrays, diff, kw, reduction):
    """fn of `lib` ('cr' or torch) on fresh tensors; returns (output, differentiable inputs)."""
    import torch

    make = cr.tensor if lib == "cr" else torch.tensor
    args = [make(a, requires_grad=i in diff) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(arrays)]
    if "weight" in kw:
        kw = kw | dict(weight=make(kw["weight"]))
    F_ = F if lib == "cr" else torch.nn.functional
    return getattr(F_, fn)(*args, **kw, reduction=reduction), [args[i] for i in diff]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, kink", [(k, False) for k in CASES] + [(k, True) for k in KINKED],
                         ids=list(CASES) + [k + "-kink" for k in KINKED])
def test_values_and_gradients_match_torch(key, kink, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(key))
    arrays, diff, kw = CASES[key](rng, kink)
    y, xs = _run("cr", _fn(key), arrays, diff, kw, reduction)
    ty, ts = _run("torch", _fn(key), arrays, diff, kw, reduction)
    assert y.shape == tuple(ty.shape) and y.dtype == cr.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    g = rng.standard_normal(y.shape)
    gs = cr.autograd.grad([y], xs, grad_outputs=[cr.tensor(g)])
    tgs = torch.autograd.grad([ty], ts, grad_outputs=[torch.tensor(g)])
    for i, (a, b) in enumerate(zip(gs, tgs)):
        a, b = a.numpy(), b.numpy()
        if "full" in key and diff[i] == 1:  # torch: NaN for a target of 0 (0 * log 0 in its
            assert np.isnan(b).any() and not np.isnan(a).any()  # masked Stirling term);
            a, b = a[~np.isnan(b)], b[~np.isnan(b)]  # chainrule: 0, as for any target <= 1
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"input {diff[i]}")


@pytest.mark.parametrize("key", list(CASES))
def test_gradcheck_and_gradgradcheck(key):
    """Away from the kinks, to second order (torch itself has no double backward for
    multi_margin_loss and multilabel_margin_loss; chainrule's composites do)."""
    rng = np.random.default_rng(len(key) + 1)
    arrays, diff, kw = CASES[key](rng, False)
    kw = kw | ({"weight": cr.tensor(kw["weight"])} if "weight" in kw else {})

    def f(*xs):
        args = list(arrays)
        for i, x in zip(diff, xs):
            args[i] = x
        return getattr(F, _fn(key))(*args, **kw, reduction="sum")

    xs = [arrays[i] for i in diff]
    assert cr.gradcheck(f, *xs)
    assert cr.gradgradcheck(f, *xs)


def test_the_kinks_take_torchs_subgradients():
    """Spelled out: at hinge = 0 the clamp_min losses pass the gradient, the kernel losses do
    not (and chainrule says the same as torch, by value, not only by agreement)."""
    x1 = cr.tensor([1.0], requires_grad=True)
    F.margin_ranking_loss(x1, cr.tensor([0.5]), cr.tensor([1.0]), margin=0.5).backward()
    assert x1.grad.tolist() == [-1.0]
    x = cr.tensor([[0.0, 1.0, 2.0]], requires_grad=True)  # z = 1 - 2 + 1 = 0 for class 1
    F.multi_margin_loss(x, cr.tensor([2])).backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0]]
    x = cr.tensor([[0.75, -0.25, 5.0]], requires_grad=True)  # target 0, z = 1 - 0.75 - 0.25
    F.multilabel_margin_loss(x, cr.tensor([[0, -1, 0]])).backward()
    assert x.grad.numpy()[0, 1] == 0.0 and x.grad.numpy()[0, 2] > 0


# -- legacy positional slots, modules, reprs ---------------------------------------------------
def test_legacy_size_average_and_reduce_positional_slots_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
    s, t = _signs(rng, (3, 4)), rng.standard_normal((3, 4))
    calls = [  # (F name, arrays, positional options after the arrays)
        ("margin_ranking_loss", [x[0], x[1], s[0]], (0.5, None, False)),
        ("triplet_margin_loss", [x, t, t[::-1].copy()], (1.0, 2, 1e-6, False, False)),
        ("soft_margin_loss", [x, s], (False,)),
        ("multilabel_soft_margin_loss", [x, (s > 0).astype(float)], (None, False, None)),
        ("multi_margin_loss", [x, y], (2, 1.0, None, None, False)),
        ("multilabel_margin_loss", [x, np.tile([1, 0, -1, 3], (3, 1))], (False,)),
        ("poisson_nll_loss", [x, np.abs(t)], (True, True, None, 1e-8, False)),
    ]
    for name, arrays, opts in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = getattr(F, name)(*[cr.tensor(a) for a in arrays], *opts)
            theirs = getattr(torch.nn.functional, name)(*[torch.tensor(a) for a in arrays],
                                                        *opts)
        assert ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL, err_msg=name)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        m = nn.MultiMarginLoss(1, 1.0, None, False)
    assert m.reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.PoissonNLLLoss(True, False, None, 1e-8, False).reduction == "none"
    with pytest.warns(UserWarning):
        assert nn.MarginRankingLoss(0.0, False).reduction == "sum"


MODULES = [
    ("MarginRankingLoss", (), dict(margin=0.3)),
    ("TripletMarginLoss", (), dict(margin=0.5, p=1.0, swap=True)),
    ("TripletMarginWithDistanceLoss", (), dict(margin=0.7, swap=True)),
    ("SoftMarginLoss", (), {}),
    ("MultiLabelSoftMarginLoss", (), dict(weight=np.array([1.0, 2.0, 0.5, 1.5]))),
    ("MultiMarginLoss", (2, 0.5), dict(weight=np.array([1.0, 2.0, 0.5, 1.5]))),
    ("MultiLabelMarginLoss", (), dict(reduction="sum")),
    ("PoissonNLLLoss", (False, True), dict(eps=1e-6)),
    ("GaussianNLLLoss", (), dict(full=True, eps=1e-3, reduction="none")),
]


def _inputs(name, rng):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    return {
        "MarginRankingLoss": [x[0], x[1], _signs(rng, 4)],
        "TripletMarginLoss": [x, t, rng.standard_normal((3, 4))],
        "TripletMarginWithDistanceLoss": [x, t, rng.standard_normal((3, 4))],
        "SoftMarginLoss": [x, _signs(rng, (3, 4))],
        "MultiLabelSoftMarginLoss": [x, rng.integers(0, 2, (3, 4)).astype(float)],
        "MultiMarginLoss": [x, rng.integers(0, 4, 3)],
        "MultiLabelMarginLoss": [x, np.array([[2, -1, 0, 0], [0, 1, 3, -1], [3, 2, 1, 0]])],
        "PoissonNLLLoss": [np.abs(x) + 0.1, rng.integers(0, 5, (3, 4)).astype(float)],
        "GaussianNLLLoss": [x, t, rng.uniform(0.5, 2, (3, 1))],
    }[name]


@pytest.mark.parametrize("name, args, kw", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch_with_reprs_and_buffers(name, args, kw, rng):
    torch = pytest.importorskip("torch")
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **tkw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for attr in ("reduction", "margin", "p", "eps", "swap", "log_input", "full"):
        assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr
    arrays = _inputs(name, rng)
    # targets of SoftMarginLoss (not differentiable) and PoissonNLLLoss (torch: NaN at 0) stay
    grads = [a.dtype.kind == "f" and (i == 0 or name not in ("SoftMarginLoss", "PoissonNLLLoss"))
             for i, a in enumerate(arrays)]
    xs = [cr.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    y, ty = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    y.sum().backward()
    ty.sum().backward()
    for x, t in zip(xs, ts):
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL)


def test_triplet_with_a_custom_distance_function_matches_torch(rng):
    """The PyTorch docs' example: 1 - cosine similarity as the distance, and nn.PairwiseDistance
    as a module."""
    torch = pytest.importorskip("torch")
    a, p, n = (rng.standard_normal((6, 5)) for _ in range(3))
    pairs = [
        (nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1.0 - F.cosine_similarity(
            x, y), margin=0.4, swap=True),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1.0 - torch.nn.
                                                functional.cosine_similarity(x, y), margin=0.4,
                                                swap=True)),
        (nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1)),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.PairwiseDistance(p=1))),
    ]
    for ours, theirs in pairs:
        xs = [cr.tensor(v, requires_grad=True) for v in (a, p, n)]
        ts = [torch.tensor(v, requires_grad=True) for v in (a, p, n)]
        ours(*xs).backward()
        theirs(*ts).backward()
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL)
        assert repr(ours) == repr(theirs)


def test_float32_stays_float32(rng):
    x = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    t = rng.standard_normal((3, 4))  # a float64 array target never turns the loss float64
    for y in (F.margin_ranking_loss(x, x * 2, np.sign(t)), F.triplet_margin_loss(x, x * 2, t),
              F.soft_margin_loss(x, np.sign(t)), F.multilabel_soft_margin_loss(x, t > 0),
              F.multi_margin_loss(x, np.array([0, 1, 3])),
              F.multilabel_margin_loss(x, np.tile([1, -1, 0, 0], (3, 1))),
              F.poisson_nll_loss(x, np.abs(t)), F.gaussian_nll_loss(x, t, np.ones(3)),
              F.gaussian_nll_loss(x, t, 0.5)):
        assert y.dtype == cr.float32
        (g,) = cr.autograd.grad(y, [x])
        assert g.dtype == cr.float32


# -- errors torch raises -----------------------------------------------------------------------
ERRORS = [
    ("margin_ranking_loss", lambda m: ([m.ones(2, 3), m.ones(3), m.ones(2, 3)], {}),
     "same number of dimensions"),
    ("triplet_margin_loss", lambda m: ([m.ones(2, 3), m.ones(3), m.ones(2, 3)], {}),
     "same number of dimensions"),
    ("triplet_margin_loss", lambda m: ([m.ones(2, 3)] * 3, dict(margin=0.0)),
     "margin must be greater than 0"),
    ("triplet_margin_with_distance_loss", lambda m: ([m.ones(2, 3)] * 3, dict(margin=-1.0)),
     "margin must be greater than 0"),
    ("triplet_margin_with_distance_loss", lambda m: ([m.ones(2, 3)] * 3, dict(reduction="avg")),
     "avg is not a valid value for reduction"),
    ("soft_margin_loss", lambda m: ([m.ones(3), m.ones(2, 3)], {}), "broadcast"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 4])], {}), "out of range"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 2, 3])], {}),
     "target tensor should be 1-D"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 2])], dict(p=3)),
     "only p == 1 and p == 2"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 2])],
                                     dict(weight=m.ones(1, 4))), "one-dimensional"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 2])], dict(weight=m.ones(3))),
     "inconsistent weight size"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4, 3), m.tensor([1, 2])], {}), "non-empty"),
    ("multi_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1.0, 2.0])], {}), "integer|Long"),
    ("multilabel_margin_loss", lambda m: ([m.ones(4), m.tensor([1, 4, -1, 2])], {}),
     "out of range"),
    ("multilabel_margin_loss", lambda m: ([m.ones(4), m.tensor([1, -1, 9, -5])], {}),
     "out of range"),
    ("multilabel_margin_loss", lambda m: ([m.ones(2, 4), m.tensor([1, 0, -1, 2])], {}),
     "inconsistent target size"),
    ("poisson_nll_loss", lambda m: ([m.ones(3), m.ones(3)], dict(reduction="batchmean")),
     "batchmean is not a valid value"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), m.ones(3)], {}),
     "var is of incorrect size"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), m.ones(1, 1)], {}),
     "var is of incorrect size"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), m.ones(2, 3, 1)], {}),
     "var is of incorrect size"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), -m.ones(2, 3)], {}),
     "negative entry"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), -1.0], {}), "negative entry"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), m.ones(2, 3)],
                                     dict(reduction="bad")), "bad is not valid"),
    ("gaussian_nll_loss", lambda m: ([m.ones(2, 3), m.ones(2, 3), 1], {}), "Tensor or a float"),
]


@pytest.mark.parametrize("name, build, match", ERRORS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ERRORS)])
def test_refuses_what_torch_refuses_with_the_same_exception_class(name, build, match):
    torch = pytest.importorskip("torch")
    args, kw = build(torch)
    with pytest.raises(Exception) as theirs:
        getattr(torch.nn.functional, name)(*args, **kw)
    args, kw = build(cr)
    with pytest.raises(theirs.type, match=match):
        getattr(F, name)(*args, **kw)


def test_soft_margin_refuses_a_target_that_requires_grad():
    with pytest.raises(RuntimeError, match="not differentiable with respect to the target"):
        F.soft_margin_loss(cr.ones(3), cr.ones(3, requires_grad=True))


def test_gaussian_nll_var_shapes_follow_torchs_rules(rng):
    """One variance per element, per sample ((N,) for (N, D)), or the input's rank with one
    dim of size 1; a 1-D input takes a 0-d var (one dim fewer)."""
    torch = pytest.importorskip("torch")
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for v in (np.full((4, 3), 0.5), np.full(4, 0.5), np.full((4, 1), 0.5), np.full((1, 3), 0.5)):
        ours = F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), cr.tensor(v), reduction="none")
        theirs = torch.nn.functional.gaussian_nll_loss(torch.tensor(x), torch.tensor(t),
                                                       torch.tensor(v), reduction="none")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL)
    ours = F.gaussian_nll_loss(cr.tensor(x[0]), cr.tensor(t[0]), cr.tensor(0.5), reduction="none")
    assert ours.shape == (3,)


# -- programs as the PyTorch docs write them ---------------------------------------------------
def _twin(build):
    torch = pytest.importorskip("torch")
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})
    return ours, theirs


def _steps(ours, theirs, loss_fn, tloss_fn, batches, lr=0.05):
    """Adam steps with the same batches; returns both loss trajectories."""
    torch = pytest.importorskip("torch")
    opt, topt = cr.optim.Adam(ours.parameters(), lr=lr), torch.optim.Adam(theirs.parameters(),
                                                                          lr=lr)
    losses, tlosses = [], []
    for batch in batches:
        opt.zero_grad()
        loss = loss_fn(ours, *[cr.tensor(b) for b in batch])
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = tloss_fn(theirs, *[torch.tensor(b) for b in batch])
        tloss.backward()
        topt.step()
        losses.append(loss.item())
        tlosses.append(tloss.item())
    return losses, tlosses


def test_a_siamese_embedding_trains_with_triplet_margin_loss_like_torch(rng):
    def build(m):
        return m.Sequential(m.Linear(8, 16), m.ReLU(), m.Linear(16, 4))

    ours, theirs = _twin(build)
    crit, tcrit = nn.TripletMarginLoss(margin=1.0, p=2), None
    torch = pytest.importorskip("torch")

    tcrit = torch.nn.TripletMarginLoss(margin=1.0, p=2)
    centres = rng.standard_normal((3, 8)) * 2
    batches = []
    for _ in range(6):
        cls = rng.integers(0, 3, 16)
        other = (cls + rng.integers(1, 3, 16)) % 3
        noise = [rng.standard_normal((16, 8)) * 0.5 for _ in range(3)]
        batches.append((centres[cls] + noise[0], centres[cls] + noise[1],
                        centres[other] + noise[2]))

    def loss_fn(net, a, p, n):
        return crit(net(a), net(p), net(n))

    def tloss_fn(net, a, p, n):
        return tcrit(net(a), net(p), net(n))

    losses, tlosses = _steps(ours, theirs, loss_fn, tloss_fn, batches)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < losses[0]


def test_a_multilabel_classifier_trains_with_margin_losses_like_torch(rng):
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(m.Linear(6, 12), m.Tanh(), m.Linear(12, 5))

    ours, theirs = _twin(build)
    w = rng.uniform(0.5, 2, 5)
    soft, tsoft = nn.MultiLabelSoftMarginLoss(weight=w), torch.nn.MultiLabelSoftMarginLoss(
        weight=torch.tensor(w))
    hinge, thinge = nn.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss()
    batches = []
    for _ in range(5):
        x = rng.standard_normal((8, 6))
        labels = (x[:, :5] > 0.3)
        idx = np.full((8, 5), -1)
        for i, row in enumerate(labels):
            on = np.flatnonzero(row)
            idx[i, :len(on)] = on
        batches.append((x, labels.astype(float), idx))

    def loss_fn(net, x, y, idx):
        out = net(x)
        return soft(out, y) + 0.5 * hinge(out, idx)

    def tloss_fn(net, x, y, idx):
        out = net(x)
        return tsoft(out, y) + 0.5 * thinge(out, idx)

    losses, tlosses = _steps(ours, theirs, loss_fn, tloss_fn, batches)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < losses[0]


def test_a_heteroscedastic_regression_trains_with_gaussian_nll_loss_like_torch(rng):
    """The network predicts a mean and a variance (softplus) per sample; GaussianNLLLoss with a
    per-sample var of shape (N,) for targets (N, 1)."""
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(m.Linear(3, 16), m.Tanh(), m.Linear(16, 2))

    ours, theirs = _twin(build)
    crit, tcrit = nn.GaussianNLLLoss(), torch.nn.GaussianNLLLoss()
    pcrit, tpcrit = nn.PoissonNLLLoss(), torch.nn.PoissonNLLLoss()
    batches = []
    for _ in range(5):
        x = rng.standard_normal((10, 3))
        y = x[:, :1] * 2 + rng.standard_normal((10, 1)) * np.abs(x[:, 1:2])
        counts = rng.poisson(np.exp(x[:, 2:3] * 0.5)).astype(float)
        batches.append((x, y, counts))

    def loss_fn(net, x, y, counts):
        out = net(x)
        return crit(out[:, :1], y, F.softplus(out[:, 1])) + pcrit(out[:, 1:], counts)

    def tloss_fn(net, x, y, counts):
        out = net(x)
        return (tcrit(out[:, :1], y, torch.nn.functional.softplus(out[:, 1]))
                + tpcrit(out[:, 1:], counts))

    losses, tlosses = _steps(ours, theirs, loss_fn, tloss_fn, batches)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
