"""chainrule.multiprocessing (torch.multiprocessing): tensors in shared memory are the same
numbers in every process, Hogwild training updates one model from several processes,
spawn() runs and reports failures, and tensors travel between processes by value otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as torch  # the programs below are written as for PyTorch
import chainrule.multiprocessing as mp
import chainrule.nn as nn
import chainrule.nn.functional as F


def _add_one(t):
    with torch.no_grad():
        t.add_(1)


def _train(rank, model, steps, seed):
    """pytorch/examples' mnist_hogwild train(), on a linear regression."""
    torch.manual_seed(seed + rank)
    rng = np.random.default_rng(seed + rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        x = torch.tensor(rng.standard_normal((16, 3)), dtype=torch.float32)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()


def _fail(rank):
    if rank == 1:
        raise ValueError("rank 1 gives up")


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_shared_tensor_is_changed_by_a_child_process(method):
    ctx = mp.get_context(method)
    shared = torch.zeros(4).share_memory_()
    plain = torch.zeros(4)
    assert shared.is_shared() and not plain.is_shared()
    for t in (shared, plain):
        p = ctx.Process(target=_add_one, args=(t,))
        p.start()
        p.join()
        assert p.exitcode == 0
    np.testing.assert_array_equal(shared.numpy(), np.ones(4))  # the child's change is seen
    np.testing.assert_array_equal(plain.numpy(), np.zeros(4))  # a copy went to the child


def test_hogwild_training_updates_one_model_from_several_processes():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    model.share_memory()  # gradients are allocated lazily, so they are not shared here
    assert all(p.is_shared() for p in model.parameters())
    before = model.weight.detach().clone()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_train, args=(rank, model, 40, 0)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    w = model.weight.detach().numpy()
    assert not np.allclose(w, before.numpy())  # trained by the children, in place
    np.testing.assert_allclose(w, [[1.0, -2.0, 0.5]], atol=0.05)  # and trained well


def test_spawn_runs_each_rank_and_reports_a_failure():
    t = torch.zeros(3).share_memory_()
    mp.spawn(lambda_free_add, args=(t,), nprocs=3)
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0, 1.0])
    with pytest.raises(mp.ProcessRaisedException, match="rank 1 gives up"):
        mp.spawn(_fail, nprocs=2)


def lambda_free_add(rank, t):
    with torch.no_grad():
        t[rank] += 1


def test_parameters_keep_their_kind_and_non_leaves_are_refused():
    q = mp.get_context("spawn").SimpleQueue()
    p = nn.Parameter(torch.ones(2))
    q.put(p)
    back = q.get()
    assert type(back) is nn.Parameter and back.requires_grad
    with pytest.raises(RuntimeError, match="Cowardly refusing"):
        q.put(p * 2)
