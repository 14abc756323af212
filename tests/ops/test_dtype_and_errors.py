"""float32 stays float32 through every op, its gradient and its second-order graph; integer
tensors cannot require grad; comparisons and argmax/argmin are not differentiable; shape errors
are ShapeErrors (ValueErrors) that name the op and the shapes, raised by the op that failed."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr

from .specs import SPECS, OpSpec, as_list, raw_backward_dtypes, seed_of

F32 = np.dtype(np.float32)
# these change the dtype on purpose: astype, float_power (float64), sum(dtype=)
F32_SPECS = [s for s in SPECS
             if s.op not in ("astype", "float_power") and s.name != "sum[dtype]"]


def _assert_f32(found: dict, what: str) -> None:
    leaks = {op: sorted(str(d) for d in dts) for op, dts in found.items() if dts != {F32}}
    assert not leaks, f"{what}: ops that left float32: {leaks}"


@pytest.mark.parametrize("s", F32_SPECS, ids=[s.name for s in F32_SPECS])
def test_float32_stays_float32(s: OpSpec) -> None:
    rng = np.random.default_rng(seed_of(s))
    ts = [cr.tensor(x, requires_grad=True) for x in s.inputs(rng, np.float32)]
    ys = as_list(s.fn(*ts))
    for k, y in enumerate(ys):
        assert y.dtype == F32, f"output {k} is {y.dtype}"
    _assert_f32(raw_backward_dtypes(ys), "forward / backward")
    ws = [cr.tensor(rng.standard_normal(y.shape).astype(np.float32)) for y in ys]
    gs = cr.autograd.grad(ys, ts, grad_outputs=ws, create_graph=True, allow_unused=True)
    for i, (g, t) in enumerate(zip(gs, ts)):
        assert g is not None, f"input {i} got no gradient"
        assert g.dtype == F32 and g.shape == t.shape, f"gradient {i}: {g.dtype} {g.shape}"
    _assert_f32(raw_backward_dtypes([g for g in gs if g.creator is not None]), "second order")


CONSTANT_EXPRESSIONS = {
    "x * 2.0": lambda x: x * 2.0, "2.0 * x": lambda x: 2.0 * x, "x / 3": lambda x: x / 3,
    "3 / x": lambda x: 3 / x, "x ** 2": lambda x: x ** 2, "x ** 0.5": lambda x: x ** 0.5,
    "2.0 ** x": lambda x: 2.0 ** x, "1 - x": lambda x: 1 - x, "x - 1.5": lambda x: x - 1.5,
    "x + np.float64": lambda x: x + np.float64(1.5), "x * np.float64": lambda x: x * np.float64(3),
    "maximum(x, 0.0)": lambda x: cr.maximum(x, 0.0), "where(c, x, 0.0)":
        lambda x: cr.where(x > 1.0, x, 0.0), "clip": lambda x: x.clip(0.8, 1.2),
    "leaky_relu": lambda x: cr.leaky_relu(x - 1.0, 0.2), "elu": lambda x: cr.elu(x - 1.0, 0.5),
    "softplus": lambda x: cr.softplus(x, beta=2.0), "var ddof=1": lambda x: x.var(ddof=1),
    "mean": lambda x: x.mean(0), "pad value": lambda x: cr.ops.join.pad(x, 1, value=0.5),
    "concatenate with list": lambda x: cr.concatenate([x, [[1.0, 2.0, 3.0]]]),
    "add list": lambda x: x + [1.0, 2.0, 3.0],
}


@pytest.mark.parametrize("expr", list(CONSTANT_EXPRESSIONS), ids=list(CONSTANT_EXPRESSIONS))
def test_python_constants_do_not_promote_float32(expr: str) -> None:
    x = cr.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)).astype(np.float32),
                  requires_grad=True)
    y = CONSTANT_EXPRESSIONS[expr](x)
    assert y.dtype == F32
    _assert_f32(raw_backward_dtypes([y]), expr)
    (g,) = cr.autograd.grad(y, x, grad_outputs=np.ones(y.shape, np.float32), create_graph=True)
    assert g.dtype == F32
    if g.requires_grad:  # the gradient of a linear expression is a constant
        _assert_f32(raw_backward_dtypes([g]), f"second order of {expr}")
        (gg,) = cr.autograd.grad(g.sum(), x, allow_unused=True)
        assert gg is None or gg.dtype == F32


def test_float64_stays_float64_with_python_constants() -> None:
    x = cr.tensor(np.ones(3), requires_grad=True)
    y = (x * 2.0 + 1) / 3 - 0.5
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2 / 3))


# -- integer tensors and non-differentiable results -----------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: cr.tensor([1, 2, 3], requires_grad=True),
    lambda: cr.tensor(np.arange(4, dtype=np.int32), requires_grad=True),
    lambda: cr.tensor([True, False], requires_grad=True),
    lambda: cr.arange(5, requires_grad=True),
    lambda: cr.ones(3, dtype=cr.long, requires_grad=True),
], ids=["list", "int32", "bool", "arange", "ones_long"])
def test_integer_tensors_cannot_require_grad(make) -> None:
    with pytest.raises(RuntimeError, match="floating point"):  # PyTorch's error
        make()


def test_the_tensor_class_makes_float_tensors_as_torch_tensor_does() -> None:
    t = cr.Tensor(np.zeros(3, dtype=np.int64), requires_grad=True)
    assert t.dtype == cr.float32 and t.requires_grad
    assert cr.Tensor(2, 3).shape == (2, 3) and cr.Tensor([1, 2]).dtype == cr.float32


def test_integer_tensor_requires_grad_setter_raises() -> None:
    t = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad = True
    assert t.requires_grad is False


def test_ops_on_integer_tensors_give_no_graph() -> None:
    i = cr.tensor([1, 2, 3])
    y = i * 2 + i
    assert y.dtype.kind == "i" and not y.requires_grad and y.creator is None
    np.testing.assert_array_equal(y.numpy(), [3, 6, 9])


COMPARISONS = {
    "<": (lambda a, b: a < b, np.less), "<=": (lambda a, b: a <= b, np.less_equal),
    ">": (lambda a, b: a > b, np.greater), ">=": (lambda a, b: a >= b, np.greater_equal),
    "==": (lambda a, b: a == b, np.equal), "!=": (lambda a, b: a != b, np.not_equal),
    "less": (cr.less, np.less), "greater_equal": (cr.greater_equal, np.greater_equal),
    "eq": (cr.eq, np.equal), "not_equal": (cr.not_equal, np.not_equal),
    "less_equal": (cr.less_equal, np.less_equal), "greater": (cr.greater, np.greater),
}


@pytest.mark.parametrize("name", list(COMPARISONS), ids=list(COMPARISONS))
def test_comparisons_are_not_differentiable(name: str) -> None:
    f, ref = COMPARISONS[name]
    a = np.array([[1.0, 2.0, 3.0], [0.0, 2.0, -1.0]])
    b = np.array([2.0, 2.0, -1.0])
    x = cr.tensor(a, requires_grad=True)
    y = cr.tensor(b, requires_grad=True)
    for out, expect in [(f(x, y), ref(a, b)), (f(x, 2.0), ref(a, 2.0))]:
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.creator is None
        np.testing.assert_array_equal(out.numpy(), expect)
    with pytest.raises(RuntimeError, match="does not require grad"):
        f(x, y).astype("float64").sum().backward()


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_are_not_differentiable(name: str, axis) -> None:
    a = np.array([[0.3, -1.0, 2.0, 0.1], [1.5, 0.2, -0.4, 3.0], [0.0, 0.9, 0.8, -2.0]])
    x = cr.tensor(a, requires_grad=True)
    for out in (getattr(cr, name)(x, axis), getattr(x, name)(axis)):
        assert out.dtype.kind == "i"
        assert not out.requires_grad and out.creator is None
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(a, axis=axis))


def test_argmax_of_empty_rows_is_empty_but_empty_axis_raises() -> None:
    x = cr.tensor(np.zeros((0, 3)))
    assert cr.argmax(x, 1).shape == (0,)
    with pytest.raises(cr.ShapeError, match="argmax"):
        cr.argmax(x, 0)


def test_a_mask_from_a_comparison_gates_the_gradient() -> None:
    x = cr.tensor([-1.0, 0.5, 2.0], dtype="float64", requires_grad=True)
    ((x > 0) * x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0, 3.0])


# -- shape errors ------------------------------------------------------------------------------
def _names(excinfo, op: str, *shapes: tuple) -> None:
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert re.match(rf"{op}\b", msg), f"message does not start with the op name {op!r}: {msg}"
    for s in shapes:
        assert str(tuple(s)) in msg, f"{s} not named in: {msg}"


def test_shape_error_is_a_value_error() -> None:
    assert issubclass(cr.ShapeError, ValueError)


def test_matmul_shape_error_names_both_shapes() -> None:
    x, W = cr.zeros(32, 784), cr.zeros(256, 10, requires_grad=True)
    with pytest.raises(cr.ShapeError) as e:
        x @ W
    _names(e, "matmul", (32, 784), (256, 10))
    assert "784" in str(e.value) and "256" in str(e.value)


def test_error_is_raised_by_the_op_that_failed() -> None:
    """In a chain, the error comes from the failing op and names its operands, not the input."""
    x = cr.zeros(32, 784)
    W1, W2 = cr.zeros(784, 256, requires_grad=True), cr.zeros(128, 10, requires_grad=True)
    h = (x @ W1).relu()  # fine
    with pytest.raises(cr.ShapeError) as e:
        h @ W2
    _names(e, "matmul", (32, 256), (128, 10))
    assert "(32, 784)" not in str(e.value)


@pytest.mark.parametrize("op,f,shapes", [
    ("add", lambda a, b: a + b, [(2, 3), (4,)]),
    ("sub", lambda a, b: a - b, [(2, 3), (4,)]),
    ("mul", lambda a, b: a * b, [(3, 1, 4), (2, 3)]),
    ("div", lambda a, b: a / b, [(5,), (4,)]),
    ("pow", lambda a, b: a ** b, [(2, 3), (2,)]),
    ("maximum", cr.maximum, [(2, 3), (4,)]),
    ("minimum", cr.minimum, [(2, 3), (4,)]),
    ("matmul", lambda a, b: a @ b, [(2, 3, 4), (5, 4, 2)]),
    ("matmul", lambda a, b: a @ b, [(3,), (4,)]),
    ("matmul", lambda a, b: a @ b, [(2, 3), (4,)]),
    ("cat", lambda a, b: cr.concatenate([a, b]), [(2, 3), (2, 4)]),
    ("cat", lambda a, b: cr.cat([a, b], dim=1), [(2, 3), (3, 3)]),
    ("stack", lambda a, b: cr.stack([a, b]), [(2, 3), (3, 2)]),
    ("einsum", lambda a, b: cr.einsum("ij,jk->ik", a, b), [(2, 3), (4, 2)]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_binary_shape_errors_name_op_and_shapes(op: str, f, shapes) -> None:
    ts = [cr.zeros(s, requires_grad=True) for s in shapes]
    with pytest.raises(cr.ShapeError) as e:
        f(*ts)
    _names(e, op, *shapes)


@pytest.mark.parametrize("op,f,shape,named", [
    ("reshape", lambda x: x.reshape(4, 2), (2, 3), [(2, 3), (4, 2)]),
    ("reshape", lambda x: cr.reshape(x, (5, -1)), (2, 3), [(2, 3), (5, -1)]),
    ("broadcast_to", lambda x: cr.broadcast_to(x, (2, 4)), (3,), [(3,), (2, 4)]),
    ("where", lambda x: cr.where(np.ones((2, 2), bool), x, 0.0), (3,), [(2, 2), (3,)]),
    ("sum", lambda x: x.sum(axis=2), (2, 3), []),
    ("max", lambda x: x.max(axis=0), (0, 3), [(0, 3)]),
    ("amax", lambda x: x.amax(0), (0, 3), [(0, 3)]),
    ("transpose", lambda x: x.transpose(0, 2), (2, 3), []),
    ("squeeze", lambda x: x.squeeze(2), (2, 3), []),
    ("split", lambda x: cr.split(x, [2, 3], dim=1), (2, 6), [(2, 6)]),
    ("view", lambda x: x.T.view(-1), (2, 3), [(3, 2)]),
    ("sum_to", lambda x: cr.sum_to(x, (4,)), (2, 3), [(2, 3), (4,)]),
    ("softmax", lambda x: cr.softmax(x, 3), (2, 3), []),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unary_shape_errors_name_op_and_shapes(op: str, f, shape, named) -> None:
    x = cr.zeros(shape, requires_grad=True)
    with pytest.raises(cr.ShapeError) as e:
        f(x)
    _names(e, op, *named)
