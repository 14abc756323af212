"""nn names with PyTorch's meanings: F.pad (pairs from the last dim, four modes), in-place
activations, the implicit softmax dim, Embedding.from_pretrained, state_dict sharing storage,
load_state_dict's result, zero_grad(set_to_none=False), nn.utils at PyTorch's path."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

R = np.random.default_rng(0)
PADS = [(1, 2), (2, 1, 0, 3), (0, -1, 1, 1), (1, 1, 1, 1, 1, 1)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS, ids=[str(p) for p in PADS])
def test_pad_matches_torch_and_gradchecks(mode, pad) -> None:
    x = R.standard_normal((2, 3, 4, 5))
    k = len(pad) // 2
    legal = mode == "constant" or x.ndim in (k + 1, k + 2)
    torch = pytest.importorskip("torch") if legal else None
    if not legal:
        with pytest.raises(NotImplementedError, match="not supported"):
            F.pad(cr.tensor(x), pad, mode=mode)
        return
    y = F.pad(cr.tensor(x), pad, mode=mode)
    ref = torch.nn.functional.pad(torch.tensor(x), pad, mode=mode)
    np.testing.assert_allclose(y.numpy(), ref.numpy())
    small = R.standard_normal((1, 2, 4, 5))
    assert cr.gradcheck(lambda t: F.pad(t, pad[:4], mode=mode), small)


def test_pad_errors_and_value() -> None:
    x = cr.ones(1, 1, 2, 2)
    np.testing.assert_array_equal(F.pad(x, (1, 0), value=7.0).numpy()[0, 0, 0], [7.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="less than the corresponding input dimension"):
        F.pad(x, (2, 2, 0, 0), mode="reflect")
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1, 2, 3))


def test_inplace_activations_change_their_input() -> None:
    x = cr.tensor([-1.0, 0.5])
    for act in (nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ELU(inplace=True)):
        y = act(x.clone())
        assert y.shape == (2,)
    z = cr.tensor([-1.0, 0.5])
    assert F.relu(z, inplace=True) is z and z.tolist() == [0.0, 0.5]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    h = cr.tensor([-2.0, 3.0], requires_grad=True) * 1  # in place on a non-leaf is recorded
    F.relu(h, inplace=True).sum().backward()


def test_softmax_without_dim_takes_pytorchs_implicit_dim() -> None:
    x = cr.tensor(R.standard_normal((2, 3, 4)))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(0), np.ones((3, 4)), rtol=1e-6)  # dim 0 for 3-D
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(F.softmax(cr.tensor(R.standard_normal((2, 3)))).numpy().sum(1),
                                   np.ones(2), rtol=1e-6)


def test_embedding_from_pretrained() -> None:
    w = cr.tensor(R.standard_normal((4, 3)).astype(np.float32))
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad and emb(cr.tensor([2])).tolist()[0] == w[2].tolist()
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    assert nn.Embedding(4, 3, max_norm=1.0).max_norm == 1.0  # see test_embedding_options.py


def test_state_dict_shares_storage_and_load_reports_keys() -> None:
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert isinstance(sd["weight"], cr.Tensor) and not sd["weight"].requires_grad
    snap = copy.deepcopy(sd)
    with cr.no_grad():
        m.weight.fill_(3.0)
    assert sd["weight"].tolist() == [[3.0, 3.0]] * 2
    assert snap["weight"].tolist() != sd["weight"].tolist()
    res = m.load_state_dict(snap)
    assert res.missing_keys == [] and res.unexpected_keys == [] and repr(res) == \
        "<All keys matched successfully>"
    res = m.load_state_dict({"weight": snap["weight"], "extra": cr.ones(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_zero_grad_set_to_none_false_and_nn_utils() -> None:
    m = nn.Linear(3, 1)
    (m(cr.ones(2, 3)) ** 2).sum().backward()
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and not g.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None
    (m(cr.ones(2, 3)) * 100).sum().backward()
    total = nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)
    assert total.item() > 1.0
    norm = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in m.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-4)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (4,)
    nn.utils.vector_to_parameters(vec * 0, m.parameters())
    assert not m.weight.numpy().any()


def test_module_apply_runs_children_first_and_init_via_apply() -> None:
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    net.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "Sequential", "Sequential"]

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
    net.apply(init_weights)
    assert net[1][0].weight.tolist() == [[0.5, 0.5]] * 2
