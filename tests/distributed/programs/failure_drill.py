"""mpiexec -n 2 python failure_drill.py TOKEN main|thread|exit|exit3: rank 1 raises (in its main
thread or in another), or calls sys.exit with a message or with 3, at step 3 of a DDP training
loop while rank 0 goes on into its next Allreduce; the job must end (init_process_group's
hooks abort it). TOKEN only names this run, so the test can look for processes left behind."""

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
        elif sys.argv[2] == "exit":  # sys.exit(message): exit status 1, the message printed
            sys.exit(f"boom at step {step} ({sys.argv[1]})")
        elif sys.argv[2] == "exit3":  # sys.exit(3): the job's exit status is 3
            print(f"boom at step {step} ({sys.argv[1]})", file=sys.stderr)
            sys.exit(3)
        else:
            boom(step)
    opt.zero_grad()
    model(cr.randn(8, 4)).pow(2).mean().backward()
    opt.step()
print("not reached: the job should have been aborted")
