"""mpiexec -n 2 python failure_drill.py TOKEN main|thread: rank 1 raises (in its main thread or
in another) at step 3 of a DDP training loop while rank 0 goes on into its next Allreduce;
init_process_group's excepthooks must abort the whole job. TOKEN only names this run, so the
test can look for processes left behind."""

import sys
import threading

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.nn.parallel import DistributedDataParallel as DDP


def boom(step):
    raise RuntimeError(f"boom at step {step} ({sys.argv[1]})")


dist.init_process_group("mpi")
rank = dist.get_rank()
model = DDP(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
opt = optim.SGD(model.parameters(), lr=0.1)
for step in range(1000):
    if rank == 1 and step == 3:
        if sys.argv[2] == "thread":  # an exception in another thread ends the job too
            t = threading.Thread(target=boom, args=(step,))
            t.start()
            t.join()
        else:
            boom(step)
    opt.zero_grad()
    model(cr.randn(8, 4)).pow(2).mean().backward()
    opt.step()
print("not reached: the job should have been aborted")
