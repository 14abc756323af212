"""SyncBatchNorm: batch normalisation whose training statistics are those of the global batch,
over all ranks of the process group (torch.nn.SyncBatchNorm). Without a process group, with one
rank, or in eval mode it is BatchNorm. Unlike PyTorch's, it runs on the CPU."""

from __future__ import annotations

from typing import Any

from chainrule.distributed import process_group as pg
from chainrule.distributed.collectives import RedOpType
from chainrule.distributed.nn.functional import AllReduce
from chainrule.modes import no_grad
from chainrule.nn.layers.norm import _BatchNorm, _update, batch_norm
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.tensor import Tensor


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) inputs with statistics over the batches of all ranks:
    mean and biased variance from two differentiable Allreduces of per-channel sums (so the
    gradient flows across ranks as well), running statistics updated with the global mean and
    the unbiased global variance, identically on every rank."""

    _ranks = tuple(range(2, 9))
    _layout = "(N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked.array)
        bn_training = self.training or self.running_mean is None
        use_running = not self.training or self.track_running_stats
        mean, var = (self.running_mean, self.running_var) if use_running else (None, None)
        if not (bn_training and self.training and pg.is_initialized()
                and pg.get_world_size(self.process_group) > 1):
            return batch_norm(x, mean, var, self.weight, self.bias, bn_training, factor,
                              self.eps)
        return self._synced(x, mean, var, factor)

    def _check_input(self, x: Tensor) -> None:
        # synced, one example (or none) on this rank is fine, as in PyTorch: the count that
        # must exceed 1 is the global one (checked in _synced)
        if (self.training and pg.is_initialized() and pg.get_world_size() > 1
                and x.ndim in self._ranks and x.shape[1] == self.num_features):
            return
        super()._check_input(x)

    def _synced(self, x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                factor: float) -> Tensor:
        C = x.shape[1]
        pshape = (1, C) + (1,) * (x.ndim - 2)
        axes = (0,) + tuple(range(2, x.ndim))
        total = _count(x.numel() // max(C, 1), self.process_group)
        if total <= 1:  # the same total on every rank: they all raise
            raise ValueError(f"{self._name()}: expected more than 1 value per channel when "
                             f"training, got {total} over all ranks (input of shape "
                             f"{tuple(x.shape)} on this one); use a larger batch or call .eval()")
        # two passes (mean, then the mean of squared deviations): no cancellation in float32
        mean = AllReduce(RedOpType.SUM, self.process_group)(x.sum(dim=axes)) / total
        xc = x - mean.reshape(pshape)
        var = AllReduce(RedOpType.SUM, self.process_group)((xc * xc).sum(dim=axes)) / total
        y = xc * (var + self.eps).rsqrt().reshape(pshape)
        if self.weight is not None:
            y = y * self.weight.reshape(pshape)
        if self.bias is not None:
            y = y + self.bias.reshape(pshape)
        with no_grad():
            if running_mean is not None:
                _update(running_mean, mean.array, factor)
            if running_var is not None:
                _update(running_var, var.array * (total / (total - 1)), factor)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """module with every BatchNorm*d replaced by a SyncBatchNorm sharing its parameters and
        buffers (the module itself when it is one), as PyTorch's."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


def _count(n: int, group: Any = None) -> int:
    """The number of values per channel over the group's ranks."""
    g = pg._default_group(group)
    return int(g.comm.allreduce(n))
