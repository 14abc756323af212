"""Keras metrics: stateful objects (update_state, result, reset_state) computed on NumPy arrays,
outside the autograd graph, and the names compile(metrics=[...]) accepts.

'accuracy' (or 'acc') picks binary, sparse categorical or categorical accuracy from the loss and
the shapes of the first batch, as Keras does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

EPSILON = 1e-7


def _np(a: Any) -> np.ndarray:
    return a.detach().numpy() if isinstance(a, Tensor) else np.asarray(a)


def _match(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return y_true[..., None] if y_true.ndim == y_pred.ndim - 1 else y_true


def _sparse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


# -- per-sample metric functions on arrays ------------------------------------------------------
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    p = _np(y_pred)
    t = _match(_np(y_true), p)
    return (t == (p > threshold)).mean(axis=-1)  # Keras compares the targets as they are


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    return (_np(y_true).argmax(-1) == _np(y_pred).argmax(-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    return (_sparse(_np(y_true), p).astype(np.int64) == p.argmax(-1)).astype(np.float32)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    return sparse_top_k_categorical_accuracy(_np(y_true).argmax(-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    p = _np(y_pred)
    t = _sparse(_np(y_true), p).astype(np.int64)
    top = np.argpartition(-p, min(k, p.shape[-1]) - 1, axis=-1)[..., :k]
    return (top == t[..., None]).any(-1).astype(np.float32)


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    return ((p - _match(_np(y_true), p)) ** 2).mean(-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    return np.abs(p - _match(_np(y_true), p)).mean(-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    t = _match(_np(y_true), p)
    return 100.0 * (np.abs(t - p) / np.maximum(np.abs(t), EPSILON)).mean(-1)


def binary_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    p = np.clip(_np(y_pred), EPSILON, 1 - EPSILON)
    t = _match(_np(y_true), p)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    p = np.clip(p / p.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
    return -(_np(y_true) * np.log(p)).sum(-1)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    p = _np(y_pred)
    p = np.clip(p / p.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
    t = _sparse(_np(y_true), p).astype(np.int64)
    return -np.log(np.take_along_axis(p, t[..., None], -1)[..., 0])


# -- metric objects ---------------------------------------------------------------------------
class MetricVariable(Tensor):
    """A metric's state (from Metric.add_variable): a tensor outside the graph with Keras'
    Variable API: assign, assign_add, assign_sub, value, numpy()."""

    __slots__ = ()

    @property
    def value(self) -> Tensor:
        return self

    def assign(self, value: Any) -> MetricVariable:
        self.array[...] = _np(value)
        self._bump()  # an in-place change, seen by any graph that saved this tensor
        return self

    def assign_add(self, value: Any) -> MetricVariable:
        return self.assign(self.array + _np(value))

    def assign_sub(self, value: Any) -> MetricVariable:
        return self.assign(self.array - _np(value))


class Metric:
    """Keras' Metric: update_state(y_true, y_pred, sample_weight=None) accumulates, result()
    reads, reset_state() starts over. A subclass keeps its state in variables from
    self.add_variable(shape, initializer, dtype, name), which reset_state zeroes."""

    _reset_at_init = False  # the built-in metrics keep host floats, set up by reset_state

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        from chainrule.keras._graph import snake_case, unique_name

        # unnamed: 'auc', then 'auc_1', ... as Keras names them (reset by clear_session)
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = "float32" if dtype is None else np.dtype(dtype).name
        self._variables: list[MetricVariable] = []
        if self._reset_at_init:
            self.reset_state()

    def add_variable(self, shape: Any = (), initializer: Any = "zeros", dtype: Any = None,
                     aggregation: str = "sum", name: str | None = None) -> MetricVariable:
        """A new state variable of `shape`, initialised by `initializer` (a Keras initializer
        or its name)."""
        from chainrule.keras import initializers

        shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        dt = np.dtype(dtype or self.dtype)
        a = np.asarray(initializers.get(initializer)(shape, dt.name)).astype(dt).reshape(shape)
        v = Tensor._make(np.array(a, copy=True), None)
        v.__class__ = MetricVariable  # the same slots: Keras' Variable API on a tensor
        v.name = f"{self.name}/{name or f'variable_{len(self._variables)}'}"
        self._variables.append(v)
        return v

    @property
    def variables(self) -> list[MetricVariable]:
        return list(getattr(self, "_variables", []))

    def reset_state(self) -> None:
        for v in self.variables:
            v.assign(np.zeros(v.shape, v.array.dtype))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """update_state(*args) then result(), as Keras' Metric.__call__."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values it is given."""

    _reset_at_init = True

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v = _np(values).astype(np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
            return
        w = _np(sample_weight).astype(np.float64)
        if w.size != 1 or v.ndim == 0:  # one weight per sample (a scalar weighs every value)
            w = w.reshape(()) if w.size == 1 else w.reshape((-1,) + (1,) * (v.ndim - 1))
        w = np.broadcast_to(w, v.shape)
        self.total += float((v * w).sum())
        self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean over all samples of fn(y_true, y_pred) (per-sample values)."""

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.kwargs}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        super().update_state(self.fn(y_true, y_pred, **self.kwargs), sample_weight)


def _wrapper(cls_name: str, fn: Callable, default: str, **fixed: Any) -> type:
    def __init__(self: Any, name: str = default, dtype: Any = None, **kwargs: Any) -> None:
        MeanMetricWrapper.__init__(self, fn, name, dtype, **{**fixed, **kwargs})
    return type(cls_name, (MeanMetricWrapper,), {"__init__": __init__})


BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy")
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy,
                               "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy")
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy",
                                         sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy")
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError",
                                       mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy")
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", categorical_crossentropy,
                                   "categorical_crossentropy")
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy")


class RootMeanSquaredError(Mean):
    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name, dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        super().update_state(mean_squared_error(y_true, y_pred), sample_weight)

    def result(self) -> float:
        return float(np.sqrt(super().result()))


from chainrule.keras.metrics_confusion import (  # noqa: E402  (they subclass Metric)
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from chainrule.keras.metrics_fscore import F1Score, FBetaScore  # noqa: E402

NAMES: dict[str, type] = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "precision": Precision, "recall": Recall, "auc": AUC, "f1_score": F1Score,
    "true_positives": TruePositives,
    "false_positives": FalsePositives, "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
}
CLASSES: dict[str, type] = {c.__name__: c for c in {*NAMES.values(), FBetaScore}}


class LossTracker(Mean):
    """model.metrics' 'loss': the running mean of the loss, kept in the model's compile state
    (so the built-in step and a custom train_step's update_state(loss) add to the same mean)."""

    def __init__(self, model: Any, name: str = "loss") -> None:
        self.model = model
        super().__init__(name)

    @property  # type: ignore[override]
    def total(self) -> float:
        return self.model.compiled.loss_sum

    @total.setter
    def total(self, value: float) -> None:
        self.model.compiled.loss_sum = value

    @property  # type: ignore[override]
    def count(self) -> float:
        return self.model.compiled.count

    @count.setter
    def count(self, value: float) -> None:
        self.model.compiled.count = value

    def reset_state(self) -> None:
        c = self.model.compiled
        c.loss_sum, c.count, c.part_sums = 0.0, 0, {}


class OutputLossTracker(Metric):
    """model.metrics' '<output>_loss' of a model with several outputs: that output's running
    loss, kept in the model's compile state (reset with the 'loss' tracker)."""

    _reset_at_init = True

    def __init__(self, model: Any, index: int, name: str) -> None:
        self.model, self.index = model, index
        super().__init__(name)

    def reset_state(self) -> None:
        c = self.model.compiled
        if c is not None:
            c.part_sums.pop(self.index, None)

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        c = self.model.compiled
        w = 1.0 if sample_weight is None else float(_np(sample_weight).sum())
        c.part_sums[self.index] = c.part_sums.get(self.index, 0.0) + float(
            _np(values).mean()) * w

    def result(self) -> float:
        c = self.model.compiled
        return c.part_sums.get(self.index, 0.0) / c.count if c.count else 0.0


class CompileMetrics(Metric):
    """model.metrics' 'compile_metrics': the metrics given to compile(), updated together;
    result() is a dict {name: value} (fit logs each at the top level)."""

    _reset_at_init = True

    def __init__(self, model: Any, name: str = "compile_metrics") -> None:
        self.model = model
        super().__init__(name)

    def reset_state(self) -> None:
        c = self.model.compiled
        if c is not None:
            c.reset_metrics()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        c = self.model.compiled
        ys = list(y_true) if isinstance(y_true, (list, tuple)) else [y_true]
        outs = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
        outs = [o if isinstance(o, Tensor) else as_tensor(_np(o)) for o in outs]
        if not c._resolved:
            c._resolve(len(outs))
        c.update_metrics([_np(y) for y in ys], outs,
                         None if sample_weight is None else _np(sample_weight))

    def result(self) -> dict[str, float]:  # type: ignore[override]
        c = self.model.compiled
        return {} if c is None else c.metric_logs()

    @property
    def metrics(self) -> list[Metric]:
        """The metric objects inside, in compile() order (built at the first batch)."""
        c = self.model.compiled
        return [m for _, m, _, _ in (c._metrics or [])] if c is not None else []


def get(identifier: Any, loss: Any = None, y_true: Any = None, y_pred: Any = None) -> Metric:
    """A Metric from a name, a class name, a Metric or a function fn(y_true, y_pred) -> values.
    'accuracy' / 'acc' is resolved from the loss and the shapes of a first batch."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return _accuracy(identifier, loss, y_true, y_pred)
        if identifier in NAMES:  # Keras logs a metric under the name it was asked by: 'mae'
            return NAMES[identifier](name=identifier)
        cls = CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown metric {identifier!r}; valid metrics are 'accuracy', "
                             f"{', '.join(repr(k) for k in NAMES)}, a Metric instance or a "
                             "function fn(y_true, y_pred)")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(_numpy_fn(identifier))
    raise TypeError(f"compile: a metric must be a name, a Metric or a function, got "
                    f"{identifier!r}")


def _numpy_fn(fn: Callable) -> Callable:
    """A user metric may be written with chainrule ops on Tensors: feed it Tensors."""
    def wrapped(y_true: Any, y_pred: Any) -> np.ndarray:
        out = fn(as_tensor(_np(y_true)), as_tensor(_np(y_pred)))
        return _np(out)
    wrapped.__name__ = getattr(fn, "__name__", "metric")
    return wrapped


def _accuracy(name: str, loss: Any, y_true: Any, y_pred: Any) -> Metric:
    loss_name = getattr(loss, "name", "")
    p, t = _np(y_pred), _np(y_true)
    if loss_name == "binary_crossentropy" or p.shape[-1] == 1:
        fn = binary_accuracy
    elif loss_name == "sparse_categorical_crossentropy" or t.ndim < p.ndim or t.shape[-1] == 1:
        fn = sparse_categorical_accuracy
    else:
        fn = categorical_accuracy
    return MeanMetricWrapper(fn, name)
