"""The fused recurrence (chainrule.nn.layers.recurrent_fused.Recurrence): held to the per-step
path it replaces (forward, both backward paths), float64 gradcheck and gradgradcheck of the op
itself w.r.t. every input, the version counter, and, where torch is importable, user programs
(a few Adam steps of an LSTM / GRU classifier, a gradient penalty) against PyTorch."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn.layers.recurrent_fused import Recurrence, steps

TOL = dict(rtol=1e-10, atol=1e-10)
MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def op_inputs(mode, L=3, N=2, H=3, bias=True, seed=0):
    """float64 inputs of Recurrence: gi (L, N, G*H), W_hh, h_0[, c_0][, b_hh], requiring grad."""
    rng = np.random.default_rng(seed)
    G = GATES[mode] * H
    arrays = [rng.standard_normal((L, N, G)), rng.standard_normal((G, H)) * 0.5,
              rng.standard_normal((N, H))]
    if mode == "LSTM":
        arrays.append(rng.standard_normal((N, H)))
    if mode == "GRU" and bias:
        arrays.append(rng.standard_normal(G))
    return [cr.tensor(a, requires_grad=True) for a in arrays]


def fused(mode, reverse):
    return lambda *xs: Recurrence(mode, reverse)(*xs)


def stepwise(mode, reverse):
    return lambda *xs: steps(mode, reverse, *xs)


@pytest.mark.parametrize("mode, bias", [(m, True) for m in MODES] + [("GRU", False)])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_equals_per_step_forward_and_both_backward_paths(mode, reverse, bias):
    """(Only the GRU takes b_hh inside the recurrence; the others get it folded into gi.)"""
    xs = op_inputs(mode, bias=bias)
    rng = np.random.default_rng(5)
    ref = stepwise(mode, reverse)(*xs)
    ws = [cr.tensor(rng.standard_normal(o.shape)) for o in ref]
    ref_grads = cr.autograd.grad(sum((o * w).sum() for o, w in zip(ref, ws)), xs)
    for create_graph in (False, True):  # the array backward, then the replayed one
        out = fused(mode, reverse)(*xs)
        assert len(out) == len(ref)
        for a, b in zip(out, ref):
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
        grads = cr.autograd.grad(sum((o * w).sum() for o, w in zip(out, ws)), xs,
                                 create_graph=create_graph)
        for k, (g, r) in enumerate(zip(grads, ref_grads)):
            np.testing.assert_allclose(g.numpy(), r.numpy(), err_msg=f"input {k}", **TOL)
            assert (g.creator is not None) == create_graph


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_and_gradgradcheck_every_input(mode, reverse):
    xs = op_inputs(mode, L=3, N=2, H=2, seed=1)
    assert cr.gradcheck(fused(mode, reverse), *xs)
    assert cr.gradgradcheck(fused(mode, reverse), *xs)


PACKED = [3, 3, 2, 1]  # batch sizes of a PackedSequence: lengths 4, 3, 2


def packed_inputs(mode, H=2, seed=6):
    """Inputs of a packed Recurrence: gi (sum(PACKED), G*H), W_hh, h_0[, c_0][, b_hh]."""
    xs = op_inputs(mode, L=1, N=sum(PACKED), H=H, seed=seed)
    gi = cr.tensor(xs[0].numpy()[0], requires_grad=True)
    h0s = [cr.tensor(x.numpy()[:PACKED[0]], requires_grad=True) for x in xs[2:4]
           if x.shape[0] == sum(PACKED) and x.ndim == 2]
    rest = [xs[-1]] if mode == "GRU" else []
    return [gi, xs[1], *h0s, *rest]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_packed_fused_equals_per_step_and_gradgradcheck(mode, reverse):
    xs = packed_inputs(mode)
    ref = steps(mode, reverse, *xs, batch_sizes=PACKED)
    out = Recurrence(mode, reverse, PACKED)(*xs)
    rng = np.random.default_rng(8)
    ws = [cr.tensor(rng.standard_normal(o.shape)) for o in ref]
    g = cr.autograd.grad(sum((o * w).sum() for o, w in zip(out, ws)), xs)
    g_ref = cr.autograd.grad(sum((o * w).sum() for o, w in zip(ref, ws)), xs)
    for a, b in zip(list(out) + list(g), list(ref) + list(g_ref)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)

    def f(*xs):
        return Recurrence(mode, reverse, PACKED)(*xs)

    assert cr.gradcheck(f, *xs)
    assert cr.gradgradcheck(f, *xs)


def test_gru_without_bias_gradgradcheck():
    xs = op_inputs("GRU", L=2, N=2, H=2, bias=False, seed=2)
    assert cr.gradgradcheck(fused("GRU", False), *xs)


def test_only_the_gradients_asked_for_are_returned():
    gi, W, h0, c0 = op_inputs("LSTM")
    h0 = h0.detach()
    y, h, c = Recurrence("LSTM", False)(gi, W, h0, c0)
    y.sum().backward()
    assert h0.grad is None and gi.grad is not None and W.grad is not None
    assert c0.grad is not None


def test_unused_outputs_and_a_dropped_output_sequence():
    """Only h_n used: the sequence output y is gone before backward, the gradient is still right."""
    xs = op_inputs("GRU")
    _, h = Recurrence("GRU", False)(*xs)
    g = cr.autograd.grad(h.sum(), xs)
    _, h_ref = steps("GRU", False, *xs)
    g_ref = cr.autograd.grad(h_ref.sum(), xs)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_changing_a_saved_weight_in_place_is_refused():
    lstm = nn.LSTM(3, 4)
    out, _ = lstm(cr.randn(5, 2, 3))
    with cr.no_grad():
        lstm.weight_hh_l0.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        out.sum().backward()


def test_float32_stays_float32_and_no_grad_records_nothing():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = cr.randn(5, 2, 3)
    out, (h, c) = lstm(x)
    assert out.dtype == cr.float32 and h.dtype == cr.float32 and c.dtype == cr.float32
    out.sum().backward()
    assert all(p.grad.dtype == cr.float32 for p in lstm.parameters())
    with cr.no_grad():
        out2, _ = lstm(x)
    assert out2.creator is None
    np.testing.assert_array_equal(out2.numpy(), out.detach().numpy())


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_multilayer_bidirectional_dropout_layer_gradgradcheck(kind):
    """The layer as users build it: two layers, both directions, batch_first, initial states,
    dropout between the layers (a fixed mask: the seed is reset before each call)."""
    rng = np.random.default_rng(3)
    cr.manual_seed(0)
    m = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True, batch_first=True,
                          dropout=0.3).to(cr.float64)
    x = rng.standard_normal((2, 3, 2))
    hs = [rng.standard_normal((4, 2, 2)) for _ in range(2 if kind == "LSTM" else 1)]

    def f(x, *hs):
        cr.manual_seed(1)
        out, last = m(x, tuple(hs) if kind == "LSTM" else hs[0])
        return (out, *last) if kind == "LSTM" else (out, last)

    assert cr.gradcheck(f, x, *hs)
    assert cr.gradgradcheck(f, x, *hs)


# -- user programs against torch ----------------------------------------------------------------
def _copy_into(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_adam_training_steps_match_torch(kind):
    """A sequence classifier trained for five Adam steps, as a tutorial writes it; the losses and
    the final weights match torch's."""
    torch = pytest.importorskip("torch")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(4, 6, num_layers=2, batch_first=True)
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(4, 6, num_layers=2, batch_first=True)
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    tnet = TNet().double()
    net = Net().to(cr.float64)
    _copy_into(net, tnet)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 7, 4)), rng.integers(0, 3, 8)
    opt = cr.optim.Adam(net.parameters(), lr=0.01)
    topt = torch.optim.Adam(tnet.parameters(), lr=0.01)
    for _ in range(5):
        loss = nn.functional.cross_entropy(net(cr.tensor(x)), cr.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-10
    theirs = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), theirs[name].detach().numpy(),
                                   err_msg=name, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_gradient_penalty_matches_torch(kind):
    """grad(create_graph=True) of the output w.r.t. the input, its norm as a penalty, backward:
    second derivatives through the whole sequence, against torch."""
    torch = pytest.importorskip("torch")
    t = getattr(torch.nn, kind)(3, 4, bidirectional=True).double()
    m = getattr(nn, kind)(3, 4, bidirectional=True).to(cr.float64)
    _copy_into(m, t)
    x_np = np.random.default_rng(4).standard_normal((5, 2, 3))
    x = cr.tensor(x_np, requires_grad=True)
    out, _ = m(x)
    (gx,) = cr.autograd.grad(out.pow(2).sum(), x, create_graph=True)
    gx.pow(2).sum().backward()
    tx = torch.tensor(x_np, requires_grad=True)
    tout, _ = t(tx)
    (tgx,) = torch.autograd.grad(tout.pow(2).sum(), tx, create_graph=True)
    tgx.pow(2).sum().backward()
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), **TOL)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **TOL)
    theirs = dict(t.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), err_msg=name,
                                   **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_backward_twice_with_retain_graph_gives_the_same_gradient(mode):
    """backward must not change the buffers the op saved."""
    xs = op_inputs(mode, seed=9)
    y = Recurrence(mode, False)(*xs)[0]
    loss = (y * y).sum()
    (g1,) = cr.autograd.grad(loss, xs[1], retain_graph=True)
    (g2,) = cr.autograd.grad(loss, xs[1])
    np.testing.assert_array_equal(g1.numpy(), g2.numpy())
