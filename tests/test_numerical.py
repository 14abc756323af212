"""Finite differences and the gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.numerical import numerical_grad, numerical_jacobian


def test_methods_are_ordered_by_accuracy():
    x = np.array([0.3, 1.1])
    true = np.exp(x)

    def f(t):
        return t.exp().sum()

    err = {m: np.abs(numerical_grad(f, x, eps=1e-3, method=m) - true).max()
           for m in ("forward", "central", "richardson")}
    assert err["forward"] > 1e-4 > err["central"] > 1e-8 > err["richardson"]


def test_numerical_grad_of_several_inputs_and_jacobian_shape():
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    ga, gb = numerical_grad(lambda x, y: (x * y).sum(), a, b)
    np.testing.assert_allclose(ga, b, atol=1e-8)
    np.testing.assert_allclose(gb, a, atol=1e-8)
    (J,) = numerical_jacobian(lambda x: x * 2.0, np.ones((2, 3)))
    assert J.shape == (6, 6)
    np.testing.assert_allclose(J, 2 * np.eye(6), atol=1e-8)
    with pytest.raises(ValueError, match="scalar"):
        numerical_grad(lambda x: x * 2.0, a)
    with pytest.raises(ValueError, match="method"):
        numerical_grad(lambda x: x.sum(), a, method="backward")


class WrongSquare(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0]  # missing the factor 2


class FirstOrderOnlyTanh(Function):
    """Right first derivative, but built from raw arrays: its second derivative is wrong."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        return gy * cr.tensor(1 - self.output.array ** 2)


def test_gradcheck_error_names_input_element_and_values():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(cr.GradcheckError) as e:
        cr.gradcheck(lambda t: WrongSquare()(t), x)
    msg = str(e.value)
    assert "input 0" in msg and "(2, 2)" in msg and "element" in msg
    assert "analytic" in msg and "numerical" in msg and "relative error" in msg
    assert not cr.gradcheck(lambda t: WrongSquare()(t), x, raise_exception=False)


def test_gradgradcheck_catches_a_backward_built_from_raw_arrays():
    x = np.array([0.1, -0.7, 1.3])
    assert cr.gradcheck(lambda t: FirstOrderOnlyTanh()(t), x)
    with pytest.raises(cr.GradcheckError, match="backward of"):
        cr.gradgradcheck(lambda t: FirstOrderOnlyTanh()(t), x)
    assert cr.gradgradcheck(lambda t: t.tanh(), x)


def test_gradcheck_only_checks_inputs_that_require_grad():
    w = cr.tensor(np.array([1.0, 2.0]))  # a constant
    assert cr.gradcheck(lambda x, c: (x * c).sum(), np.array([0.5, 0.1]), w)


def test_gradcheck_warns_on_float32():
    with pytest.warns(UserWarning, match="float64"):
        cr.gradcheck(lambda t: t * 2.0, np.ones(2, np.float32), eps=1e-2, atol=1e-2)


class NanGrad(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy * float("nan")


def test_gradcheck_rejects_nan_gradients():
    with pytest.raises(cr.GradcheckError, match="nan"):
        cr.gradcheck(lambda t: NanGrad()(t), np.array([1.0, 2.0]))


def test_gradcheck_takes_pytorchs_tuple_of_inputs():
    """torch.autograd.gradcheck(func, inputs) takes the inputs as one tuple: so does chainrule,
    and a plain list of numbers stays one input."""
    x = cr.randn(3, dtype=cr.float64, requires_grad=True)
    w = cr.randn(3, dtype=cr.float64, requires_grad=True)
    f = lambda a, b: (a * b.sin()).sum()  # noqa: E731
    assert cr.autograd.gradcheck(f, (x, w))
    assert cr.autograd.gradgradcheck(f, (x, w))
    assert cr.gradcheck(f, [x, w]) and cr.gradcheck(f, x, w)
    assert cr.gradcheck(lambda a: (a * a).sum(), [1.0, 2.0])
