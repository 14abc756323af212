"""What compile() fixes: a loss (and weight) per output, the metrics per output, the running
loss and metric values of an epoch, and the fused-logits plan for softmax / sigmoid outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras import activations
from chainrule.keras import losses as losses_mod
from chainrule.keras import metrics as metrics_mod
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

_FUSABLE = {"softmax": activations.softmax, "sigmoid": activations.sigmoid}
_UP = ("accuracy", "acc", "precision", "recall", "auc")


def _flat_specs(spec: Any) -> list:
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [v for s in spec.values() for v in _flat_specs(s)]
    if isinstance(spec, (list, tuple)):
        return [v for s in spec for v in _flat_specs(s)]
    return [spec]


def _check_metric_names(spec: Any) -> None:
    for m in _flat_specs(spec):
        if isinstance(m, str) and m not in ("accuracy", "acc"):
            metrics_mod.get(m)  # raises ValueError listing the valid names
        elif not isinstance(m, str) and not callable(m) and not isinstance(m, metrics_mod.Metric):
            raise TypeError(f"compile: a metric must be a name, a Metric or a function, got "
                            f"{m!r}")


class Compiled:
    """Losses, metrics and running values of one compile() of `model`."""

    def __init__(self, model: Any, loss: Any, loss_weights: Any, metrics: Any,
                 weighted_metrics: Any) -> None:
        self.model = model
        for spec in _flat_specs(loss):
            losses_mod.get(spec)  # unknown names fail now, listing the valid ones
        _check_metric_names(metrics)
        _check_metric_names(weighted_metrics)
        self._loss_spec, self._weights_spec = loss, loss_weights
        self._metric_spec, self._weighted_spec = metrics, weighted_metrics
        self.losses: list | None = None if loss is None else []
        self.config: dict[str, Any] = {}
        self._resolved = False
        self._metrics: list[tuple[int, metrics_mod.Metric, bool, str]] | None = None
        self.reset()

    # -- resolution at the first batch (output names and shapes known) -------------------------
    def _per_output(self, spec: Any, names: list[str], what: str) -> list:
        if isinstance(spec, dict):
            extra = [k for k in spec if k not in names]
            if extra:
                raise ValueError(f"compile: {what} given for unknown output(s) {extra}; the "
                                 f"model's outputs are {names}")
            return [spec.get(n) for n in names]
        if isinstance(spec, (list, tuple)) and len(names) > 1:
            if len(spec) != len(names):
                raise ValueError(f"compile: {len(spec)} {what} for {len(names)} outputs "
                                 f"({', '.join(names)})")
            return list(spec)
        return [spec] * len(names)

    def prepare(self) -> None:
        """Resolve before the first forward pass when the outputs are known from the graph
        (so that the very first batch already uses the fused logits)."""
        if not self._resolved and self.model._plan is not None:
            self._resolve(len(self.model._output_names()))

    def _resolve(self, n_outputs: int) -> None:
        names = self.model._output_names()
        if len(names) != n_outputs:  # a subclassed model: outputs known only now
            names = [f"output_{i + 1}" for i in range(n_outputs)]
        self.out_names = names
        self.losses = [None if s is None else losses_mod.get(s)
                       for s in self._per_output(self._loss_spec, names, "losses")]
        ws = self._per_output(self._weights_spec, names, "loss_weights")
        self.loss_weights = [1.0 if w is None else float(w) for w in ws]
        self._fuse: list[Any] = []
        for i, loss in enumerate(self.losses):
            layer = self.model._output_layer(i)
            act = _FUSABLE.get(getattr(loss, "fusable", None) or "")
            if act is not None and getattr(layer, "activation", None) is act \
                    and hasattr(layer, "_emit_logits"):
                layer._emit_logits = True
                self._fuse.append(layer)
            else:
                self._fuse.append(None)
        self._has_reg = any(layer._regularized for layer in self.model._flat_layers())
        self._resolved = True

    def _build_metrics(self, ys: list, outs: list[Tensor]) -> None:
        names = self.out_names
        found = []
        for spec, weighted in ((self._metric_spec, False), (self._weighted_spec, True)):
            if spec is None:
                continue
            per = (self._per_output(spec, names, "metrics")
                   if isinstance(spec, dict) or (len(names) > 1 and spec and all(
                       isinstance(s, (list, tuple)) for s in spec)) else [spec] * len(names))
            for i, ms in enumerate(per):
                for m in ([] if ms is None else ms if isinstance(ms, (list, tuple)) else [ms]):
                    obj = metrics_mod.get(m, self.losses[i], ys[i], outs[i].array)
                    label = obj.name if len(names) == 1 else f"{names[i]}_{obj.name}"
                    if weighted:
                        label = "weighted_" + label
                    found.append((i, obj, weighted, label))
        self._metrics = found

    # -- per batch -----------------------------------------------------------------------------
    def total_loss(self, ys: list | None, outs: list[Tensor], sw: Any) -> Tensor:
        if not self._resolved:
            self._resolve(len(outs))
        if ys is None and any(loss is not None for loss in self.losses):
            raise ValueError("fit/evaluate: no targets: pass y (or batches (x, y))")
        total, parts = None, []
        for i, (loss, out) in enumerate(zip(self.losses, outs)):
            if loss is None:
                continue
            layer = self._fuse[i]
            if layer is not None and layer._logits is not None and layer._logits[0] is out:
                value = loss.from_logits_call(ys[i], layer._logits[1], sw)
                layer._logits = None
            else:
                value = loss(ys[i], out, sw)
            parts.append((i, value))
            w = self.loss_weights[i]
            term = value if w == 1.0 else value * w
            total = term if total is None else total + term
        if total is None:
            # compiled without a loss: Keras trains on the add_loss() and regularization
            # losses alone (the VAE guides), and fails only when there are none
            if not self._has_reg and not self.model._added_loss_list():
                raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
            total = as_tensor(np.zeros((), outs[0].array.dtype))
        if self._has_reg:
            for r in self.model._regularization_losses():
                total = total + r
        self._parts = parts
        return total

    def update(self, ys: list, outs: list[Tensor], sw: Any, loss: float, n: int) -> None:
        self.loss_sum += loss * n
        self.count += n
        if len(self._parts) > 1 or len(self.out_names) > 1:
            for i, v in self._parts:
                self.part_sums[i] = self.part_sums.get(i, 0.0) + float(v.array) * n
        self.update_metrics(ys, outs, sw)

    def update_metrics(self, ys: list, outs: list[Tensor], sw: Any) -> None:
        """The compiled metrics (not the loss) on one batch."""
        if self._metric_spec is None and self._weighted_spec is None:
            return
        if self._metrics is None:
            self._build_metrics(ys, outs)
        for i, m, weighted, _ in self._metrics:
            m.update_state(ys[i], outs[i].array, sw if weighted else None)

    def reset(self) -> None:
        self.loss_sum, self.count = 0.0, 0
        self.part_sums: dict[int, float] = {}
        self._parts = []
        self.reset_metrics()

    def reset_metrics(self) -> None:
        for _, m, _, _ in self._metrics or []:
            m.reset_state()

    def logs(self) -> dict[str, float]:
        out = {"loss": self.loss_sum / self.count if self.count else 0.0}
        for i, s in sorted(self.part_sums.items()):
            out[f"{self.out_names[i]}_loss"] = s / self.count
        out.update(self.metric_logs())
        return out

    def metric_logs(self) -> dict[str, float]:
        return {label: float(m.result()) for _, m, _, label in self._metrics or []}

    def names(self) -> list[str]:
        return list(self.logs())

    def direction(self, name: str) -> str | None:
        for _, m, _, label in self._metrics or []:
            if label == name:  # a metric's own _direction first (Keras' attribute)
                return getattr(m, "_direction", None) or (
                    "up" if any(u in m.name for u in _UP) else "down")
        return None

