"""Helpers shared by the viz modules: the lazy matplotlib import, number formatting, norms."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.tensor import Tensor

INSTALL_HINT = 'pip install "chainrule[viz]"'


def require_matplotlib(what: str) -> Any:
    """The matplotlib module, or ImportError naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"{what} needs matplotlib, which is not installed: "
                          f"{INSTALL_HINT}") from None
    return matplotlib


def figure(width: float, height: float, what: str) -> Any:
    """A matplotlib Figure on an Agg canvas (no pyplot: no window, no global backend switch).
    Raises ImportError naming the extra to install when matplotlib is missing."""
    require_matplotlib(what)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, path: str | Path | None) -> Any:
    """Write fig to path (format from the suffix) when a path is given; return the figure."""
    if path is not None:
        fig.savefig(Path(path), dpi=fig.dpi)
    return fig


def host(a: Any) -> np.ndarray:
    """A Tensor's or array's values as a NumPy array on the host."""
    data = a.array if isinstance(a, Tensor) else a
    if hasattr(data, "get"):  # a CuPy array: pictures and numbers are made on the host
        data = data.get()
    return np.asarray(data)


def norm(a: Any) -> float:
    """The Euclidean (Frobenius) norm of a tensor or array, in float64."""
    x = np.asarray(host(a), dtype=np.float64)
    return float(np.sqrt((x * x).sum()))


def num(v: float, digits: int = 4) -> str:
    """A number, short: 0.25, -1.234e-05, nan."""
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return str(float(v))
    s = f"{float(v):.{digits}g}"
    return "0" if s == "-0" else s


def values(a: Any, tiny: int = 6, digits: int = 4) -> str:
    """The value itself for scalars and tensors of at most `tiny` elements, else a one-line
    summary: mean, std, min, max."""
    x = host(a)
    if x.size == 0:
        return "[]"
    if x.size == 1:
        return num(x.reshape(()).item(), digits)
    if x.size <= tiny:
        text = np.array2string(x.astype(np.float64).squeeze(), separator=", ",
                               formatter={"float_kind": lambda v: num(v, digits)})
        return " ".join(text.split())  # one line
    x = x.astype(np.float64)
    return (f"mean {num(x.mean(), 3)} std {num(x.std(), 3)} "
            f"min {num(x.min(), 3)} max {num(x.max(), 3)}")
