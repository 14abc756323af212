"""Function transforms (chainrule.func): hand-derived results, composition, the caller's tensors
left alone, error messages, and, where PyTorch is importable, torch.func to 1e-6 in float64."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.func import grad, hessian, jacobian, jvp, value_and_grad, vjp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
S = RNG.standard_normal((4, 4))
X = RNG.standard_normal(4)
Y = RNG.standard_normal(3)
TOL = dict(rtol=1e-10, atol=1e-12)


def nonlinear(x, y):
    """R^4 x R^3 -> R^3, mixing both inputs through matmul, tanh and exp."""
    return (cr.tensor(A) @ x).tanh() * y.exp() + (y * y).sum() * x[:3]


def scalar(x, y):
    """R^4 x R^3 -> R, with non-trivial second derivatives in both arguments."""
    return (nonlinear(x, y) ** 2).sum() + (x.sin() * x).sum()


def arr(t):
    assert isinstance(t, cr.Tensor)
    return t.array


# -- grad and value_and_grad -------------------------------------------------------------------

def test_grad_of_cubic_sum_is_three_x_squared():
    g = grad(lambda x: (x ** 3).sum())(X)
    np.testing.assert_allclose(arr(g), 3 * X ** 2, **TOL)
    assert g.dtype == np.float64


def test_grad_of_grad_of_sin_is_minus_sin_and_third_is_minus_cos():
    x = np.float64(0.7)
    sin = lambda x: x.sin()  # noqa: E731
    np.testing.assert_allclose(arr(grad(grad(sin))(x)), -np.sin(0.7), **TOL)
    np.testing.assert_allclose(arr(grad(grad(grad(sin)))(x)), -np.cos(0.7), **TOL)


def test_value_and_grad_returns_the_value_and_the_gradient():
    value, g = value_and_grad(lambda x: (x * x).sum() / 2)(X)
    np.testing.assert_allclose(arr(value), (X * X).sum() / 2, **TOL)
    np.testing.assert_allclose(arr(g), X, **TOL)


def test_argnums_tuple_gives_a_tuple_of_gradients():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    f = lambda a, b: (a * b * b).sum()  # noqa: E731
    ga, gb = grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(arr(ga), b * b, **TOL)
    np.testing.assert_allclose(arr(gb), 2 * a * b, **TOL)
    (gb2,) = grad(f, argnums=(-1,))(a, b)
    np.testing.assert_allclose(arr(gb2), 2 * a * b, **TOL)
    np.testing.assert_allclose(arr(grad(f, argnums=1)(a, b)), 2 * a * b, **TOL)


def test_other_arguments_and_keywords_pass_through_unchanged():
    seen = {}

    def f(x, scale, *, power):
        seen["scale"] = scale
        return (x ** power).sum() * scale

    g = grad(f)(X, 3, power=2)
    np.testing.assert_allclose(arr(g), 6 * X, **TOL)
    assert seen["scale"] == 3 and type(seen["scale"]) is int


def test_unused_argument_and_constant_function_give_zeros():
    ga, gb = grad(lambda a, b: (a * 2).sum(), argnums=(0, 1))(X, Y)
    np.testing.assert_array_equal(arr(gb), np.zeros(3))
    np.testing.assert_allclose(arr(ga), np.full(4, 2.0), **TOL)
    g = grad(lambda x: cr.tensor(np.float64(5.0)))(X)
    np.testing.assert_array_equal(arr(g), np.zeros(4))


def test_one_element_non_scalar_output_is_accepted():
    g = grad(lambda x: (x * x).sum().reshape(1, 1))(X)
    np.testing.assert_allclose(arr(g), 2 * X, **TOL)


# -- inputs: arrays, numbers, the caller's tensors --------------------------------------------

def test_numpy_lists_and_python_floats_are_accepted_with_their_dtypes():
    assert grad(lambda x: (x * x).sum())(X).dtype == np.float64
    assert grad(lambda x: x * x)(2.0).dtype == np.float32
    assert grad(lambda x: x * x)(2).dtype == np.float32
    g = grad(lambda x: (x * x).sum())([1.0, 2.0])
    np.testing.assert_allclose(arr(g), [2.0, 4.0])
    assert grad(lambda x: (x * x).sum())(X.astype(np.float32)).dtype == np.float32


def test_callers_tensor_is_not_touched():
    t = cr.tensor(X, requires_grad=True)
    u = cr.tensor(X)
    before = X.copy()
    for fn in (grad(lambda x: (x ** 3).sum()), hessian(lambda x: (x ** 3).sum()),
               jacobian(lambda x: x.exp())):
        fn(t), fn(u)
    vjp(lambda x: x.exp(), t)[1](np.ones(4))
    jvp(lambda x: x.exp(), (t,), (np.ones(4),))
    assert t.grad is None and u.grad is None
    assert t.requires_grad and not u.requires_grad and u.is_leaf
    np.testing.assert_array_equal(t.array, before)
    np.testing.assert_array_equal(u.array, before)


def test_plain_calls_return_detached_results():
    assert not grad(lambda x: (x ** 3).sum())(X).requires_grad
    value, g = value_and_grad(lambda x: (x ** 3).sum())(cr.tensor(X))
    assert not value.requires_grad and not g.requires_grad
    assert not hessian(lambda x: (x ** 3).sum())(X).requires_grad
    out, jt = jvp(lambda x: x.exp(), (X,), (X,))
    assert not out.requires_grad and not jt.requires_grad


def test_transforms_work_under_no_grad_and_return_detached_results():
    t = cr.tensor(X, requires_grad=True)
    with cr.no_grad():
        g = grad(lambda x: (x ** 3).sum())(t)
        h = hessian(lambda x: (x ** 3).sum())(t)
    assert not g.requires_grad and not h.requires_grad
    np.testing.assert_allclose(arr(g), 3 * X ** 2, **TOL)
    np.testing.assert_allclose(arr(h), np.diag(6 * X), **TOL)


# -- composition -------------------------------------------------------------------------------

def test_backward_through_a_gradient_reaches_the_callers_leaf():
    t = cr.tensor(X, requires_grad=True)
    g = grad(lambda x: (x ** 3).sum())(t)  # 3 x^2
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(t.grad.array, 6 * X, **TOL)


def test_gradient_penalty_through_a_closed_over_parameter():
    w = cr.tensor(X, requires_grad=True)
    x = RNG.standard_normal(4)
    g = grad(lambda x: (w * x).tanh().sum())(x)  # w * (1 - tanh(w x)^2)
    (g * g).sum().backward()
    th = np.tanh(X * x)
    dg_dw = (1 - th ** 2) - X * 2 * th * (1 - th ** 2) * x
    np.testing.assert_allclose(w.grad.array, 2 * X * (1 - th ** 2) * dg_dw, **TOL)


def test_nested_transforms_do_not_confuse_outer_and_inner_variables():
    # d/dx [d/dy (x * y) at y = x] = d/dx x = 1 (not 2, as if y and x were one variable)
    g = grad(lambda x: grad(lambda y: x * y)(x))(np.float64(1.5))
    np.testing.assert_allclose(arr(g), 1.0, **TOL)
    # d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x
    g = grad(lambda x: x * grad(lambda y: x * y)(np.float64(2.0)))(np.float64(1.5))
    np.testing.assert_allclose(arr(g), 3.0, **TOL)


def test_same_tensor_passed_twice_gets_separate_gradients():
    t = cr.tensor(X, requires_grad=True)
    ga, gb = grad(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(t, t)
    np.testing.assert_allclose(arr(ga), X * X, **TOL)
    np.testing.assert_allclose(arr(gb), 2 * X * X, **TOL)


def test_jacobian_of_jacobian_equals_hessian():
    f = lambda x: scalar(x, cr.tensor(Y))  # noqa: E731
    h = hessian(f)(X)
    jj = jacobian(jacobian(f))(X)
    assert jj.shape == (4, 4)
    np.testing.assert_allclose(arr(jj), arr(h), **TOL)
    np.testing.assert_allclose(arr(h), arr(h).T, **TOL)


def test_forward_over_reverse_hessian_vector_product():
    f = lambda x: scalar(x, cr.tensor(Y))  # noqa: E731
    v = RNG.standard_normal(4)
    _, hv = jvp(grad(f), (X,), (v,))
    np.testing.assert_allclose(arr(hv), arr(hessian(f)(X)) @ v, **TOL)


# -- jacobian, hessian -------------------------------------------------------------------------

def test_jacobian_of_linear_map_is_the_matrix():
    j = jacobian(lambda x: cr.tensor(A) @ x)(X)
    assert j.shape == (3, 4)
    np.testing.assert_allclose(arr(j), A, **TOL)


def test_jacobian_shape_is_output_shape_plus_input_shape():
    B = RNG.standard_normal((3, 5))
    M = RNG.standard_normal((2, 3))
    j = jacobian(lambda m: m @ cr.tensor(B))(M)  # out[i, j] = sum_k m[i, k] B[k, j]
    assert j.shape == (2, 5, 2, 3)
    np.testing.assert_allclose(arr(j), np.einsum("ik,lj->ijkl", np.eye(2), B), **TOL)


def test_jacobian_with_argnums_tuple_and_tuple_output():
    jx, jy = jacobian(lambda x, y: x[:3] * y, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(arr(jx), np.hstack([np.diag(Y), np.zeros((3, 1))]), **TOL)
    np.testing.assert_allclose(arr(jy), np.diag(X[:3]), **TOL)
    j_sum, j_exp = jacobian(lambda x: (x.sum(), x.exp()))(X)
    assert j_sum.shape == (4,) and j_exp.shape == (4, 4)
    np.testing.assert_allclose(arr(j_sum), np.ones(4), **TOL)
    np.testing.assert_allclose(arr(j_exp), np.diag(np.exp(X)), **TOL)


def test_jacobian_of_empty_output_and_of_constant():
    j = jacobian(lambda x: x[:0])(X)
    assert j.shape == (0, 4)
    j = jacobian(lambda x: cr.tensor(np.ones(2)))(X)
    np.testing.assert_array_equal(arr(j), np.zeros((2, 4)))


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    h = hessian(lambda x: x @ cr.tensor(S) @ x)(X)
    assert h.shape == (4, 4)
    np.testing.assert_allclose(arr(h), S + S.T, **TOL)


def test_hessian_of_matrix_input_has_doubled_shape():
    M = RNG.standard_normal((2, 3))
    h = hessian(lambda m: (m ** 3).sum())(M)
    assert h.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(arr(h).reshape(6, 6), np.diag(6 * M.ravel()), **TOL)


def test_hessian_with_argnums_tuple_gives_blocks():
    a, b = RNG.standard_normal(2), RNG.standard_normal(2)
    (haa, hab), (hba, hbb) = hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(arr(haa), np.diag(2 * b), **TOL)
    np.testing.assert_allclose(arr(hab), np.diag(2 * a), **TOL)
    np.testing.assert_allclose(arr(hba), np.diag(2 * a), **TOL)
    np.testing.assert_array_equal(arr(hbb), np.zeros((2, 2)))


# -- vjp, jvp ----------------------------------------------------------------------------------

def test_vjp_is_cotangent_times_jacobian_for_each_primal():
    v = RNG.standard_normal(3)
    out, vjp_fn = vjp(nonlinear, X, Y)
    np.testing.assert_allclose(arr(out), arr(nonlinear(cr.tensor(X), cr.tensor(Y))), **TOL)
    jx, jy = jacobian(nonlinear, argnums=(0, 1))(X, Y)
    for _ in range(2):  # vjp_fn can be called again
        gx, gy = vjp_fn(v)
        np.testing.assert_allclose(arr(gx), v @ arr(jx), **TOL)
        np.testing.assert_allclose(arr(gy), v @ arr(jy), **TOL)
    gx, _ = vjp_fn(cr.tensor(2 * v))
    np.testing.assert_allclose(arr(gx), 2 * v @ arr(jx), **TOL)


def test_jvp_is_jacobian_times_tangent():
    tx, ty = RNG.standard_normal(4), RNG.standard_normal(3)
    out, jt = jvp(nonlinear, (X, Y), (tx, ty))
    jx, jy = jacobian(nonlinear, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(arr(out), arr(nonlinear(cr.tensor(X), cr.tensor(Y))), **TOL)
    np.testing.assert_allclose(arr(jt), arr(jx) @ tx + arr(jy) @ ty, **TOL)


def test_jvp_of_identity_constant_and_unused_input():
    t = RNG.standard_normal(4)
    np.testing.assert_allclose(arr(jvp(lambda x: x, (X,), (t,))[1]), t, **TOL)
    _, jt = jvp(lambda x: cr.tensor(np.ones(2)), (X,), (t,))
    np.testing.assert_array_equal(arr(jt), np.zeros(2))
    _, jt = jvp(lambda x, y: y * 3, (X, Y), (t, np.ones(3)))
    np.testing.assert_allclose(arr(jt), np.full(3, 3.0), **TOL)


def test_grad_through_jvp_and_vjp():
    # d/dx of the directional derivative of sum(sin x) along t is -sin(x) * t
    t = RNG.standard_normal(4)
    g = grad(lambda x: jvp(lambda z: z.sin().sum(), (x,), (t,))[1])(X)
    np.testing.assert_allclose(arr(g), -np.sin(X) * t, **TOL)
    g = grad(lambda x: vjp(lambda z: z.sin(), x)[1](t)[0].sum())(X)
    np.testing.assert_allclose(arr(g), -np.sin(X) * t, **TOL)


# -- errors ------------------------------------------------------------------------------------

def test_grad_of_non_scalar_output_names_the_shape():
    with pytest.raises(ShapeError, match=r"grad: .*one-element.*\(4,\)"):
        grad(lambda x: x * 2)(X)
    with pytest.raises(ValueError, match=r"hessian: .*\(4,\)"):
        hessian(lambda x: x * 2)(X)


def test_non_tensor_output_is_a_type_error():
    with pytest.raises(TypeError, match="grad: f must return a Tensor, got ndarray"):
        grad(lambda x: x.array * 2)(X)
    with pytest.raises(TypeError, match="jacobian: output 1 of f must return a Tensor"):
        jacobian(lambda x: (x, 1.0))(X)


def test_bad_argnums_are_reported():
    with pytest.raises(TypeError, match="argnums must be an int or a non-empty tuple"):
        grad(lambda x: x, argnums=[0])
    with pytest.raises(TypeError, match="jacobian: argnums"):
        jacobian(lambda x: x, argnums=())
    with pytest.raises(ValueError, match=r"grad: argnums=2 .* 1 positional"):
        grad(lambda x: x.sum(), argnums=2)(X)
    with pytest.raises(ValueError, match="names the same argument twice"):
        grad(lambda x: x.sum(), argnums=(0, -1))(X)
    with pytest.raises(TypeError, match="grad: f must be callable"):
        grad(3)


def test_integer_argument_is_a_type_error():
    with pytest.raises(TypeError, match=r"grad: argument 0 has dtype chainrule.int64.*double"):
        grad(lambda x: x.sum())(np.arange(3))
    with pytest.raises(TypeError, match="argument 0 has dtype chainrule.int64"):
        jacobian(lambda x: x)(cr.tensor([1, 2]))


def test_tangent_and_cotangent_shapes_are_checked():
    with pytest.raises(ShapeError, match=r"jvp: the tangent 0 has shape \(3,\).*\(4,\)"):
        jvp(lambda x: x.exp(), (X,), (np.ones(3),))
    _, vjp_fn = vjp(lambda x: x.exp(), X)
    with pytest.raises(ShapeError, match=r"vjp: the cotangent has shape \(2,\).*\(4,\)"):
        vjp_fn(np.ones(2))
    with pytest.raises(TypeError, match=r"jvp: primals must be a tuple.*\(x,\)"):
        jvp(lambda x: x.exp(), X, (np.ones(4),))
    with pytest.raises(ValueError, match="jvp: got 1 primals but 2 tangents"):
        jvp(lambda x: x.exp(), (X,), (X, X))


# -- against PyTorch ---------------------------------------------------------------------------

def _torch_fns(torch):
    a = torch.tensor(A)

    def t_nonlinear(x, y):
        return torch.tanh(a @ x) * torch.exp(y) + (y * y).sum() * x[:3]

    def t_scalar(x, y):
        return (t_nonlinear(x, y) ** 2).sum() + (torch.sin(x) * x).sum()

    return t_nonlinear, t_scalar


def test_jacobian_and_hessian_match_torch():
    torch = pytest.importorskip("torch")
    t_nonlinear, t_scalar = _torch_fns(torch)
    tx, ty = torch.tensor(X), torch.tensor(Y)
    ours = jacobian(nonlinear, argnums=(0, 1))(X, Y)
    theirs = torch.func.jacrev(t_nonlinear, argnums=(0, 1))(tx, ty)
    for j, tj in zip(ours, theirs):
        np.testing.assert_allclose(arr(j), tj.numpy(), rtol=1e-6, atol=1e-6)
    ours = hessian(scalar, argnums=(0, 1))(X, Y)
    theirs = torch.autograd.functional.hessian(t_scalar, (tx, ty))
    for row, trow in zip(ours, theirs):
        for h, th in zip(row, trow):
            np.testing.assert_allclose(arr(h), th.numpy(), rtol=1e-6, atol=1e-6)


def test_jvp_and_vjp_match_torch():
    torch = pytest.importorskip("torch")
    t_nonlinear, _ = _torch_fns(torch)
    tx, ty, v = RNG.standard_normal(4), RNG.standard_normal(3), RNG.standard_normal(3)
    prim = (torch.tensor(X), torch.tensor(Y))
    out, jt = jvp(nonlinear, (X, Y), (tx, ty))
    t_out, t_jt = torch.func.jvp(t_nonlinear, prim, (torch.tensor(tx), torch.tensor(ty)))
    np.testing.assert_allclose(arr(out), t_out.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(arr(jt), t_jt.numpy(), rtol=1e-6, atol=1e-6)
    _, vjp_fn = vjp(nonlinear, X, Y)
    _, t_vjp_fn = torch.func.vjp(t_nonlinear, *prim)
    for g, tg in zip(vjp_fn(v), t_vjp_fn(torch.tensor(v))):
        np.testing.assert_allclose(arr(g), tg.numpy(), rtol=1e-6, atol=1e-6)


def test_grad_of_grad_matches_torch():
    torch = pytest.importorskip("torch")
    _, t_scalar = _torch_fns(torch)
    f = lambda x: grad(scalar)(x, cr.tensor(Y)).sum()  # noqa: E731
    ours = grad(f)(X)
    t_f = lambda x: torch.func.grad(t_scalar)(x, torch.tensor(Y)).sum()  # noqa: E731
    theirs = torch.func.grad(t_f)(torch.tensor(X))
    np.testing.assert_allclose(arr(ours), theirs.numpy(), rtol=1e-6, atol=1e-6)
