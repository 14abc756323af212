"""Numerical differentiation, and the checks that hold every analytic gradient to it.

numerical_grad(f, *inputs)  d f / d input by finite differences ('central', 'forward' or
                            'richardson' extrapolation), for a scalar f.
gradcheck(f, *inputs)       the full Jacobian from backprop against the finite-difference one.
gradgradcheck(f, *inputs)   the same for the backward pass itself (second derivatives).

Both checks return True or raise GradcheckError naming the input, the element, the analytic and
numeric values and the worst relative error. Run them in float64: float32 rounding swamps eps.
Inputs may live on a device: f runs there, and the Jacobians are assembled on the host (each
evaluation's outputs and gradients are copied there explicitly).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.autograd import grad as _grad
from chainrule.backend import is_device_array, on_device_of, to_host, xp_of
from chainrule.errors import GradcheckError
from chainrule.tensor import Tensor

_METHODS = ("central", "forward", "richardson")


def _as_inputs(inputs: Sequence[Any]) -> list[Tensor]:
    """Tensors keep their requires_grad; floating arrays and numbers become tensors that do.
    PyTorch's form, one tuple (or list of tensors) holding all the inputs, is unpacked:
    gradcheck(f, (x, w)) is gradcheck(f, x, w)."""
    if len(inputs) == 1 and (isinstance(inputs[0], tuple) or (
            isinstance(inputs[0], list) and inputs[0]
            and all(isinstance(x, Tensor) for x in inputs[0]))):
        inputs = inputs[0]
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        else:
            a = x if is_device_array(x) else np.asarray(x)  # a device array stays there
            a = a.astype(np.float64) if a.dtype.kind in "iub" else a
            out.append(_leaf(a, a.dtype.kind == "f"))
    return out


def _outputs(f: Callable, xs: Sequence[Tensor]) -> list[Tensor]:
    y = f(*xs)
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    for k, t in enumerate(ys):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_name(f)} returned a {type(t).__name__} as output {k}, not a Tensor")
    return ys


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _flat_values(f: Callable, xs: list[Tensor]) -> np.ndarray:
    return np.concatenate([np.asarray(to_host(y.array), dtype=np.float64).ravel()
                           for y in _outputs(f, xs)])


def _with(xs: list[Tensor], i: int, data: np.ndarray) -> list[Tensor]:
    x = xs[i]
    return xs[:i] + [_leaf(data, x.requires_grad)] + xs[i + 1:]


def _difference(f: Callable, xs: list[Tensor], i: int, j: int, eps: float, method: str,
                base: np.ndarray | None) -> np.ndarray:
    """d outputs / d xs[i].flat[j] (all outputs flattened) by finite differences."""
    def at(h: float) -> np.ndarray:
        a = xs[i].array.copy()
        a.reshape(-1)[j] += h  # not a.flat: the array may live on a device
        return _flat_values(f, _with(xs, i, a))

    if method == "forward":
        return (at(eps) - base) / eps
    central = (at(eps) - at(-eps)) / (2 * eps)
    if method == "central":
        return central
    half = (at(eps / 2) - at(-eps / 2)) / eps
    return (4 * half - central) / 3  # Richardson: the O(eps^2) error terms cancel


def numerical_jacobian(f: Callable, *inputs: Any, eps: float = 1e-6,
                       method: str = "central") -> list[np.ndarray]:
    """One array per input, shaped (number of output elements, input.size)."""
    if method not in _METHODS:
        raise ValueError(f"numerical: unknown method {method!r}; choose one of {_METHODS}")
    xs = _as_inputs(inputs)
    base = _flat_values(f, xs) if method == "forward" else None
    n_out = _flat_values(f, xs).size if base is None else base.size
    jac = []
    for i, x in enumerate(xs):
        J = np.zeros((n_out, x.numel()))
        if x.requires_grad:
            for j in range(x.numel()):
                J[:, j] = _difference(f, xs, i, j, eps, method, base)
        jac.append(J)
    return jac


def numerical_grad(f: Callable, *inputs: Any, eps: float = 1e-6,
                   method: str = "central") -> list[np.ndarray] | np.ndarray:
    """d f / d input by finite differences for a scalar-valued f; one array per input, shaped
    like it (a single array when there is one input). 'central' errs by O(eps^2), 'forward' by
    O(eps), 'richardson' by O(eps^4) (use a larger eps with it, such as 1e-3)."""
    xs = _as_inputs(inputs)
    size = sum(y.numel() for y in _outputs(f, xs))
    if size != 1:
        raise ValueError(
            f"numerical_grad: {_name(f)} returns {size} elements; it must return a scalar "
            "(use numerical_jacobian for vector outputs)"
        )
    grads = [J.reshape(x.shape) for J, x in
             zip(numerical_jacobian(f, *xs, eps=eps, method=method), xs)]
    return grads[0] if len(grads) == 1 else grads


def analytic_jacobian(f: Callable, *inputs: Any) -> list[np.ndarray]:
    """The Jacobian rows from backprop: one backward per output element."""
    xs = _as_inputs(inputs)
    ys = _outputs(f, xs)
    wrt = [x for x in xs if x.requires_grad]
    n_out = sum(y.numel() for y in ys)
    jac = [np.zeros((n_out, x.numel())) for x in xs]
    row = 0
    for y in ys:
        for k in range(y.numel()):
            if y.requires_grad and wrt:
                onehot = xp_of(y.array).zeros(y.shape, dtype=y.dtype)
                onehot.reshape(-1)[k] = 1
                gs = iter(_grad(y, wrt, grad_outputs=onehot, retain_graph=True,
                                allow_unused=True))
                for i, x in enumerate(xs):
                    g = next(gs) if x.requires_grad else None
                    if g is not None:
                        _check_grad_shape(f, i, x, g)
                        jac[i][row] = np.asarray(to_host(g.array), dtype=np.float64).ravel()
            row += 1
    return jac


def _check_grad_shape(f: Callable, i: int, x: Tensor, g: Tensor) -> None:
    if g.shape != x.shape or g.dtype != x.dtype:
        raise GradcheckError(
            f"gradcheck({_name(f)}): the gradient of input {i} has shape {g.shape} and dtype "
            f"{g.dtype}, but the input has shape {x.shape} and dtype {x.dtype}"
        )


def gradcheck(f: Callable, *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, method: str = "central",
              raise_exception: bool = True) -> bool:
    """Check backprop's Jacobian of f against finite differences, for every input that requires
    grad (NumPy arrays are taken to require it). True, or GradcheckError naming the culprit."""
    xs = _as_inputs(inputs)
    if any(x.requires_grad and x.dtype != np.float64 for x in xs):
        warnings.warn("gradcheck: inputs are not float64; finite differences will be imprecise",
                      stacklevel=2)
    numeric = numerical_jacobian(f, *xs, eps=eps, method=method)
    analytic = analytic_jacobian(f, *xs)
    for i, (x, A, N) in enumerate(zip(xs, analytic, numeric)):
        err = np.abs(A - N)
        # a NaN on either side never compares greater: count it as a mismatch explicitly
        bad = (err > atol + rtol * np.abs(N)) | (np.isfinite(A) != np.isfinite(N))
        bad |= np.isnan(A) | np.isnan(N)
        if bad.any():
            if not raise_exception:
                return False
            raise GradcheckError(_report(f, i, x, A, N, bad))
    return True


def _report(f: Callable, i: int, x: Tensor, A: np.ndarray, N: np.ndarray,
            bad: np.ndarray) -> str:
    rel = np.abs(A - N) / np.maximum(np.abs(N), 1e-12)
    rel = np.where(bad, rel, -1)
    o, j = np.unravel_index(int(np.argmax(rel)), rel.shape)
    elem = np.unravel_index(j, x.shape) if x.shape else ()
    return (
        f"gradcheck({_name(f)}) failed for input {i} (shape {x.shape}) at element "
        f"{tuple(int(e) for e in elem)}, output element {int(o)}: analytic {A[o, j]:.10g}, "
        f"numerical {N[o, j]:.10g}; worst relative error {rel[o, j]:.3g} "
        f"({int(bad.sum())} of {bad.size} Jacobian entries out of tolerance)"
    )


def gradgradcheck(f: Callable, *inputs: Any, grad_outputs: Sequence[Any] | None = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  method: str = "central", seed: int = 0,
                  raise_exception: bool = True) -> bool:
    """gradcheck of the backward pass: (inputs, v) -> v^T J, built with create_graph=True,
    checked against finite differences in both the inputs and v (random v unless given)."""
    xs = _as_inputs(inputs)
    wrt_idx = [i for i, x in enumerate(xs) if x.requires_grad]
    ys = _outputs(f, xs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [rng.standard_normal(y.shape).astype(y.dtype) for y in ys]
    vs = [_leaf(_like(v.array if isinstance(v, Tensor) else np.asarray(v), y.array), True)
          for v, y in zip(grad_outputs, ys)]
    n = len(xs)

    def backward_of_f(*args: Tensor) -> tuple[Tensor, ...]:
        outs = _outputs(f, list(args[:n]))
        pairs = [(y, v) for y, v in zip(outs, args[n:]) if y.requires_grad]
        gs = _grad([y for y, _ in pairs], [args[i] for i in wrt_idx],
                   grad_outputs=[v for _, v in pairs], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else
                     Tensor._make(xp_of(args[i].array).zeros(args[i].shape,
                                                             args[i].array.dtype), None)
                     for g, i in zip(gs, wrt_idx))

    backward_of_f.__name__ = f"backward of {_name(f)}"
    return gradcheck(backward_of_f, *xs, *vs, eps=eps, atol=atol, rtol=rtol, method=method,
                     raise_exception=raise_exception)


def _like(v: Any, y: Any) -> Any:
    """v as a new array of y's dtype, on y's device (a host v is uploaded once)."""
    return on_device_of(v.astype(y.dtype), y)


def _leaf(a: np.ndarray, requires_grad: bool) -> Tensor:
    """A leaf tensor of a, its dtype kept."""
    t = Tensor._make(a, None)
    if requires_grad:
        t.requires_grad = True
    return t
