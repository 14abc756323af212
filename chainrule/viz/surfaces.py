"""Two-dimensional cost surfaces for watching optimizers descend: f(x, y) on tensors.

Each Surface knows its function, a starting point, the window to draw, its minima and learning
rates that make a readable picture (one for plain gradient descent, one for adaptive methods).
`surface(name_or_function)` turns a name or any Python function of two tensors into a Surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from chainrule.autograd import no_grad
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

Fn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Surface:
    """A cost surface: f(x, y) -> a scalar tensor (elementwise on same-shaped tensors)."""

    name: str
    f: Fn
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minima: tuple[tuple[float, float], ...] = ()
    lr: float = 1e-2  # a readable step for plain gradient descent (sgd, momentum, nesterov)
    adaptive_lr: float = 1e-1  # ... and for the adaptive methods (adam, rmsprop, ...)
    steps: int = 100
    description: str = ""
    nonnegative: bool = True  # loss >= 0: drawn on a log scale
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x, y)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, Z (n, n) over the window: f evaluated on whole arrays at once when it is
        elementwise, point by point otherwise."""
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        with no_grad():
            try:
                Z = np.asarray(self.f(as_tensor(X), as_tensor(Y)).array, dtype=np.float64)
                if Z.shape != X.shape:
                    raise ValueError
            except Exception:  # a function of scalars only: evaluate point by point
                Z = np.array([[float(self.f(as_tensor(a), as_tensor(b)).array)
                               for a, b in zip(ra, rb)] for ra, rb in zip(X, Y)])
        return X, Y, Z


def _quadratic(condition: float) -> Fn:
    return lambda x, y: 0.5 * (x * x + condition * (y * y))


def quadratic(condition: float = 10.0) -> Surface:
    """f = (x^2 + condition * y^2) / 2: a bowl whose curvatures differ by `condition`; plain
    gradient descent converges for lr < 2 / condition and diverges above."""
    if not condition >= 1:
        raise ValueError(f"quadratic: condition must be >= 1, got {condition!r}")
    return Surface(f"quadratic (condition {condition:g})", _quadratic(condition), (-4.0, 1.5),
                   (-5.0, 5.0), (-2.5, 2.5), ((0.0, 0.0),), lr=1.2 / condition,
                   adaptive_lr=0.3, steps=60,
                   description=f"a bowl, curvature 1 along x and {condition:g} along y",
                   meta={"condition": condition, "max_stable_lr": 2.0 / condition})


def _rosenbrock(x: Tensor, y: Tensor) -> Tensor:
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _beale(x: Tensor, y: Tensor) -> Tensor:
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
            + (2.625 - x + x * y * y * y) ** 2)


def _himmelblau(x: Tensor, y: Tensor) -> Tensor:
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _saddle(x: Tensor, y: Tensor) -> Tensor:
    return x * x - y * y


def _rastrigin(x: Tensor, y: Tensor) -> Tensor:
    tau = 2 * math.pi
    return 20 + x * x - 10 * (tau * x).cos() + y * y - 10 * (tau * y).cos()


BUILTINS: dict[str, Callable[[], Surface]] = {
    "quadratic": quadratic,
    "rosenbrock": lambda: Surface(
        "rosenbrock", _rosenbrock, (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0), ((1.0, 1.0),),
        lr=1e-3, adaptive_lr=5e-2, steps=1000,
        description="a curved, flat-bottomed valley: easy to find, slow to follow"),
    "beale": lambda: Surface(
        "beale", _beale, (1.0, 1.5), (-4.5, 4.5), (-4.5, 4.5), ((3.0, 0.5),),
        lr=1e-3, adaptive_lr=5e-2, steps=500,
        description="flat plateaus and steep walls; the minimum sits in a narrow arm"),
    "himmelblau": lambda: Surface(
        "himmelblau", _himmelblau, (-0.3, -0.9), (-5.0, 5.0), (-5.0, 5.0),
        ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        lr=1e-2, adaptive_lr=1e-1, steps=200,
        description="four equal minima; from near the central peak, each method picks one"),
    "saddle": lambda: Surface(
        "saddle", _saddle, (-2.0, 1e-3), (-2.5, 2.5), (-2.5, 2.5), (),
        lr=5e-2, adaptive_lr=5e-2, steps=60, nonnegative=False,
        description="x^2 - y^2: gradient descent crawls away from the saddle point"),
    "rastrigin": lambda: Surface(
        "rastrigin", _rastrigin, (3.2, -2.7), (-5.12, 5.12), (-5.12, 5.12), ((0.0, 0.0),),
        lr=1e-3, adaptive_lr=5e-2, steps=200,
        description="a bowl covered in local minima, where most methods get stuck"),
}


def surface(function: str | Surface | Fn, start: tuple[float, float] | None = None,
            **options: Any) -> Surface:
    """A Surface from a built-in name ('quadratic', 'rosenbrock', 'beale', 'himmelblau',
    'saddle', 'rastrigin'; 'quadratic' takes condition=...), a Surface, or a function of two
    tensors (drawn around its start, default (1, 1)). `start` replaces the starting point."""
    if isinstance(function, Surface):
        s = function
    elif isinstance(function, str):
        key = function.lower()
        if key not in BUILTINS:
            raise ValueError(f"unknown surface {function!r}; built-in surfaces: "
                             f"{', '.join(BUILTINS)} (or pass a function of two tensors)")
        s = BUILTINS[key](**options)
        options = {}
    elif callable(function):
        x0, y0 = start if start is not None else (1.0, 1.0)
        s = Surface(getattr(function, "__name__", "f"), function, (float(x0), float(y0)),
                    (x0 - 3.0, x0 + 3.0), (y0 - 3.0, y0 + 3.0), nonnegative=False)
    else:
        raise TypeError(f"function must be a surface name, a Surface or a function of two "
                        f"tensors, got {type(function).__name__}")
    if options:
        raise TypeError(f"surface: unexpected options {sorted(options)} for {s.name}")
    if start is not None:
        s = replace(s, start=(float(start[0]), float(start[1])))
    return s
