"""Group and instance normalisation: GroupNorm, InstanceNorm1d/2d/3d, F.group_norm and
F.instance_norm (PyTorch's arguments, defaults, statistics and errors).

Both normalise (N, C, *) inputs per sample over a block of channels and positions: a group of
C / G channels (group-norm) or one channel (instance-norm). The input is reshaped so the block
is the trailing axis and runs through the fused op chainrule.ops.normalization.Normalize; the
per-channel affine map is applied afterwards, since weight varies across a block.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule.autograd import no_grad
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.layers.norm import _BatchNorm, _new, _update, batch_norm
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operand
from chainrule.ops.normalization import normalize
from chainrule.tensor import Tensor


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y (N, C, *) * weight (C,) + bias (C,), either may be None."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_params(who: str, x: Tensor, **params: Tensor | None) -> None:
    C = x.shape[1]
    for name, t in params.items():
        if t is not None and tuple(t.shape) != (C,):
            raise ShapeError(f"{who}: {name} has shape {tuple(t.shape)}, but the input "
                             f"{tuple(x.shape)} has {C} channels in dimension 1; it must have "
                             f"shape ({C},)")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, *) over each sample's groups of C / num_groups channels (mean and
    biased variance over the group's channels and positions), then scale and shift each
    channel by weight (C,) and bias (C,)."""
    x = as_operand(input)
    if x.ndim < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but "
                           f"received {x.ndim}")
    N, C = x.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible "
                           f"by num_groups, but got input of shape {tuple(x.shape)} and "
                           f"num_groups={num_groups}")
    spatial = x.numel() // max(N * C, 1)
    if N * C // num_groups * spatial == 1:  # PyTorch's _verify_batch_size, as it counts
        raise ValueError(f"group_norm: Expected more than 1 value per channel when training, "
                         f"got input size {[N * C // num_groups, num_groups] + list(x.shape[2:])}")
    _check_params("group_norm", x, weight=weight, bias=bias)
    y = normalize(x.reshape(N, num_groups, -1), (2,), None, None, None, eps)[0]
    return _affine(y.reshape(x.shape), weight, bias)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, *) over each sample's and channel's positions, then scale and shift
    by weight (C,) and bias (C,).

    use_input_stats: each instance's own mean and biased variance; the running statistics (C,),
    when given, are updated in place with their averages over the batch (the variance unbiased):
    running <- (1 - momentum) * running + momentum * batch. Otherwise normalise with the running
    statistics, as batch_norm in eval mode."""
    x = as_operand(input)
    if x.ndim < 2:
        raise ShapeError(f"instance_norm: expected an input of shape (N, C, *), got "
                         f"{tuple(x.shape)}")
    _check_params("instance_norm", x, running_mean=running_mean, running_var=running_var,
                  weight=weight, bias=bias)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running_mean and running_var must be defined "
                               "when use_input_stats=False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    N, C = x.shape[:2]
    n = x.numel() // max(N * C, 1)
    if n == 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when training, "
                         f"got input size {list(x.shape)}")
    y, mean, var = normalize(x.reshape(N, C, -1), (2,), None, None, None, eps)
    with no_grad():
        if running_mean is not None:
            _update(running_mean, mean.reshape(N, C).mean(0), momentum)
        if running_var is not None:
            _update(running_var, (var * (n / (n - 1))).reshape(N, C).mean(0), momentum)
    return _affine(y.reshape(x.shape), weight, bias)


class GroupNorm(Module):
    """Group normalisation of (N, C, *) inputs: C channels in num_groups groups, each sample's
    group normalised on its own; weight (ones) and bias (zeros) of shape (C,) when affine."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups, got "
                             f"num_channels={num_channels}, num_groups={num_groups}")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        if affine:
            self.weight = Parameter(_new((num_channels,), 1, dtype))
            self.bias = Parameter(_new((num_channels,), 0, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._to_device(device)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(_BatchNorm):
    """Shared by InstanceNorm1d/2d/3d: PyTorch's defaults affine=False and
    track_running_stats=False; with running statistics, eval mode uses them."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias)

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        no_batch = self._spatial + 1
        if x.ndim not in (no_batch, no_batch + 1):
            raise ValueError(f"{type(self).__name__}: expected {no_batch}D or {no_batch + 1}D "
                             f"input (got {x.ndim}D input)")
        dim = x.ndim - no_batch
        if x.shape[dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{type(self).__name__}: expected input's size at dim={dim} "
                                 f"to match num_features ({self.num_features}), but got: "
                                 f"{x.shape[dim]}.")
            warnings.warn(f"input's size at dim={dim} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not "
                          "used because affine=False", stacklevel=2)
        batched = x if dim else x.unsqueeze(0)
        y = instance_norm(batched, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y if dim else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) inputs: each sample's channel
    normalised over its L positions."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) inputs: each sample's
    channel normalised over its H * W positions."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""

    _spatial = 3
