"""chainrule.onnx: export a model to ONNX (torch.onnx.export's signature) and load one back.

    import chainrule as torch
    torch.onnx.export(model, torch.randn(1, 784), "model.onnx", input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    model = torch.onnx.load("model.onnx")          # a trainable nn.Sequential again

Export walks the module tree (nn.Sequential, nn.Residual and the standard layers), so it needs
no tracing and the graph is exactly the layers you see in print(model). The onnx package is
imported only when these functions run: `pip install "chainrule[onnx]"` (onnx, and onnxruntime
to run the exported files).
"""

from __future__ import annotations

import enum
from typing import Any


class TrainingMode(enum.IntEnum):
    """torch.onnx.TrainingMode: EVAL (the default) exports inference behaviour; PRESERVE
    exports the model's current mode; TRAINING (training-mode ops) is not supported."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OnnxExporterError(RuntimeError):
    """A model (or a part of it) that chainrule.onnx.export cannot express in ONNX."""


class UnsupportedModuleError(OnnxExporterError):
    """A module type the exporter has no ONNX conversion for; the message names its path."""


class OnnxLoadError(ValueError):
    """An ONNX file that chainrule.onnx.load refuses: damaged, forged, or made of ops it does
    not rebuild; the message names the node or initializer."""


_exporting = False


def is_in_onnx_export() -> bool:
    """True while chainrule.onnx.export runs the model (as torch.onnx.is_in_onnx_export)."""
    return _exporting


def export(model: Any, args: Any = (), f: Any = None, **kwargs: Any) -> None:
    """Export `model` to ONNX at `f` (a path or a binary file object); see
    chainrule.onnx.exporter.export for every argument."""
    from chainrule.onnx.exporter import export as _export

    return _export(model, args, f, **kwargs)


def load(f: Any, *, max_bytes: int | None = None) -> Any:
    """A trainable chainrule model rebuilt from an ONNX file; see chainrule.onnx.importer."""
    from chainrule.onnx.importer import load as _load

    return _load(f, max_bytes=max_bytes)


__all__ = ["OnnxExporterError", "OnnxLoadError", "TrainingMode", "UnsupportedModuleError",
           "export", "is_in_onnx_export", "load"]
