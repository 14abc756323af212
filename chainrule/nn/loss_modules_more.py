"""More loss modules: nn.MarginRankingLoss, nn.TripletMarginLoss, nn.TripletMarginWithDistanceLoss,
nn.SoftMarginLoss, nn.MultiLabelSoftMarginLoss, nn.MultiMarginLoss, nn.MultiLabelMarginLoss,
nn.PoissonNLLLoss, nn.GaussianNLLLoss and nn.CTCLoss: thin Modules over chainrule.nn.losses_more
and chainrule.nn.losses_ctc, with PyTorch's arguments (the legacy size_average / reduce slots
included), attribute names, weight buffers and reprs (no arguments shown, as PyTorch's).

Each is called as torch's is, with chainrule's optional sample_weight= last (see
chainrule.nn.losses); CTCLoss takes none.
"""

from __future__ import annotations

from typing import Any, Callable

from chainrule.nn import losses_more as L
from chainrule.nn.layers.misc import PairwiseDistance
from chainrule.nn.loss_modules import _Loss
from chainrule.nn.losses_ctc import ctc_loss
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin) (see margin_ranking_loss)."""

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any,
                sample_weight: Any = None) -> Tensor:
        return L.margin_ranking_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction, sample_weight=sample_weight)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm distance (see triplet_margin_loss)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor,
                sample_weight: Any = None) -> Tensor:
        return L.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction,
                                     sample_weight=sample_weight)


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) for any distance_function (default: a
    PairwiseDistance() child module, as in PyTorch)."""

    def __init__(self, *, distance_function: Callable[[Any, Any], Tensor] | None = None,
                 margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than "
                             f"0, got {margin} instead")
        self.distance_function = (PairwiseDistance() if distance_function is None
                                  else distance_function)
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor,
                sample_weight: Any = None) -> Tensor:
        return L.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction,
            sample_weight=sample_weight)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) (see soft_margin_loss)."""

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.soft_margin_loss(input, target, reduction=self.reduction,
                                  sample_weight=sample_weight)


class MultiLabelSoftMarginLoss(_Loss):
    """One-vs-all logistic loss averaged over classes; `weight` (C,) weighs classes (a buffer)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.multilabel_soft_margin_loss(input, target, self.weight,
                                             reduction=self.reduction,
                                             sample_weight=sample_weight)


class MultiMarginLoss(_Loss):
    """Multi-class hinge loss (see multi_margin_loss); `weight` (C,) weighs each sample by its
    target class (a buffer)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None,
                 size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if p != 1 and p != 2:
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and as_tensor(weight).ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{as_tensor(weight).ndim}D instead")
        self._buffer("weight", weight)
        self.p, self.margin = p, margin

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction,
                                   sample_weight=sample_weight)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss over target / non-target class pairs (see
    multilabel_margin_loss)."""

    def forward(self, input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.multilabel_margin_loss(input, target, reduction=self.reduction,
                                        sample_weight=sample_weight)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood (see poisson_nll_loss)."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average: Any = None,
                 eps: float = 1e-8, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Any, sample_weight: Any = None) -> Tensor:
        return L.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction,
                                  sample_weight=sample_weight)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood with predicted variances (see gaussian_nll_loss)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Any, var: Any, sample_weight: Any = None) -> Tensor:
        return L.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction, sample_weight=sample_weight)


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss (see ctc_loss)."""

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Any, input_lengths: Any,
                target_lengths: Any) -> Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)
