"""compile / fit / evaluate / predict / train_on_batch: the Keras training loop over chainrule.

One training step is exactly the hand-written chainrule loop: forward, loss, zero_grad,
backward, optimizer step. What fit adds around it is bookkeeping on host numbers (running loss
and metrics), batching, and callbacks, which cost nothing when nobody listens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.keras import losses as losses_mod
from chainrule.keras import optimizers as optimizers_mod
from chainrule.keras.models._data import (
    ArrayData,
    IterableData,
    class_weights,
    is_batch_iterable,
    split,
    to_arrays,
)
from chainrule.keras.models.compiled import Compiled
from chainrule.tensor import Tensor


class Trainer:
    """The training methods of Model; the model provides _forward(list of Tensors) -> list of
    Tensors, input/output names and shapes, and _ensure_built(arrays)."""

    def _trainer_init(self) -> None:
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.compiled: Compiled | None = None
        self.stop_training = False
        self.history: Any = None

    # -- compile -------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: Any = None,
                steps_per_execution: int = 1, jit_compile: Any = "auto",
                auto_scale_loss: bool = True) -> None:
        """Choose the optimizer, the loss (per output: one, a list or a dict by output name),
        and the metrics to report. Unknown names raise ValueError listing the valid ones."""
        self.optimizer = optimizers_mod.get(optimizer)
        self.compiled = Compiled(self, loss, loss_weights, metrics, weighted_metrics)
        self.compiled.config = {"optimizer": optimizers_mod.serialize(self.optimizer),
                                "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics}

    def _require_compiled(self, what: str) -> Compiled:
        if self.compiled is None:
            raise RuntimeError(
                f"{what}: the model '{self.name}' must be compiled first: call "
                "model.compile(optimizer=..., loss=..., metrics=[...]); optimizers: "
                f"{', '.join(repr(k) for k in optimizers_mod.ALL)}; losses: "
                f"{', '.join(repr(k) for k in losses_mod.NAMES)}")
        if self.compiled.losses is None:
            raise RuntimeError(f"{what}: the model was compiled without a loss; pass loss= to "
                               "compile()")
        return self.compiled

    @property
    def metrics_names(self) -> list[str]:
        return list(self.compiled.names()) if self.compiled else []

    def _metric_direction(self, name: str) -> str | None:
        return self.compiled.direction(name) if self.compiled else None

    # -- data ----------------------------------------------------------------------------------
    def _data(self, x: Any, y: Any, sample_weight: Any, batch_size: int | None,
              steps: int | None, class_weight: dict | None = None) -> Any:
        if is_batch_iterable(x):
            return IterableData(x, self._input_names(), self._output_names(), steps)
        xs = to_arrays(x, self._input_names(), "input")
        if xs is None:
            raise ValueError("no input data: pass x")
        ys = to_arrays(y, self._output_names(), "output")
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
        if class_weight is not None:
            cw = class_weights(ys, class_weight)
            sw = cw if sw is None else sw * cw
        self._ensure_built(xs)
        return ArrayData(self._cast_inputs(xs), ys, sw, batch_size or 32)

    def _cast_inputs(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Cast once to the Input dtypes (float64 data would otherwise be cast every batch);
        a subclassed model gets its floating inputs as float32."""
        if self._plan is not None:
            return [a if a.dtype == dt else a.astype(dt) for a, dt in zip(xs, self._input_dtypes())]
        return [a.astype(np.float32) if a.dtype.kind == "f" and a.dtype != np.float32 else a
                for a in xs]

    # -- one step ------------------------------------------------------------------------------
    def _trainable_params(self) -> list[Tensor]:
        return [p for _, w in self._weight_entries(True) for p in w.params]

    def _train_step(self, xs: list, ys: list, sw: Any, params: list[Tensor]) -> None:
        c = self.compiled
        c.prepare()
        outs = self._forward(xs)
        loss = c.total_loss(ys, outs, sw)
        for p in params:
            p.grad = None
        loss.backward()
        self.optimizer.apply(params)
        c.update(ys, outs, sw, float(loss.array), len(xs[0]))

    def _test_step(self, xs: list, ys: list, sw: Any) -> None:
        c = self.compiled
        c.prepare()
        with no_grad():
            outs = self._forward(xs)
            loss = c.total_loss(ys, outs, sw)
        c.update(ys, outs, sw, float(loss.array), len(xs[0]))

    def _set_mode(self, training: bool) -> None:
        if self.training != training:
            self.train(training)

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1) -> Any:
        """Train for `epochs` epochs; returns a History (history.history['loss'], ...)."""
        from chainrule.keras.callbacks import CallbackList, History, ProgbarLogger

        c = self._require_compiled("fit")
        if validation_split and validation_data is None and not is_batch_iterable(x):
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in (0, 1), got "
                                 f"{validation_split}")
            xs = to_arrays(x, self._input_names(), "input")
            ys = to_arrays(y, self._output_names(), "output")
            at = int(len(xs[0]) * (1 - validation_split))
            (x, x_val), (y, y_val) = split(xs, at), split(ys, at)
            sw_all = None if sample_weight is None else np.asarray(sample_weight)
            if sw_all is not None:
                sample_weight = sw_all[:at]
            validation_data = (x_val, y_val) if sw_all is None else (x_val, y_val, sw_all[at:])
        data = self._data(x, y, sample_weight, batch_size, steps_per_epoch, class_weight)
        val = self._validation(validation_data, validation_batch_size or batch_size,
                               validation_steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        history = History()
        cbs = list(callbacks or []) + [history] + ([ProgbarLogger(verbose)] if verbose else [])
        cbl = CallbackList(cbs, self, {"epochs": epochs, "steps": data.steps,
                                       "verbose": verbose})
        self.stop_training = False
        batch_logs = cbl.wants("on_train_batch_end")
        params = None
        cbl.call("on_train_begin", None)
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            c.reset()
            self._set_mode(True)
            cbl.call("on_epoch_begin", epoch, None)
            for step, (xs, ys, sw) in enumerate(data.batches(shuffle)):
                cbl.call("on_train_batch_begin", step, None)
                if params is None:
                    self._ensure_built(xs)
                    params = self._trainable_params()
                self._train_step(xs, ys, sw, params)
                if batch_logs:
                    cbl.call("on_train_batch_end", step, c.logs())
                if self.stop_training:
                    break
            logs = c.logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbl.call("on_test_begin", None)
                val_logs = self._run_test(val, cbl)
                cbl.call("on_test_end", val_logs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbl.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        self._set_mode(False)
        cbl.call("on_train_end", logs)
        return history

    def _validation(self, data: Any, batch_size: int | None, steps: int | None) -> Any:
        if data is None:
            return None
        if is_batch_iterable(data):
            return IterableData(data, self._input_names(), self._output_names(), steps)
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val)")
        return self._data(data[0], data[1], data[2] if len(data) == 3 else None, batch_size,
                          steps)

    def _run_test(self, data: Any, cbl: Any) -> dict[str, float]:
        c = self.compiled
        c.reset()
        self._set_mode(False)
        for step, (xs, ys, sw) in enumerate(data.batches(False)):
            if cbl is not None:
                cbl.call("on_test_batch_begin", step, None)
            self._test_step(xs, ys, sw)
            if cbl is not None and cbl.wants("on_test_batch_end"):
                cbl.call("on_test_batch_end", step, c.logs())
        return c.logs()

    # -- evaluate / predict --------------------------------------------------------------------
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False) -> Any:
        """The loss (and metrics) on the data: a float, a list [loss, metric, ...] or a dict."""
        from chainrule.keras.callbacks import CallbackList

        self._require_compiled("evaluate")
        data = self._data(x, y, sample_weight, batch_size, steps)
        cbl = CallbackList(list(callbacks or []), self, {"steps": data.steps})
        cbl.call("on_test_begin", None)
        logs = self._run_test(data, cbl)
        cbl.call("on_test_end", logs)
        verbose = 1 if verbose == "auto" else int(verbose)
        if verbose:
            from chainrule.keras.utils import Progbar

            Progbar(data.steps, verbose=2).update(data.steps or 0, logs, finalize=True)
        return self._format_logs(logs, return_dict)

    def _format_logs(self, logs: dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None) -> Any:
        """Outputs for x, batched, in inference mode: an array (a list for several outputs)."""
        from chainrule.keras.callbacks import CallbackList

        data = self._data(x, None, None, batch_size, steps)
        cbl = CallbackList(list(callbacks or []), self, {"steps": data.steps})
        self._set_mode(False)
        parts: list[list[np.ndarray]] = []
        cbl.call("on_predict_begin", None)
        with no_grad():
            for step, (xs, _, _) in enumerate(data.batches(False)):
                cbl.call("on_predict_batch_begin", step, None)
                outs = [o.numpy() for o in self._forward(xs)]
                parts.append(outs)
                cbl.call("on_predict_batch_end", step, {"outputs": outs})
        cbl.call("on_predict_end", None)
        if not parts:
            raise ValueError("predict: got no batches")
        out = [np.concatenate(p) for p in zip(*parts)]
        kind = getattr(self, "_out_kind", None) if self._plan is not None else None
        if isinstance(kind, list):  # outputs given as a dict: answer with a dict
            return dict(zip(kind, out))
        return out[0] if len(out) == 1 else out

    # -- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One optimizer step on one batch; returns that batch's loss (and metrics)."""
        c = self._require_compiled("train_on_batch")
        data = self._data(x, y, sample_weight, None, None, class_weight)
        xs, ys, sw = data.xs, data.ys, data.sw
        c.reset()
        self._set_mode(True)
        self._train_step(xs, ys, sw, self._trainable_params())
        return self._format_logs(c.logs(), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        c = self._require_compiled("test_on_batch")
        data = self._data(x, y, sample_weight, None, None)
        c.reset()
        self._set_mode(False)
        self._test_step(data.xs, data.ys, data.sw)
        return self._format_logs(c.logs(), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        data = self._data(x, None, None, None, None)
        self._set_mode(False)
        with no_grad():
            out = [o.numpy() for o in self._forward(data.xs)]
        return out[0] if len(out) == 1 else out
