"""The callbacks that write files during fit: ModelCheckpoint (every epoch or every N batches),
BackupAndRestore (resume an interrupted fit at the epoch it stopped) and TensorBoard (scalars
through tensorboardX, imported lazily)."""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

from chainrule.keras.callbacks import Callback, _Monitor


class _EveryN:
    """Keras' count of batches for save_freq=N: True every N-th batch, across epochs."""

    def __init__(self, freq: Any, first_last: int | None) -> None:
        self.freq, self.since, self.last = freq, 0, first_last

    def due(self, batch: int) -> bool:
        if self.freq == "epoch":
            return False
        if self.last is None or batch <= self.last:  # a new epoch: batches count from 0
            self.since += batch + 1
        else:
            self.since += batch - self.last
        self.last = batch
        if self.since >= self.freq:
            self.since = 0
            return True
        return False


def _check_freq(freq: Any, message: str) -> None:
    if freq != "epoch" and (isinstance(freq, bool) or not isinstance(freq, int)):
        raise ValueError(message)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after every epoch (save_freq='epoch') or every
    save_freq batches, or only when `monitor` improves (save_best_only). filepath may hold
    {epoch}, {batch} and log keys: 'ckpt-{epoch:02d}.keras'."""

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, 0.0, initial_value_threshold)
        _check_freq(save_freq, f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                               "'epoch' or integer values")
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq
        self._counter = _EveryN(save_freq, None)
        self._current_epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._counter.due(batch):
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch: int, batch: int | None, logs: dict) -> None:
        try:
            if batch is None or "batch" in logs:
                path = self.filepath.format(epoch=epoch + 1, **logs)
            else:
                path = self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None
        if self.save_best_only:
            current = self._current(logs)
            if current is None:  # Keras saves anyway (a batch's logs have no val_ keys)
                warnings.warn(f"Can save best model only with {self.monitor} available.",
                              stacklevel=2)
            elif not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            else:
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {path}")
                self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class BackupAndRestore(Callback):
    """Back up the weights, the optimizer state and the epoch reached at each epoch's end (or
    every save_freq batches) in backup_dir; a fit that starts with a backup there resumes from
    it, at the start of the epoch it had reached. The backup is deleted when fit ends normally
    (delete_checkpoint=True)."""

    def __init__(self, backup_dir: str | os.PathLike, save_freq: Any = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        _check_freq(save_freq, f"Invalid value for argument `save_freq`. Received: save_freq="
                               f"{save_freq}. Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint = save_freq, double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, "latest.state")
        self._prev_path = self._path + ".bkp"
        self._counter = _EveryN(save_freq, 0)
        self._current_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        from chainrule.io import CheckpointError

        if not getattr(self.model, "built", False):
            raise ValueError("To use the BackupAndRestore callback, you model must be built "
                             f"before you call `fit()`. Model {self.model.name} is unbuilt. "
                             "You can build it beforehand by calling it on a batch of data.")
        try:
            self._restore(self._path)
        except (OSError, CheckpointError):
            if not os.path.exists(self._prev_path):
                raise
            shutil.copyfile(self._prev_path, self._path)  # the previous, complete backup
            self._restore(self._path)

    def _restore(self, path: str) -> None:
        from chainrule.keras.models.saving import load_training_state

        if os.path.exists(path):
            extra = load_training_state(self.model, path)
            self.model._initial_epoch = int(extra.get("epoch", 0))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch + 1
        self._counter.last = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._counter.due(batch):
            self._save()

    def _save(self) -> None:
        from chainrule.keras.models.saving import save_training_state

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            shutil.copyfile(self._path, self._prev_path)
        save_training_state(self.model, self._path, {"epoch": self._current_epoch,
                                                     "batch": self._counter.last})

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)


def _summary_writer_class() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError('TensorBoard writes event files with tensorboardX: pip install '
                          '"chainrule[tensorboard]" (or pip install tensorboardX)') from None
    return SummaryWriter


class TensorBoard(Callback):
    """TensorBoard scalars, as Keras writes them: each epoch's logs as 'epoch_<name>' (and the
    learning rate) in log_dir/train, the validation logs in log_dir/validation, and with
    update_freq='batch' or N, 'batch_<name>' every N training batches. Needs tensorboardX.
    Histograms, images, graphs, embeddings and profiling are not written."""

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: Any = "epoch",
                 profile_batch: Any = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None) -> None:
        super().__init__()
        self._writer_class = _summary_writer_class()  # fails now, not after an epoch
        if histogram_freq or write_images or write_steps_per_second or embeddings_freq \
                or profile_batch:
            raise NotImplementedError("TensorBoard: only scalars are written; leave "
                                      "histogram_freq, write_images, write_steps_per_second, "
                                      "embeddings_freq and profile_batch at their defaults")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        _check_freq(self.update_freq, f"TensorBoard: update_freq must be 'epoch', 'batch' or "
                                      f"an integer, got {update_freq!r}")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0

    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._global_train_batch = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._global_train_batch += 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        for name, value in (logs or {}).items():
            self._writer("train").add_scalar(f"batch_{name}", value, self._global_train_batch)

    def on_test_end(self, logs: dict | None = None) -> None:
        opt = getattr(self.model, "optimizer", None)
        if opt is not None:
            for name, value in (logs or {}).items():
                self._writer("validation").add_scalar(f"evaluation_{name}_vs_iterations",
                                                      value, int(opt.iterations))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None:
            train["learning_rate"] = float(opt.learning_rate)
        for name, value in train.items():
            self._writer("train").add_scalar(f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self._writer("validation").add_scalar(f"epoch_{name[4:]}", value, epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        for w in self._writers.values():
            w.flush()
            w.close()
        self._writers = {}


__all__ = ["BackupAndRestore", "ModelCheckpoint", "TensorBoard"]
