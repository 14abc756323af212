"""GradientMonitor as a chainrule.keras callback (imported only when asked for)."""

from __future__ import annotations

from typing import Any


def monitor_callback(monitor: Any) -> Any:
    """A Callback whose on_train_batch_end records `monitor` (attached to the Keras model,
    itself a chainrule Module, at the first batch, once the model is built)."""
    try:
        from chainrule.keras.callbacks import Callback
    except ImportError as e:
        raise ImportError("GradientMonitor.keras_callback needs chainrule.keras.callbacks "
                          f"(the Keras facade), which could not be imported: {e}") from None

    class GradientMonitorCallback(Callback):
        """Records gradient norms and update ratios after every training batch."""

        def __init__(self) -> None:
            super().__init__()
            self.monitor = monitor

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self.monitor.model is None:
                self.monitor.attach(self.model)
            self.monitor.record()

    return GradientMonitorCallback()
