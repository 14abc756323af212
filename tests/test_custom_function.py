"""Custom autograd functions in PyTorch's style (static forward(ctx, ...) / backward(ctx, ...),
ctx.save_for_backward, .apply), beside chainrule's own style (forward on arrays, backward on
Tensors, applied as F()(x)); both checked by gradcheck and against torch where installed."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def make_functions(lib):
    """The PyTorch documentation's examples, written once for either library."""

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    class LinearFn(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias=None):
            ctx.save_for_backward(x, weight, bias)
            out = x.mm(weight.t())
            if bias is not None:
                out = out + bias.unsqueeze(0).expand_as(out)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            x, weight, bias = ctx.saved_tensors
            gx = gw = gb = None
            if ctx.needs_input_grad[0]:
                gx = grad_output.mm(weight)
            if ctx.needs_input_grad[1]:
                gw = grad_output.t().mm(x)
            if bias is not None and ctx.needs_input_grad[2]:
                gb = grad_output.sum(0)
            return gx, gw, gb

    class MulConstant(lib.autograd.Function):
        @staticmethod
        def forward(tensor, constant):
            return tensor * constant

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.constant = inputs[1]

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    class SortWithIndex(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, g_values, g_idx):
            (idx,) = ctx.saved_tensors
            g = lib.zeros_like(g_values)
            g[idx] = g_values
            return g

    return Exp, LinearFn, MulConstant, SortWithIndex


Exp, LinearFn, MulConstant, SortWithIndex = make_functions(cr)
R = np.random.default_rng(0)


def test_gradients_to_second_order() -> None:
    assert cr.gradcheck(lambda x: Exp.apply(x), R.standard_normal(4))
    assert cr.gradgradcheck(lambda x: Exp.apply(x), R.standard_normal(4))
    x, w, b = R.standard_normal((3, 4)), R.standard_normal((2, 4)), R.standard_normal(2)
    assert cr.gradcheck(lambda *a: LinearFn.apply(*a), x, w, b)
    assert cr.gradgradcheck(lambda *a: LinearFn.apply(*a), x, w, b)
    assert cr.gradcheck(lambda x: MulConstant.apply(x, 2.5), R.standard_normal(3))


def test_ctx_reports_which_inputs_need_gradients_and_non_differentiable_outputs() -> None:
    x = cr.tensor(R.standard_normal((3, 4)))
    w = cr.tensor(R.standard_normal((2, 4)), requires_grad=True)
    y = LinearFn.apply(x, w)
    assert y.requires_grad and type(y.grad_fn).__name__ == "CustomBackward"
    y.sum().backward()
    assert x.grad is None and w.grad.shape == (2, 4)
    v, i = SortWithIndex.apply(cr.tensor([3.0, 1.0, 2.0], requires_grad=True))
    assert v.requires_grad and not i.requires_grad and i.dtype == cr.int64


def test_forward_runs_without_recording_and_inputs_returned_as_is_are_new_tensors() -> None:
    class Identity(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            assert not cr.is_grad_enabled()
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_saved_tensors_changed_in_place_are_refused() -> None:
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    y = Exp.apply(x)
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_misuse_gets_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"Exp.apply"):
        Exp()(cr.ones(2))

    class Square(cr.Function):  # chainrule's own style
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 2

    with pytest.raises(TypeError, match=r"Square\(\)\(x\)"):
        Square.apply(cr.ones(2))

    class Wrong(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g  # one gradient for two arguments

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Wrong.apply(cr.ones(2, requires_grad=True), 3.0).sum().backward()


def test_once_differentiable_backward_records_nothing() -> None:
    from chainrule.autograd.function import once_differentiable

    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x = cr.tensor([2.0], requires_grad=True)
    (g,) = cr.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert g.item() == 12.0 and not g.requires_grad


def test_matches_torch_in_a_training_step() -> None:
    torch = pytest.importorskip("torch")
    xs = R.standard_normal((5, 4)).astype(np.float32)
    w0 = R.standard_normal((3, 4)).astype(np.float32)
    b0 = R.standard_normal(3).astype(np.float32)
    results = []
    for lib in (cr, torch):
        _, lin, mul, _ = make_functions(lib)
        w = lib.tensor(w0, requires_grad=True)
        b = lib.tensor(b0, requires_grad=True)
        opt = lib.optim.SGD([w, b], lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out = mul.apply(lin.apply(lib.tensor(xs), w, b), 0.5)
            loss = (out ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, w.detach().numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)
