"""Keras losses: classes (MeanSquaredError(), CategoricalCrossentropy(from_logits=...)), their
functions (per-sample losses), and the names compile() accepts.

A Loss computes per-sample losses, weights them by sample_weight and reduces them Keras' way:
'sum_over_batch_size' (the default) divides the weighted sum by the number of per-sample
values. Without sample weights the common losses call chainrule.nn.functional directly
(F.cross_entropy, F.mse_loss, ...), so a Keras model and the same nn model compute the same
numbers. When the model's output layer applies softmax (sigmoid) and the loss is categorical
(binary) cross-entropy on probabilities, the model hands the loss the logits before the
activation, and the loss uses the fused, stable log-softmax form, as tf.keras does.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from chainrule import ops
from chainrule.errors import ShapeError
from chainrule.nn import functional as F
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean")


def _tensor_pred(fn: Callable) -> Callable:
    """keras.losses.fn(y_true, y_pred) with y_pred a Tensor, a NumPy array or a list, as in
    Keras (a float array keeps its dtype; integers become float32)."""
    @functools.wraps(fn)
    def wrapped(y_true: Any, y_pred: Any, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(y_pred, Tensor):
            a = np.asarray(y_pred)
            y_pred = as_tensor(a if a.dtype.kind == "f" else a.astype(np.float32))
        return fn(y_true, y_pred, *args, **kwargs)
    return wrapped


def _target(y_true: Any, like: Tensor, who: str = "loss") -> Tensor:
    """y_true as a Tensor of y_pred's dtype, with a missing last axis added ((N,) vs (N, 1))."""
    a = y_true.array if isinstance(y_true, Tensor) else np.asarray(y_true)
    if a.ndim == like.ndim - 1:
        a = a[..., None]
    if a.shape != like.shape:
        hint = ("; for integer class labels use 'sparse_categorical_crossentropy'"
                if a.shape[-1:] == (1,) or a.ndim < like.ndim else "")
        raise ShapeError(f"{who}: targets of shape {a.shape} do not match the model's outputs "
                         f"of shape {like.shape}{hint}")
    return Tensor._make(a.astype(like.array.dtype, copy=False), None)


def _labels(y_true: Any, n: int, classes: int) -> np.ndarray:
    """Integer class labels (N,) from (N,) or (N, 1) targets."""
    a = y_true.array if isinstance(y_true, Tensor) else np.asarray(y_true)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.shape != (n,):
        hint = (" (these look like one-hot targets: use 'categorical_crossentropy')"
                if a.ndim == 2 and a.shape[1] == classes else "")
        raise ShapeError(f"sparse_categorical_crossentropy: expected integer labels of shape "
                         f"({n},) for predictions ({n}, {classes}), got shape {a.shape}{hint}")
    return a if a.dtype.kind in "iu" else a.astype(np.int64)


def _clipped_log(p: Tensor) -> Tensor:
    return ops.clip(p, EPSILON, 1.0 - EPSILON).log()


# -- the functions: per-sample losses, as keras.losses.* ---------------------------------------
@_tensor_pred
def mean_squared_error(y_true: Any, y_pred: Tensor) -> Tensor:
    d = y_pred - _target(y_true, y_pred, "mean_squared_error")
    return (d * d).mean(axis=-1)


@_tensor_pred
def mean_absolute_error(y_true: Any, y_pred: Tensor) -> Tensor:
    return (y_pred - _target(y_true, y_pred, "mean_absolute_error")).abs().mean(axis=-1)


@_tensor_pred
def mean_absolute_percentage_error(y_true: Any, y_pred: Tensor) -> Tensor:
    t = _target(y_true, y_pred, "mean_absolute_percentage_error")
    return ((t - y_pred).abs() / ops.maximum(t.abs(), EPSILON)).mean(axis=-1) * 100.0


@_tensor_pred
def mean_squared_logarithmic_error(y_true: Any, y_pred: Tensor) -> Tensor:
    t = _target(y_true, y_pred, "mean_squared_logarithmic_error")
    d = ops.maximum(y_pred, EPSILON).log1p() - ops.maximum(t, EPSILON).log1p()
    return (d * d).mean(axis=-1)


@_tensor_pred
def huber(y_true: Any, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    return F.huber_loss(y_pred, _target(y_true, y_pred, "huber"), reduction="none",
                        delta=delta).mean(axis=-1)


@_tensor_pred
def log_cosh(y_true: Any, y_pred: Tensor) -> Tensor:
    d = y_pred - _target(y_true, y_pred, "log_cosh")
    return (d + (-2.0 * d).softplus() - float(np.log(2.0))).mean(axis=-1)


@_tensor_pred
def binary_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> Tensor:
    t = _target(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, t, reduction="none").mean(axis=-1)
    # Keras on torch: F.binary_cross_entropy of the clipped probabilities (1 - p is taken
    # after the clip, so a saturated 1 costs log(1 - float32(1 - eps)), not log(eps))
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return F.binary_cross_entropy(p, t, reduction="none").mean(axis=-1)


@_tensor_pred
def categorical_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> Tensor:
    t = _target(y_true, y_pred, "categorical_crossentropy")
    if from_logits:  # F.cross_entropy's classes are dim 1; Keras' the last
        return F.cross_entropy(y_pred.movedim(-1, 1), t.movedim(-1, 1), reduction="none",
                               label_smoothing=label_smoothing)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return -(t * _clipped_log(p)).sum(axis=-1)


@_tensor_pred
def sparse_categorical_crossentropy(y_true: Any, y_pred: Tensor,
                                    from_logits: bool = False) -> Tensor:
    if y_pred.ndim > 2:  # (N, ..., classes) with labels (N, ...): classes moved to dim 1
        y = _seq_labels(y_true, tuple(y_pred.shape))
        if from_logits:
            return F.cross_entropy(y_pred.movedim(-1, 1), y, reduction="none")
        p = y_pred / y_pred.sum(axis=-1, keepdims=True)
        return F.nll_loss(_clipped_log(p).movedim(-1, 1), y, reduction="none")
    y = _labels(y_true, y_pred.shape[0], y_pred.shape[-1])
    if from_logits:
        return F.cross_entropy(y_pred, y, reduction="none")
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return F.nll_loss(_clipped_log(p), y, reduction="none")


_LOG_EPS = float(np.log(np.float32(EPSILON)))


def _saturated(log_p: np.ndarray, used: np.ndarray) -> bool:
    """Whether Keras' clipping would change a fused loss: a used log-probability below
    log(eps) (when none is, the plain fused op gives Keras' value, bit for bit as nn's)."""
    return bool(np.any((log_p < _LOG_EPS) & used))


def _log_softmax_np(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _seq_labels(y_true: Any, shape: tuple) -> np.ndarray:
    """Integer labels of shape[:-1] (a trailing axis of 1 allowed) for (N, ..., C) outputs."""
    a = y_true.array if isinstance(y_true, Tensor) else np.asarray(y_true)
    if a.shape == shape[:-1] + (1,):
        a = a[..., 0]
    if a.shape != shape[:-1]:
        raise ShapeError(f"sparse_categorical_crossentropy: expected integer labels of shape "
                         f"{shape[:-1]} for predictions {shape}, got shape {a.shape}")
    return a if a.dtype.kind in "iu" else a.astype(np.int64)


@_tensor_pred
def kl_divergence(y_true: Any, y_pred: Tensor) -> Tensor:
    t = ops.clip(_target(y_true, y_pred, "kl_divergence"), EPSILON, 1.0)
    return (t * (t.log() - ops.clip(y_pred, EPSILON, 1.0).log())).sum(axis=-1)


@_tensor_pred
def poisson(y_true: Any, y_pred: Tensor) -> Tensor:
    t = _target(y_true, y_pred, "poisson")
    return (y_pred - t * (y_pred + EPSILON).log()).mean(axis=-1)


@_tensor_pred
def hinge(y_true: Any, y_pred: Tensor) -> Tensor:
    return (1.0 - _signs(y_true, y_pred) * y_pred).relu().mean(axis=-1)


@_tensor_pred
def squared_hinge(y_true: Any, y_pred: Tensor) -> Tensor:
    h = (1.0 - _signs(y_true, y_pred) * y_pred).relu()
    return (h * h).mean(axis=-1)


def _signs(y_true: Any, y_pred: Tensor) -> Tensor:
    """Targets in {0, 1} turned into {-1, 1}, as Keras' hinge losses do."""
    t = _target(y_true, y_pred, "squared_hinge").array
    if np.isin(t, (0, 1)).all():
        t = 2 * t - 1
    return Tensor._make(t, None)


@_tensor_pred
def cosine_similarity(y_true: Any, y_pred: Tensor, axis: int = -1) -> Tensor:
    t = _target(y_true, y_pred, "cosine_similarity")

    def unit(v: Tensor) -> Tensor:
        return v / ops.maximum((v * v).sum(axis=axis, keepdims=True), 1e-12).sqrt()
    return -(unit(t) * unit(y_pred)).sum(axis=axis)


# -- the classes -------------------------------------------------------------------------------
def reduce(per: Tensor, sample_weight: Any, reduction: str) -> Tensor:
    """Weight per-sample losses (N, ...) by sample_weight (N,) and reduce them."""
    if sample_weight is not None:
        w = sample_weight.array if isinstance(sample_weight, Tensor) else np.asarray(
            sample_weight)
        w = w.reshape((-1,) + (1,) * (per.ndim - 1)).astype(per.array.dtype, copy=False)
        per = per * Tensor._make(w, None)
    if reduction == "none":
        return per
    total = per.sum()
    return total if reduction == "sum" else total * (1.0 / max(per.numel(), 1))


class Loss:
    """Base of the loss classes: __call__(y_true, y_pred, sample_weight=None) -> scalar."""

    fusable: str | None = None  # the output activation whose logits the fused form can use

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; valid "
                             f"reductions are {', '.join(repr(r) for r in REDUCTIONS)}")
        self.reduction = reduction
        self.name = name or _snake(type(self).__name__)

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        y_pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(np.asarray(y_pred))
        fast = sample_weight is None and self.reduction in ("sum_over_batch_size", "mean")
        if fast:
            out = self._mean(y_true, y_pred)
            if out is not None:
                return out
        return reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def _mean(self, y_true: Any, y_pred: Tensor) -> Tensor | None:
        """The unweighted mean through one chainrule.nn.functional call, when there is one."""
        return None

    def from_logits_call(self, y_true: Any, logits: Tensor, sample_weight: Any = None) -> Tensor:
        """The same loss computed from the output layer's logits (fused and stable)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "name": self.name}


def _snake(name: str) -> str:
    from chainrule.keras._graph import snake_case

    return snake_case(name)


class LossFunctionWrapper(Loss):
    """A function fn(y_true, y_pred) -> per-sample losses as a Loss."""

    def __init__(self, fn: Callable, reduction: str = "sum_over_batch_size",
                 name: str | None = None, **kwargs: Any) -> None:
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self.fn, self.kwargs = fn, kwargs

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        out = self.fn(y_true, y_pred, **self.kwargs)
        return out if isinstance(out, Tensor) else as_tensor(np.asarray(out))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.kwargs}


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction: str = "sum_over_batch_size",
                 name: str = "mean_squared_error") -> None:
        super().__init__(mean_squared_error, reduction, name)

    def _mean(self, y_true: Any, y_pred: Tensor) -> Tensor | None:
        return F.mse_loss(y_pred, _target(y_true, y_pred, self.name))


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction: str = "sum_over_batch_size",
                 name: str = "mean_absolute_error") -> None:
        super().__init__(mean_absolute_error, reduction, name)

    def _mean(self, y_true: Any, y_pred: Tensor) -> Tensor | None:
        return F.l1_loss(y_pred, _target(y_true, y_pred, self.name))


class Huber(LossFunctionWrapper):
    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size",
                 name: str = "huber_loss") -> None:
        super().__init__(huber, reduction, name, delta=float(delta))


class BinaryCrossentropy(LossFunctionWrapper):
    # not fused with a sigmoid output layer: Keras takes log(1 - p) of the float32
    # probabilities, off the exact value by up to 6e-8 * e^|z|, and its numbers are the goal

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size",
                 name: str = "binary_crossentropy") -> None:
        super().__init__(binary_crossentropy, reduction, name, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


class CategoricalCrossentropy(LossFunctionWrapper):
    fusable = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size",
                 name: str = "categorical_crossentropy") -> None:
        super().__init__(categorical_crossentropy, reduction, name,
                         from_logits=bool(from_logits), label_smoothing=float(label_smoothing))
        if from_logits:
            self.fusable = None

    def _mean(self, y_true: Any, y_pred: Tensor) -> Tensor | None:
        if not self.kwargs["from_logits"] or y_pred.ndim != 2:
            return None
        return self.from_logits_call(y_true, y_pred)

    def from_logits_call(self, y_true: Any, logits: Tensor, sample_weight: Any = None) -> Tensor:
        ls = self.kwargs["label_smoothing"]
        t = _target(y_true, logits, self.name)
        if not self.kwargs["from_logits"] and _saturated(_log_softmax_np(logits.array),
                                                          (t.array != 0) | bool(ls)):
            # fused on a softmax layer's saturated logits: Keras' clipped value
            per = categorical_crossentropy(y_true, F.softmax(logits, -1), False, ls)
            return reduce(per, sample_weight, self.reduction)
        if (sample_weight is None and self.reduction in ("sum_over_batch_size", "mean")
                and logits.ndim == 2):  # F.cross_entropy's classes are dim 1, Keras' the last
            return F.cross_entropy(logits, t, label_smoothing=ls)
        return reduce(categorical_crossentropy(y_true, logits, True, ls), sample_weight,
                      self.reduction)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    fusable = "softmax"

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy") -> None:
        super().__init__(sparse_categorical_crossentropy, reduction, name,
                         from_logits=bool(from_logits))
        if from_logits:
            self.fusable = None

    def _mean(self, y_true: Any, y_pred: Tensor) -> Tensor | None:
        if not self.kwargs["from_logits"] or y_pred.ndim != 2:
            return None
        return self.from_logits_call(y_true, y_pred)

    def from_logits_call(self, y_true: Any, logits: Tensor, sample_weight: Any = None) -> Tensor:
        if not self.kwargs["from_logits"]:  # fused on a softmax layer's logits
            seq = logits.ndim > 2
            y = (_seq_labels(y_true, tuple(logits.shape)) if seq
                 else _labels(y_true, logits.shape[0], logits.shape[1]))
            lp = np.take_along_axis(_log_softmax_np(logits.array), y[..., None], -1)
            if _saturated(lp, np.True_):  # Keras' clipped value, from the probabilities
                per = sparse_categorical_crossentropy(y_true, F.softmax(logits, -1), False)
                return reduce(per, sample_weight, self.reduction)
        if logits.ndim != 2:
            return reduce(sparse_categorical_crossentropy(y_true, logits, True), sample_weight,
                          self.reduction)
        y = _labels(y_true, logits.shape[0], logits.shape[1])
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean"):
            return F.cross_entropy(logits, y)
        return reduce(F.cross_entropy(logits, y, reduction="none"), sample_weight,
                      self.reduction)


class _Simple(LossFunctionWrapper):
    fn: Callable = staticmethod(mean_squared_error)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None) -> None:
        super().__init__(type(self).fn, reduction, name or _snake(type(self).__name__))


def _simple(name: str, fn: Callable) -> type:
    return type(name, (_Simple,), {"fn": staticmethod(fn)})


MeanAbsolutePercentageError = _simple("MeanAbsolutePercentageError",
                                      mean_absolute_percentage_error)
MeanSquaredLogarithmicError = _simple("MeanSquaredLogarithmicError",
                                      mean_squared_logarithmic_error)
LogCosh = _simple("LogCosh", log_cosh)
KLDivergence = _simple("KLDivergence", kl_divergence)
Poisson = _simple("Poisson", poisson)
Hinge = _simple("Hinge", hinge)
SquaredHinge = _simple("SquaredHinge", squared_hinge)
CosineSimilarity = _simple("CosineSimilarity", cosine_similarity)

mse, mae, mape, msle = (mean_squared_error, mean_absolute_error,
                        mean_absolute_percentage_error, mean_squared_logarithmic_error)

CLASSES: dict[str, type] = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge, CosineSimilarity)}
NAMES: dict[str, type] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "log_cosh": LogCosh, "logcosh": LogCosh, "kl_divergence": KLDivergence, "kld": KLDivergence,
    "poisson": Poisson, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "cosine_similarity": CosineSimilarity,
}


def get(identifier: Any) -> Loss:
    """A Loss from a name ('mse', 'categorical_crossentropy', a class name), a Loss, or a
    function fn(y_true, y_pred) -> per-sample losses."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier) or CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; valid losses are "
                             f"{', '.join(repr(k) for k in NAMES)}, a Loss instance or a "
                             "function fn(y_true, y_pred)")
        return cls()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(f"unknown loss config {identifier.get('class_name')!r}")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"compile: loss must be a name, a Loss or a function, got {identifier!r}")


def serialize(loss: Loss) -> Any:
    if type(loss).__name__ in CLASSES:
        return {"class_name": type(loss).__name__, "config": _plain_config(loss)}
    raise ValueError(f"cannot save the loss {loss!r}: only the built-in losses can be saved; "
                     "compile again after load_model(..., compile=False)")


def _plain_config(loss: Loss) -> dict[str, Any]:
    import inspect

    params = set(inspect.signature(type(loss).__init__).parameters)
    return {k: v for k, v in loss.get_config().items() if k in params}
