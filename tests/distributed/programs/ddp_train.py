"""mpiexec -n N python ddp_train.py OUTDIR BUCKET_CAP_MB MODE: every configuration of
ddp_common.CONFIGS trained with DistributedDataParallel (MODE ddp) or with Horovod's helpers
(MODE horovod), rank r on its slice of each global batch; the weights of each rank saved to
OUTDIR/<config>.rank<r>.npz."""

import sys

import numpy as np
from ddp_common import BATCH, CONFIGS, data, make_model, make_optimizer, train, weights

import chainrule.distributed as dist
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel as DDP

outdir, cap, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
dist.init_process_group(backend="mpi")
rank, world = dist.get_rank(), dist.get_world_size()
share = BATCH // world
for name, kind, opt_name, dtype, micro, unused in CONFIGS:
    # ranks other than 0 start from other weights: DDP must broadcast rank 0's
    net = make_model(dtype, unused, seed=0 if rank == 0 else 100 + rank, kind=kind)
    net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    if mode == "ddp":
        model = DDP(net, bucket_cap_mb=cap, find_unused_parameters=unused)
        opt = make_optimizer(opt_name, model.parameters())
        no_sync = model.no_sync if micro > 1 else None
    else:  # Horovod's way: broadcast once, average in step()
        model = net
        dist.broadcast_parameters(model.state_dict(), root_rank=0)
        opt = dist.DistributedOptimizer(make_optimizer(opt_name, model.parameters()),
                                        named_parameters=model.named_parameters())
        no_sync = None  # micro-batches accumulate; step() averages the sum once
    x, y = data(dtype, micro, kind)
    mine = slice(rank * share, (rank + 1) * share)
    train(model, opt, x[:, :, mine], y[:, :, mine], no_sync)
    if unused:  # a parameter no rank used keeps no gradient, as in PyTorch
        assert net.head.weight.grad is None
    np.savez(f"{outdir}/{name}.rank{rank}.npz", **weights(model))
dist.destroy_process_group()
print(f"rank {rank} of {world} done")
