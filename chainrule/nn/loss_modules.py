"""Loss modules: nn.MSELoss(), nn.CrossEntropyLoss(...), each a thin Module over the functional
loss in chainrule.nn.losses, holding its options (and class or element weights as buffers).

Every module is called as loss(input, target, sample_weight=None); see chainrule.nn.losses for
the reductions and the two kinds of weights (torch's `weight=`, per class or per element, and
the per-example `sample_weight=`).
"""

from __future__ import annotations

from typing import Any

from chainrule.nn import losses as L
from chainrule.nn.module import Module
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


class _Loss(Module):
    """Base of the loss modules: stores and checks `reduction`."""

    def __init__(self, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        reduction = L.legacy_reduction(size_average, reduce, reduction)
        L.check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    _reductions = L.REDUCTIONS

    def _buffer(self, name: str, value: Any) -> None:
        self.register_buffer(name, None if value is None else as_tensor(value))

    def extra_repr(self) -> str:
        return ""  # PyTorch's losses print as MSELoss(), whatever their options


class MSELoss(_Loss):
    """Mean squared error; half=True gives the textbook's J = 1/2 ||a - y||^2 (see mse_loss)."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 *, half: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.half = half

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.mse_loss(input, target, reduction=self.reduction, half=self.half,
                          sample_weight=sample_weight)

    def extra_repr(self) -> str:
        return "half=True" if self.half else ""  # chainrule's option: worth showing


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.l1_loss(input, target, reduction=self.reduction, sample_weight=sample_weight)


class HuberLoss(_Loss):
    """Quadratic below delta, linear above (see huber_loss)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta,
                            sample_weight=sample_weight)


class SmoothL1Loss(_Loss):
    """Huber loss divided by beta (see smooth_l1_loss)."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta,
                                sample_weight=sample_weight)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; `weight` weighs elements (a buffer)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction,
                                      sample_weight=sample_weight)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable formula; `weight` weighs elements and
    `pos_weight` the positive term (both buffers)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight,
            sample_weight=sample_weight)


class CrossEntropyLoss(_Loss):
    """Log-softmax + negative log-likelihood, fused (see cross_entropy); `weight` (C,) weighs
    classes (a buffer)."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self._buffer("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing,
                               sample_weight=sample_weight)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities; `weight` (C,) weighs classes (a buffer)."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction, sample_weight=sample_weight)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities from a target distribution (see kl_div)."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target,
                        sample_weight=sample_weight)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin - x) where y = -1 (see hinge_embedding_loss)."""

    def __init__(self, margin: float = 1.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction,
                                      sample_weight=sample_weight)


class CosineEmbeddingLoss(_Loss):
    """1 - cos where y = 1, max(0, cos - margin) where y = -1 (see cosine_embedding_loss)."""

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any,
                sample_weight: Any = None) -> Tensor:
        return L.cosine_embedding_loss(input1, input2, target, self.margin,
                                       reduction=self.reduction, sample_weight=sample_weight)
