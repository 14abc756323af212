"""PyTorch's "Getting Started with Distributed Data Parallel" tutorial (demo_basic and
demo_checkpoint, the torchrun form), with the imports renamed and backend "mpi":
`mpiexec -n 2 python tutorial.py CHECKPOINT_DIR`. At the end each rank prints a digest of its
weights, which the test compares across ranks."""

import hashlib
import os
import sys

import chainrule as torch
import chainrule.distributed as dist
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.nn.parallel import DistributedDataParallel as DDP


class ToyModel(nn.Module):
    def __init__(self):
        super(ToyModel, self).__init__()
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def demo_basic():
    rank = dist.get_rank()
    print(f"Start running basic DDP example on rank {rank}.")
    model = ToyModel()
    ddp_model = DDP(model)

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.001)

    optimizer.zero_grad()
    outputs = ddp_model(torch.randn(20, 10))
    labels = torch.randn(20, 5)
    loss_fn(outputs, labels).backward()
    optimizer.step()
    print(f"Finished running basic DDP example on rank {rank}.")
    return ddp_model


def demo_checkpoint(rank, world_size):
    print(f"Running DDP checkpoint example on rank {rank}.")
    model = ToyModel()
    ddp_model = DDP(model)

    CHECKPOINT_PATH = os.path.join(sys.argv[1], "model.checkpoint")
    if rank == 0:
        # All processes should see same parameters as they all start from same
        # random parameters and gradients are synchronized in backward passes.
        # Therefore, saving it in one process is sufficient.
        torch.save(ddp_model.state_dict(), CHECKPOINT_PATH)

    # Use a barrier() to make sure that process 1 loads the model after process
    # 0 saves it.
    dist.barrier()
    # configure map_location properly
    map_location = {"cuda:%d" % 0: "cuda:%d" % rank}
    ddp_model.load_state_dict(
        torch.load(CHECKPOINT_PATH, map_location=map_location, weights_only=True))

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.001)

    optimizer.zero_grad()
    outputs = ddp_model(torch.randn(20, 10))
    labels = torch.randn(20, 5)

    loss_fn(outputs, labels).backward()
    optimizer.step()

    # Not necessary to use a dist.barrier() to guard the file deletion below
    # as the AllReduce ops in the backward pass of DDP already served as
    # a synchronization.

    if rank == 0:
        os.remove(CHECKPOINT_PATH)
    return ddp_model


def digest(model):
    h = hashlib.sha256()
    for name, p in model.state_dict().items():
        h.update(name.encode() + p.numpy().tobytes())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    dist.init_process_group("mpi")
    torch.manual_seed(dist.get_rank())  # different data (and first weights) on each rank
    basic = demo_basic()
    ckpt = demo_checkpoint(dist.get_rank(), dist.get_world_size())
    print(f"rank {dist.get_rank()} digest {digest(basic)} {digest(ckpt)}")
    dist.destroy_process_group()
