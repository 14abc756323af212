"""DistributedDataParallel: one model replica per process, gradients averaged over all ranks in
loss.backward(), as torch.nn.parallel.DistributedDataParallel.

    dist.init_process_group("mpi")                 # mpiexec -n 4 python train.py
    model = DistributedDataParallel(Net())         # rank 0's weights and buffers on every rank
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn(model(x_local), y_local).backward()    # .grad = the mean over ranks of the local grads
    opt.step()                                     # the same step on every rank

How the averaging overlaps backward: the parameters are cut into buckets of about bucket_cap_mb
megabytes, in reverse registration order (the order backward reaches them). A gradient hook on
each parameter copies its finished gradient into its bucket; when a bucket is full its
non-blocking Allreduce starts at once, while backward goes on through earlier layers; the hook
of the last parameter waits for all of them and writes the averages into the .grad arrays.
chainrule's tensor hooks run before the gradient is accumulated into .grad (it has no
post-accumulate-grad hook), so a hook sets .grad to None and hands the walk a fresh array, the
local .grad plus this backward's gradient, to store as .grad; the average is written into the
stored .grad when its bucket's Allreduce completes. Like PyTorch's, this averaging belongs to
loss.backward(): torch.autograd.grad through a DDP model is not supported.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from chainrule.distributed.collectives import broadcast
from chainrule.distributed.process_group import _default_group
from chainrule.modes import is_grad_enabled, no_grad
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `chainrule.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss. Parameters "
    "that did not receive a gradient on rank {rank}: {names}")


class _Bucket:
    """Parameters (indices into DDP's list) whose gradients travel in one flat buffer."""

    def __init__(self, index: list[int], params: list[Tensor]) -> None:
        self.index = index
        sizes = [params[i].array.size for i in index]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buf = np.empty(self.offsets[-1], dtype=params[index[0]].array.dtype)
        self.pending = len(index)
        self.request: Any = None

    def slot(self, k: int) -> np.ndarray:
        return self.buf[self.offsets[k]:self.offsets[k + 1]]


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the default process group (torch's
    arguments; device_ids and output_device are for GPU modules and must stay unset;
    check_reduction, gradient_as_bucket_view and static_graph change no result here).
    find_unused_parameters=True looks through the forward's output graph for parameters this
    forward did not use, so that their buckets still complete. The wrapped module is
    `.module`, and state_dict keys start with `module.` as in PyTorch."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, delay_all_reduce_named_params: Any = None,
                 param_to_hook_all_reduce: Any = None, mixed_precision: Any = None,
                 device_mesh: Any = None, skip_all_reduce_unused_params: bool = False) -> None:
        super().__init__()
        g = _default_group(process_group)
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel: device_ids and output_device are for "
                             "modules on GPUs; chainrule's DDP runs on the CPU, leave them out")
        for arg, value in (("delay_all_reduce_named_params", delay_all_reduce_named_params),
                           ("param_to_hook_all_reduce", param_to_hook_all_reduce),
                           ("mixed_precision", mixed_precision), ("device_mesh", device_mesh)):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel: {arg} is not supported "
                                          "in chainrule; leave it out")
        self.module = module
        self.process_group = process_group
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2 ** 20)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._comm, self._size, self._rank = g.comm, g.size, g.rank
        self._sync_module_states()
        self._buckets = self._assign_buckets()
        self._where = {i: (b, k) for b in self._buckets for k, i in enumerate(b.index)}
        self._armed = False
        for i, p in enumerate(self._params):
            p.register_hook(self._make_hook(i))

    # -- wrap time --------------------------------------------------------------------------
    def _sync_module_states(self) -> None:
        """Every rank starts from rank 0's parameters and buffers."""
        if self._size == 1:
            return
        with no_grad():
            for t in list(self.module.parameters()) + list(self.module.buffers()):
                broadcast(t, group=self.process_group, group_src=0)

    def _assign_buckets(self) -> list[_Bucket]:
        """Reverse registration order, a new bucket at a dtype change or past the size cap."""
        buckets, cur, nbytes = [], [], 0
        for i in reversed(range(len(self._params))):
            a = self._params[i].array
            if cur and (a.dtype != self._params[cur[0]].array.dtype
                        or nbytes + a.nbytes > self.bucket_bytes_cap):
                buckets.append(_Bucket(cur, self._params))
                cur, nbytes = [], 0
            cur.append(i)
            nbytes += a.nbytes
        buckets.append(_Bucket(cur, self._params))
        return buckets

    # -- forward ----------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._armed:
            self._check_prior_reduction()
        if self.broadcast_buffers and self._size > 1:
            with no_grad():
                for b in self.module.buffers():
                    broadcast(b, group=self.process_group, group_src=0)
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare_for_backward(out)
        return out

    def _check_prior_reduction(self) -> None:
        """A forward after a backward that left some buckets incomplete is an error (some
        parameters got no gradient); a forward that no backward followed is forgotten."""
        self._armed = False
        if not any(self._seen):
            return
        for b in self._buckets:
            if b.request is not None:
                b.request.Wait()
                b.request = None
        names = [n for n, s in zip(self._names, self._seen) if not s]
        raise RuntimeError(_UNFINISHED.format(rank=self._rank, names=", ".join(names)))

    def _prepare_for_backward(self, out: Any) -> None:
        self._armed = True
        self._seen = [False] * len(self._params)
        self._results: list[np.ndarray | None] = [None] * len(self._params)
        self._launched = 0
        for b in self._buckets:
            b.pending, b.request = len(b.index), None
        if self.find_unused_parameters:
            used = _leaves_behind(out)
            self._used = np.array([id(p) in used for p in self._params], dtype=np.uint8)
            for i in np.flatnonzero(self._used == 0):
                p = self._params[i]
                self._put(i, np.zeros_like(p.array) if p.grad is None else p.grad.array)

    # -- backward ---------------------------------------------------------------------------
    def _make_hook(self, i: int) -> Any:
        def hook(g: Tensor) -> Tensor | None:
            if not self._armed:  # no_sync(), or a backward without a DDP forward: local grads
                return None
            return self._ready(i, g)
        return hook

    def _ready(self, i: int, g: Tensor) -> Tensor:
        """Parameter i's gradient for this backward is complete: into its bucket it goes."""
        if self._seen[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once (parameter {self._names[i]} got "
                "a second gradient in one iteration: a second backward through the same "
                "forward, or the parameter used outside forward). Run forward again before "
                "each backward, or accumulate under no_sync().")
        p = self._params[i]
        full = g.array + p.grad.array if p.grad is not None else g.array.copy()
        p.grad = None  # the walk stores `full` itself as .grad; the average lands in it later
        self._results[i] = full
        self._put(i, full)
        return Tensor._make(full, None)

    def _put(self, i: int, grad: np.ndarray) -> None:
        self._seen[i] = True
        b, k = self._where[i]
        b.slot(k)[...] = grad.reshape(-1)
        b.pending -= 1
        if b.pending == 0:
            b.buf /= self._size  # divided before the sum, as PyTorch's reducer does
            b.request = self._comm.Iallreduce(_mpi().IN_PLACE, b.buf, op=_mpi().SUM)
            self._launched += 1
            if self._launched == len(self._buckets):
                self._finish()

    def _finish(self) -> None:
        """Wait for every bucket and write the averages into the .grad arrays."""
        self._armed = False
        _mpi().Request.Waitall([b.request for b in self._buckets])
        used = None
        if self.find_unused_parameters:
            used = self._used.copy()
            self._comm.Allreduce(_mpi().IN_PLACE, used, op=_mpi().MAX)
        for b in self._buckets:
            b.request = None
            for k, i in enumerate(b.index):
                avg = b.slot(k).reshape(self._params[i].array.shape)
                r = self._results[i]
                if r is not None:
                    r[...] = avg
                    g = self._params[i].grad
                    if g is not None and g.array is not r:  # the walk stored a copy of r
                        g.array[...] = avg
                elif used is not None and used[i]:  # unused here, used elsewhere
                    p = self._params[i]
                    p.grad = Tensor._make(avg.copy(), None)
        self._results = [None] * len(self._params)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward accumulates local gradients without communication; the first
        backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


def _mpi() -> Any:
    return _default_group().MPI


def _leaves_behind(out: Any) -> set[int]:
    """ids of the leaf tensors the graph behind the tensors in `out` reaches."""
    stack, roots = [out], []
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            roots.append(o)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    leaves: set[int] = set()
    seen: set[int] = set()
    fs = []
    for t in roots:
        if t.creator is None:
            leaves.add(id(t))
        else:
            fs.append(t.creator)
    while fs:
        f = fs.pop()
        if id(f) in seen or f.inputs is None:
            continue
        seen.add(id(f))
        for x in f.inputs:
            if x.creator is None:
                leaves.add(id(x))
            else:
                fs.append(x.creator)
    return leaves
