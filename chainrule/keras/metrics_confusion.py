"""Keras' confusion-matrix metrics: TruePositives / FalsePositives / TrueNegatives /
FalseNegatives, Precision, Recall and AUC (ROC and PR); FBetaScore and F1Score are in
metrics_fscore.

The counts are computed as Keras computes them, in float32, so that results agree with Keras to
float rounding: a prediction p counts as positive at threshold t when p > t; evenly spaced
thresholds (AUC's 200) put p into bucket ceil(p * (n - 1)) - 1 and sum the buckets from the top,
as Keras' fast path does (that differs from p > t only at rounding, and Keras is the reference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras.metrics import EPSILON, Metric, _np

NEG_INF = -1e10  # Keras' threshold under top_k: every kept prediction is above it


def _thresholds(thresholds: Any, default: float) -> list[float]:
    ts = [default] if thresholds is None else (
        list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds])
    bad = [t for t in (ts if thresholds is not None else []) if t is None or t < 0 or t > 1]
    if bad:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in ts]


def _evenly(ts: Any) -> bool:
    n = len(ts)
    if n < 3:
        return False
    return bool(np.allclose(ts, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True) -> tuple:
    """Keras' squeeze_or_expand_to_same_rank: ranks that differ by one are made equal."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _top_k_filter(p: np.ndarray, k: int) -> np.ndarray:
    idx = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    mask = np.zeros_like(p)
    np.put_along_axis(mask, idx, 1.0, axis=-1)
    return (p * mask + np.float32(NEG_INF) * (1 - mask)).astype(np.float32)


def confusion_counts(y_true: Any, y_pred: Any, thresholds: list[float], which: str,
                     sample_weight: Any = None, top_k: int | None = None,
                     class_id: int | None = None, multi_label: bool = False,
                     evenly: bool = False, label_weights: Any = None) -> dict[str, np.ndarray]:
    """Keras' update_confusion_matrix_variables on arrays: {'tp'|'fp'|'tn'|'fn': counts of
    shape (n_thresholds,) (or (n_thresholds, n_labels) with multi_label)} for the letters of
    `which` (e.g. 'tp fp')."""
    t = _np(y_true).astype(np.float32)
    p = _np(y_pred).astype(np.float32)
    p, t = _same_rank(p, t)
    w = None
    if sample_weight is not None:
        w = _np(sample_weight).astype(np.float32)[..., None]
        _, w = _same_rank(t, w, expand_rank_1=False)
    if top_k is not None:
        p = _top_k_filter(p, top_k)
    if class_id is not None:
        if p.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {p.shape}")
        t, p = t[..., class_id, None], p[..., class_id, None]
    ones = np.ones(p.shape, np.float32)
    w = ones if w is None else np.broadcast_to(w, p.shape).astype(np.float32)
    if label_weights is not None and not multi_label:
        w = w * np.broadcast_to(np.asarray(label_weights, np.float32)[None], p.shape)
    pos = t != 0
    if not multi_label:
        p, pos, w = p.reshape(-1), pos.reshape(-1), w.reshape(-1)
    else:
        p, pos, w = p.reshape(len(p), -1), pos.reshape(len(pos), -1), w.reshape(len(w), -1)
    ts = np.asarray(thresholds, dtype=np.float32)
    if evenly:
        tp, fp = _bucketed(p, pos, w, ts)
    else:
        shape = (-1,) + (1,) * p.ndim
        above = p[None] > ts.reshape(shape)  # (n_thresholds, samples[, labels])
        tp = (above * (pos * w)[None]).sum(1, dtype=np.float64)
        fp = (above * (~pos * w)[None]).sum(1, dtype=np.float64)
    out = {"tp": tp, "fp": fp}
    if "tn" in which or "fn" in which:
        out["fn"] = (pos * w).sum(0, dtype=np.float64) - tp
        out["tn"] = (~pos * w).sum(0, dtype=np.float64) - fp
    return {k: v.astype(np.float32) for k, v in out.items() if k in which.split()}


def _bucketed(p: np.ndarray, pos: np.ndarray, w: np.ndarray, ts: np.ndarray) -> tuple:
    """Keras' O(T + N) path for evenly spaced thresholds (the same float32 bucket arithmetic)."""
    n = len(ts)
    p = np.clip(p, 0.0, 1.0)
    b = np.ceil(p * np.float32(n - 1)) - 1
    if ts[0] < 0.0 or ts[-1] > 1.0:  # thresholds widened by epsilon: p = 0 is above -eps
        b = np.maximum(b, 0)
    b = b.astype(np.int64)
    keep = b >= 0

    def buckets(values: np.ndarray) -> np.ndarray:
        if p.ndim == 1:
            out = np.bincount(b[keep], values[keep], minlength=n)
        else:
            out = np.stack([np.bincount(b[:, j][keep[:, j]], values[:, j][keep[:, j]],
                                        minlength=n) for j in range(p.shape[1])], 1)
        return np.cumsum(out[::-1], axis=0)[::-1]

    return buckets(pos * w), buckets(~pos * w)


def _div_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1, b)).astype(np.float32)


class _Counts(Metric):
    """Metrics made of confusion counts kept in float32 variables (as Keras keeps them)."""

    _counts: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def _make_counts(self, shape: tuple) -> None:
        names = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
                 "fn": "false_negatives"}
        for c in self._counts:
            setattr(self, names[c], self.add_variable(shape, "zeros", name=names[c]))

    def _add(self, counts: dict[str, np.ndarray]) -> None:
        names = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
                 "fn": "false_negatives"}
        for c, v in counts.items():
            getattr(self, names[c]).assign_add(v)

    def _a(self, attr: str) -> np.ndarray:
        return getattr(self, attr).array


class _ConfusionCount(_Counts):
    def __init__(self, thresholds: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(thresholds, 0.5)
        self._evenly = _evenly(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros",
                                             name="accumulator")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        c = confusion_counts(y_true, y_pred, self.thresholds, self._which, sample_weight,
                             evenly=self._evenly)
        self.accumulator.assign_add(c[self._which])

    def result(self) -> Any:
        a = self.accumulator.array
        return a[0] if len(self.thresholds) == 1 else a.copy()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of predictions > threshold whose label is positive."""
    _which = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) number of predictions > threshold whose label is negative."""
    _which = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of predictions <= threshold whose label is negative."""
    _which = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of predictions <= threshold whose label is positive."""
    _which = "fn"


class _PrecisionRecall(_Counts):
    _direction = "up"

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly(self.thresholds)
        self._make_counts((len(self.thresholds),))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._add(confusion_counts(y_true, y_pred, self.thresholds, " ".join(self._counts),
                                   sample_weight, self.top_k, self.class_id,
                                   evenly=self._evenly))

    def result(self) -> Any:
        tp, other = self._a("true_positives"), self._a(self._other)
        r = _div_no_nan(tp, tp + other)
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) at `thresholds` (0.5), among the top_k predictions, or for class_id."""
    _counts, _other = ("tp", "fp"), "false_positives"


class Recall(_PrecisionRecall):
    """tp / (tp + fn) at `thresholds` (0.5), among the top_k predictions, or for class_id."""
    _counts, _other = ("tp", "fn"), "false_negatives"


class AUC(_Counts):
    """Area under the ROC or PR curve from confusion counts at `num_thresholds` thresholds
    (Riemann sums; summation_method='interpolation' is the trapezoid rule for ROC and Davis &
    Goadrich's interpolation for PR, as Keras computes them)."""

    _counts = ("tp", "fp", "tn", "fn")
    _direction = "up"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            ts = sorted(float(t) for t in thresholds)
            self._evenly = _evenly(np.array([0.0] + ts + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            ts = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + ts + [1.0 + EPSILON])
        curves = {"roc": "ROC", "pr": "PR"}
        if str(curve).lower() not in curves:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC"]')
        methods = ("interpolation", "majoring", "minoring")
        if str(summation_method).lower() not in methods:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self.curve, self.summation_method = curves[curve.lower()], summation_method.lower()
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = (None if label_weights is None
                              else np.asarray(label_weights, np.float32))
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        elif num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        else:
            self._build(None)

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def _build(self, shape: Any) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {len(shape)}. Full shape received for `y_pred`: "
                                 f"{shape}")
            self._num_labels = shape[1]
            self._make_counts((self.num_thresholds, shape[1]))
        else:
            self._make_counts((self.num_thresholds,))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = _np(y_pred).astype(np.float32)
        if not self._built:
            self._build(p.shape)
        if self._from_logits:
            p = (1 / (1 + np.exp(-p))).astype(np.float32)
        self._add(confusion_counts(
            y_true, p, list(self._thresholds), "tp fp tn fn", sample_weight,
            multi_label=self.multi_label, evenly=self._evenly,
            label_weights=None if self.multi_label else self.label_weights))

    def _by_label(self, terms: np.ndarray) -> float:
        if not self.multi_label:
            return float(terms.sum(dtype=np.float32))
        by_label = terms.sum(0, dtype=np.float32)
        if self.label_weights is None:
            return float(by_label.mean(dtype=np.float32))
        lw = self.label_weights
        return float(_div_no_nan((by_label * lw).sum(), lw.sum()))

    def interpolate_pr_auc(self) -> float:
        tp, fp, fn = (self._a(a) for a in ("true_positives", "false_positives",
                                            "false_negatives"))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div_no_nan(p[:-1], np.maximum(p[1:], 0)),
                         np.ones_like(p[1:]))
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = slope * (dtp + intercept * np.log(ratio).astype(np.float32))
        return self._by_label(_div_no_nan(inc, np.maximum(tp[1:] + fn[1:], 0)))

    def result(self) -> float:
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = (self._a(a) for a in ("true_positives", "false_positives",
                                                "true_negatives", "false_negatives"))
        recall = _div_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _div_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / np.float32(2.0)
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._by_label((x[:-1] - x[1:]) * heights)

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict[str, Any]:
        cfg = {**super().get_config(), "num_thresholds": self.num_thresholds,
               "curve": self.curve, "summation_method": self.summation_method,
               "multi_label": self.multi_label, "num_labels": self.num_labels,
               "label_weights": None if self.label_weights is None
               else self.label_weights.tolist(), "from_logits": self._from_logits}
        if self._init_from_thresholds:
            cfg["thresholds"] = self.thresholds[1:-1]
        return cfg
