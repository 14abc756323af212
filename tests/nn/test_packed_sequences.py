"""nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence,
unpack_sequence, unpad_sequence, PackedSequence) and RNN / LSTM / GRU over packed sequences:
PyTorch's layouts, lengths, orders and errors; gradients through packing; and, where torch is
importable, every recurrent configuration against torch with copied weights."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

RNG = np.random.default_rng(0)


def seqs(*lengths, requires_grad=False):
    return [cr.tensor(RNG.standard_normal((n, 2)), requires_grad=requires_grad) for n in lengths]


def test_pad_sequence_layouts():
    a, b = cr.tensor([[1.0], [2.0]]), cr.tensor([[3.0]])
    assert pad_sequence([a, b]).tolist() == [[[1.0], [3.0]], [[2.0], [0.0]]]
    assert pad_sequence([a, b], batch_first=True, padding_value=-1).tolist() == [
        [[1.0], [2.0]], [[3.0], [-1.0]]]
    assert pad_sequence([a, b], batch_first=True, padding_side="left").tolist() == [
        [[1.0], [2.0]], [[0.0], [3.0]]]


def test_pack_and_unpack_round_trip():
    xs = seqs(3, 5, 1)
    packed = pack_sequence(xs, enforce_sorted=False)
    assert isinstance(packed, PackedSequence)
    assert packed.batch_sizes.tolist() == [3, 2, 2, 1, 1] and packed.batch_sizes.dtype == cr.int64
    assert packed.sorted_indices.tolist() == [1, 0, 2]
    assert packed.unsorted_indices.tolist() == [1, 0, 2]
    assert packed.data.shape == (9, 2)
    for x, y in zip(xs, unpack_sequence(packed)):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    padded, lengths = pad_packed_sequence(packed, batch_first=True, total_length=7)
    assert padded.shape == (3, 7, 2) and lengths.tolist() == [3, 5, 1]
    back = unpad_sequence(padded, lengths, batch_first=True)
    assert [t.shape[0] for t in back] == [3, 5, 1]


def test_gradients_flow_through_packing():
    xs = seqs(4, 2, 3, requires_grad=True)
    f = lambda a, b, c: pad_packed_sequence(  # noqa: E731
        pack_sequence([a, b, c], enforce_sorted=False), padding_value=0.5)[0] ** 2
    assert cr.gradcheck(f, *xs)
    assert cr.gradgradcheck(f, *xs)


def test_errors_are_pytorchs():
    x = cr.ones(3, 2, 1)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [2, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [3, 0])
    with pytest.raises(RuntimeError, match="equal to batch_size"):
        pack_padded_sequence(x, [3])
    with pytest.raises(RuntimeError, match="empty list"):
        pad_sequence([])
    with pytest.raises(ValueError, match="total_length"):
        pad_packed_sequence(pack_sequence(seqs(3, 1)), total_length=2)


def test_an_lstm_classifier_on_packed_sequences_trains():
    """The tutorial program: embed, pad, pack, run an LSTM, classify from h_n."""
    cr.manual_seed(0)
    emb, lstm, head = nn.Embedding(10, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 2)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
    opt = cr.optim.Adam(params, lr=0.02)
    data = [(cr.tensor(RNG.integers(1, 10, n)), int(n % 2)) for n in (3, 6, 2, 5, 4, 7)]
    losses = []
    for _ in range(30):
        tokens = [t for t, _ in data]
        lengths = [len(t) for t in tokens]
        padded = pad_sequence(tokens, batch_first=True)
        packed = pack_padded_sequence(emb(padded), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, (h, _) = lstm(packed)
        loss = nn.functional.cross_entropy(head(h[-1]), cr.tensor([y for _, y in data]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_h_n_is_each_sequences_last_real_step():
    rnn = nn.GRU(2, 3).double()
    xs = seqs(4, 2, 3)
    out, h = rnn(pack_sequence(xs, enforce_sorted=False))
    assert isinstance(out, PackedSequence)
    for i, x in enumerate(xs):
        _, h_alone = rnn(x.unsqueeze(1))
        np.testing.assert_allclose(h[:, i].numpy(), h_alone[:, 0].numpy(), atol=1e-12)


# -- PyTorch -----------------------------------------------------------------------------------
def test_packing_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as R

    arrays = [RNG.standard_normal((n, 2)) for n in (3, 5, 1, 5)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            ours = pad_sequence([cr.tensor(a) for a in arrays], batch_first, 1.5, side)
            theirs = R.pad_sequence([torch.tensor(a) for a in arrays], batch_first, 1.5, side)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    lengths = [5, 5, 3, 1]
    ordered = [arrays[i] for i in (1, 3, 0, 2)]
    for batch_first in (False, True):
        padded = R.pad_sequence([torch.tensor(a) for a in ordered], batch_first).numpy()
        ours = pack_padded_sequence(cr.tensor(padded), lengths, batch_first)
        theirs = R.pack_padded_sequence(torch.tensor(padded), lengths, batch_first)
        np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
        assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
        up, ul = pad_packed_sequence(ours, batch_first, -2.0, 6)
        tp, tl = R.pad_packed_sequence(theirs, batch_first, -2.0, 6)
        np.testing.assert_array_equal(up.numpy(), tp.numpy())
        assert ul.tolist() == tl.tolist()


def _copy(m, tm):
    for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert n == tn
        p.array[...] = tp.detach().numpy()


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("sort,give_h", [(True, False), (False, False), (False, True)])
def test_recurrent_layers_on_packed_sequences_match_torch(cls, layers, bidirectional, sort,
                                                         give_h):
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as R

    m = getattr(nn, cls)(3, 4, num_layers=layers, bidirectional=bidirectional).double()
    tm = getattr(torch.nn, cls)(3, 4, num_layers=layers, bidirectional=bidirectional).double()
    _copy(m, tm)
    lengths = [5, 3, 3, 1] if sort else [3, 5, 1, 3]
    arrays = [RNG.standard_normal((n, 3)) for n in lengths]
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    D = 2 if bidirectional else 1
    hx = thx = None
    if give_h:
        h0 = [RNG.standard_normal((layers * D, 4, 4)) for _ in range(2 if cls == "LSTM" else 1)]
        hx = tuple(cr.tensor(h, requires_grad=True) for h in h0)
        thx = tuple(torch.tensor(h, requires_grad=True) for h in h0)
        if cls != "LSTM":
            hx, thx = hx[0], thx[0]
    out, h = m(pack_sequence(cs, enforce_sorted=sort), hx)
    tout, th = tm(R.pack_sequence(ts, enforce_sorted=sort), thx)
    hs, ths = (h, th) if cls == "LSTM" else ((h,), (th,))
    np.testing.assert_allclose(out.data.numpy(), tout.data.detach().numpy(), atol=1e-12)
    for a, b in zip(hs, ths):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)
    padded, _ = pad_packed_sequence(out)
    tpadded, _ = R.pad_packed_sequence(tout)
    g = RNG.standard_normal(tuple(tpadded.shape))
    gh = [RNG.standard_normal(tuple(t.shape)) for t in ths]
    loss = (padded * cr.tensor(g)).sum() + sum((a * cr.tensor(q)).sum() for a, q in zip(hs, gh))
    tloss = (tpadded * torch.tensor(g)).sum() + sum((a * torch.tensor(q)).sum()
                                                    for a, q in zip(ths, gh))
    loss.backward()
    tloss.backward()
    for a, b in zip(cs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)
    for (n, p), tp in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-10, err_msg=n)
    if give_h:
        for a, b in zip(hx if cls == "LSTM" else (hx,), thx if cls == "LSTM" else (thx,)):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)
