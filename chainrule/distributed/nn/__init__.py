"""torch.distributed.nn: differentiable collectives (functional.all_reduce)."""

from chainrule.distributed.nn import functional
from chainrule.distributed.nn.functional import all_reduce

__all__ = ["all_reduce", "functional"]
