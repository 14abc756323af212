"""Hypothesis properties over random shapes: broadcasting binary ops (gradient shapes, how d(a+b)
and d(a*b) sum under broadcasting, float32 in -> float32 out and float32 gradients) and the
reduction family (sum / mean / max / min over random axis subsets and keepdims, against NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import chainrule as cr

from .specs import raw_backward_dtypes

FAST = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
BCAST = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                      max_side=3)

# op -> (chainrule, numpy, d/da, d/db as NumPy functions of broadcast a, b)
BINARY: dict[str, tuple[Any, Any, Any, Any]] = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: 1.0, lambda a, b: 1.0),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: 1.0, lambda a, b: -1.0),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: b, lambda a, b: a),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: 1 / b, lambda a, b: -a / b**2),
    "pow": (lambda a, b: a ** b, np.power, lambda a, b: b * a ** (b - 1),
            lambda a, b: a ** b * np.log(a)),
    "maximum": (cr.maximum, np.maximum, lambda a, b: (a > b) * 1.0, lambda a, b: (a < b) * 1.0),
    "minimum": (cr.minimum, np.minimum, lambda a, b: (a < b) * 1.0, lambda a, b: (a > b) * 1.0),
}


def np_sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Reference for undoing broadcasting, written independently of chainrule."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _operands(rng: np.random.Generator, shapes: tuple) -> tuple[np.ndarray, ...]:
    # positive, so pow and div stay smooth; independent continuous draws never tie (maximum)
    return rng.uniform(0.5, 2.0, shapes[0]), rng.uniform(0.5, 2.0, shapes[1])


@FAST
@given(shapes=BCAST, seed=SEEDS, op=st.sampled_from(sorted(BINARY)))
def test_broadcast_binary_gradients(shapes, seed: int, op: str) -> None:
    f, ref, da, db = BINARY[op]
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, (sa, sb))
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    y = f(ta, tb)
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.numpy(), ref(a, b), rtol=1e-12)
    w = rng.standard_normal(y.shape)
    ga, gb = cr.autograd.grad(y, [ta, tb], grad_outputs=w)
    assert ga.shape == sa and gb.shape == sb
    A, B = np.broadcast_arrays(a, b)
    np.testing.assert_allclose(ga.numpy(), np_sum_to(w * da(A, B), sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), np_sum_to(w * db(A, B), sb), rtol=1e-10, atol=1e-12)


@FAST
@given(shapes=BCAST)
def test_add_gradient_counts_broadcast_copies(shapes) -> None:
    """d sum(a + b) / da is the number of times each element of a was broadcast."""
    sa, sb = shapes.input_shapes
    ta = cr.tensor(np.zeros(sa), requires_grad=True)
    tb = cr.tensor(np.zeros(sb), requires_grad=True)
    (ta + tb).sum().backward()
    n = int(np.prod(shapes.result_shape))
    np.testing.assert_array_equal(ta.grad.numpy(), np.full(sa, n // max(np.prod(sa), 1)))
    np.testing.assert_array_equal(tb.grad.numpy(), np.full(sb, n // max(np.prod(sb), 1)))


@FAST
@given(shapes=BCAST, seed=SEEDS, op=st.sampled_from(sorted(BINARY)))
def test_float32_in_float32_out(shapes, seed: int, op: str) -> None:
    f = BINARY[op][0]
    a, b = _operands(np.random.default_rng(seed), shapes.input_shapes)
    ta = cr.tensor(a.astype(np.float32), requires_grad=True)
    tb = cr.tensor(b.astype(np.float32), requires_grad=True)
    y = f(ta, tb)
    assert y.dtype == np.float32
    leaks = {k: v for k, v in raw_backward_dtypes([y]).items() if v != {np.dtype(np.float32)}}
    assert not leaks
    ga, gb = cr.autograd.grad(y, [ta, tb], grad_outputs=np.ones(y.shape, np.float32))
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    assert ga.shape == ta.shape and gb.shape == tb.shape


# op -> (chainrule, NumPy value, NumPy derivative), on inputs in [0.1, 2] (log, sqrt)
UNARY: dict[str, tuple[Any, Any, Any]] = {
    "exp": (cr.exp, np.exp, np.exp),
    "log": (cr.log, np.log, lambda x: 1 / x),
    "sqrt": (cr.sqrt, np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "tanh": (cr.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (cr.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "sin": (cr.sin, np.sin, np.cos),
    "relu": (lambda x: cr.relu(x - 1.0), lambda x: np.maximum(x - 1, 0), lambda x: x > 1.0),
    "abs": (lambda x: cr.abs(x - 1.0), lambda x: np.abs(x - 1), lambda x: np.sign(x - 1)),
}


@FAST
@given(shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), seed=SEEDS,
       op=st.sampled_from(sorted(UNARY)), dtype=st.sampled_from([np.float32, np.float64]))
def test_unary_keeps_shape_and_dtype(shape, seed: int, op: str, dtype) -> None:
    f, ref, d = UNARY[op]
    a = np.random.default_rng(seed).uniform(0.1, 2.0, shape).astype(dtype)
    x = cr.tensor(a, requires_grad=True)
    y = f(x)
    assert y.shape == shape and y.dtype == dtype
    (g,) = cr.autograd.grad(y, x, grad_outputs=np.ones(shape, dtype))
    assert g.shape == shape and g.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ref(a), rtol=tol)
    np.testing.assert_allclose(g.numpy(), d(a), rtol=tol, atol=tol)


# -- reductions ----------------------------------------------------------------------------------
@st.composite
def reduction_case(draw, min_side: int = 0):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=min_side, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]) if nd else st.just("none"))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=1, max_size=nd))
        axis = tuple(a - nd if draw(st.booleans()) else a for a in axes)  # mix negative axes
    return shape, axis, draw(st.booleans()), draw(SEEDS)


def _group_size(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


@FAST
@given(case=reduction_case())
def test_sum_and_mean_match_numpy_and_have_constant_gradients(case) -> None:
    shape, axis, keepdims, seed = case
    a = np.random.default_rng(seed).standard_normal(shape)
    x = cr.tensor(a, requires_grad=True)
    s = cr.sum(x, axis, keepdims)
    np.testing.assert_allclose(s.numpy(), np.sum(a, axis=axis, keepdims=keepdims), atol=1e-12)
    (g,) = cr.autograd.grad(s, x, grad_outputs=np.ones(s.shape))
    np.testing.assert_array_equal(g.numpy(), np.ones(shape))
    n = _group_size(shape, axis)
    if n == 0:
        return  # the mean of nothing is NaN (as in NumPy); no gradient to speak of
    m = x.mean(axis, keepdims)
    np.testing.assert_allclose(m.numpy(), np.mean(a, axis=axis, keepdims=keepdims), atol=1e-12)
    (g,) = cr.autograd.grad(m, x, grad_outputs=np.ones(m.shape))
    np.testing.assert_allclose(g.numpy(), np.full(shape, 1.0 / n), rtol=1e-12)


@FAST
@given(case=reduction_case(min_side=1), which=st.sampled_from(["max", "min"]))
def test_max_min_match_numpy_and_route_the_gradient_to_the_winner(case, which: str) -> None:
    shape, axis, keepdims, seed = case
    rng = np.random.default_rng(seed)
    a = rng.permutation(int(np.prod(shape))).reshape(shape) + rng.uniform(0, 0.5, shape)
    x = cr.tensor(a, requires_grad=True)
    y = getattr(cr, "a" + which)(x, axis, keepdims)
    ref = getattr(np, which)(a, axis=axis, keepdims=True)
    np.testing.assert_array_equal(y.numpy(), getattr(np, which)(a, axis=axis, keepdims=keepdims))
    w = rng.standard_normal(y.shape)
    (g,) = cr.autograd.grad(y, x, grad_outputs=w)
    expect = np.where(a == ref, np.broadcast_to(w.reshape(ref.shape), shape), 0.0)
    np.testing.assert_array_equal(g.numpy(), expect)


@FAST
@given(case=reduction_case(min_side=1),
       which=st.sampled_from(["sum", "mean", "amax", "amin", "prod", "logsumexp", "var",
                              "std"]))
def test_reduction_output_shape_and_float32(case, which: str) -> None:
    shape, axis, keepdims, seed = case
    a = np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)
    x = cr.tensor(a, requires_grad=True)
    y = getattr(cr, which)(x, axis, keepdims=keepdims)
    assert y.shape == np.sum(a, axis=axis, keepdims=keepdims).shape
    assert y.dtype == np.float32
    with np.errstate(divide="ignore", invalid="ignore"):  # std of one element: sqrt'(0)
        (g,) = cr.autograd.grad(y, x, grad_outputs=np.ones(y.shape, np.float32))
    assert g.dtype == np.float32 and g.shape == shape


def test_np_sum_to_reference() -> None:
    """The property tests lean on np_sum_to; pin it to a case worked by hand."""
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(np_sum_to(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(np_sum_to(g, ()), g.sum())
    np.testing.assert_array_equal(np_sum_to(g, (2, 1, 4)), g.sum(axis=1, keepdims=True))
