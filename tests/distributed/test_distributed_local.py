"""chainrule.distributed in one process, without mpiexec: importing chainrule never imports
mpi4py, PyTorch's errors before init_process_group, clear errors for other backends, and a
script run without a launcher is a world of one."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DistributedSampler
from chainrule.nn.parallel import DistributedDataParallel


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_import_does_not_import_mpi4py():
    r = _run("import sys, chainrule, chainrule.distributed, chainrule.nn.parallel\n"
             "assert chainrule.distributed is chainrule.distributed\n"
             "print('mpi4py' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_names_match_torch_distributed():
    torch = pytest.importorskip("torch")
    td = torch.distributed
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert getattr(dist.ReduceOp, name).value == int(getattr(td.ReduceOp, name))
    assert not dist.is_initialized() and not td.is_initialized()


def _same_error(fn, torch_fn):
    with pytest.raises(Exception) as ours:
        fn()
    with pytest.raises(Exception) as theirs:
        torch_fn()
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_errors_before_init_process_group_are_pytorchs():
    torch = pytest.importorskip("torch")
    td = torch.distributed
    _same_error(dist.get_rank, td.get_rank)
    _same_error(dist.get_world_size, td.get_world_size)
    _same_error(lambda: dist.all_reduce(cr.ones(2)), lambda: td.all_reduce(torch.ones(2)))
    _same_error(lambda: DistributedSampler(range(4)),
                lambda: torch.utils.data.DistributedSampler(range(4)))
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedDataParallel(cr.nn.Linear(2, 2))


def test_other_backends_say_what_to_use():
    with pytest.raises(RuntimeError, match="backend='mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="invalid backend"):
        dist.init_process_group("carrier-pigeon")
    assert not dist.is_initialized()


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                    reason='mpi4py is not installed (pip install "chainrule[mpi]")')
def test_without_a_launcher_the_world_is_one_process():
    code = """
import chainrule as cr, chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("mpi", rank=0, world_size=1)
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
t = cr.tensor([1.0, 2.0]); dist.all_reduce(t, dist.ReduceOp.AVG); assert t.tolist() == [1.0, 2.0]
m = DDP(cr.nn.Linear(3, 1)); m(cr.ones(4, 3)).sum().backward()
assert m.module.weight.grad.tolist() == [[4.0, 4.0, 4.0]]
# buckets: reverse registration order, a new one past bucket_cap_mb
seq = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Linear(4, 2))
assert [b.index for b in DDP(seq)._buckets] == [[3, 2, 1, 0]]
assert [b.index for b in DDP(seq, bucket_cap_mb=1e-5)._buckets] == [[3], [2], [1], [0]]
# no_sync: local accumulation, then the next synced backward averages the accumulated grads
m.zero_grad()
with m.no_sync():
    m(cr.ones(4, 3)).sum().backward()
m(cr.ones(4, 3)).sum().backward()
assert m.module.weight.grad.tolist() == [[8.0, 8.0, 8.0]]
# a parameter without gradient and no find_unused_parameters: PyTorch's error at the next forward
net = cr.nn.ModuleDict({"a": cr.nn.Linear(3, 1), "b": cr.nn.Linear(3, 1)})
class Net(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = net
    def forward(self, x):
        return self.net["a"](x)
d = DDP(Net())
d(cr.ones(2, 3)).sum().backward()
assert d.module.net["a"].weight.grad.tolist() == [[2.0, 2.0, 2.0]]  # the local gradient
try:
    d(cr.ones(2, 3))
    raise AssertionError("no error for a parameter without gradient")
except RuntimeError as e:
    assert "Expected to have finished reduction" in str(e) and "net.b.weight" in str(e), e
d = DDP(Net(), find_unused_parameters=True)
for _ in range(2):
    d(cr.ones(2, 3)).sum().backward()
assert d.module.net["b"].weight.grad is None
try:
    dist.init_process_group("mpi")
except ValueError as e:
    print(e)
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "trying to initialize the default process group twice!"


def test_convert_sync_batchnorm_is_pytorchs():
    torch = pytest.importorskip("torch")
    ours = cr.nn.Sequential(cr.nn.Conv2d(2, 3, 3), cr.nn.BatchNorm2d(3),
                            cr.nn.Sequential(cr.nn.Linear(4, 4), cr.nn.BatchNorm1d(4)))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                                 torch.nn.Sequential(torch.nn.Linear(4, 4),
                                                     torch.nn.BatchNorm1d(4)))
    ours[1].eval()
    bn_weight = ours[1].weight
    conv_ours = cr.nn.SyncBatchNorm.convert_sync_batchnorm(ours)
    conv_theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(theirs)
    assert list(conv_ours.state_dict()) == list(conv_theirs.state_dict())
    assert type(conv_ours[1]) is cr.nn.SyncBatchNorm and type(conv_ours[2][1]).__name__ == \
        type(conv_theirs[2][1]).__name__ == "SyncBatchNorm"
    assert conv_ours[1].weight is bn_weight and not conv_ours[1].training
    # without a process group it is BatchNorm (PyTorch's fallback), in train mode too
    sbn, bn = cr.nn.SyncBatchNorm(3).double(), torch.nn.BatchNorm2d(3).double()
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    y = sbn(cr.tensor(x, requires_grad=True))
    z = bn(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), z.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(sbn.running_var.numpy(), bn.running_var.numpy(), atol=1e-12)
