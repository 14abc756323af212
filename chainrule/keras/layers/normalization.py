"""BatchNormalization and LayerNormalization with Keras' arguments and conventions.

Both run on chainrule's fused normalisation op (the one behind nn.BatchNorm1d/2d and
nn.LayerNorm), reducing over the axes Keras reduces over, so channels-last inputs need no
transposes. BatchNormalization follows Keras, not PyTorch, where they differ:

    moving = momentum * moving + (1 - momentum) * batch     (momentum 0.99; PyTorch's 0.1 is
                                                             the weight of the batch)
    moving_variance tracks the biased batch variance        (PyTorch: unbiased)
    epsilon = 1e-3                                          (PyTorch: 1e-5)
    a layer with trainable=False normalises with its moving statistics, even in fit().
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.autograd import no_grad
from chainrule.backend import xp_of
from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._layer import Layer
from chainrule.keras.layers.masking import mask_array
from chainrule.ops.normalization import normalize
from chainrule.tensor import Tensor


def _axes(axis: int | Sequence[int], ndim: int, who: str, shape: Any) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim or a % ndim == 0:
            raise ValueError(f"{who}: axis {a} is out of range for inputs of shape {shape} "
                             "(the batch axis 0 cannot be normalised over)")
        out.append(a % ndim)
    return tuple(sorted(out))


class BatchNormalization(Layer):
    """Normalise each feature along `axis` (default: the last, the channels) with the batch's
    statistics while training and the moving ones at inference; then scale by gamma and shift
    by beta. Weights: gamma, beta (trainable), moving_mean, moving_variance."""

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = inits.get(beta_initializer)
        self.gamma_initializer = inits.get(gamma_initializer)
        self.moving_mean_initializer = inits.get(moving_mean_initializer)
        self.moving_variance_initializer = inits.get(moving_variance_initializer)
        self.beta_regularizer = regs.get(beta_regularizer)
        self.gamma_regularizer = regs.get(gamma_regularizer)
        self.gamma = self.beta = None

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 2:
            raise self._shape_error("one input of shape (batch, ..., features)", s)
        axes = _axes(self.axis, len(s), f"BatchNormalization '{self.name}'", s)
        if any(s[a] is None for a in axes):
            raise self._shape_error(f"a known size along axis {self.axis}", s)
        if self.built and tuple(s[a] for a in axes) != self._pshape_c:
            n = self._pshape_c[0] if len(self._pshape_c) == 1 else self._pshape_c
            raise self._shape_error(f"{n} features along axis {self.axis} (it was built for "
                                    "them)", s)

    def build(self, input_shape: Any) -> None:
        nd = len(input_shape)
        self._feat = _axes(self.axis, nd, "BatchNormalization", input_shape)
        self._pshape_c = tuple(input_shape[a] for a in self._feat)
        self._ndim = nd
        self._reduce = tuple(a for a in range(nd) if a not in self._feat)
        self._pshape = tuple(input_shape[a] if a in self._feat else 1 for a in range(nd))
        shape = self._pshape_c
        if self.scale:
            self._add_weight("gamma", shape, self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self._add_weight("beta", shape, self.beta_initializer,
                            regularizer=self.beta_regularizer)
        self._add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self._add_weight("moving_variance", shape, self.moving_variance_initializer,
                        trainable=False)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def _affine(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        g, b = self.gamma, self.beta
        if g is None and b is None:
            return None, None
        shape = self._pshape_c
        if g is None:
            g = Tensor._make(np.ones(shape, dtype=x.array.dtype), None)
        if b is None:
            b = Tensor._make(np.zeros(shape, dtype=x.array.dtype), None)
        return g, b

    supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None, mask: Any = None) -> Tensor:
        x = inputs
        if x.ndim != self._ndim or tuple(x.shape[a] for a in self._feat) != self._pshape_c:
            raise self._shape_error(f"inputs of shape {(None,) + self._pshape[1:]}",
                                    tuple(x.shape))
        training = self.training if training is None else training
        g, b = self._affine(x)
        if training and self._trainable and mask is not None:
            return self._masked(x, mask, g, b)
        if training and self._trainable:
            if self._feat == (self._ndim - 1,) and self._ndim > 2:
                # channels-last images as (N*H*W, C) rows: the op's fastest layout
                x2 = x.reshape(-1, x.shape[-1])
                y, mean, var = normalize(x2, (0,), g, b, (1, x.shape[-1]), self.epsilon)
                y = y.reshape(x.shape)
            else:
                y, mean, var = normalize(x, self._reduce, g, b, self._pshape, self.epsilon)
            self._update_moving(mean, var)
            return y
        inv = 1.0 / np.sqrt(self.moving_variance.array + x.array.dtype.type(self.epsilon))
        shift = -self.moving_mean.array * inv
        ps = self._pshape
        if g is None:
            return x * inv.reshape(ps) + shift.reshape(ps)
        return x * (g * inv).reshape(ps) + (b + g * shift).reshape(ps)

    def _update_moving(self, mean: Any, var: Any) -> None:
        with no_grad():
            m = self.momentum
            for stat, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                a = stat.array
                a *= m
                a += (1.0 - m) * batch.reshape(a.shape).astype(a.dtype, copy=False)
                stat._bump()  # an in-place change: a graph that saved stat sees it

    def _masked(self, x: Tensor, mask: Any, g: Any, b: Any) -> Tensor:
        """Training with a Keras mask (batch, ...) one axis short of x: the batch moments are
        taken over the unmasked entries only, as Keras 3 does (biased, with 1e-7 added to the
        count); every entry is then normalised with them."""
        keep = mask_array(mask)
        if keep.ndim != x.ndim - 1:
            raise ValueError(f"BatchNormalization '{self.name}': the mask provided should be "
                             f"one dimension less than the inputs. Received: mask.shape="
                             f"{keep.shape}, inputs.shape={tuple(x.shape)}")
        dt = x.array.dtype
        xp = xp_of(x.array)
        w = Tensor._make(xp.broadcast_to(xp.asarray(keep)[..., None], x.shape).astype(dt), None)
        count = w.sum(dim=self._reduce, keepdim=True) + 1e-7
        mean = (x * w).sum(dim=self._reduce, keepdim=True) / count
        var = (((x - mean) * w) ** 2).sum(dim=self._reduce, keepdim=True) / count
        self._update_moving(mean.array, var.array)
        y = (x - mean) / (var + self.epsilon).sqrt()
        ps = self._pshape
        if g is not None:
            y = y * g.reshape(ps) + b.reshape(ps)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": inits.serialize(self.beta_initializer),
                "gamma_initializer": inits.serialize(self.gamma_initializer),
                "moving_mean_initializer": inits.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": inits.serialize(
                    self.moving_variance_initializer),
                "beta_regularizer": regs.serialize(self.beta_regularizer),
                "gamma_regularizer": regs.serialize(self.gamma_regularizer)}


class LayerNormalization(Layer):
    """Normalise each sample over `axis` (default: the last), then scale by gamma and shift by
    beta (both of the normalised axes' shape); epsilon 1e-3 as in Keras."""

    supports_masking = True  # the mask passes through, as in Keras

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = inits.get(beta_initializer)
        self.gamma_initializer = inits.get(gamma_initializer)
        self.beta_regularizer = regs.get(beta_regularizer)
        self.gamma_regularizer = regs.get(gamma_regularizer)
        self.gamma = self.beta = None

    def check_input_shape(self, s: Any) -> None:
        if isinstance(s, list) or len(s) < 2:
            raise self._shape_error("one input of shape (batch, ..., features)", s)
        axes = _axes(self.axis, len(s), f"LayerNormalization '{self.name}'", s)
        if any(s[a] is None for a in axes):
            raise self._shape_error(f"known sizes along axis {self.axis}", s)
        if self.built and tuple(s[a] for a in axes) != self._shape:
            raise self._shape_error(f"sizes {self._shape} along axis {self.axis}", s)

    def build(self, input_shape: Any) -> None:
        nd = len(input_shape)
        self._norm = _axes(self.axis, nd, "LayerNormalization", input_shape)
        self._shape = tuple(input_shape[a] for a in self._norm)
        self._pshape = tuple(input_shape[a] if a in self._norm else 1 for a in range(nd))
        if self.scale:
            self._add_weight("gamma", self._shape, self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self._add_weight("beta", self._shape, self.beta_initializer,
                            regularizer=self.beta_regularizer)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        if x.ndim != len(self._pshape) or tuple(x.shape[a] for a in self._norm) != self._shape:
            raise self._shape_error(f"inputs with sizes {self._shape} along axis {self.axis}",
                                    tuple(x.shape))
        g, b = self.gamma, self.beta
        if g is not None or b is not None:
            if g is None:
                g = Tensor._make(np.ones(self._shape, dtype=x.array.dtype), None)
            if b is None:
                b = Tensor._make(np.zeros(self._shape, dtype=x.array.dtype), None)
        return normalize(x, self._norm, g, b, self._pshape, self.epsilon)[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": inits.serialize(self.beta_initializer),
                "gamma_initializer": inits.serialize(self.gamma_initializer),
                "beta_regularizer": regs.serialize(self.beta_regularizer),
                "gamma_regularizer": regs.serialize(self.gamma_regularizer)}
