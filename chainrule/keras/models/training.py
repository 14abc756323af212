"""compile / fit / evaluate / predict / train_on_batch: the Keras training loop over chainrule.

One training step is exactly the hand-written chainrule loop: forward, loss, zero_grad,
backward, optimizer step. What fit adds around it is bookkeeping on host numbers (running loss
and metrics), batching, and callbacks, which cost nothing when nobody listens.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.keras import losses as losses_mod
from chainrule.keras import optimizers as optimizers_mod
from chainrule.keras.distribution import data_parallel
from chainrule.keras.models._data import (
    ArrayData,
    IterableData,
    PyDatasetData,
    class_weights,
    is_batch_iterable,
    is_py_dataset,
    split,
    to_arrays,
)
from chainrule.keras.models.compiled import Compiled
from chainrule.keras.models.steps import Steps, pack, pythonify_logs
from chainrule.tensor import Tensor


class Trainer(Steps):
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
        prev = self.compiled
        if prev is not None:  # as Keras, compiling again without a loss / metrics keeps them
            if loss is None:
                loss, loss_weights = prev._loss_spec, prev._weights_spec
            if metrics is None and weighted_metrics is None:
                metrics, weighted_metrics = prev._metric_spec, prev._weighted_spec
        self.compiled = Compiled(self, loss, loss_weights, metrics, weighted_metrics)
        self.compiled.config = {"optimizer": optimizers_mod.serialize(self.optimizer),
                                "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics}

    def _require_compiled(self, what: str, loss: bool = True) -> Compiled:
        if self.compiled is None:
            raise RuntimeError(
                f"{what}: the model '{self.name}' must be compiled first: call "
                "model.compile(optimizer=..., loss=..., metrics=[...]); optimizers: "
                f"{', '.join(repr(k) for k in optimizers_mod.ALL)}; losses: "
                f"{', '.join(repr(k) for k in losses_mod.NAMES)}")
        # compiled without a loss: the step trains on add_loss() losses, and raises Keras'
        # "No loss to compute" when there are none
        return self.compiled

    @property
    def metrics_names(self) -> list[str]:
        """Keras 3's: the names of model.metrics (['loss', 'compile_metrics'] once compiled
        with metrics); the logged names are the keys of evaluate(..., return_dict=True)."""
        return [m.name for m in self.metrics]

    def _metric_direction(self, name: str) -> str | None:
        return self.compiled.direction(name) if self.compiled else None

    # -- data ----------------------------------------------------------------------------------
    def _data(self, x: Any, y: Any, sample_weight: Any, batch_size: int | None,
              steps: int | None, class_weight: dict | None = None) -> Any:
        if is_py_dataset(x):
            return PyDatasetData(x, self._input_names(), self._output_names(), steps)
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

    def _reset_state(self) -> None:
        """Keras' reset_metrics, and the compiled running values behind the built-in step."""
        self.reset_metrics()
        if self.compiled is not None:
            self.compiled.reset()

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
        """Train for `epochs` epochs; returns a History (history.history['loss'], ...).
        A train_step override of the model runs each batch, as in Keras."""
        from chainrule.keras.callbacks import CallbackList, History, ProgbarLogger

        custom = self._overrides("train_step")
        self._require_compiled("fit", loss=not custom)
        if validation_split and validation_data is None and not is_batch_iterable(x) \
                and not is_py_dataset(x):
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
        dp = data_parallel()  # under mpiexec: same global batches everywhere, rank 0 reports
        if dp is not None:
            data, val, callbacks, verbose = dp.for_fit(self, data, val, callbacks, verbose)
        history = History()
        cbs = list(callbacks or []) + [history] + ([ProgbarLogger(verbose)] if verbose else [])
        cbl = CallbackList(cbs, self, {"epochs": epochs, "steps": data.steps,
                                       "verbose": verbose})
        self.stop_training = False
        batch_logs = cbl.wants("on_train_batch_end")
        params = None
        cbl.call("on_train_begin", {})
        # BackupAndRestore sets the epoch to resume from in on_train_begin, as in Keras
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        logs: Any = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_state()
            self._set_mode(True)
            cbl.call("on_epoch_begin", epoch, {})
            step_logs: Any = {}
            for step, (xs, ys, sw) in enumerate(data.batches(shuffle)):
                cbl.call("on_train_batch_begin", step, {})
                if params is None:
                    self._ensure_built(xs)
                    params = self._trainable_params()
                    if dp is not None:  # every rank starts from rank 0's weights
                        dp.sync_weights(self)
                    if not params:
                        warnings.warn("The model does not have any trainable weights.",
                                      stacklevel=2)
                if custom:
                    step_logs = self.train_step(pack(xs, ys, sw))
                else:
                    self._builtin_train_step(xs, ys, sw, params)
                if batch_logs:
                    cbl.call("on_train_batch_end", step,
                             step_logs if custom else self.compiled.logs())
                if self.stop_training:
                    break
            data.epoch_end()
            logs = pythonify_logs(self._metrics_or_logs(step_logs) if custom
                                  else self.compiled.logs())
            self._set_mode(False)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._run_test(val, cbl)
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
        if is_py_dataset(data):
            return PyDatasetData(data, self._input_names(), self._output_names(), steps)
        if is_batch_iterable(data):
            return IterableData(data, self._input_names(), self._output_names(), steps)
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val)")
        return self._data(data[0], data[1], data[2] if len(data) == 3 else None, batch_size,
                          steps)

    def _run_test(self, data: Any, cbl: Any) -> dict[str, Any]:
        """evaluate's loop (test_step per batch, or the built-in step); the logs, pythonified."""
        custom = self._overrides("test_step")
        self._reset_state()
        self._set_mode(False)
        cbl.call("on_test_begin", {})
        step_logs: Any = {}
        for step, (xs, ys, sw) in enumerate(data.batches(False)):
            cbl.call("on_test_batch_begin", step, {})
            if custom:
                step_logs = self.test_step(pack(xs, ys, sw))
            else:
                self._ensure_built(xs)
                self._builtin_test_step(xs, ys, sw)
            if cbl.wants("on_test_batch_end"):
                cbl.call("on_test_batch_end", step,
                         step_logs if custom else self.compiled.logs())
        data.epoch_end()
        logs = self._metrics_or_logs(step_logs) if custom else self.compiled.logs()
        logs = logs if isinstance(logs, dict) else {}
        cbl.call("on_test_end", logs)
        return pythonify_logs(logs)

    # -- evaluate / predict --------------------------------------------------------------------
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False) -> Any:
        """The loss (and metrics) on the data: a float, a list [loss, metric, ...] or a dict."""
        from chainrule.keras.callbacks import CallbackList

        custom = self._overrides("test_step")
        self._require_compiled("evaluate", loss=not custom)
        data = self._data(x, y, sample_weight, batch_size, steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        dp = data_parallel()
        if dp is not None:
            data, callbacks, verbose = dp.for_evaluate(data, callbacks, verbose)
        cbl = CallbackList(list(callbacks or []), self, {"steps": data.steps})
        if verbose:  # started before the work, so its time per step is the evaluation's
            from chainrule.keras.utils import Progbar

            bar = Progbar(data.steps, verbose=2)
        logs = self._run_test(data, cbl)
        if verbose:
            bar.update(data.steps or 0, logs, finalize=True)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def _format_logs(self, logs: dict[str, float], return_dict: bool) -> Any:
        logs = pythonify_logs(logs)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None) -> Any:
        """Outputs for x, batched, in inference mode: an array (a list for several outputs).
        A predict_step override of the model runs each batch, as in Keras."""
        from chainrule.keras.callbacks import CallbackList

        custom = self._overrides("predict_step")
        data = self._data(x, None, None, batch_size, steps)
        cbl = CallbackList(list(callbacks or []), self, {"steps": data.steps})
        self._set_mode(False)
        parts: list[Any] = []
        cbl.call("on_predict_begin", {})
        with no_grad():
            for step, (xs, ys, sw) in enumerate(data.batches(False)):
                cbl.call("on_predict_batch_begin", step, {})
                if custom:
                    out = _to_numpy(self.predict_step(pack(xs, ys, sw)))
                else:
                    self._ensure_built(xs)
                    outs = [o.numpy() for o in self._forward(xs)]
                    out = outs[0] if len(outs) == 1 else outs
                parts.append(out)
                cbl.call("on_predict_batch_end", step, {"outputs": out})
        data.epoch_end()
        cbl.call("on_predict_end", {})
        if not parts:
            raise ValueError("predict: got no batches")
        out = _concat(parts)
        kind = getattr(self, "_out_kind", None) if self._plan is not None and not custom \
            else None
        if isinstance(kind, list) and isinstance(out, list):  # outputs given as a dict
            return dict(zip(kind, out))
        return out

    # -- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One optimizer step on one batch; returns that batch's loss (and metrics)."""
        custom = self._overrides("train_step")
        self._require_compiled("train_on_batch", loss=not custom)
        data = self._data(x, y, sample_weight, None, None, class_weight)
        self._reset_state()
        self._set_mode(True)
        if custom:
            return self._format_logs(self.train_step(pack(data.xs, data.ys, data.sw)),
                                     return_dict)
        self._builtin_train_step(data.xs, data.ys, data.sw, self._trainable_params())
        return self._format_logs(self.compiled.logs(), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        custom = self._overrides("test_step")
        self._require_compiled("test_on_batch", loss=not custom)
        data = self._data(x, y, sample_weight, None, None)
        self._reset_state()
        self._set_mode(False)
        if custom:
            return self._format_logs(self.test_step(pack(data.xs, data.ys, data.sw)),
                                     return_dict)
        self._builtin_test_step(data.xs, data.ys, data.sw)
        return self._format_logs(self.compiled.logs(), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        data = self._data(x, None, None, None, None)
        self._set_mode(False)
        with no_grad():
            if self._overrides("predict_step"):
                return _to_numpy(self.predict_step(pack(data.xs, None, None)))
            out = [o.numpy() for o in self._forward(data.xs)]
        return out[0] if len(out) == 1 else out


def _to_numpy(out: Any) -> Any:
    if isinstance(out, dict):
        return {k: _to_numpy(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_to_numpy(v) for v in out]
    return out.detach().numpy() if isinstance(out, Tensor) else np.asarray(out)


def _concat(parts: list) -> Any:
    """Batches of outputs (arrays, lists or dicts of arrays) joined along the batch axis."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, list):
        return [np.concatenate(col) for col in zip(*parts)]
    return np.concatenate(parts)
