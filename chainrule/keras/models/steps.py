"""Keras' step API on a Model: train_step / test_step / predict_step(data), compute_loss,
compute_metrics, metrics, reset_metrics, get_metrics_result.

fit / evaluate / predict call the model's own train_step / test_step / predict_step when a
subclass overrides them (the Keras guides' "customizing what happens in fit()" pattern, written
for the torch backend: self.zero_grad(), loss.backward(), self.optimizer.apply(grads, weights));
otherwise they run the fast built-in step, which a compute_loss override still feeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.keras import metrics as metrics_mod
from chainrule.keras.distribution import data_parallel
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def _host(a: Any) -> np.ndarray:
    return a.detach().numpy() if isinstance(a, Tensor) else np.asarray(a)


def _flat(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def pack(xs: list, ys: list | None, sw: Any) -> Any:
    """A batch as Keras hands it to train_step: x, (x, y) or (x, y, sample_weight), with one
    Tensor for a single input / output and a list for several."""
    x = [as_tensor(a) for a in xs]
    x = x[0] if len(x) == 1 else x
    if ys is None:
        return x if sw is None else (x, None, as_tensor(sw))
    y = [as_tensor(a) for a in ys]
    y = y[0] if len(y) == 1 else y
    return (x, y) if sw is None else (x, y, as_tensor(sw))


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """keras.utils.unpack_x_y_sample_weight: (x, y, sample_weight) from a batch."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data!r}")


def pythonify_logs(logs: Any) -> dict[str, Any]:
    """Logs as callbacks see them in Keras: nested dicts flattened, sorted by key, values turned
    into Python floats where they can be."""
    result: dict[str, Any] = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        try:
            value = float(_host(value)) if isinstance(value, (Tensor, np.ndarray)) else float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


class Steps:
    """The Keras step methods of Model (mixed into Trainer)."""

    def _overrides(self, name: str) -> bool:
        from chainrule.keras.models.training import Trainer

        return getattr(type(self), name) is not getattr(Trainer, name)

    # -- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """Keras' model.metrics: the loss tracker 'loss' and 'compile_metrics' (whose result is
        a dict of the metrics given to compile()) once compiled, then the Metric objects the
        model holds as attributes (self.loss_tracker = Mean(name='loss'))."""
        own = [v for v in vars(self).values() if isinstance(v, metrics_mod.Metric)]
        c = self.compiled  # Keras tracks the Metrics assigned as attributes too (own)
        if c is None:
            return own
        cached = getattr(self, "_step_metrics", None)
        if cached is None or cached[0] is not c or cached[1] != c._resolved:
            ms: list = [metrics_mod.LossTracker(self)]
            if c._metric_spec is not None or c._weighted_spec is not None:
                ms.append(metrics_mod.CompileMetrics(self))
            if c._resolved and len(c.out_names) > 1:  # one loss per output, once known
                ms += [metrics_mod.OutputLossTracker(self, i, f"{n}_loss")
                       for i, n in enumerate(c.out_names) if c.losses[i] is not None]
            cached = self._step_metrics = (c, c._resolved, ms)
        return list(cached[2]) + own

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    def _flatten_metrics_in_order(self, logs: dict[str, Any]) -> Any:
        """evaluate's list: the values of model.metrics in order (the metrics inside
        'compile_metrics' by their own names), then the other logs by sorted name."""
        names: list[str] = []
        for m in self.metrics:
            if isinstance(m, metrics_mod.CompileMetrics):
                names += [inner.name for inner in m.metrics]
            else:
                names.append(m.name)
        results = [logs[n] for n in names if n in logs]
        results += [logs[k] for k in sorted(logs) if k not in names]
        return results[0] if len(results) == 1 else results

    def _metrics_or_logs(self, logs: Any) -> Any:
        """The model's metrics when a step returned them (fit's epoch logs), else the logs."""
        metric_logs = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(metric_logs):
            return metric_logs
        return logs

    # -- loss ----------------------------------------------------------------------------------
    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Tensor:
        """The compiled loss(es) of y_pred against y, plus the layers' regularization losses:
        a scalar Tensor to call backward() on."""
        c = self.compiled
        if c is not None and c.losses is not None:
            outs = [o if isinstance(o, Tensor) else as_tensor(_host(o)) for o in _flat(y_pred)]
            ys = None if y is None else [_host(a) for a in _flat(y)]
            sw = None if sample_weight is None else _host(sample_weight)
            return self._plus_added_losses(c.total_loss(ys, outs, sw))
        losses = list(self.losses)
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return losses[0] if len(losses) == 1 else sum(losses[1:], losses[0])

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Update the compiled metrics on a batch; returns get_metrics_result()."""
        for m in self.metrics:
            if m.name != "loss":
                m.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # -- the steps -----------------------------------------------------------------------------
    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimizer step on a batch (x, y[, sample_weight]); returns the running metrics."""
        x, y, sw = unpack_x_y_sample_weight(data)
        xs, ys = [_host(a) for a in _flat(x)], None if y is None else [_host(a) for a in _flat(y)]
        self._require_compiled("train_step")
        self._ensure_built(xs)
        self._builtin_train_step(self._cast_inputs(xs), ys, None if sw is None else _host(sw),
                                 self._trainable_params())
        return self.get_metrics_result()

    def test_step(self, data: Any) -> dict[str, Any]:
        """The loss and metrics on a batch, without training; returns the running metrics."""
        x, y, sw = unpack_x_y_sample_weight(data)
        xs, ys = [_host(a) for a in _flat(x)], None if y is None else [_host(a) for a in _flat(y)]
        self._require_compiled("test_step")
        self._ensure_built(xs)
        self._builtin_test_step(self._cast_inputs(xs), ys, None if sw is None else _host(sw))
        return self.get_metrics_result()

    def predict_step(self, data: Any) -> Any:
        """The model's outputs on a batch (x alone, or the x of (x, y, ...))."""
        x, _, _ = unpack_x_y_sample_weight(data)
        with no_grad():
            outs = self._forward([_host(a) for a in _flat(x)])
        return outs[0] if len(outs) == 1 else outs

    # -- the built-in steps, on lists of arrays ------------------------------------------------
    def _loss_of(self, xs: list, ys: list | None, sw: Any, outs: list[Tensor],
                 training: bool) -> Tensor:
        c = self.compiled
        if not self._overrides("compute_loss"):
            return self._plus_added_losses(c.total_loss(ys, outs, sw))
        if not c._resolved:
            c._resolve(len(outs))
        c._parts = []
        pack_ = pack(xs, ys, sw)
        x, y, w = unpack_x_y_sample_weight(pack_)
        return self.compute_loss(x=x, y=y, y_pred=outs[0] if len(outs) == 1 else outs,
                                 sample_weight=w, training=training)

    def _plus_added_losses(self, loss: Tensor) -> Tensor:
        """The loss plus the sum of each add_loss() loss of this forward pass, as Keras."""
        for v in self._added_loss_list():
            loss = loss + (v if v.dtype.kind == "f" else v.float()).sum()
        return loss

    def _builtin_train_step(self, xs: list, ys: list | None, sw: Any,
                            params: list[Tensor]) -> None:
        c = self.compiled
        c.prepare()
        dp = data_parallel()  # under mpiexec with keras.distribution.DataParallel()
        if dp is not None:
            return dp.train_step(self, xs, ys, sw, params)
        self._clear_losses()  # the graph runs its layers directly: start add_loss afresh
        outs = self._forward(xs)
        loss = self._loss_of(xs, ys, sw, outs, True)
        if params:  # Keras trains a model with nothing trainable too: the step only evaluates
            for p in params:
                p.grad = None
            loss.backward()
            self.optimizer._step(params)
        c.update(ys, outs, sw, float(loss.array), len(xs[0]))

    def _builtin_test_step(self, xs: list, ys: list | None, sw: Any) -> None:
        c = self.compiled
        c.prepare()
        dp = data_parallel()
        if dp is not None:
            return dp.test_step(self, xs, ys, sw)
        self._clear_losses()
        with no_grad():
            outs = self._forward(xs)
            loss = self._loss_of(xs, ys, sw, outs, False)
        c.update(ys, outs, sw, float(loss.array), len(xs[0]))
