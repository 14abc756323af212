"""Function transforms in the spirit of torch.func and JAX: grad, value_and_grad, vjp, jvp,
jacobian, hessian. Each is a thin layer over `autograd.grad`.

Inside a transform the arguments being differentiated become fresh tensors that require grad
(Tensors are detached copies, arrays and Python numbers are wrapped; the caller's tensors and
their `.grad` are never touched). Results are Tensors.

Transforms nest (`grad(grad(f))`, `hessian = jacobian(grad(f))`): while grad mode is on, every
transform differentiates with create_graph=True, and an argument that is already part of a
recorded graph (a Tensor that requires grad, e.g. the variable of an outer transform) enters
through an identity node instead of being detached. The inner transform differentiates with
respect to that node, so a closure over the outer variable is not confused with the inner
one, and the outer transform differentiates back through it. A result whose graph reaches no
outside tensor that requires grad is detached, so plain calls do not keep graphs alive.

Forward mode (`jvp`) is the double-vjp trick: u -> J^T u is linear in u, so differentiating it
with respect to u, weighted by the tangent t, gives J t.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from chainrule import autograd
from chainrule.autograd import Function, enable_grad, is_grad_enabled
from chainrule.backend import is_floating, to_array, xp_of
from chainrule.dtypes import default_float
from chainrule.errors import ShapeError
from chainrule.ops import stack
from chainrule.tensor import Tensor

Argnums = int | tuple[int, ...]
Jacobians = Tensor | tuple[Any, ...]


class _Alias(Function):
    """y = x as a new node, so a transform differentiates with respect to y alone: a path that
    reaches x without passing through y (a closure over an outer variable) is not counted."""

    def forward(self, x: Any) -> Any:
        return x.view()

    def backward(self, gy: Tensor) -> Tensor:
        return gy


# -- arguments ---------------------------------------------------------------------------------

def _check_transform(who: str, f: Any, argnums: Any) -> None:
    """Fail at transform time (not at the first call) on a non-callable f or bad argnums."""
    if not callable(f):
        raise TypeError(f"{who}: f must be callable, got {type(f).__name__}")
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if (not isinstance(nums, tuple) or not nums
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in nums)):
        raise TypeError(
            f"{who}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )


def _argnums(who: str, argnums: Argnums, nargs: int) -> tuple[int, ...]:
    """argnums as a tuple of non-negative positions, checked against the call's arguments."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(
                f"{who}: argnums={argnums!r} asks for argument {n}, but f was called with "
                f"{nargs} positional argument(s); pass the argument or change argnums"
            )
    nums = tuple(n % nargs for n in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{who}: argnums={argnums!r} names the same argument twice")
    return nums


def _variable(who: str, i: int, value: Any, outer: bool) -> Tensor:
    """Argument i as a tensor to differentiate with respect to (see the module docstring)."""
    if isinstance(value, Tensor):
        if outer and value.requires_grad:
            return _Alias()(value)
        x = value.detach()
    else:
        arr = to_array(value)
        if arr.dtype.kind in "iub" and not hasattr(value, "dtype"):
            arr = arr.astype(default_float())  # Python ints count as numbers, like floats
        x = Tensor._make(arr, None)
    if not is_floating(x.dtype):
        raise TypeError(
            f"{who}: argument {i} has dtype {x.dtype} and cannot be differentiated; pass a "
            f"floating-point value, e.g. x.double()"
        )
    x.requires_grad = True
    return x


def _prepare(who: str, args: Sequence[Any], nums: Sequence[int],
             outer: bool) -> tuple[list[Any], list[Tensor]]:
    """The call's arguments with those at `nums` replaced by variables, and those variables."""
    args = list(args)
    for i in nums:
        args[i] = _variable(who, i, args[i], outer)
    return args, [args[i] for i in nums]


def _call(who: str, f: Callable, args: Sequence[Any], kwargs: dict,
          allow_tuple: bool = False) -> Any:
    """f(*args, **kwargs) with recording on; its output must be a Tensor (or tuple of them)."""
    with enable_grad():
        out = f(*args, **kwargs)
    outs = out if allow_tuple and isinstance(out, tuple) else (out,)
    for k, y in enumerate(outs):
        if not isinstance(y, Tensor):
            what = "f" if len(outs) == 1 and out is y else f"output {k} of f"
            raise TypeError(
                f"{who}: {what} must return a Tensor, got {type(y).__name__}; compute it with "
                "chainrule ops (a NumPy result has left the graph)"
            )
    return out


def _like(who: str, what: str, value: Any, like: Tensor) -> Tensor:
    """A cotangent or tangent as a Tensor of like's dtype, checked to have like's shape."""
    if isinstance(value, Tensor):
        t = value if value.dtype == like.dtype else value.astype(like.dtype)
    else:
        t = Tensor._make(xp_of(like.array).asarray(value, dtype=like.dtype), None)
    if t.shape != like.shape:
        raise ShapeError(f"{who}: the {what} has shape {t.shape}, but must have shape {like.shape}")
    return t


# -- gradients ---------------------------------------------------------------------------------

def _zeros(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return Tensor._make(xp_of(like.array).zeros(shape, dtype=like.dtype), None)


def _grads(out: Any, xs: Sequence[Tensor], cotangent: Any, create: bool) -> list[Tensor]:
    """d out / d x for each x, weighted by cotangent; zeros where out does not depend on x."""
    roots = out if isinstance(out, list) else [out]
    cts = cotangent if isinstance(cotangent, list) else [cotangent]
    keep = [k for k, y in enumerate(roots) if y.requires_grad]
    gs: Sequence[Tensor | None] = [None] * len(xs)
    if keep:
        gs = autograd.grad([roots[k] for k in keep], list(xs),
                           None if cotangent is None else [cts[k] for k in keep],
                           retain_graph=True, create_graph=create, allow_unused=True)
    return [_zeros(x.shape, x) if g is None else g for g, x in zip(gs, xs)]


def _finish(ts: list[Tensor], own: Sequence[Tensor], outer: bool) -> list[Tensor]:
    """Detach the results unless their graph reaches a tensor that requires grad outside the
    transform (through which an outer transform or backward() may still differentiate)."""
    if outer:
        own_ids = {id(t) for t in own}
        seen: set[int] = set()
        stack_: list[Tensor] = list(ts)
        while stack_:
            t = stack_.pop()
            f = t.creator
            if f is None:
                if t.requires_grad and id(t) not in own_ids:
                    return ts
            elif id(f) not in seen:
                seen.add(id(f))
                if f.inputs is None:  # a freed graph: keep the results as they are
                    return ts
                stack_.extend(f.inputs)
    return [t.detach() for t in ts]


def _value_and_grad(who: str, f: Callable, argnums: Argnums, args: Sequence[Any],
                    kwargs: dict) -> tuple[Tensor, Any]:
    outer = is_grad_enabled()
    args, xs = _prepare(who, args, _argnums(who, argnums, len(args)), outer)
    out = _call(who, f, args, kwargs)
    if out.numel() != 1:
        raise ShapeError(
            f"{who}: f must return a one-element tensor, but it returned shape {out.shape}; "
            "reduce it (.sum(), .mean()) or use jacobian() / vjp() for non-scalar outputs"
        )
    value, *gs = _finish([out, *_grads(out, xs, None, outer)], xs, outer)
    return value, gs[0] if isinstance(argnums, int) else tuple(gs)


# -- the transforms ----------------------------------------------------------------------------

def grad(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """The gradient of f: `grad(f)(*args)` is d f(*args) / d args[argnums], of that argument's
    shape (a tuple of gradients when argnums is a tuple). f must return a one-element Tensor.

    Other arguments (and keyword arguments) are passed to f unchanged. Composes: grad(grad(f))
    of a scalar function is its second derivative.
    """
    _check_transform("grad", f, argnums)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return _value_and_grad("grad", f, argnums, args, kwargs)[1]

    return grad_f


def value_and_grad(f: Callable[..., Tensor],
                   argnums: Argnums = 0) -> Callable[..., tuple[Tensor, Any]]:
    """Like grad(f, argnums), but the function returns (f(*args), gradient) from one pass."""
    _check_transform("value_and_grad", f, argnums)

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        return _value_and_grad("value_and_grad", f, argnums, args, kwargs)

    return value_and_grad_f


def vjp(f: Callable[..., Tensor],
        *primals: Any) -> tuple[Tensor, Callable[[Any], tuple[Tensor, ...]]]:
    """Run out = f(*primals) and return (out, vjp_fn), where vjp_fn(v) for a cotangent v of
    out.shape returns v^T J_i = sum over out's elements of v * d out / d primal_i, one Tensor of
    primal_i's shape per primal. vjp_fn can be called many times (the graph is kept)."""
    if not callable(f):
        raise TypeError(f"vjp: f must be callable, got {type(f).__name__}")
    outer = is_grad_enabled()
    args, xs = _prepare("vjp", primals, range(len(primals)), outer)
    out = _call("vjp", f, args, {})

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        v = _like("vjp", "cotangent", cotangent, out)
        create = is_grad_enabled()
        return tuple(_finish(_grads(out, xs, v, create), xs, create))

    return _finish([out], xs, outer)[0], vjp_fn


def jvp(f: Callable[..., Tensor], primals: Sequence[Any],
        tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """Run out = f(*primals) and return (out, J t) with J t = sum_i J_i t_i of out.shape, where
    J_i = d out / d primal_i and tangent t_i has primal_i's shape (forward mode, computed by
    differentiating the vjp u -> J^T u with respect to a dummy cotangent u)."""
    for name, seq in (("primals", primals), ("tangents", tangents)):
        if not isinstance(seq, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple, got {type(seq).__name__}; "
                            f"for one argument pass {name}=(x,)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents; "
                         "give one tangent per primal")
    outer = is_grad_enabled()
    args, xs = _prepare("jvp", primals, range(len(primals)), outer)
    ts = [_like("jvp", f"tangent {i}", t, x) for i, (t, x) in enumerate(zip(tangents, xs))]
    out = _call("jvp", f, args, {})
    u = _zeros(out.shape, out)
    u.requires_grad = True
    pairs = [(g, t) for g, t in zip(_grads(out, xs, u, True), ts) if g.requires_grad]
    jt = _grads([g for g, _ in pairs], [u], [t for _, t in pairs], outer)[0] if pairs else None
    value, jt = _finish([out, _zeros(out.shape, out) if jt is None else jt], [*xs, u], outer)
    return value, jt


def _jacobian_of(out: Tensor, xs: Sequence[Tensor], create: bool) -> list[Tensor]:
    """d out / d x of shape out.shape + x.shape for each x: one backward pass per output
    element (row k is the vjp with the k-th basis cotangent)."""
    xp = xp_of(out.array)
    rows: list[list[Tensor]] = [[] for _ in xs]
    for k in range(out.numel()):
        e = xp.zeros(out.numel(), dtype=out.dtype)
        e[k] = 1
        for r, g in zip(rows, _grads(out, xs, Tensor._make(e.reshape(out.shape), None), create)):
            r.append(g)
    return [stack(r).reshape(out.shape + x.shape) if r else _zeros(out.shape + x.shape, x)
            for r, x in zip(rows, xs)]


def _jacobian(who: str, f: Callable, argnums: Argnums, args: Sequence[Any],
              kwargs: dict) -> Jacobians:
    outer = is_grad_enabled()
    args, xs = _prepare(who, args, _argnums(who, argnums, len(args)), outer)
    out = _call(who, f, args, kwargs, allow_tuple=True)
    outs = out if isinstance(out, tuple) else (out,)
    per_out = [_jacobian_of(y, xs, outer) for y in outs]
    flat = _finish([j for js in per_out for j in js], xs, outer)
    n = len(xs)
    per_out = [flat[k * n:(k + 1) * n] for k in range(len(outs))]
    result = [js[0] if isinstance(argnums, int) else tuple(js) for js in per_out]
    return tuple(result) if isinstance(out, tuple) else result[0]


def jacobian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Jacobians]:
    """The Jacobian of f: `jacobian(f)(*args)[o..., i...]` = d f(*args)[o...] / d x[i...] with
    x = args[argnums], shape out.shape + x.shape. A tuple argnums gives a tuple of Jacobians,
    one per argument; if f returns a tuple of Tensors the result is a tuple over its outputs
    (of Jacobians, or of tuples of them). Costs one backward pass per output element."""
    _check_transform("jacobian", f, argnums)

    @functools.wraps(f)
    def jacobian_f(*args: Any, **kwargs: Any) -> Jacobians:
        return _jacobian("jacobian", f, argnums, args, kwargs)

    return jacobian_f


def hessian(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Jacobians]:
    """The Hessian of a one-element f: the Jacobian of its gradient, d2 f / d x[i...] d x[j...]
    of shape x.shape + x.shape. A tuple argnums gives the blocks as ((H00, H01, ...), ...), with
    Hij = d2 f / d args[i] d args[j] of shape args[i].shape + args[j].shape."""
    _check_transform("hessian", f, argnums)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return _value_and_grad("hessian", f, argnums, args, kwargs)[1]

    @functools.wraps(f)
    def hessian_f(*args: Any, **kwargs: Any) -> Jacobians:
        return _jacobian("hessian", grad_f, argnums, args, kwargs)

    return hessian_f
