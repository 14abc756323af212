"""RNN, LSTM, GRU and their cells: float64 gradcheck / gradgradcheck w.r.t. input and initial
states, parameter gradients against finite differences, PyTorch's names, shapes and errors, and,
where torch is importable, outputs, final states and every gradient against torch to 1e-10."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

MODES = ["tanh", "relu", "lstm", "gru"]
TOL = dict(rtol=1e-10, atol=1e-10)


def make(mode, *args, cell=False, **kw):
    """A float64 layer (or cell) of the given mode."""
    if mode in ("tanh", "relu"):
        kw["nonlinearity"] = mode
    cls = {"tanh": (RNN, RNNCell), "relu": (RNN, RNNCell), "lstm": (LSTM, LSTMCell),
           "gru": (GRU, GRUCell)}[mode][cell]
    return cls(*args, **kw).to(cr.float64)


def states(mode, shape, rng):
    """Random initial states: h_0, or (h_0, c_0) for the LSTM, as float64 arrays."""
    n = 2 if mode == "lstm" else 1
    return [rng.standard_normal(shape) for _ in range(n)]


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) -> [output, h_n(, c_n)]."""
    out, last = result
    return [out, *last] if isinstance(last, tuple) else [out, last]


def outputs(result, cell=False):
    """Every output tensor of a layer ([output, h_n(, c_n)]) or a cell ([h'(, c')]) as a list."""
    if cell:
        return list(result) if isinstance(result, tuple) else [result]
    return flat(result)


def hx_arg(mode, hs):
    return tuple(hs) if mode == "lstm" else hs[0]


# -- names, shapes, init ----------------------------------------------------------------------
def test_parameter_names_shapes_and_outputs_follow_pytorch():
    m = LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
             for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert [n for n, _ in m.named_parameters()] == names
    assert m.weight_ih_l0.shape == (16, 3) and m.weight_ih_l1_reverse.shape == (16, 8)
    assert m.weight_hh_l1.shape == (16, 4) and m.bias_hh_l0_reverse.shape == (16,)
    assert GRU(3, 5).weight_hh_l0.shape == (15, 5) and RNN(3, 5).weight_ih_l0.shape == (5, 3)
    assert [n for n, _ in GRU(3, 4, bias=False).named_parameters()] == ["weight_ih_l0",
                                                                       "weight_hh_l0"]
    y, (h, c) = m(cr.randn(6, 2, 3))
    assert y.shape == (6, 2, 8) and h.shape == c.shape == (4, 2, 4)
    y, h = GRU(3, 4, num_layers=3, batch_first=True)(cr.randn(2, 6, 3))
    assert y.shape == (2, 6, 4) and h.shape == (3, 2, 4)
    assert y.dtype == np.float32 and h.dtype == np.float32


def test_init_is_uniform_in_the_pytorch_bound_and_seeded():
    cr.manual_seed(0)
    a = GRU(3, 16, num_layers=2)
    cr.manual_seed(0)
    b = GRU(3, 16, num_layers=2)
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert p.dtype == np.float32, n
        assert np.abs(p.numpy()).max() <= 0.25 and np.array_equal(p.numpy(), q.numpy()), n
    w = np.concatenate([p.numpy().ravel() for p in a.parameters()])
    assert w.min() < -0.2 and w.max() > 0.2 and abs(w.mean()) < 0.02


def test_float32_in_float32_out_with_float32_gradients():
    m = LSTM(3, 4, num_layers=2)
    x = cr.randn(5, 2, 3, requires_grad=True)
    y, (h, c) = m(x)
    (y.sum() + h.sum() + c.sum()).backward()
    assert y.dtype == h.dtype == c.dtype == np.float32 and x.grad.dtype == np.float32
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in m.parameters())


def test_repr():
    assert repr(LSTM(3, 4)) == "LSTM(3, 4)"
    assert repr(RNN(3, 4, 2, "relu", batch_first=True, bidirectional=True)) == (
        "RNN(3, 4, num_layers=2, nonlinearity='relu', batch_first=True, bidirectional=True)")
    assert repr(GRUCell(2, 3, bias=False)) == "GRUCell(2, 3, bias=False)"


# -- gradients without torch --------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_input_and_initial_states(mode, batch_first):
    rng = np.random.default_rng(1)
    m = make(mode, 2, 2, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = rng.standard_normal((2, 3, 2) if batch_first else (3, 2, 2))
    hs = states(mode, (4, 2, 2), rng)

    def f(x, *hs):
        return tuple(flat(m(x, hx_arg(mode, hs))))

    assert cr.gradcheck(f, x, *hs)


@pytest.mark.parametrize("mode", MODES)
def test_gradgradcheck_tiny(mode):
    rng = np.random.default_rng(2)
    m = make(mode, 1, 2)
    x = rng.standard_normal((2, 1, 1))
    hs = states(mode, (1, 1, 2), rng)

    def f(x, *hs):
        return tuple(flat(m(x, hx_arg(mode, hs))))

    assert cr.gradgradcheck(f, x, *hs)


@pytest.mark.parametrize("mode", MODES)
def test_parameter_gradients_match_finite_differences(mode):
    rng = np.random.default_rng(3)
    m = make(mode, 2, 2, num_layers=2, bidirectional=(mode == "gru"))
    x = cr.tensor(rng.standard_normal((3, 2, 2)))
    outs = flat(m(x))
    weights = [rng.standard_normal(o.shape) for o in outs]

    def loss():
        return sum(float((o.numpy() * w).sum()) for o, w in zip(flat(m(x)), weights))

    sum(((o * cr.tensor(w)).sum() for o, w in zip(outs, weights)), cr.tensor(0.0, "float64")
        ).backward()
    for name, p in m.named_parameters():
        num = np.zeros(p.shape)
        for j in range(p.numel()):
            old = p.array.flat[j]
            p.array.flat[j] = old + 1e-6
            up = loss()
            p.array.flat[j] = old - 1e-6
            num.flat[j] = (up - loss()) / 2e-6
            p.array.flat[j] = old
        np.testing.assert_allclose(p.grad.numpy(), num, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_cell_gradcheck(mode):
    rng = np.random.default_rng(4)
    cell = make(mode, 3, 2, cell=True)
    x = rng.standard_normal((2, 3))
    hs = states(mode, (2, 2), rng)

    def f(x, *hs):
        out = cell(x, hx_arg(mode, hs))
        return out if isinstance(out, tuple) else (out,)

    assert cr.gradcheck(f, x, *hs)


# -- semantics ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_equals_batch_of_one(mode):
    rng = np.random.default_rng(5)
    m = make(mode, 3, 4, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 3))
    hs = states(mode, (4, 4), rng)
    one = flat(m(cr.tensor(x), hx_arg(mode, [cr.tensor(h) for h in hs])))
    batch = flat(m(cr.tensor(x[:, None]), hx_arg(mode, [cr.tensor(h[:, None]) for h in hs])))
    assert one[0].shape == (5, 8) and one[1].shape == (4, 4)
    for a, b in zip(one, batch):
        np.testing.assert_allclose(a.numpy(), b.numpy().squeeze(1), **TOL)


def test_zero_initial_state_is_the_default():
    rng = np.random.default_rng(6)
    m = make("lstm", 3, 4, num_layers=2)
    x = cr.tensor(rng.standard_normal((4, 2, 3)))
    z = cr.zeros(2, 2, 4, dtype="float64")
    for a, b in zip(flat(m(x)), flat(m(x, (z, z)))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_dropout_only_between_layers_and_only_in_training():
    cr.manual_seed(7)
    m = make("gru", 3, 4, num_layers=2, dropout=0.5)
    x = cr.tensor(np.random.default_rng(7).standard_normal((5, 2, 3)))
    y_train, h_train = m(x)
    m.eval()
    y_eval, h_eval = m(x)
    y_eval2, _ = m(x)
    np.testing.assert_array_equal(y_eval.numpy(), y_eval2.numpy())
    # layer 0 sees no dropout, so its final state agrees; layer 1's input was dropped out
    np.testing.assert_allclose(h_train.numpy()[0], h_eval.numpy()[0], **TOL)
    assert np.abs(h_train.numpy()[1] - h_eval.numpy()[1]).max() > 1e-3
    assert np.abs(y_train.numpy() - y_eval.numpy()).max() > 1e-3


def test_dropout_mask_is_differentiated_through():
    cr.manual_seed(8)
    m = make("tanh", 2, 3, num_layers=2, dropout=0.3)
    x = np.random.default_rng(8).standard_normal((3, 2, 2))

    def f(x):
        cr.manual_seed(9)  # the same mask on every evaluation
        return m(x)[0]

    assert cr.gradcheck(f, x)


# -- errors ---------------------------------------------------------------------------------
def test_wrong_input_width_names_layer_and_shapes():
    with pytest.raises(ShapeError, match=r"LSTM.*\(L, N, 3\).*\(5, 2, 4\)"):
        LSTM(3, 4)(cr.randn(5, 2, 4))
    with pytest.raises(ShapeError, match=r"GRU.*\(N, L, 3\).*\(2, 5\)"):
        GRU(3, 4, batch_first=True)(cr.randn(2, 5))
    with pytest.raises(ShapeError, match=r"RNN.*\(7,\)"):
        RNN(3, 4)(cr.randn(7))
    with pytest.raises(ShapeError, match=r"GRUCell.*\(N, 3\).*\(2, 4\)"):
        GRUCell(3, 4)(cr.randn(2, 4))


def test_wrong_initial_state_names_layer_and_shapes():
    with pytest.raises(ShapeError, match=r"GRU: expected h_0 of shape \(4, 2, 5\).*\(2, 2, 5\)"):
        GRU(3, 5, num_layers=2, bidirectional=True)(cr.randn(6, 2, 3), cr.zeros(2, 2, 5))
    with pytest.raises(ShapeError, match=r"LSTM: expected c_0 of shape \(1, 2, 5\).*\(1, 3, 5\)"):
        LSTM(3, 5)(cr.randn(6, 2, 3), (cr.zeros(1, 2, 5), cr.zeros(1, 3, 5)))
    with pytest.raises(ShapeError, match=r"RNN: expected h_0 of shape \(1, 5\).*unbatched"):
        RNN(3, 5)(cr.randn(6, 3), cr.zeros(1, 1, 5))
    with pytest.raises(TypeError, match="pair"):
        LSTM(3, 5)(cr.randn(6, 2, 3), cr.zeros(1, 2, 5))
    with pytest.raises(ShapeError, match=r"LSTMCell: expected c of shape \(2, 5\)"):
        LSTMCell(3, 5)(cr.randn(2, 3), (cr.zeros(2, 5), cr.zeros(5)))


def test_bad_arguments_are_refused_at_construction():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(NotImplementedError, match="proj_size"):
        LSTM(3, 4, proj_size=2)
    with pytest.warns(UserWarning, match="num_layers=1"):
        GRU(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRU(3, 4, num_layers=2, dropout=0.2)


def test_dtype_mismatch_is_refused():
    with pytest.raises(TypeError, match="float64.*float32"):
        GRU(3, 4)(cr.tensor(np.zeros((2, 1, 3))))


# -- against PyTorch --------------------------------------------------------------------------
def torch_pair(torch, mode, *args, cell=False, **kw):
    """The same layer in both libraries, float64, with torch's weights copied into ours (which
    also checks that names and shapes agree, load_state_dict being strict)."""
    m = make(mode, *args, cell=cell, **kw)
    name = {"tanh": "RNN", "relu": "RNN", "lstm": "LSTM", "gru": "GRU"}[mode]
    if name == "RNN":
        kw["nonlinearity"] = mode
    t = getattr(torch.nn, name + ("Cell" if cell else ""))(*args, **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return m, t


def compare(torch, m, t, x, hs, tuple_state):
    """Forward both, backprop the same random weighting of every output, compare everything."""
    rng = np.random.default_rng(11)
    xs = [cr.tensor(a, requires_grad=True) for a in [x, *hs]]
    ts = [torch.tensor(a, requires_grad=True) for a in [x, *hs]]
    def pack(v):
        return None if not v else tuple(v) if tuple_state else v[0]

    cell = isinstance(m, (RNNCell, GRUCell, LSTMCell))
    ours = outputs(m(xs[0], pack(xs[1:])), cell)
    theirs = outputs(t(ts[0], pack(ts[1:])), cell)
    assert len(ours) == len(theirs)
    ws = [rng.standard_normal(o.shape) for o in ours]
    for o, q in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), q.detach().numpy(), **TOL)
    sum((o * cr.tensor(w)).sum() for o, w in zip(ours, ws)).backward()
    sum((q * torch.tensor(w)).sum() for q, w in zip(theirs, ws)).backward()
    for i, (a, b) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), err_msg=f"input {i}", **TOL)
    theirs_p = dict(t.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_p[name].grad.numpy(), err_msg=name,
                                   **TOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_matches_torch(mode, batch_first, bidirectional, given_state):
    torch = pytest.importorskip("torch")
    m, t = torch_pair(torch, mode, 3, 4, num_layers=2, batch_first=batch_first,
                      bidirectional=bidirectional)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    D = 2 if bidirectional else 1
    hs = states(mode, (2 * D, 2, 4), rng) if given_state else []
    compare(torch, m, t, x, hs, mode == "lstm")


@pytest.mark.parametrize("mode", MODES)
def test_matches_torch_unbatched_and_without_bias(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    m, t = torch_pair(torch, mode, 3, 4, num_layers=2, bidirectional=True, bias=False)
    compare(torch, m, t, rng.standard_normal((5, 3)), states(mode, (4, 4), rng), mode == "lstm")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched", [False, True])
def test_cells_match_torch(mode, batched):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    m, t = torch_pair(torch, mode, 3, 4, cell=True)
    lead = (2,) if batched else ()
    compare(torch, m, t, rng.standard_normal(lead + (3,)), states(mode, lead + (4,), rng),
            mode == "lstm")
