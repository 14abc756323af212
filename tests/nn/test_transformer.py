"""TransformerEncoderLayer, TransformerDecoderLayer, their stacks and nn.Transformer against
PyTorch (weights copied from torch's state_dict): outputs and the gradients of the inputs and of
every parameter to 1e-6 in float64, in train mode with dropout 0 and in eval mode, with and
without masks (bool, float, key padding, causal), batch_first and norm_first both ways; PyTorch's
names, defaults and errors; a float64 gradcheck of a tiny encoder layer."""

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

TOL = dict(rtol=1e-6, atol=1e-8)
D, NH, FF = 8, 2, 16
# torch's own note that its nested-tensor fast path is off (norm_first or not batch_first)
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


def check_against_torch(ours, theirs, torch, rng, args, kwargs, grads=True):
    """Copy torch's weights into ours (names checked both ways), run both on the same float64
    inputs (bool arrays are masks), compare outputs, then every input and parameter gradient."""
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)
    assert list(ours.state_dict()) == list(sd)
    ins = [cr.tensor(a, requires_grad=grads) for a in args]
    tins = [torch.tensor(a, requires_grad=grads) for a in args]
    kw = {k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    y, yt = ours(*ins, **kw), theirs(*tins, **tkw)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
    if not grads:
        return y
    gy = rng.standard_normal(tuple(yt.shape))
    (y * cr.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), err_msg=name,
                                   **TOL)
    return y


def tokens(T, bf, rng, N=3, batched=True):
    if not batched:
        return rng.standard_normal((T, D))
    return rng.standard_normal((N, T, D) if bf else (T, N, D))


def masks(kind, T, S, rng, N=3, prefix="src", batched=True, causal_name="is_causal"):
    """kwargs for one mask case of a (T queries, S keys) attention."""
    pad = rng.random((N, S) if batched else (S,)) < 0.3
    pad[..., 0] = False
    am = rng.random((T, S)) < 0.3
    am[:, 0] = False
    name = {"src": "src_mask", "tgt": "tgt_mask", "memory": "memory_mask", "": "mask"}[prefix]
    kpm = f"{prefix or 'src'}_key_padding_mask"
    out = {}
    if kind in ("bool", "both"):
        out[name] = am
    if kind == "float":
        out[name] = rng.standard_normal((T, S))
    if kind in ("kpm", "both"):
        out[kpm] = pad
    if kind == "causal":
        out[name] = np.triu(np.full((T, S), -np.inf), 1)
        out[causal_name] = True
    return out


def torch_layer(torch, cls, bf, norm_first, dropout=0.0, **kw):
    return getattr(torch.nn, cls)(D, NH, FF, dropout, batch_first=bf, norm_first=norm_first,
                                  dtype=torch.float64, **kw)


def our_layer(cls, bf, norm_first, dropout=0.0, **kw):
    return getattr(nn, cls)(D, NH, FF, dropout, batch_first=bf, norm_first=norm_first,
                            dtype=cr.float64, **kw)


MASKS = ["none", "bool", "float", "kpm", "both", "causal"]


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_encoder_layer_matches_torch(mask, bf, norm_first, train, rng):
    torch = pytest.importorskip("torch")
    theirs = torch_layer(torch, "TransformerEncoderLayer", bf, norm_first, 0.0 if train else 0.3)
    ours = our_layer("TransformerEncoderLayer", bf, norm_first, 0.0 if train else 0.3)
    ours.train(train), theirs.train(train)
    check_against_torch(ours, theirs, torch, rng, [tokens(5, bf, rng)], masks(mask, 5, 5, rng))


@pytest.mark.parametrize("activation", ["gelu", "relu_module", "callable"])
@pytest.mark.parametrize("opts", [{}, dict(bias=False), dict(layer_norm_eps=1e-3)])
def test_encoder_layer_options_match_torch(activation, opts, rng):
    torch = pytest.importorskip("torch")
    acts = {"gelu": ("gelu", "gelu"), "relu_module": (torch.nn.ReLU(), nn.ReLU()),
            "callable": (lambda x: torch.tanh(x) * 2, lambda x: x.tanh() * 2)}[activation]
    theirs = torch_layer(torch, "TransformerEncoderLayer", True, False, activation=acts[0],
                         **opts)
    ours = our_layer("TransformerEncoderLayer", True, False, activation=acts[1], **opts)
    check_against_torch(ours, theirs, torch, rng, [tokens(4, True, rng)], {})
    assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu


@pytest.mark.parametrize("mask", ["none", "bool", "float", "kpm", "both", "causal"])
@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_decoder_layer_matches_torch(mask, bf, norm_first, train, rng):
    torch = pytest.importorskip("torch")
    theirs = torch_layer(torch, "TransformerDecoderLayer", bf, norm_first, 0.0 if train else 0.3)
    ours = our_layer("TransformerDecoderLayer", bf, norm_first, 0.0 if train else 0.3)
    ours.train(train), theirs.train(train)
    kw = masks(mask, 4, 4, rng, prefix="tgt", causal_name="tgt_is_causal")
    mem = masks("both" if mask == "both" else "none", 4, 6, rng, prefix="memory")
    check_against_torch(ours, theirs, torch, rng, [tokens(4, bf, rng), tokens(6, bf, rng)],
                        {**kw, **mem})


@pytest.mark.parametrize("mask", ["none", "both", "causal", "causal_detected", "kpm"])
@pytest.mark.parametrize("bf,norm_first", [(False, False), (True, True), (True, False)])
def test_encoder_stack_matches_torch(mask, bf, norm_first, rng):
    torch = pytest.importorskip("torch")
    tl = torch_layer(torch, "TransformerEncoderLayer", bf, norm_first)
    theirs = torch.nn.TransformerEncoder(tl, 2, torch.nn.LayerNorm(D, dtype=torch.float64),
                                         enable_nested_tensor=False)
    ours = nn.TransformerEncoder(our_layer("TransformerEncoderLayer", bf, norm_first), 2,
                                 nn.LayerNorm(D, dtype=cr.float64), enable_nested_tensor=False)
    kw = masks("causal" if mask == "causal_detected" else mask, 5, 5, rng, prefix="")
    if mask == "causal_detected":
        del kw["is_causal"]  # None: the stack recognises the causal mask itself
    check_against_torch(ours, theirs, torch, rng, [tokens(5, bf, rng)], kw)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_encoder_stack_eval_nested_tensor_path_matches_torch(rng):
    """In eval mode without gradients, PyTorch runs a batch-first stack on a nested tensor and
    returns zeros (before the final norm) at padded positions; chainrule gives the same."""
    torch = pytest.importorskip("torch")
    tl = torch_layer(torch, "TransformerEncoderLayer", True, False)
    theirs = torch.nn.TransformerEncoder(tl, 2, torch.nn.LayerNorm(D, dtype=torch.float64))
    ours = nn.TransformerEncoder(our_layer("TransformerEncoderLayer", True, False), 2,
                                 nn.LayerNorm(D, dtype=cr.float64))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = tokens(4, True, rng)
    for pad in ([[False, False, True, True], [False] * 4, [False, True, True, True]],
                [[True, False, False, False], [False] * 4, [False] * 4]):  # not left-aligned
        with torch.no_grad(), cr.no_grad():
            yt = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(pad))
            y = ours(cr.tensor(x), src_key_padding_mask=cr.tensor(np.array(pad)))
        np.testing.assert_allclose(y.numpy(), yt.numpy(), **TOL)


@pytest.mark.parametrize("mask", ["none", "both", "causal_detected"])
@pytest.mark.parametrize("bf,norm_first", [(False, False), (True, True)])
def test_decoder_stack_matches_torch(mask, bf, norm_first, rng):
    torch = pytest.importorskip("torch")
    tl = torch_layer(torch, "TransformerDecoderLayer", bf, norm_first)
    theirs = torch.nn.TransformerDecoder(tl, 2, torch.nn.LayerNorm(D, dtype=torch.float64))
    ours = nn.TransformerDecoder(our_layer("TransformerDecoderLayer", bf, norm_first), 2,
                                 nn.LayerNorm(D, dtype=cr.float64))
    kw = masks("causal" if mask == "causal_detected" else mask, 4, 4, rng, prefix="tgt")
    kw.pop("is_causal", None)
    check_against_torch(ours, theirs, torch, rng, [tokens(4, bf, rng), tokens(5, bf, rng)], kw)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # float tgt_mask, bool padding
@pytest.mark.parametrize("bf,norm_first", [(False, False), (True, True), (True, False)])
@pytest.mark.parametrize("train", [True, False])
def test_transformer_matches_torch(bf, norm_first, train, rng):
    torch = pytest.importorskip("torch")
    kw = dict(d_model=D, nhead=NH, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=FF, dropout=0.0 if train else 0.2, batch_first=bf,
              norm_first=norm_first)
    theirs = torch.nn.Transformer(**kw, dtype=torch.float64).train(train)
    ours = nn.Transformer(**kw, dtype=cr.float64).train(train)
    src, tgt = tokens(6, bf, rng), tokens(4, bf, rng)
    m = masks("both", 4, 6, rng, prefix="memory")
    m.update(masks("both", 6, 6, rng, prefix="src"))
    m["tgt_mask"] = np.asarray(nn.Transformer.generate_square_subsequent_mask(4).double())
    m["tgt_key_padding_mask"] = np.zeros((3, 4), bool)
    check_against_torch(ours, theirs, torch, rng, [src, tgt], m)


def test_transformer_unbatched_matches_torch(rng):
    torch = pytest.importorskip("torch")
    kw = dict(d_model=D, nhead=NH, num_encoder_layers=1, num_decoder_layers=1,
              dim_feedforward=FF, dropout=0.0)
    theirs = torch.nn.Transformer(**kw, dtype=torch.float64)
    ours = nn.Transformer(**kw, dtype=cr.float64)
    src, tgt = tokens(5, False, rng, batched=False), tokens(3, False, rng, batched=False)
    mask = masks("kpm", 5, 5, rng, batched=False)
    check_against_torch(ours, theirs, torch, rng, [src, tgt],
                        dict(tgt_mask=np.triu(np.ones((3, 3), bool), 1), **mask))


def test_state_dicts_load_both_ways_and_init_follows_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Transformer(D, NH, 2, 1, FF)
    theirs = torch.nn.Transformer(D, NH, 2, 1, FF)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    res = theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                  for k, v in ours.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    for name, p in ours.named_parameters():  # Xavier-uniform for every matrix
        if p.ndim > 1:
            bound = np.sqrt(6 / sum(p.shape))
            assert np.abs(p.numpy()).max() <= bound, name
    layer = ours.encoder.layers[0]
    assert [type(m).__name__ for m in layer.children()] == [
        type(m).__name__ for m in theirs.encoder.layers[0].children()]
    assert ours.encoder.layers[0] is not ours.encoder.layers[1]
    assert not np.shares_memory(ours.encoder.layers[0].linear1.weight.numpy(),
                                ours.encoder.layers[1].linear1.weight.numpy())


def test_defaults_are_pytorchs():
    t = nn.Transformer()
    assert (t.d_model, t.nhead, len(t.encoder.layers), len(t.decoder.layers)) == (512, 8, 6, 6)
    layer = t.encoder.layers[0]
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1
    assert layer.activation is F.relu and layer.norm1.eps == 1e-5 and not layer.norm_first
    assert not layer.self_attn.batch_first and layer.self_attn.dropout == 0.1
    assert nn.TransformerEncoderLayer(4, 2, activation="gelu").activation is F.gelu
    with pytest.raises(RuntimeError, match="relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")


def test_generate_square_subsequent_mask_is_pytorchs():
    torch = pytest.importorskip("torch")
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == cr.float32
    np.testing.assert_array_equal(m.numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=cr.float64).dtype == cr.float64


def test_transformer_errors_are_pytorchs():
    t = nn.Transformer(D, NH, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        t(cr.randn(5, 3, D), cr.randn(4, 2, D))
    with pytest.raises(RuntimeError, match="feature number"):
        t(cr.randn(5, 3, D), cr.randn(4, 3, D + 1))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        t.encoder(cr.randn(5, 3, D), is_causal=True)


def test_custom_encoder_and_decoder_are_used():
    class Enc(nn.Module):
        def forward(self, src, **kw):
            return src * 2

    class Dec(nn.Module):
        def forward(self, tgt, memory, **kw):
            return tgt + memory.mean()

    enc = Enc()
    t = nn.Transformer(D, NH, custom_encoder=enc, custom_decoder=Dec())
    assert t.encoder is enc and sum(p.numel() for p in t.parameters()) == 0
    x = cr.ones(2, 1, D)
    np.testing.assert_allclose(t(x, x).numpy(), 3)


def test_tiny_encoder_layer_gradcheck(rng):
    layer = nn.TransformerEncoderLayer(4, 2, 6, 0.0, batch_first=True, dtype=cr.float64)
    x = cr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=cr.float64)
    assert cr.gradcheck(lambda x: layer(x, causal, is_causal=True), x)
    assert cr.gradcheck(lambda x: layer(x, src_key_padding_mask=cr.tensor(
        np.array([[False, False, True], [False] * 3]))), x)


def test_deepcopied_layers_train_independently():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, 0.0), 2,
                                enable_nested_tensor=False)
    before = copy.deepcopy(enc.state_dict())
    opt = cr.optim.SGD(enc.parameters(), lr=0.1)
    enc(cr.randn(3, 2, 4)).pow(2).sum().backward()
    opt.step()
    after = enc.state_dict()
    changed = [k for k in after if not np.allclose(after[k].numpy(), before[k].numpy())]
    assert any(k.startswith("layers.0.") for k in changed)
    assert any(k.startswith("layers.1.") for k in changed)
