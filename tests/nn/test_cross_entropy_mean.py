"""The fused mean cross-entropy (F.cross_entropy's default case in one node): derivatives to
second order, its two backward paths against each other, torch in float32 and float64, and the
cases that must leave it for the general path (ignored or invalid targets, weights)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

RNG = np.random.default_rng(3)
LOGITS = RNG.standard_normal((6, 5)) * 3
LABELS = np.array([0, 4, 2, 2, 1, 3])


def test_default_cross_entropy_is_one_fused_node() -> None:
    x = cr.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(x, LABELS)
    assert loss.shape == () and type(loss.creator).__name__ == "SoftmaxCrossEntropy"
    assert loss.creator.mean  # the fast path was taken: no separate Mean node


def test_gradcheck_and_gradgradcheck() -> None:
    assert cr.gradcheck(lambda x: F.cross_entropy(x, LABELS), LOGITS.copy())
    assert cr.gradgradcheck(lambda x: F.cross_entropy(x, LABELS), LOGITS.copy())


def test_plain_and_create_graph_backward_agree() -> None:
    x = cr.tensor(LOGITS, requires_grad=True)
    (F.cross_entropy(x, LABELS) * 2.5).backward()
    (g,) = cr.autograd.grad(F.cross_entropy(x, LABELS) * 2.5, [x], create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), g.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_matches_torch(dtype: type, tol: float) -> None:
    torch = pytest.importorskip("torch")
    x = cr.tensor(LOGITS.astype(dtype), requires_grad=True)
    tx = torch.tensor(LOGITS.astype(dtype), requires_grad=True)
    ours = F.cross_entropy(x, LABELS)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(LABELS))
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("kwargs,target", [
    ({"ignore_index": 2}, LABELS),                      # a target equals ignore_index
    ({}, np.array([0, 4, -100, 2, 1, 3])),              # the default ignore_index hit
    ({"weight": np.arange(1.0, 6.0)}, LABELS),
    ({"label_smoothing": 0.1}, LABELS),
    ({"reduction": "sum"}, LABELS),
])
def test_other_cases_still_match_torch(kwargs: dict, target: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    x = cr.tensor(LOGITS, requires_grad=True)
    tx = torch.tensor(LOGITS, requires_grad=True)
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours = F.cross_entropy(x, target, **kwargs)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(target), **tkw)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_out_of_range_target_still_raises() -> None:
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(cr.tensor(LOGITS), np.array([0, 5, 1, 1, 1, 1]))


def test_a_target_of_the_wrong_shape_still_raises() -> None:
    with pytest.raises(ValueError, match=r"cross_entropy.*\(6, 5\).*\(3,\)"):
        F.cross_entropy(cr.tensor(LOGITS), np.array([0, 1, 2]))


def test_a_training_step_as_users_write_it() -> None:
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in model.state_dict().items()})
    loss_fn, t_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    t_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    x = RNG.standard_normal((16, 5)).astype(np.float32)
    y = RNG.integers(0, 3, 16)
    for _ in range(5):
        loss = loss_fn(model(cr.tensor(x)), cr.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_loss = t_loss_fn(ref(torch.from_numpy(x)), torch.from_numpy(y))
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-5)
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
