"""Numerical edge cases that must behave as PyTorch's (issue 17, items 10 and 12): float16
statistics over more than 65 504 elements, the gradient of std at a constant, binary
cross-entropy at probabilities 0 and 1 and with targets outside [0, 1], random draws without a
float64 temporary, convolution and pooling on an empty batch, and the up-front refusal of an
im2col work buffer that cannot fit in memory.

Each behaviour is checked without torch (by value) and, where torch is importable, against it."""

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
import chainrule.ops.conv as conv_ops
from chainrule import nn

RNG = np.random.default_rng(17)
BIG = 100_000  # more elements than float16's largest finite value, 65 504


# -- 1. float16 statistics accumulate in float32 ------------------------------------------------
def _half_data(n=BIG, shift=1.0):
    return (RNG.random(n) * 0.1 + shift).astype(np.float16)


def test_half_mean_var_std_over_more_than_65504_elements():
    x = cr.tensor(_half_data(shift=0.5))  # nanmean divides a float16 nansum (as PyTorch): < 65504
    ref = x.array.astype(np.float64)
    for got, want in [(x.mean(), ref.mean()), (x.var(), ref.var(ddof=1)),
                      (x.std(), ref.std(ddof=1)), (cr.nanmean(x), ref.mean()),
                      (cr.var_mean(x)[0], ref.var(ddof=1)), (cr.var_mean(x)[1], ref.mean()),
                      (cr.std_mean(x)[0], ref.std(ddof=1)), (cr.std_mean(x)[1], ref.mean())]:
        assert got.dtype == cr.float16
        np.testing.assert_allclose(float(got), want, rtol=2e-3)
    ones = cr.ones(BIG, dtype=cr.float16)
    assert float(ones.mean()) == 1.0 and float(ones.var()) == 0.0 and float(ones.std()) == 0.0


def test_half_sums_over_an_outer_axis_and_cumsum_do_not_stall_at_2048():
    """NumPy accumulates a float16 sum over an outer axis in float16 (60 000 ones sum to
    2048); PyTorch accumulates in float32."""
    ones = cr.ones(60_000, 3, dtype=cr.float16)
    np.testing.assert_array_equal(ones.sum(0).numpy(), [60_000] * 3)
    np.testing.assert_array_equal(ones.mean(0).numpy(), [1] * 3)
    assert float(cr.ones(3000, dtype=cr.float16).cumsum(0)[-1]) == 3000


def test_half_nanmean_divides_by_the_count_in_float32():
    a = np.full(BIG, 0.5, np.float16)
    a[0] = np.nan
    assert abs(float(cr.nanmean(cr.tensor(a))) - 0.5) < 1e-3


def test_half_mean_gradient_is_one_over_n():
    x = cr.tensor(_half_data(), requires_grad=True)
    x.mean().backward()
    assert x.grad.dtype == cr.float16
    np.testing.assert_array_equal(x.grad.numpy(), np.float16(1 / BIG))  # as PyTorch's g / n


@pytest.mark.parametrize("case", ["layer_norm", "group_norm", "batch_norm", "instance_norm"])
def test_half_normalisation_statistics_over_more_than_65504_elements(case):
    a = _half_data()
    ref = a.astype(np.float64)
    want = (ref - ref.mean()) / np.sqrt(ref.var() + 1e-5)
    x = cr.tensor(a, requires_grad=True)
    if case == "layer_norm":
        y = F.layer_norm(x.reshape(1, BIG), (BIG,))
    elif case == "group_norm":
        y = F.group_norm(x.reshape(1, 1, BIG), 1)
    elif case == "batch_norm":
        y = F.batch_norm(x.reshape(BIG, 1), None, None, training=True)
    else:
        y = F.instance_norm(x.reshape(1, 1, BIG))
    assert y.dtype == cr.float16
    np.testing.assert_allclose(y.numpy().ravel().astype(np.float64), want, atol=1e-2)
    (y * cr.tensor(RNG.standard_normal(y.shape).astype(np.float16))).sum().backward()
    assert x.grad.dtype == cr.float16 and np.isfinite(x.grad.numpy()).all()


def test_half_batchnorm_layer_running_statistics_are_finite():
    bn = nn.BatchNorm1d(1).half()
    bn(cr.tensor(_half_data().reshape(BIG, 1)))
    assert np.isfinite(bn.running_mean.numpy()).all() and np.isfinite(bn.running_var.numpy()).all()
    np.testing.assert_allclose(float(bn.running_mean[0]), 0.9 * 0 + 0.1 * 1.05, atol=2e-3)


def test_half_statistics_match_torch():
    torch = pytest.importorskip("torch")
    a = _half_data()
    x, t = cr.tensor(a), torch.from_numpy(a.copy())
    pairs = [(x.mean(), t.mean()), (x.var(), t.var()), (x.std(), t.std()),
             (x.var(unbiased=False), t.var(unbiased=False)), (cr.nanmean(x), t.nanmean()),
             (x.sum(), t.sum()), (x.cumsum(0), t.cumsum(0)),
             (x.reshape(1000, 100).sum(0), t.reshape(1000, 100).sum(0)),
             (x.reshape(1000, 100).mean(0), t.reshape(1000, 100).mean(0)),
             (x.reshape(1000, 100).var(1), t.reshape(1000, 100).var(1))]
    pairs += list(zip(cr.var_mean(x), torch.var_mean(t))) + list(zip(cr.std_mean(x),
                                                                     torch.std_mean(t)))
    for got, want in pairs:
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1] == "float16"
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   want.numpy().astype(np.float64), rtol=1e-3)
    for f in (lambda m, v: F_of(m).layer_norm(v.reshape(1, BIG), (BIG,)),
              lambda m, v: F_of(m).group_norm(v.reshape(1, 1, BIG), 1)):
        xg, tg = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        g = RNG.standard_normal((1, BIG)).astype(np.float16)
        yc, yt = f(cr, xg), f(torch, tg)
        np.testing.assert_allclose(yc.numpy().ravel(), yt.detach().numpy().ravel(), atol=4e-3)
        (yc.reshape(1, BIG) * cr.tensor(g)).sum().backward()
        (yt.reshape(1, BIG) * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(xg.grad.numpy().astype(np.float64),
                                   tg.grad.numpy().astype(np.float64), atol=0.05, rtol=0.02)


def F_of(lib):
    return lib.nn.functional


# -- 2. the gradient of std at a constant is 0 -------------------------------------------------
def test_std_of_a_constant_has_a_zero_gradient():
    x = cr.ones(5, requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    y = cr.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], requires_grad=True)
    y.std(1).sum().backward()
    assert (y.grad.numpy()[0] == 0).all() and np.isfinite(y.grad.numpy()).all()
    z = cr.ones(4, requires_grad=True)
    cr.std_mean(z, unbiased=False)[0].backward()
    np.testing.assert_array_equal(z.grad.numpy(), 0)


def test_std_gradients_to_second_order_also_at_a_constant_row():
    x = cr.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda t: t.std(1), x)
    assert cr.gradgradcheck(lambda t: t.std(1), x)
    c = cr.tensor(np.array([[2.0, 2.0, 2.0], [1.0, -2.0, 0.5]]), requires_grad=True)
    assert cr.gradcheck(lambda t: cr.std_mean(t, 1, correction=0)[0], c)
    (g,) = cr.autograd.grad(c.std(1).sum(), c, create_graph=True)
    (h,) = cr.autograd.grad((g * g).sum(), c)
    assert np.isfinite(h.numpy()).all() and (h.numpy()[0] == 0).all()


def test_std_gradients_match_torch_at_edge_cases():
    torch = pytest.importorskip("torch")
    cases = [([1.0] * 5, {}), ([1.0] * 5, {"unbiased": False}), ([3.0], {}),
             ([1.0, 2.0, 4.0], {}), ([1.0, 1.0, 1.0], {"correction": 3})]
    for data, kw in cases:
        grads = []
        for lib in (cr, torch):
            x = lib.tensor(data, dtype=lib.float64, requires_grad=True)
            with np.errstate(all="ignore"):
                (g,) = lib.autograd.grad(x.std(**kw), x, create_graph=True)
                (h,) = lib.autograd.grad(g.sum(), x, allow_unused=True)
            grads.append((g.detach().numpy(), None if h is None else h.numpy()))
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
        if grads[1][1] is not None:
            np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


# -- 3. binary cross-entropy at 0 and 1, and its targets -----------------------------------------
P = [0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 1e-13, 0.5]
T = [0.0, 1.0, 1.0, 0.0, 0.6, 0.2, 1.0, 0.5]


def test_bce_at_probabilities_0_and_1_has_pytorchs_steep_gradient():
    """PyTorch clamps each log at -100 and its gradient is (p - t) / max(p (1 - p), 1e-12):
    a confidently wrong prediction gets a huge gradient, not the clamped log's 0."""
    p = cr.tensor([0.0, 1.0, 0.0, 1.0], dtype=cr.float64, requires_grad=True)
    t = cr.tensor([0.0, 1.0, 1.0, 0.0], dtype=cr.float64)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [0, 0, 100, 100])
    loss.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [0, 0, -1e12, 1e12], rtol=1e-8)


def test_bce_gradients_to_second_order_inside_0_1():
    p = cr.tensor(RNG.random((3, 4)) * 0.8 + 0.1, requires_grad=True)
    t = cr.tensor(RNG.random((3, 4)), requires_grad=True)
    w = cr.tensor(RNG.random((3, 4)) + 0.5)
    for red in ("mean", "sum", "none"):
        def f(a, b, red=red):
            return F.binary_cross_entropy(a, b, w, reduction=red)

        assert cr.gradcheck(f, p, t)
        assert cr.gradgradcheck(f, p, t)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_matches_torch_at_0_and_1_to_second_order(dtype):
    torch = pytest.importorskip("torch")
    w = np.array([1, 1, 1, 1, 1, 2, 1, 3.0])
    out = []
    for lib in (cr, torch):
        dt = getattr(lib, dtype)
        p = lib.tensor(P, dtype=dt, requires_grad=True)
        t = lib.tensor(T, dtype=dt, requires_grad=True)
        with np.errstate(all="ignore"):
            loss = F_of(lib).binary_cross_entropy(p, t, lib.tensor(w, dtype=dt),
                                                  reduction="none")
            gp, gt = lib.autograd.grad(loss.sum(), (p, t), create_graph=True)
            hpp, hpt = lib.autograd.grad(gp.sum(), (p, t), retain_graph=True)
            (htp,) = lib.autograd.grad(gt.sum(), (p,))
        out.append([a.detach().numpy() for a in (loss, gp, gt, hpp, hpt, htp)])
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for got, want in zip(*out):
        np.testing.assert_allclose(got, want, rtol=rtol)


def test_bce_module_in_a_training_step_as_users_write_it():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    y = RNG.integers(0, 2, (8, 1)).astype(np.float32)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    model.load_state_dict({k: cr.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    grads = []
    for lib, m in ((cr, model), (torch, ref)):
        with lib.no_grad():
            m[0].bias.fill_(-40.0)  # saturate the sigmoid: outputs round to exactly 0
        loss = lib.nn.BCELoss()(m(lib.tensor(x)), lib.tensor(y))
        loss.backward()
        grads.append((float(loss), m[0].weight.grad.numpy().copy()))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-4)
    assert np.abs(grads[0][1]).max() > 0  # the clamped log alone would give exactly 0


def test_bce_refuses_targets_and_inputs_outside_0_1_as_torch_does():
    for p, t, what in [(0.5, 2.0, "target"), (0.5, -0.5, "target"), (0.5, np.nan, "target"),
                       (1.5, 1.0, "input"), (np.nan, 1.0, "input"), (1.5, 2.0, "input")]:
        for call in (lambda a, b: F.binary_cross_entropy(a, b),
                     lambda a, b: nn.BCELoss()(a, b)):
            with pytest.raises(RuntimeError, match=f"all elements of {what} should be between "
                               "0 and 1") as info:
                call(cr.tensor([p, 0.5]), cr.tensor([t, 0.5]))
            assert isinstance(info.value, ValueError)
    F.binary_cross_entropy(cr.tensor([0.0, 1.0]), cr.tensor([0.0, 1.0]))  # the edges are fine


def test_bce_errors_match_torch():
    torch = pytest.importorskip("torch")
    for p, t in [(0.5, 2.0), (0.5, np.nan), (1.5, 1.0), (1.5, 2.0), (-0.0, 1.0)]:
        msgs = []
        for lib in (cr, torch):
            try:
                F_of(lib).binary_cross_entropy(lib.tensor([p]), lib.tensor([t]))
                msgs.append(None)
            except RuntimeError as e:
                msgs.append(str(e).split(" should")[0].split(": ")[-1])
        assert msgs[0] == msgs[1]


# -- 4. random draws without a float64 temporary -------------------------------------------------
def _peak(f):
    tracemalloc.start()
    try:
        out = f()
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["randn", "rand", "randn_like", "rand_like"])
def test_float32_draws_allocate_the_result_only(name):
    like = cr.zeros(1000, 1000)
    fn = {"randn": lambda: cr.randn(1000, 1000), "rand": lambda: cr.rand(1000, 1000),
          "randn_like": lambda: cr.randn_like(like), "rand_like": lambda: cr.rand_like(like)}
    peak, out = _peak(fn[name])
    assert out.dtype == cr.float32
    assert peak < 1.2 * out.numpy().nbytes  # a float64 draw then a cast would be 3x


@pytest.mark.xfail(strict=True, reason="creation.normal, nn.init and Tensor.normal_ / uniform_ "
                   "still draw float64 and cast (files outside this change; issue 17 item 10)")
@pytest.mark.parametrize("name", ["normal", "init.normal_", "init.uniform_", "normal_"])
def test_other_float32_draws_allocate_the_result_only(name):
    fn = {"normal": lambda: cr.normal(0.0, 1.0, (1000, 1000)),
          "init.normal_": lambda: nn.init.normal_(cr.empty(1000, 1000)),
          "init.uniform_": lambda: nn.init.uniform_(cr.empty(1000, 1000)),
          "normal_": lambda: cr.empty(1000, 1000).normal_()}
    peak, out = _peak(fn[name])
    assert peak < 2.2 * out.numpy().nbytes  # the empty tensor and the draw


def test_float32_draws_repeat_with_the_seed():
    cr.manual_seed(3)
    a = cr.randn(4, 5)
    cr.manual_seed(3)
    assert a.dtype == cr.float32 and np.array_equal(a.numpy(), cr.randn(4, 5).numpy())
    assert 0.5 < float(cr.randn(200, 200).std()) < 1.5


# -- 5. convolution and pooling on an empty batch ------------------------------------------------
EMPTY = {
    "conv1d": lambda L, x, w: F_of(L).conv1d(x((0, 3, 8)), w((4, 3, 3)), w((4,)), padding=1),
    "conv2d": lambda L, x, w: F_of(L).conv2d(x((0, 3, 8, 8)), w((4, 3, 3, 3)), w((4,)),
                                             stride=2),
    "conv2d_groups": lambda L, x, w: F_of(L).conv2d(x((0, 4, 6, 6)), w((6, 2, 3, 3)),
                                                    groups=2, dilation=2),
    "conv3d": lambda L, x, w: F_of(L).conv3d(x((0, 2, 4, 4, 4)), w((3, 2, 3, 3, 3)), w((3,))),
    "conv_transpose2d": lambda L, x, w: F_of(L).conv_transpose2d(x((0, 3, 4, 4)),
                                                                 w((3, 2, 3, 3)), w((2,)), 2),
    "conv_transpose1d": lambda L, x, w: F_of(L).conv_transpose1d(x((0, 4, 5)), w((4, 1, 3)),
                                                                 groups=2),
    "max_pool2d": lambda L, x, w: F_of(L).max_pool2d(x((0, 3, 8, 8)), 2),
    "max_pool3d": lambda L, x, w: F_of(L).max_pool3d(x((0, 3, 4, 4, 4)), 2),
    "avg_pool2d": lambda L, x, w: F_of(L).avg_pool2d(x((0, 3, 8, 8)), 3, 2, 1),
    "adaptive_avg_pool2d": lambda L, x, w: F_of(L).adaptive_avg_pool2d(x((0, 3, 8, 8)), 3),
    "adaptive_max_pool2d": lambda L, x, w: F_of(L).adaptive_max_pool2d(x((0, 3, 8, 8)), 3),
    "adaptive_max_pool1d": lambda L, x, w: F_of(L).adaptive_max_pool1d(x((0, 3, 8)), 3),
}


def _run_empty(lib, name):
    made = []

    def leaf(shape):
        t = lib.tensor(RNG.standard_normal(shape), dtype=lib.float64, requires_grad=True)
        made.append(t)
        return t

    y = EMPTY[name](lib, leaf, leaf)
    y.sum().backward()
    return tuple(y.shape), [(tuple(t.grad.shape), t.grad.numpy().copy()) for t in made]


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_batch_gives_an_empty_result_and_zero_gradients(name):
    shape, grads = _run_empty(cr, name)
    assert shape[0] == 0
    for gshape, g in grads:
        assert g.shape == gshape and not g.any()


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_batch_matches_torch(name):
    torch = pytest.importorskip("torch")
    got, want = _run_empty(cr, name), _run_empty(torch, name)
    assert got[0] == want[0]
    for (gs, g), (ws, w) in zip(got[1], want[1]):
        assert gs == ws
        np.testing.assert_array_equal(g, w)


def test_a_cnn_on_an_empty_batch_as_users_write_it():
    """A data loader's last batch can be empty after filtering; PyTorch runs it."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 10))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    before = [p.numpy().copy() for p in model.parameters()]
    out = model(cr.zeros(0, 1, 12, 12))
    loss = F.cross_entropy(out, cr.zeros(0, dtype=cr.int64), reduction="sum")
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert tuple(out.shape) == (0, 10)
    for p, b in zip(model.parameters(), before):
        assert p.grad is not None and not p.grad.numpy().any()
        np.testing.assert_array_equal(p.numpy(), b)
    bn = model[1]
    assert int(bn.num_batches_tracked) == 1
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)  # no statistics, no update
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)


def test_conv_with_no_filters_is_refused_as_in_torch():
    with pytest.raises(RuntimeError, match=r"expected weight to be at least 1 at dimension 0"):
        F.conv2d(cr.zeros(2, 3, 8, 8), cr.zeros(0, 3, 3, 3))


# -- 6. an im2col work buffer that cannot fit is refused before it is allocated ------------------
def test_conv_needing_terabytes_fails_at_once_with_a_clear_error():
    x, w = cr.zeros(1, 1, 2000, 2000), cr.zeros(1, 1, 1000, 1000)  # columns: 1e6 x 1e6 floats
    with pytest.raises(MemoryError) as info:
        F.conv2d(x, w)
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    for part in ("conv2d", "(1, 1, 2000, 2000)", "(1, 1, 1000, 1000)", "GiB", "smaller input"):
        assert part in msg


@pytest.fixture
def tiny_memory(monkeypatch):
    """Pretend 4 MiB are available and check every buffer over 0 bytes; fail if im2col runs."""
    monkeypatch.setattr(conv_ops, "CHECK_ABOVE", 0)
    monkeypatch.setattr(conv_ops, "available_memory", lambda: 4 << 20)

    def no_alloc(*_a, **_k):
        raise AssertionError("the columns were allocated before the size check")

    monkeypatch.setattr(conv_ops, "im2col_array", no_alloc)


@pytest.mark.parametrize("call, who", [
    (lambda: F.conv2d(cr.zeros(64, 8, 32, 32), cr.zeros(8, 8, 3, 3)), "conv2d"),
    (lambda: nn.Conv1d(8, 8, 5)(cr.zeros(64, 8, 512)), "conv1d"),
    (lambda: F.conv_transpose2d(cr.zeros(64, 8, 32, 32), cr.zeros(8, 8, 3, 3)),
     "conv_transpose2d"),
    (lambda: F.avg_pool2d(cr.zeros(64, 8, 64, 64), 3, 1), "avg_pool2d"),
])
def test_work_buffer_is_checked_before_allocating(tiny_memory, call, who):
    with pytest.raises(conv_ops.WorkBufferError, match=rf"^{who}: input of shape \(64, ") as info:
        call()
    msg = str(info.value)
    assert "MiB (im2col columns of shape (" in msg and "the 4.0 MiB of memory available" in msg
    assert "use a smaller batch: e.g. run x.split(" in msg


def test_buffers_that_fit_are_not_refused(monkeypatch):
    monkeypatch.setattr(conv_ops, "CHECK_ABOVE", 0)
    monkeypatch.setattr(conv_ops, "available_memory", lambda: 1 << 30)
    y = F.conv2d(cr.zeros(4, 3, 16, 16), cr.zeros(5, 3, 3, 3))
    assert tuple(y.shape) == (4, 5, 14, 14)


# -- float16 softmax and norms over long axes (found while fixing the statistics) ---------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "norm2", "norm3"])
def test_half_softmax_and_norms_over_100000_elements_match_torch(name):
    torch = pytest.importorskip("torch")
    xa = RNG.standard_normal(100_000).astype(np.float16)
    wa = np.linspace(-1, 1, xa.size).astype(np.float16)
    fn = {"softmax": lambda L, x: L.softmax(x, 0),
          "log_softmax": lambda L, x: L.log_softmax(x, 0),
          "norm2": lambda L, x: L.linalg.vector_norm(x),
          "norm3": lambda L, x: L.linalg.vector_norm(x, 3)}

    def run(lib):
        x = lib.tensor(xa, requires_grad=True)
        y = fn[name](lib, x)
        (y * lib.tensor(wa[: y.numel()] if y.ndim else wa[:1].reshape(()))).sum().backward()
        return y.detach().numpy().astype(np.float64), x.grad.numpy().astype(np.float64)

    (y, g), (ty, tg) = run(cr), run(torch)
    assert np.isfinite(y).all() and np.abs(y).max() > 0  # was 0 (softmax) or inf (norm)
    np.testing.assert_allclose(y, ty, rtol=2e-3, atol=1e-7)
    np.testing.assert_allclose(g, tg, rtol=2e-3, atol=2e-5)  # half's cancellation in gy - p*s
