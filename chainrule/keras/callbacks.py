"""Callbacks with Keras' hook names: History, ProgbarLogger, EarlyStopping, ReduceLROnPlateau,
LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback; and, from callbacks_files,
ModelCheckpoint, BackupAndRestore and TensorBoard.

Subclass Callback and override any of on_{train,test,predict}_{begin,end},
on_epoch_{begin,end}, on_{train,test,predict}_batch_{begin,end} (on_batch_begin/end are the
training ones). Batch hooks cost nothing unless some callback overrides them.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from typing import Any, Callable

import numpy as np

from chainrule.keras.utils import Progbar

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
         "on_test_end", "on_predict_begin", "on_predict_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end")


class Callback:
    """Base class: every hook does nothing. self.model and self.params are set by fit()."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _overrides(cb: Callback, hook: str) -> bool:
    if hook in vars(cb):  # LambdaCallback sets hooks on the instance
        return True
    return getattr(type(cb), hook) is not getattr(Callback, hook)


class CallbackList:
    """Dispatches each hook to the callbacks that define it."""

    def __init__(self, callbacks: list[Callback], model: Any, params: dict[str, Any]) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
            cb.set_model(model)
            cb.set_params(params)
        self._by_hook = {h: [getattr(cb, h) for cb in self.callbacks if _overrides(cb, h)]
                         for h in HOOKS}
        for h in ("on_train_batch_begin", "on_train_batch_end"):  # the aliases feed them
            alias = h.replace("train_", "")
            self._by_hook[h] = [getattr(cb, h) for cb in self.callbacks
                                if _overrides(cb, h) or _overrides(cb, alias)]

    def wants(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def call(self, hook: str, *args: Any) -> None:
        """Run `hook` on each callback that defines it; the logs (the last argument) go out as
        Keras sends them: {} rather than None, flattened, sorted, Python floats, one dict
        shared by the callbacks (what one adds, the next sees)."""
        fns = self._by_hook[hook]
        if not fns:
            return
        from chainrule.keras.models.steps import pythonify_logs

        *head, logs = args
        if "predict_batch" not in hook:  # predict's batch logs hold the outputs as they are
            logs = pythonify_logs(logs)
        elif logs is None:
            logs = {}
        for fn in fns:
            fn(*head, logs)


class History(Callback):
    """Records every epoch's logs: history.history['loss'], ..., and history.epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class ProgbarLogger(Callback):
    """fit()'s display: 'Epoch i/n', then a live bar on a terminal; one line per epoch when
    the output is not a terminal (or with verbose=2)."""

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.bar: Progbar | None = None
        self.seen = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.seen = 0
        self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)
        epochs = self.params.get("epochs", 1)
        if self.bar.dynamic:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        else:
            self.bar.prefix = f"Epoch {epoch + 1}/{epochs} - "

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen = batch + 1
        if self.bar is not None and self.bar.dynamic:
            self.bar.update(self.seen, logs, finalize=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.seen, logs, finalize=True)


class _Monitor(Callback):
    """Shared by the callbacks that watch a logged quantity: is a new value an improvement?"""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 baseline: float | None = None) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got "
                             f"{mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.baseline = baseline
        self.best: float | None = baseline

    def _higher_is_better(self) -> bool:
        """Keras' rule for mode='auto': a loss goes down; else the direction of the compiled
        metric of that name; else ValueError (as Keras raises), asking for mode."""
        if self.mode != "auto":
            return self.mode == "max"
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return False
        direction = getattr(self.model, "_metric_direction", lambda n: None)(name)
        if direction is not None:
            return direction == "up"
        raise ValueError(f"{type(self).__name__} callback received monitor={self.monitor}, but "
                         "Keras isn't able to automatically determine whether that metric "
                         "should be maximized or minimized. Pass `mode='max'` in order to "
                         "monitor based on the highest metric value, or pass `mode='min'` in "
                         "order to use the lowest value.")

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._higher_is_better():
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def _current(self, logs: dict | None) -> float | None:
        self._higher_is_better()  # mode='auto' on a quantity of unknown direction raises
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} is conditioned on {self.monitor!r}, which is "
                          f"not available; available: {', '.join(logs or {})}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved for `patience` epochs; with restore_best_weights,
    end with the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta, baseline)
        self.patience, self.verbose = patience, verbose
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (not below min_lr; then wait `cooldown` epochs)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.learning_rate
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to schedule(epoch, lr) (or schedule(epoch))."""

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.learning_rate)
        except TypeError:  # a schedule of the epoch alone, as Keras also accepts
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} at epoch "
                             f"{epoch}")
        opt.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row (the epoch first, then the keys in order)."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file: Any = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(
            self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._keys = None
        self._header_done = exists

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
            if not any(k.startswith("val_") for k in self._keys):  # Keras' columns: NA there
                self._keys += [f"val_{k}" for k in self._keys]
            self._writer = csv.DictWriter(self._file, ["epoch"] + self._keys,
                                          delimiter=self.sep)
            if not self._header_done:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite (raise_error=True: raise
    RuntimeError there instead, skipping the callbacks' cleanup, as Keras does)."""

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, **hooks: Callable) -> None:
        super().__init__()
        for name, fn in hooks.items():
            if name not in HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; valid hooks are "
                                f"{', '.join(HOOKS)}")
            setattr(self, name, fn)
        if "on_batch_end" in hooks and "on_train_batch_end" not in hooks:
            self.on_train_batch_end = hooks["on_batch_end"]
        if "on_batch_begin" in hooks and "on_train_batch_begin" not in hooks:
            self.on_train_batch_begin = hooks["on_batch_begin"]


from chainrule.keras.callbacks_files import (  # noqa: E402  (they subclass the classes above)
    BackupAndRestore,
    ModelCheckpoint,
    TensorBoard,
)

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN"]
