"""Module hooks as PyTorch runs them: forward pre-hooks (with_kwargs, prepend), forward hooks
(with_kwargs, always_call), full backward hooks and backward pre-hooks (grad_input and
grad_output of the module), handles with remove(); and named_modules / named_children /
named_parameters / state_dict with PyTorch's names, order and duplicates. Written as short
programs; where torch is importable the same program runs on both and the logs must agree."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_feature_extraction_with_a_forward_hook():
    """The PyTorch idiom: keep a layer's activations with a forward hook."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    activations = {}

    def save(name):
        def hook(module, args, output):
            activations[name] = output.detach()
        return hook

    handle = model[1].register_forward_hook(save("relu"))
    x = cr.randn(3, 4)
    model(x)
    np.testing.assert_array_equal(activations["relu"].numpy(), model[1](model[0](x)).numpy())
    handle.remove()
    activations.clear()
    model(x)
    assert activations == {}


def test_backward_hook_sees_and_replaces_grad_input():
    lin = nn.Linear(3, 2).double()
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["gi"], seen["go"] = grad_input, grad_output
        return (grad_input[0] * 10,)

    lin.register_full_backward_hook(hook)
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
    lin(x).sum().backward()
    np.testing.assert_allclose(seen["go"][0].numpy(), np.ones((4, 2)))
    want = np.ones((4, 2)) @ lin.weight.numpy()
    np.testing.assert_allclose(seen["gi"][0].numpy(), want)
    np.testing.assert_allclose(x.grad.numpy(), 10 * want)
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.ones((2, 4)) @ x.numpy())


def test_hooks_do_not_change_results_or_requires_grad():
    lin = nn.Linear(3, 2)
    x = cr.randn(2, 3)
    y0 = lin(x)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    lin.register_forward_pre_hook(lambda m, a: None)
    y1 = lin(x)
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())
    assert not x.requires_grad
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        y1.sum().backward()


def test_in_place_change_of_a_hooked_output_is_caught():
    sig = nn.Sigmoid()
    sig.register_full_backward_hook(lambda m, gi, go: None)
    x = cr.randn(3, requires_grad=True)
    y = sig(x)
    y.mul_(2)  # sigmoid's backward reads its output: the change must be seen
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        y.sum().backward()


def _program(torch, nn):
    """One program, run on torch and on chainrule: the log must come out the same."""
    log = []

    class Two(nn.Module):
        def forward(self, x, y, k=3):
            return x * y * 2, x + y

    m = Two()

    def hook(mod, gi, go):
        log.append(("gi", [None if g is None else g.tolist() for g in gi]))
        log.append(("go", [None if g is None else g.tolist() for g in go]))

    h = m.register_full_backward_hook(hook)
    x = torch.ones(2, requires_grad=True)
    y = torch.full((2,), 3.0)
    a, b = m(x, y)
    a.sum().backward()  # b gets no gradient: its grad_output is None
    log.append(x.grad.tolist())
    h.remove()
    x.grad = None
    a, b = m(x, y)
    (a.sum() + b.sum()).backward()
    log.append(x.grad.tolist())

    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,))
    lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
    x = torch.ones(1, 2, requires_grad=True)
    lin(x).sum().backward()
    log.append(x.grad.tolist())

    ident = nn.Identity()
    ident.register_forward_pre_hook(lambda m, a: a[0] * 2)
    ident.register_forward_hook(lambda m, a, o: o + 1)
    ident.register_forward_hook(lambda m, a, o: o * 10, prepend=True)
    log.append(ident(torch.ones(1)).tolist())

    lin2 = nn.Linear(2, 2)
    h = lin2.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 0,), kwargs),
                                       with_kwargs=True)
    log.append(lin2(torch.ones(2)).tolist() == lin2.bias.tolist())
    h.remove()
    lin2.register_forward_hook(lambda m, a, kw, o: log.append(("kw", sorted(kw))),
                               with_kwargs=True)
    lin2(input=torch.ones(2))
    with lin2.register_forward_hook(lambda m, a, o: log.append("in with")):
        lin2(torch.ones(2))
    lin2(torch.ones(2))

    class Bad(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    bad = Bad()
    bad.register_forward_hook(lambda m, a, o: log.append("always"), always_call=True)
    bad.register_forward_hook(lambda m, a, o: log.append("not always"))
    try:
        bad(torch.ones(1))
    except ValueError:
        log.append("raised")

    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    shared = nn.Linear(2, 2)
    seq.add_module("a", shared)
    seq.add_module("b", shared)
    log.append([n for n, _ in seq.named_modules()])
    log.append([n for n, _ in seq.named_modules(remove_duplicate=False)])
    log.append([n for n, _ in seq.named_modules(prefix="net")])
    log.append([n for n, _ in seq.named_children()])
    log.append([n for n, _ in seq.named_parameters()])
    log.append([n for n, _ in seq.named_parameters(prefix="p", remove_duplicate=False)])
    log.append([n for n, _ in seq.named_parameters(recurse=False)])
    log.append(list(seq.state_dict()))
    order = []
    seq.apply(lambda mod: order.append(type(mod).__name__))
    log.append(order)
    return log


def test_the_same_program_gives_the_same_log_as_torch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _program(torch, torch.nn)
        ours = _program(cr, nn)
    for a, b in zip(theirs, ours):
        assert a == b
    assert len(theirs) == len(ours)


def test_backward_hooks_on_an_lstm_match_torch():
    torch = pytest.importorskip("torch")

    def run(torch, nn):
        torch.manual_seed(0)
        lstm = nn.LSTM(3, 4).double()
        got = []
        lstm.register_full_backward_hook(
            lambda m, gi, go: got.append([None if g is None else tuple(g.shape)
                                          for g in gi + go]))
        return lstm, got

    m, ours = run(cr, nn)
    tm, theirs = run(torch, torch.nn)
    from _torch_compare import copy_weights

    copy_weights(m, tm)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m(cx)[0].sum().backward()
    tm(tx)[0].sum().backward()
    assert ours == theirs
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def test_old_backward_hook_is_refused_with_advice():
    with pytest.raises(NotImplementedError, match="register_full_backward_hook"):
        nn.Linear(2, 2).register_backward_hook(lambda m, gi, go: None)
