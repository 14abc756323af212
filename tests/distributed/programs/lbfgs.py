"""mpiexec -n N python lbfgs.py OUTDIR MODE [LINE_SEARCH]: LBFGS (a closure-based optimizer that
evaluates the loss several times per step) on an MLP, rank r on its slice of the global batch.
MODE ddp: DistributedDataParallel, the closure returning the global batch's loss (all_reduce
AVG; LBFGS decides on the losses); ddp-local: the rank's own loss, which desynchronizes the ranks
(with a line search the job hangs); horovod: DistributedOptimizer, which averages each
evaluation's gradients and loss itself (the closure is the one-process one); single: alone, on
the whole batch. The weights go to OUTDIR/lbfgs.<rank or single>.npz."""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.nn.parallel import DistributedDataParallel as DDP

outdir, mode = sys.argv[1], sys.argv[2]
line_search = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "none" else None
rank, world = 0, 1
if mode != "single":
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
cr.manual_seed(0 if rank == 0 else 7 + rank)  # other ranks start elsewhere: rank 0's wins
net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1)).double()
rng = np.random.default_rng(0)
x = cr.tensor(rng.normal(size=(32, 6)))
y = cr.tensor(np.sin(rng.normal(size=(32, 1)) + x.numpy()[:, :1]))
share = 32 // world
x, y = x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]
if mode in ("ddp", "ddp-local"):
    model = DDP(net)
    opt = optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, line_search_fn=line_search)
elif mode == "horovod":
    model = net
    dist.broadcast_parameters(model.state_dict(), root_rank=0)
    opt = dist.DistributedOptimizer(
        optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, line_search_fn=line_search))
else:
    model = net
    opt = optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, line_search_fn=line_search)


def closure():
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    if world > 1 and mode == "ddp":  # LBFGS decides on the loss: the global batch's, everywhere
        loss = loss.detach().clone()
        dist.all_reduce(loss, op=dist.ReduceOp.AVG)
    return loss


for _ in range(5):
    opt.step(closure)
tag = "single" if mode == "single" else str(rank)
np.savez(f"{outdir}/lbfgs.{tag}.npz", **{k: v.numpy() for k, v in net.state_dict().items()})
print(f"rank {tag} done")
