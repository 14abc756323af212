"""mpiexec -n N python groups.py (N >= 2): new_group and group= on the collectives, gather,
scatter, reduce_scatter, all_gather_into_tensor, reduce_scatter_tensor and the object
collectives, each result checked against what PyTorch's documentation says it is."""

import warnings

import numpy as np

import chainrule as cr
import chainrule.distributed as dist

dist.init_process_group(backend="mpi")
rank, n = dist.get_rank(), dist.get_world_size()
R = dist.ReduceOp


def eq(t, want):
    np.testing.assert_array_equal(t.numpy(), np.asarray(want, dtype=t.numpy().dtype))


# -- gather / scatter on the default group (dst / src default to global rank 0) ----------------
t = cr.tensor([rank, 10 * rank], dtype=cr.float32)
out = [cr.zeros(2) for _ in range(n)] if rank == n - 1 else None
assert dist.gather(t, out, dst=n - 1) is None
if rank == n - 1:
    for r in range(n):
        eq(out[r], [r, 10 * r])
lst = [cr.zeros(2) for _ in range(n)] if rank == 0 else None
dist.gather(t, lst)  # dst=None: rank 0
if rank == 0:
    eq(cr.stack(lst), [[r, 10 * r] for r in range(n)])
if rank == 1:  # gather_list on a non-destination rank: torch's ValueError, before any message
    try:
        dist.gather(t, [cr.zeros(2) for _ in range(n)], dst=0)
        raise AssertionError("gather_list on a non-destination rank was accepted")
    except ValueError as e:
        assert "must NOT be specified on non-destination ranks" in str(e)

recv = cr.zeros(3, dtype=cr.int64)
src_list = [cr.full((3,), 7 * r, dtype=cr.int64) for r in range(n)] if rank == 1 else None
v = recv._version
dist.scatter(recv, src_list, src=1)
eq(recv, [7 * rank] * 3)
assert recv._version == v + 1

# reduce_scatter: output on rank r = sum over ranks q of q's input_list[r]
inputs = [cr.tensor([float(100 * q + rank)]) for q in range(n)]
o = cr.zeros(1)
dist.reduce_scatter(o, inputs, op=R.SUM)
eq(o, [sum(100 * rank + q for q in range(n))])
dist.reduce_scatter(o, inputs, op=R.MAX)
eq(o, [100 * rank + n - 1])

# all_gather_into_tensor: concatenated or stacked, in rank order
x = cr.tensor([rank, rank + 0.5])
cat, stack = cr.zeros(2 * n), cr.zeros(n, 2)
dist.all_gather_into_tensor(cat, x)
dist.all_gather_into_tensor(stack, x)
eq(cat, np.concatenate([[r, r + 0.5] for r in range(n)]))
eq(stack, [[r, r + 0.5] for r in range(n)])
try:
    dist.all_gather_into_tensor(cr.zeros(2 * n + 1), x)
    raise AssertionError("a wrong output size was accepted")
except ValueError as e:
    assert "world_size" in str(e)
# reduce_scatter_tensor: rank r gets the sum over ranks of their r-th part
big = cr.arange(2 * n, dtype=cr.float64) * (rank + 1)
part = cr.zeros(2, dtype=cr.float64)
dist.reduce_scatter_tensor(part, big)
tri = sum(q + 1 for q in range(n))
eq(part, [2 * rank * tri, (2 * rank + 1) * tri])
dist.reduce_scatter_tensor(part, big.reshape(n, 2), op=R.AVG)
np.testing.assert_allclose(part.numpy(), [2 * rank * tri / n, (2 * rank + 1) * tri / n])

# -- object collectives ------------------------------------------------------------------------
objs = [None] * n
dist.all_gather_object(objs, {"rank": rank, "name": f"r{rank}"})
assert objs == [{"rank": r, "name": f"r{r}"} for r in range(n)]
bl = ["foo", 12, {1: 2}] if rank == 1 else [None, None, None]
dist.broadcast_object_list(bl, src=1)
assert bl == ["foo", 12, {1: 2}]
bl = [("zero", 0)] if rank == 0 else [None]
dist.broadcast_object_list(bl)  # src=None: rank 0
assert bl == [("zero", 0)]
got = [None] * n if rank == 0 else None
dist.gather_object({"r": rank}, got, dst=0)
assert got == ([{"r": r} for r in range(n)] if rank == 0 else None)
mine = [None]
dist.scatter_object_list(mine, [f"item {r}" for r in range(n)] if rank == 0 else None, src=0)
assert mine == [f"item {rank}"]

# -- new_group: every rank calls it; members get a group, the others NON_GROUP_MEMBER ----------
odd = dist.new_group([r for r in range(n) if r % 2 == 1])  # group ranks follow global ranks
rev = dist.new_group(list(range(n))[::-1])  # sorted: the same order as the world
last_first = dist.new_group([n - 1] + list(range(n - 1)), sort_ranks=False)
assert dist.get_process_group_ranks(last_first) == [n - 1] + list(range(n - 1))
assert dist.get_rank(last_first) == (0 if rank == n - 1 else rank + 1)
everyone = dist.new_group()
assert dist.get_process_group_ranks(rev) == list(range(n)) and dist.get_rank(rev) == rank
assert dist.get_world_size(everyone) == n
members = [r for r in range(n) if r % 2 == 1]
if rank % 2 == 1:
    assert isinstance(odd, dist.ProcessGroup)
    assert dist.get_rank(odd) == members.index(rank) == odd.rank()
    assert dist.get_world_size(odd) == len(members) == odd.size()
    assert dist.get_process_group_ranks(odd) == members
    assert dist.get_global_rank(odd, 0) == 1 and dist.get_group_rank(odd, 1) == 0
    assert dist.get_backend(odd) == "mpi"
    s = cr.tensor([float(rank)])
    dist.all_reduce(s, group=odd)
    eq(s, [sum(members)])
    # src is a global rank whatever the group; group_src a rank in the group
    b = cr.tensor([float(rank)])
    dist.broadcast(b, src=members[-1], group=odd)
    eq(b, [members[-1]])
    b = cr.tensor([float(rank)])
    dist.broadcast(b, group=odd, group_src=0)
    eq(b, [members[0]])
    try:
        dist.broadcast(b, src=0, group=odd)  # global rank 0 is not in the odd group
        raise AssertionError("a root outside the group was accepted")
    except ValueError as e:
        assert "not part of group" in str(e)
    try:
        dist.broadcast(b, src=1, group=odd, group_src=0)
        raise AssertionError("src and group_src together were accepted")
    except ValueError as e:
        assert "both" in str(e)
    gl = [cr.zeros(1) for _ in members]
    dist.all_gather(gl, cr.tensor([rank * 2.0]), group=odd)
    eq(cr.cat(gl), [2.0 * m for m in members])
    objs = [None] * len(members)
    dist.all_gather_object(objs, rank, group=odd)
    assert objs == members
    dist.barrier(group=odd)
else:
    assert odd is dist.GroupMember.NON_GROUP_MEMBER
    assert dist.get_rank(odd) == -1 and dist.get_world_size(odd) == -1
    s = cr.tensor([float(rank)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dist.all_reduce(s, group=odd) is None  # outside the group: nothing happens
    eq(s, [rank])
    assert any("does not belong to the given group" in str(w.message) for w in caught)

for bad, kind in (([0, 0], "duplicate"), ([n], "out of range")):
    try:
        dist.new_group(bad)
        raise AssertionError(f"new_group({bad}) was accepted")
    except ValueError as e:
        assert kind in str(e), e
try:
    dist.new_group([0], use_local_synchronization=True)
    raise AssertionError("use_local_synchronization was accepted")
except ValueError as e:
    assert "use_local_synchronization" in str(e)

# DDP and SyncBatchNorm over a group: each half of the job trains its own model on its own data;
# inside a half the ranks agree with each other and with one process on the half's global batch
from chainrule import nn, optim  # noqa: E402
from chainrule.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

halves = [list(range(n // 2)), list(range(n // 2, n))]
groups = [dist.new_group(h) for h in halves]
h = 0 if rank < n // 2 else 1
mine, pg = halves[h], groups[h]


def make(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1)).double()


rng = np.random.default_rng(10 + h)  # the half's data
xs, ys = rng.normal(size=(3, 4 * len(mine), 3)), rng.normal(size=(3, 4 * len(mine), 1))
net = nn.SyncBatchNorm.convert_sync_batchnorm(make(100 + rank), process_group=pg)
model = DDP(net, process_group=pg)  # rank mine[0]'s weights win inside the half
opt = optim.SGD(model.parameters(), lr=0.1)
me = mine.index(rank)
for x, y in zip(xs, ys):
    opt.zero_grad()
    part = slice(4 * me, 4 * me + 4)
    nn.functional.mse_loss(model(cr.tensor(x[part])), cr.tensor(y[part])).backward()
    opt.step()
ref = make(100 + mine[0])
ref_opt = optim.SGD(ref.parameters(), lr=0.1)
for x, y in zip(xs, ys):
    ref_opt.zero_grad()
    nn.functional.mse_loss(ref(cr.tensor(x)), cr.tensor(y)).backward()
    ref_opt.step()
for (k, a), b in zip(net.state_dict().items(), ref.state_dict().values()):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-10, err_msg=k)
everyone = [None] * n
dist.all_gather_object(everyone, net[0].weight.numpy().tobytes())
assert all(everyone[r] == everyone[rank] for r in mine)  # bit-identical inside the half
assert n < 4 or everyone[0] != everyone[n - 1]  # and the halves trained different models

dist.destroy_process_group(odd)
if rank % 2 == 1:
    try:
        odd.rank()
        raise AssertionError("a destroyed group still answered")
    except ValueError:
        pass
dist.destroy_process_group()
print(f"rank {rank} of {n}: groups ok")
