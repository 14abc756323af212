"""Keras' FBetaScore and F1Score: per-class (or micro / macro / weighted averaged) F-scores
from true / false positive and false negative counts kept in float32 variables."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras.metrics import EPSILON, _np
from chainrule.keras.metrics_confusion import _Counts


class FBetaScore(_Counts):
    """F-beta per class (average=None), or averaged: 'micro' (global counts), 'macro' (mean
    over classes), 'weighted' (by support). A prediction is positive above `threshold`, or,
    with threshold=None, where it is the row's largest value. Inputs are (batch, classes)."""

    _direction = "up"

    def __init__(self, average: str | None = None, beta: float = 1.0,
                 threshold: float | None = None, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, "
                             f"'micro', 'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: "
                             f"beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python "
                                 f"float. Received: threshold={threshold} of type "
                                 f"'{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < "
                                 f"threshold <= 1. Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, t_shape: tuple, p_shape: tuple) -> None:
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={p_shape} "
                             f"and y_true.shape={t_shape}.")
        shape = () if self.average == "micro" else (p_shape[-1],)
        for n in ("true_positives", "false_positives", "false_negatives",
                  "intermediate_weights"):
            setattr(self, n, self.add_variable(shape, "zeros", name=n))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        t, p = _np(y_true).astype(np.float32), _np(y_pred).astype(np.float32)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            p = (p >= p.max(-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            p = p > self.threshold
        p = p.astype(np.float32)
        sw = None if sample_weight is None else _np(sample_weight).astype(np.float32)

        def wsum(v: np.ndarray) -> np.ndarray:
            return (v if sw is None else v * sw[:, None]).sum(self.axis, dtype=np.float32)

        self.true_positives.assign_add(wsum(p * t))
        self.false_positives.assign_add(wsum(p * (1 - t)))
        self.false_negatives.assign_add(wsum((1 - p) * t))
        self.intermediate_weights.assign_add(wsum(t))

    def result(self) -> Any:
        if not self._built:
            return 0.0
        tp, fp, fn = (self._a(a) for a in ("true_positives", "false_positives",
                                            "false_negatives"))
        eps, b2 = np.float32(EPSILON), np.float32(self.beta ** 2)
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            iw = self._a("intermediate_weights")
            return float((f * (iw / (iw.sum() + eps))).sum(dtype=np.float32))
        if self.average is not None:
            return float(np.mean(f, dtype=np.float32))
        return f.astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["beta"]
        return cfg

