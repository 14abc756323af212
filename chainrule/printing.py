"""How tensors print: PyTorch's format (4 decimals, scientific notation when magnitudes call for
it, `1.` for whole floats, summaries past 1000 elements), so that printed numbers read the same
as in PyTorch tutorials."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.dtypes import default_float


class _Opts:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode: bool | None = None


def set_printoptions(precision: Any = None, threshold: Any = None, edgeitems: Any = None,
                     linewidth: Any = None, profile: Any = None, sci_mode: Any = None) -> None:
    if profile is not None:
        presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
                   "full": (4, math.inf, 3, 80)}
        _Opts.precision, _Opts.threshold, _Opts.edgeitems, _Opts.linewidth = presets[profile]
    for name, v in (("precision", precision), ("threshold", threshold),
                    ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            setattr(_Opts, name, v)
    _Opts.sci_mode = sci_mode


class _Formatter:
    """One number format for every element (PyTorch's _Formatter)."""

    def __init__(self, a: np.ndarray) -> None:
        self.floating = a.dtype.kind in "fc"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        flat = a.reshape(-1)
        p = _Opts.precision
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = flat.real.astype(np.float64) if a.dtype.kind == "c" else flat.astype(np.float64)
        vals = vals[np.isfinite(vals) & (vals != 0)]
        if vals.size == 0:
            return
        mags = np.abs(vals)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool((vals == np.ceil(vals)).all())
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            fmt = (lambda v: f"{v:.{p}e}") if self.sci_mode else (lambda v: f"{v:.0f}.")
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
            fmt = (lambda v: f"{v:.{p}e}") if self.sci_mode else (lambda v: f"{v:.{p}f}")
        for v in vals.tolist():
            self.max_width = max(self.max_width, len(fmt(v)))
        if _Opts.sci_mode is not None:
            self.sci_mode = _Opts.sci_mode

    def format(self, v: Any) -> str:
        p = _Opts.precision
        if isinstance(v, complex):
            return f"{self.format(v.real).strip()}{self.format(v.imag).strip():+}j"
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = f"{v:{self.max_width}.{p}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{p}f}"
        return (self.max_width - len(s)) * " " + s


def _vector(a: np.ndarray, indent: int, summarize: bool, f: _Formatter) -> str:
    per_line = max(1, int((_Opts.linewidth - indent) // (f.max_width + 2)))
    e = _Opts.edgeitems
    if summarize and a.shape[0] > 2 * e:
        data = [f.format(v) for v in a[:e].tolist()] + [" ..."] + \
            [f.format(v) for v in a[-e:].tolist()]
    else:
        data = [f.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a: np.ndarray, indent: int, summarize: bool, f: _Formatter) -> str:
    if a.ndim == 0:
        return f.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, f)
    e = _Opts.edgeitems
    if summarize and a.shape[0] > 2 * e:
        rows = [_nested(a[i], indent + 1, summarize, f) for i in range(e)] + ["..."] + \
            [_nested(a[i], indent + 1, summarize, f) for i in range(a.shape[0] - e, a.shape[0])]
    else:
        rows = [_nested(a[i], indent + 1, summarize, f) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _summary_data(a: np.ndarray) -> np.ndarray:
    e = _Opts.edgeitems
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * e:
        a = np.concatenate([a[:e], a[-e:]])
    if a.ndim == 1:
        return a
    return np.stack([_summary_data(r) for r in a]) if a.shape[0] else a


def array_str(a: np.ndarray, indent: int) -> str:
    if a.size == 0:
        return "[]"
    summarize = a.size > _Opts.threshold
    f = _Formatter(_summary_data(a) if summarize else a)
    return _nested(a, indent, summarize, f)


def _suffixes(body: str, suffixes: list[str], indent: int) -> str:
    parts = [body]
    last = len(body) - body.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _Opts.linewidth:
            parts.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            parts.append(", " + s)
            last += len(s) + 2
    parts.append(")")
    return "".join(parts)


def grad_fn_name(creator: Any) -> str:
    name = creator.name
    return name if name.endswith(("Backward", "Backward0")) else f"{name}Backward0"


def tensor_repr(t: Any) -> str:
    prefix = "tensor("
    a = t.array
    host = a.get() if hasattr(a, "get") else a
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if host.size == 0 and host.shape != (0,):
        suffixes.append(f"size={tuple(host.shape)}")
    if host.dtype not in (default_float(), np.dtype(np.int64), np.dtype(np.bool_)) and not (
            host.dtype.kind == "c" and host.dtype.itemsize == 2 * default_float().itemsize):
        suffixes.append(f"dtype={t.dtype}")
    if t.creator is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name(t.creator)}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + _suffixes(array_str(host, len(prefix)), suffixes, len(prefix))
