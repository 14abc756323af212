"""F.scaled_dot_product_attention and nn.MultiheadAttention: float64 gradcheck and gradgradcheck,
the fused attention op's two backward paths held to each other, PyTorch's names, shapes and
errors, and, where torch is importable, outputs, attention weights and the gradients of inputs
and every parameter against torch (weights copied from torch's state_dict) to 1e-6."""

import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.nn.layers.sdpa import Attention

TOL = dict(rtol=1e-6, atol=1e-8)
E, H = 8, 2


def t64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# -- scaled_dot_product_attention ---------------------------------------------------------------
SDPA_CASES = {
    "plain": dict(shapes=((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))),
    "causal": dict(shapes=((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3)), is_causal=True),
    "causal_L_gt_S": dict(shapes=((1, 6, 3), (1, 4, 3), (1, 4, 2)), is_causal=True),
    "causal_L_lt_S": dict(shapes=((1, 3, 3), (1, 5, 3), (1, 5, 2)), is_causal=True),
    "bool_mask": dict(shapes=((2, 4, 3), (2, 5, 3), (2, 5, 2)), mask="bool"),
    "bool_mask_dead_row": dict(shapes=((2, 4, 3), (2, 5, 3), (2, 5, 2)), mask="dead"),
    "float_mask": dict(shapes=((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2)), mask="float"),
    "scale": dict(shapes=((3, 4), (5, 4), (5, 2)), scale=0.37),
    "broadcast_batch": dict(shapes=((3, 4), (2, 5, 4), (2, 5, 4))),
    "gqa": dict(shapes=((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3)), enable_gqa=True),
}


def _mask(kind, L, S, rng):
    if kind is None:
        return None
    if kind == "float":
        return rng.standard_normal((L, S))
    m = rng.random((L, S)) > 0.4
    m[:, 0] = True
    if kind == "dead":
        m[1] = False  # query 1 may attend to nothing: PyTorch gives zeros, not NaN
    return m


@pytest.mark.parametrize("name", SDPA_CASES)
def test_sdpa_gradcheck_and_gradgradcheck(name, rng):
    case = dict(SDPA_CASES[name])
    shapes, kind = case.pop("shapes"), case.pop("mask", None)
    q, k, v = (t64(rng.standard_normal(s)) for s in shapes)
    mask = _mask(kind, shapes[0][-2], shapes[1][-2], rng)
    inputs = [q, k, v]
    if kind == "float":
        inputs.append(t64(mask))

    def f(q, k, v, *m):
        return F.scaled_dot_product_attention(q, k, v, m[0] if m else
                                              (None if mask is None else cr.tensor(mask)), **case)

    assert cr.gradcheck(f, *inputs)
    assert cr.gradgradcheck(f, *inputs)


@pytest.mark.parametrize("name", SDPA_CASES)
def test_sdpa_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    case = dict(SDPA_CASES[name])
    shapes, kind = case.pop("shapes"), case.pop("mask", None)
    arrays = [rng.standard_normal(s) for s in shapes]
    mask = _mask(kind, shapes[0][-2], shapes[1][-2], rng)
    ours = [t64(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    om = None if mask is None else (t64(mask) if kind == "float" else cr.tensor(mask))
    tm = None if mask is None else torch.tensor(mask, requires_grad=kind == "float")
    y = F.scaled_dot_product_attention(*ours, attn_mask=om, **case)
    yt = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=tm, **case)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
    gy = rng.standard_normal(tuple(yt.shape))
    (y * cr.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    for a, b in zip(ours + ([om] if kind == "float" else []),
                    theirs + ([tm] if kind == "float" else [])):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


def test_fused_attention_backward_paths_agree(rng):
    """The array backward (plain .backward) and the Tensor backward (create_graph) agree, with a
    dead row, a float bias and a dropout mask."""
    q, k, v = (t64(rng.standard_normal(s)) for s in ((2, 4, 3), (2, 5, 3), (2, 5, 2)))
    bias = rng.standard_normal((4, 5))
    bias[2] = -np.inf
    b = t64(bias)
    gy = cr.tensor(rng.standard_normal((2, 4, 2)))
    grads = []
    for create_graph in (False, True):
        y = Attention(0.5, (0.3, np.random.default_rng(7)))(q, k, v, b)
        grads.append(cr.autograd.grad((y * gy).sum(), [q, k, v, b], create_graph=create_graph))
    for a, c in zip(*grads):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-12, atol=1e-12)
    assert np.all(grads[0][0].numpy()[:, 2] == 0)


def test_sdpa_dropout_drops_weights_and_rescales():
    q = cr.zeros(1, 200, 4)  # uniform weights 1/S: each output is the mean of kept values
    v = cr.ones(1, 10, 3)
    cr.manual_seed(0)
    y = F.scaled_dot_product_attention(q, cr.zeros(1, 10, 4), v, dropout_p=0.5).numpy()
    kept = np.round(y[0, :, 0] * 10 * 0.5).astype(int)  # each kept weight is 0.1 / 0.5
    np.testing.assert_allclose(y[0, :, 0], kept * 0.2, rtol=1e-5)
    assert 0.35 < kept.mean() / 10 < 0.65
    assert F.scaled_dot_product_attention(q, cr.zeros(1, 10, 4), v, dropout_p=1.0).abs().sum() == 0


def test_sdpa_errors_name_the_problem():
    q, k, v = cr.randn(2, 3, 4), cr.randn(2, 5, 4), cr.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, k, v, cr.ones(3, 5).bool(), is_causal=True)
    with pytest.raises(RuntimeError, match="at least 2-D"):
        F.scaled_dot_product_attention(cr.randn(4), cr.randn(4), cr.randn(4))
    with pytest.raises(RuntimeError, match=r"\(2, 3, 4\).*\(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q.double(), k, v)
    with pytest.raises(RuntimeError, match="bool or float"):
        F.scaled_dot_product_attention(q, k, v, cr.ones(3, 5).long())
    with pytest.raises(RuntimeError, match="dropout probability"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, cr.zeros(7, 3, 5))
    with pytest.raises(RuntimeError, match="divide"):
        F.scaled_dot_product_attention(cr.randn(1, 3, 2, 4), cr.randn(1, 2, 5, 4),
                                       cr.randn(1, 2, 5, 4), enable_gqa=True)


# -- MultiheadAttention: names, shapes, init ---------------------------------------------------
def test_mha_parameters_are_pytorchs():
    m = nn.MultiheadAttention(E, H)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,))]
    assert m.in_proj_bias.abs().sum() == 0 and m.out_proj.bias.abs().sum() == 0
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform_ over the packed (3E, E) weight
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    assert np.abs(m.in_proj_weight.numpy()).max() > 0.8 * bound
    m = nn.MultiheadAttention(E, H, add_bias_kv=True, kdim=3, vdim=5, bias=False)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)),
        ("bias_k", (1, 1, 8)), ("bias_v", (1, 1, 8)), ("out_proj.weight", (8, 8))]
    assert m.in_proj_weight is None and m.in_proj_bias is None and m.out_proj.bias is None
    assert not m._qkv_same_embed_dim and m.head_dim == 4 and m.dropout == 0.0
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear)
    assert nn.MultiheadAttention(E, H, dtype=cr.float64).in_proj_weight.dtype == cr.float64


def test_mha_shapes_for_every_layout():
    m = nn.MultiheadAttention(E, H)
    x = cr.randn(5, 3, E)
    out, w = m(x, x, x)
    assert out.shape == (5, 3, E) and w.shape == (3, 5, 5)
    out, w = m(x, cr.randn(7, 3, E), cr.randn(7, 3, E), average_attn_weights=False)
    assert out.shape == (5, 3, E) and w.shape == (3, H, 5, 7)
    out, w = m(cr.randn(5, E), cr.randn(7, E), cr.randn(7, E))
    assert out.shape == (5, E) and w.shape == (5, 7)
    out, w = m(x, x, x, need_weights=False)
    assert w is None
    mb = nn.MultiheadAttention(E, H, batch_first=True)
    out, w = mb(cr.randn(3, 5, E), cr.randn(3, 7, E), cr.randn(3, 7, E))
    assert out.shape == (3, 5, E) and w.shape == (3, 5, 7)


def test_mha_errors_are_pytorchs():
    m = nn.MultiheadAttention(E, H)
    x = cr.randn(5, 3, E)
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(E, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(AssertionError, match="3-D"):
        m(x, cr.randn(5, E), cr.randn(5, E))
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(x, x, x, attn_mask=cr.zeros(4, 5))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        m(x, x, x, attn_mask=cr.zeros(3, 5, 5))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="bool and floating"):
        m(x, x, x, key_padding_mask=cr.zeros(3, 5).long())
    with pytest.raises(AssertionError, match="key_padded_mask"):
        m(x, x, x, key_padding_mask=cr.zeros(3, 4).bool())
    with pytest.raises(AssertionError, match="embedding dimension of 8"):
        m(cr.randn(5, 3, 6), x, x)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(x, x, x, key_padding_mask=cr.zeros(3, 5).bool(), attn_mask=cr.zeros(5, 5))


def test_mha_gradcheck_and_gradgradcheck(rng):
    m = nn.MultiheadAttention(4, 2, dtype=cr.float64)
    allowed = rng.random((3, 4)) > 0.7
    allowed[:, 0] = False  # every query sees key 0: no row is masked throughout
    mask = cr.tensor(allowed)
    kpm = cr.tensor(np.array([[False] * 4, [False, False, True, True]]))

    def f(q, kv, W):
        m.in_proj_weight.array[...] = W.numpy()  # gradcheck perturbs W: keep the module's W
        out, w = multi_head(q, kv, W)
        return out.sum() + (w * w).sum()

    def multi_head(q, kv, W):
        return F.multi_head_attention_forward(
            q, kv, kv, 4, 2, W, m.in_proj_bias, None, None, False, 0.0, m.out_proj.weight,
            m.out_proj.bias, key_padding_mask=kpm, attn_mask=mask)

    q, kv = t64(rng.standard_normal((3, 2, 4))), t64(rng.standard_normal((4, 2, 4)))
    W = t64(m.in_proj_weight.numpy())
    assert cr.gradcheck(lambda q, kv, W: multi_head(q, kv, W)[0], q, kv, W)
    assert cr.gradcheck(lambda q, kv, W: multi_head(q, kv, W)[1], q, kv, W)
    assert cr.gradgradcheck(lambda q, kv, W: multi_head(q, kv, W)[0], q, kv, W)
    m.train()
    assert cr.gradcheck(lambda x: m(x, x, x, need_weights=False)[0], q)
    assert cr.gradgradcheck(lambda x: m(x, x, x, need_weights=False)[0], q)


# -- MultiheadAttention against torch ----------------------------------------------------------
def copy_from_torch(ours, theirs):
    """Load torch's state_dict into ours through NumPy, and check names both ways."""
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)
    assert list(ours.state_dict()) == list(sd)
    return ours


def compare(ours, theirs, args, kwargs, torch, rng, check_weights=True):
    """Run both modules on the same float64 inputs (arrays; bool arrays are masks), compare
    every output, then the gradients of float inputs and of every parameter for a random
    upstream gradient."""
    ins = [t64(a, a.dtype != bool) if a is not None else None for a in args]
    tins = [torch.tensor(a, requires_grad=a.dtype != bool) if a is not None else None
            for a in args]
    ins = _alias(ins, args)
    tins = _alias(tins, args)
    kw = {k: (cr.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    outs, touts = ours(*ins, **kw), theirs(*tins, **tkw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    touts = touts if isinstance(touts, tuple) else (touts,)
    loss, tloss = 0, 0
    for y, yt in zip(outs, touts):
        assert (y is None) == (yt is None)
        if y is None or (not check_weights and y is not outs[0]):
            continue
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
        gy = rng.standard_normal(tuple(yt.shape))
        loss, tloss = loss + (y * cr.tensor(gy)).sum(), tloss + (yt * torch.tensor(gy)).sum()
    loss.backward()
    tloss.backward()
    for a, b in zip(ins, tins):
        if a is not None and a.requires_grad and b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        tg = tparams[name].grad
        assert (p.grad is None) == (tg is None), name
        if tg is not None:
            np.testing.assert_allclose(p.grad.numpy(), tg.numpy(), err_msg=name, **TOL)
    return outs


def _alias(tensors, arrays):
    """The same array passed twice becomes the same tensor (self-attention's query is key)."""
    out = []
    for i, a in enumerate(arrays):
        j = next(j for j, b in enumerate(arrays) if b is a)
        out.append(out[j] if j < i else tensors[i])
    return out


def _mha_inputs(kind, bf, batched, rng, L=5, S=6, N=3, kdim=E, vdim=E):
    def tok(T, d):
        if not batched:
            return rng.standard_normal((T, d))
        return rng.standard_normal((N, T, d) if bf else (T, N, d))
    q = tok(L, E)
    if kind == "self":
        return [q, q, q], L
    kv = tok(S, kdim)
    if kind == "cross":
        return [q, kv, kv], S
    return [q, kv, tok(S, vdim)], S


MASKS = ["none", "bool", "float", "kpm", "kpm_float", "both", "causal", "3d"]


def _mha_masks(mask, L, S, N, batched, rng):
    kw = {}
    kpm = rng.random((N, S) if batched else (S,)) < 0.3
    kpm[..., 0] = False
    am = rng.random((L, S)) < 0.3
    am[:, 0] = False
    if mask in ("bool", "both"):
        kw["attn_mask"] = am
    if mask == "float":
        kw["attn_mask"] = rng.standard_normal((L, S))
    if mask in ("kpm", "both"):
        kw["key_padding_mask"] = kpm
    if mask == "kpm_float":
        kw["key_padding_mask"] = np.where(kpm, -np.inf, 0.0)
    if mask == "causal":
        kw["attn_mask"], kw["is_causal"] = np.triu(np.ones((L, S), bool), 1), True
    if mask == "3d":
        kw["attn_mask"] = rng.standard_normal(((N if batched else 1) * H, L, S))
    return kw


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("kind", ["self", "cross", "kvdim"])
@pytest.mark.parametrize("bf,batched", [(False, True), (True, True), (False, False)])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_matches_torch(mask, kind, bf, batched, need_weights, average, rng):
    torch = pytest.importorskip("torch")
    dims = dict(kdim=3, vdim=5) if kind == "kvdim" else {}
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=bf, dtype=torch.float64, **dims)
    ours = copy_from_torch(nn.MultiheadAttention(E, H, batch_first=bf, dtype=cr.float64,
                                                 **dims), theirs)
    args, S = _mha_inputs(kind, bf, batched, rng, **dims)
    if mask == "causal" and kind != "self":
        S = 5
        args, _ = _mha_inputs(kind, bf, batched, rng, S=S, **dims)
    kw = _mha_masks(mask, 5, S, 3, batched, rng)
    kw.update(need_weights=need_weights, average_attn_weights=average)
    compare(ours, theirs, args, kw, torch, rng)


@pytest.mark.parametrize("opts", [dict(add_bias_kv=True), dict(add_zero_attn=True),
                                  dict(add_bias_kv=True, add_zero_attn=True), dict(bias=False),
                                  dict(add_bias_kv=True, kdim=3, vdim=5)])
@pytest.mark.parametrize("mask", ["none", "both", "causal"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_options_match_torch(opts, mask, need_weights, rng):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **opts)
    ours = copy_from_torch(nn.MultiheadAttention(E, H, dtype=cr.float64, **opts), theirs)
    dims = {k: opts[k] for k in ("kdim", "vdim") if k in opts}
    args, S = _mha_inputs("kvdim" if dims else "self", False, True, rng, S=5, **dims)
    kw = _mha_masks(mask, 5, S, 3, True, rng)
    compare(ours, theirs, args, dict(kw, need_weights=need_weights), torch, rng)


@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("mask", ["none", "kpm", "both"])
def test_mha_eval_mode_matches_torch(bf, mask, rng):
    """Eval mode with dropout: no dropout is applied; under no_grad torch takes its fused fast
    path for batch-first self-attention, and the outputs still agree."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(E, H, dropout=0.5, batch_first=bf,
                                         dtype=torch.float64).eval()
    ours = copy_from_torch(nn.MultiheadAttention(E, H, dropout=0.5, batch_first=bf,
                                                 dtype=cr.float64), theirs).eval()
    args, S = _mha_inputs("self", bf, True, rng)
    kw = _mha_masks(mask, 5, S, 3, True, rng)
    compare(ours, theirs, args, kw, torch, rng)
    x = args[0]
    tkw = {k: torch.tensor(v) for k, v in kw.items()}
    with torch.no_grad(), cr.no_grad():
        xt = torch.tensor(x)
        yt, wt = theirs(xt, xt, xt, **tkw)
        xo = cr.tensor(x)
        y, w = ours(xo, xo, xo, **{k: cr.tensor(v) for k, v in kw.items()})
    np.testing.assert_allclose(y.numpy(), yt.numpy(), **TOL)
    np.testing.assert_allclose(w.numpy(), wt.numpy(), **TOL)


def test_mha_dropout_applies_in_training_only():
    m = nn.MultiheadAttention(E, H, dropout=0.5)
    x = cr.randn(6, 2, E)
    w_train = m(x, x, x)[1]
    assert not np.allclose(w_train.sum(-1).numpy(), 1)  # dropped and rescaled weights
    m.eval()
    a, wa = m(x, x, x)
    np.testing.assert_allclose(wa.sum(-1).numpy(), 1, rtol=1e-5)
    np.testing.assert_allclose(m(x, x, x)[0].numpy(), a.numpy())


def test_functional_mha_static_kv_matches_torch(rng):
    torch = pytest.importorskip("torch")
    m = torch.nn.MultiheadAttention(E, H, dtype=torch.float64)
    q = rng.standard_normal((5, 3, E))
    sk, sv = rng.standard_normal((3 * H, 4, E // H)), rng.standard_normal((3 * H, 4, E // H))
    args = [m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0, m.out_proj.weight,
            m.out_proj.bias]
    yt, wt = torch.nn.functional.multi_head_attention_forward(
        torch.tensor(q), torch.tensor(q), torch.tensor(q), E, H, *args,
        static_k=torch.tensor(sk), static_v=torch.tensor(sv))
    ours = [None if a is None else (t64(a.detach().numpy()) if hasattr(a, "detach") else a)
            for a in args]
    xq = t64(q)
    y, w = F.multi_head_attention_forward(xq, xq, xq, E, H, *ours, static_k=t64(sk),
                                          static_v=t64(sv))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), **TOL)


def test_state_dict_round_trips_to_torch():
    torch = pytest.importorskip("torch")
    for opts in itertools.product([True, False], [None, 3]):
        ours = nn.MultiheadAttention(E, H, bias=opts[0], kdim=opts[1], add_bias_kv=True)
        theirs = torch.nn.MultiheadAttention(E, H, bias=opts[0], kdim=opts[1], add_bias_kv=True)
        res = theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                      for k, v in ours.state_dict().items()})
        assert not res.missing_keys and not res.unexpected_keys
        for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert n == tn
            np.testing.assert_array_equal(p.numpy(), tp.detach().numpy())
