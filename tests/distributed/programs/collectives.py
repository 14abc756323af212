"""mpiexec -n N python collectives.py: torch.distributed's collectives on every rank, each
result checked against what it must be (an AssertionError aborts the job with exit 1)."""

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.distributed.nn as dnn
from chainrule.data import DistributedSampler
from chainrule.nn.parallel import DistributedDataParallel

dist.init_process_group(backend="mpi")
assert dist.is_initialized() and dist.get_backend() == "mpi"
rank, n = dist.get_rank(), dist.get_world_size()
values = [np.array([1.5, -2.0, 3.0]) * (r + 1) + r for r in range(n)]  # rank r's tensor
R = dist.ReduceOp
expect = {R.SUM: np.sum(values, 0), R.AVG: np.mean(values, 0), R.PRODUCT: np.prod(values, 0),
          R.MIN: np.min(values, 0), R.MAX: np.max(values, 0)}
for dtype in (cr.float32, cr.float64):
    for op, want in expect.items():
        t = cr.tensor(values[rank], dtype=dtype)
        v = t._version
        assert dist.all_reduce(t, op=op) is None
        assert t.dtype == dtype and t._version == v + 1, (op, t.dtype, t._version)
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-6, err_msg=str(op))
ints = [np.array([5, 6, 12]) + 3 * r for r in range(n)]
for op, f in ((R.BAND, np.bitwise_and), (R.BOR, np.bitwise_or), (R.BXOR, np.bitwise_xor),
              (R.SUM, np.add)):
    t = cr.tensor(ints[rank])
    dist.all_reduce(t, op)
    assert t.dtype == cr.int64 and t.tolist() == f.reduce(ints).tolist(), op

flags = cr.tensor([rank == 0, True, False])  # bool: SUM and MAX are "any", MIN is "all"
for op, want in ((R.SUM, [True, True, False]), (R.MAX, [True, True, False]),
                 (R.MIN, [n == 1, True, False])):
    t = flags.clone()
    dist.all_reduce(t, op)
    assert t.dtype == cr.bool and t.tolist() == want, (op, t)

# a strided view: the base changes where the view is, and the base's version moves
base = cr.zeros(3, 4, dtype=cr.float64) + rank
col = base[:, 1]
dist.all_reduce(col)
assert base[:, 1].tolist() == [sum(range(n))] * 3 and base[:, 0].tolist() == [rank] * 3
assert base._version == col._version == 1

# a parameter that requires grad changes in place without being recorded, as in PyTorch
p = cr.nn.Parameter(cr.ones(2))
dist.all_reduce(p)
assert p.tolist() == [float(n)] * 2 and p.requires_grad and p.grad_fn is None

# async_op: the tensor holds the result after wait()
t = cr.tensor(values[rank])
work = dist.all_reduce(t, async_op=True)
assert work.wait() is True and np.allclose(t.numpy(), expect[R.SUM])

src = n - 1
t = cr.tensor(values[rank])
dist.broadcast(t, src=src)
assert np.array_equal(t.numpy(), values[src])
work = dist.broadcast(cr.tensor(values[rank]), 0, async_op=True)
assert work.wait()

gathered = [cr.zeros(3, dtype=cr.float64) for _ in range(n)]
dist.all_gather(gathered, cr.tensor(values[rank]))
assert all(np.array_equal(g.numpy(), values[r]) for r, g in enumerate(gathered))
try:
    dist.all_gather([cr.zeros(2)] * n, cr.zeros(3))
    raise AssertionError("all_gather accepted tensors of the wrong shape")
except RuntimeError as e:
    assert "all_gather" in str(e) and "index 0" in str(e)

dst = n - 1
t = cr.tensor(values[rank])
dist.reduce(t, dst=dst, op=R.MAX)
assert np.array_equal(t.numpy(), expect[R.MAX] if rank == dst else values[rank])
try:
    dist.broadcast(t, src=n)
    raise AssertionError("broadcast accepted a root outside the world")
except RuntimeError as e:
    assert f"invalid root rank: {n}" in str(e)

# DistributedSampler takes num_replicas and rank from the process group, as in PyTorch
s = DistributedSampler(range(10), shuffle=False)
padded = list(range(10)) + list(range((-10) % n))  # padded with the start, as PyTorch pads
assert (s.num_replicas, s.rank) == (n, rank) and list(s) == padded[rank::n]

# the differentiable all_reduce (torch.distributed.nn.functional): gradients cross ranks
x = cr.ones(3, dtype=cr.float64, requires_grad=True)
y = dnn.functional.all_reduce(x * (rank + 1))
assert y.tolist() == [n * (n + 1) / 2] * 3
(y * (rank + 1)).sum().backward()  # the total loss is the sum over ranks of these
assert x.grad.tolist() == [(rank + 1) * n * (n + 1) / 2] * 3, x.grad

# DDP broadcasts rank 0's buffers at wrap time and before each forward (broadcast_buffers)
bn = cr.nn.BatchNorm1d(3)
with cr.no_grad():
    bn.running_mean.fill_(float(rank))
model = DistributedDataParallel(cr.nn.Sequential(cr.nn.Linear(3, 3), bn))
assert bn.running_mean.tolist() == [0.0] * 3
model(cr.randn(8, 3) + rank)  # train mode: each rank updates its statistics from its batch
mine = bn.running_mean.numpy().copy()
with cr.no_grad():
    model.eval()(cr.randn(2, 3))
everyone = [cr.zeros(3) for _ in range(n)]
dist.all_gather(everyone, bn.running_mean)
assert all(np.array_equal(e.numpy(), everyone[0].numpy()) for e in everyone)
assert rank != 0 or np.array_equal(mine, everyone[0].numpy())

# group=None and group.WORLD name the default group; a group is one of those or new_group's
assert dist.get_rank(dist.group.WORLD) == rank and dist.get_world_size(group=None) == n
try:
    dist.all_reduce(cr.ones(1), group=object())
    raise AssertionError("something that is not a group was accepted")
except TypeError as e:
    assert "new_group" in str(e)

dist.barrier(group=dist.group.WORLD)
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank} of {n}: collectives ok")
