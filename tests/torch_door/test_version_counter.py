"""PyTorch's version counter, compared with torch: a tensor saved for backward and changed in place
since makes backward raise, in both libraries, exactly where torch raises; in-place changes to
tensors nobody saved stay legal and give torch's gradients; and `x._version` counts as torch's does
(views share the counter, `.detach()` shares it, `.data` does not).

Each scenario is written once as a function of the module `t` (torch or chainrule) and run on
both; the expected torch outcome is stated beside it and checked first, so the table stays honest.
Skipped where torch is not installed.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(7)
X = _rng.standard_normal((4, 3))
Y = _rng.standard_normal((4, 1))
A = _rng.standard_normal(5)
B = _rng.uniform(0.5, 2.0, 5)
W = _rng.standard_normal((5, 2))


def _mlp(t: Any) -> Any:
    """A 3-4-1 MLP whose weights are the same in both libraries (set under no_grad)."""
    model = t.nn.Sequential(t.nn.Linear(3, 4), t.nn.Tanh(), t.nn.Linear(4, 1))
    g = np.random.default_rng(3)
    with t.no_grad():
        for p in model.parameters():
            p.copy_(t.tensor(g.standard_normal(tuple(p.shape)) * 0.5))
    return model


def _grads(*tensors: Any) -> list:
    return [None if x.grad is None else x.grad.detach().numpy().copy() for x in tensors]


# == an optimizer step or an init between forward and backward =====================================


def sgd_step_between_forward_and_backward(t: Any) -> Any:
    model = _mlp(t)
    opt = t.optim.SGD(model.parameters(), lr=0.1)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    loss = ((model(x) - y) ** 2).mean()  # the grads of the first step are still there
    opt.step()  # ... so this changes the weights the graph saved
    loss.backward()
    return _grads(*model.parameters())


def adam_step_between_forward_and_backward(t: Any) -> Any:
    model = _mlp(t)
    opt = t.optim.Adam(model.parameters(), lr=0.01)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    ((model(x) - y) ** 2).mean().backward()
    loss = ((model(x) - y) ** 2).mean()
    opt.step()
    loss.backward()
    return _grads(*model.parameters())


def sgd_momentum_training_loop(t: Any) -> Any:
    """The legal order: zero_grad, forward, backward, step."""
    model = _mlp(t)
    opt = t.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, _grads(*model.parameters())


def step_with_no_grads_is_legal(t: Any) -> Any:
    """zero_grad() sets grads to None: a step between forward and backward then changes nothing."""
    model = _mlp(t)
    opt = t.optim.SGD(model.parameters(), lr=0.1)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    opt.step()
    loss.backward()
    return _grads(*model.parameters())


def _init_between(init: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    def scenario(t: Any) -> Any:
        model = _mlp(t)
        x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
        loss = ((model(x) - y) ** 2).mean()
        init(t, model[2].weight)  # the second layer's weight is saved (its input needs grad)
        loss.backward()
        return _grads(*model.parameters())

    scenario.__name__ = f"init_{init.__name__}_between_forward_and_backward"
    return scenario


def zeros_(t: Any, w: Any) -> Any:
    return t.nn.init.zeros_(w)


def constant_(t: Any, w: Any) -> Any:
    return t.nn.init.constant_(w, 0.3)


def normal_(t: Any, w: Any) -> Any:
    return t.nn.init.normal_(w, std=0.01)


def xavier_uniform_(t: Any, w: Any) -> Any:
    return t.nn.init.xavier_uniform_(w)


def kaiming_uniform_(t: Any, w: Any) -> Any:
    return t.nn.init.kaiming_uniform_(w)


def init_first_layer_not_saved(t: Any) -> Any:
    """The first layer's input needs no grad, so its weight is not saved: changing it is legal."""
    model = _mlp(t)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    loss = ((model(x) - y) ** 2).mean()
    t.nn.init.zeros_(model[0].weight)
    loss.backward()
    return _grads(*model.parameters())


def init_before_forward_is_legal(t: Any) -> Any:
    model = _mlp(t)
    t.nn.init.constant_(model[2].weight, 0.1)
    x, y = t.tensor(X, dtype=t.float32), t.tensor(Y, dtype=t.float32)
    ((model(x) - y) ** 2).mean().backward()
    return _grads(*model.parameters())


# == in-place ops on tensors an op saved (raise) or did not save (legal) ===========================


def _leaves(t: Any) -> tuple:
    a = t.tensor(A, dtype=t.float32, requires_grad=True)
    b = t.tensor(B, dtype=t.float32, requires_grad=True)
    return a, b


def _backward(t: Any, y: Any, *leaves: Any) -> list:
    g = np.random.default_rng(11).standard_normal(tuple(y.shape))
    (y * t.tensor(g, dtype=y.dtype)).sum().backward()
    return _grads(*leaves)


def mul_input_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = a + 0
    y = h * b
    h.add_(1)  # mul saved h for b's gradient
    return _backward(t, y, a, b)


def mul_other_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = b * 1
    y = a * h
    h.mul_(2)  # mul saved h for a's gradient
    return _backward(t, y, a, b)


def mul_output_changed(t: Any) -> Any:
    a, b = _leaves(t)
    y = a * b
    y.add_(1)  # mul saves its inputs, not its output
    return _backward(t, y, a, b)


def mul_by_python_number_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a + 0
    y = h * 3.0
    h.add_(1)  # a constant factor needs nothing saved
    return _backward(t, y, a)


def exp_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    y = a.exp()
    y.mul_(2)  # exp saved its output
    return _backward(t, y, a)


def exp_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a + 0
    y = h.exp()
    h.add_(1)  # exp saved its output, not its input
    return _backward(t, y, a)


def sigmoid_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    y = a.sigmoid()
    y.add_(1)
    return _backward(t, y, a)


def sigmoid_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a * 1
    y = t.sigmoid(h)
    h.zero_()
    return _backward(t, y, a)


def tanh_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    y = a.tanh()
    y.mul_(0.5)
    return _backward(t, y, a)


def tanh_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a * 1
    y = h.tanh()
    h.mul_(0.5)
    return _backward(t, y, a)


def relu_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    y = t.relu(a * 1)
    y.add_(1)
    return _backward(t, y, a)


def relu_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a * 1
    y = h.relu()
    h.neg_()  # relu saved its output
    return _backward(t, y, a)


def relu_inplace_then_op_using_it(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * b
    y = t.nn.functional.relu(h, inplace=True)  # mul saved a and b, not h: legal
    return _backward(t, y * 2, a, b)


def relu_inplace_on_saved_tensor(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * 1
    y = h * b
    t.nn.functional.relu(h, inplace=True)  # mul saved h for b's gradient
    return _backward(t, y, a, b)


def matmul_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    w = t.tensor(W, dtype=t.float32, requires_grad=True)
    h = a.reshape(1, 5) * 1
    y = h @ w
    h.mul_(2)  # matmul saved h for w's gradient
    return _backward(t, y, a, w)


def matmul_weight_changed_in_no_grad(t: Any) -> Any:
    a, _ = _leaves(t)
    w = t.tensor(W, dtype=t.float32, requires_grad=True)
    y = t.matmul(a.reshape(1, 5), w)
    with t.no_grad():
        w.sub_(0.1)  # the version counts under no_grad too
    return _backward(t, y, a, w)


def matmul_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    w = t.tensor(W, dtype=t.float32, requires_grad=True)
    y = a.reshape(1, 5) @ w
    y.add_(1)
    return _backward(t, y, a, w)


def pow_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a + 0
    y = h ** 2
    h.add_(1)  # pow saved its base
    return _backward(t, y, a)


def pow_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a + 0
    y = h.pow(3)
    y.add_(1)  # pow with a number exponent saves its base, not its output
    return _backward(t, y, a)


def div_denominator_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = b + 0
    y = a / h
    h.add_(1)
    return _backward(t, y, a, b)


def div_numerator_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = a + 0
    y = h / b
    h.add_(1)  # needed for b's gradient
    return _backward(t, y, a, b)


def div_by_number_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a + 0
    y = h / 2
    h.add_(1)
    return _backward(t, y, a)


def add_output_changed(t: Any) -> Any:
    a, b = _leaves(t)
    y = a + b
    y.mul_(2)  # add saves nothing
    return _backward(t, y * y, a, b)


def add_input_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * 1
    y = h + b
    h.mul_(2)
    return _backward(t, y, a, b)


def sub_inputs_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h, k = a * 1, b * 1
    y = h - k
    h.add_(1)
    k.zero_()
    return _backward(t, y, a, b)


def sum_input_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    h = a * 1
    y = h.sum(0, keepdim=True)
    h.zero_()
    return _backward(t, y, a)


def softmax_output_changed(t: Any) -> Any:
    a, _ = _leaves(t)
    y = a.softmax(0)
    y.add_(1)
    return _backward(t, y, a)


def log_input_changed(t: Any) -> Any:
    _, b = _leaves(t)
    h = b * 1
    y = h.log()
    h.add_(1)
    return _backward(t, y, b)


def saved_leaf_changed_through_detach(t: Any) -> Any:
    a, b = _leaves(t)
    y = a * b
    b.detach().mul_(2)  # detach() shares the version counter
    return _backward(t, y, a, b)


def saved_leaf_changed_through_data(t: Any) -> Any:
    """`.data` has a counter of its own: no error, and backward sees the new values."""
    a, b = _leaves(t)
    y = a * b
    b.data.mul_(2)
    return _backward(t, y, a, b)


def saved_view_base_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * 1
    v = h[1:]
    y = v * b[1:]
    h.zero_()  # the base shares the counter of its view
    return _backward(t, y, a, b)


def other_view_of_base_changed(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * 1
    y = h[:2] * b[:2]
    h[3:].add_(1)  # same storage, so the saved view's version moved too
    return _backward(t, y, a, b)


def clone_of_saved_changed(t: Any) -> Any:
    a, b = _leaves(t)
    y = a * b
    c = b.clone()
    c.add_(1)  # a clone is a new storage
    return _backward(t, y + c, a, b)


def in_place_then_use_again(t: Any) -> Any:
    """Change a saved tensor, then save it again: only the first use fails."""
    a, b = _leaves(t)
    h = a * 1
    y1 = h * b
    h.add_(1)
    y2 = h * b
    return _backward(t, y1 + y2, a, b)


def changed_after_backward_is_legal(t: Any) -> Any:
    a, b = _leaves(t)
    h = a * 1
    y = h * b
    g = _backward(t, y, a, b)
    h.add_(1)
    return g


RAISES, LEGAL = "raises", "legal"
SCENARIOS: list[tuple[Callable[[Any], Any], str]] = [
    (sgd_step_between_forward_and_backward, RAISES),
    (adam_step_between_forward_and_backward, RAISES),
    (sgd_momentum_training_loop, LEGAL),
    (step_with_no_grads_is_legal, LEGAL),
    (_init_between(zeros_), RAISES),
    (_init_between(constant_), RAISES),
    (_init_between(normal_), RAISES),
    (_init_between(xavier_uniform_), RAISES),
    (_init_between(kaiming_uniform_), RAISES),
    (init_first_layer_not_saved, LEGAL),
    (init_before_forward_is_legal, LEGAL),
    (mul_input_changed, RAISES),
    (mul_other_changed, RAISES),
    (mul_output_changed, LEGAL),
    (mul_by_python_number_input_changed, LEGAL),
    (exp_output_changed, RAISES),
    (exp_input_changed, LEGAL),
    (sigmoid_output_changed, RAISES),
    (sigmoid_input_changed, LEGAL),
    (tanh_output_changed, RAISES),
    (tanh_input_changed, LEGAL),
    (relu_output_changed, RAISES),
    (relu_input_changed, LEGAL),
    (relu_inplace_then_op_using_it, LEGAL),
    (relu_inplace_on_saved_tensor, RAISES),
    (matmul_input_changed, RAISES),
    (matmul_weight_changed_in_no_grad, RAISES),
    (matmul_output_changed, LEGAL),
    (pow_input_changed, RAISES),
    (pow_output_changed, LEGAL),
    (div_denominator_changed, RAISES),
    (div_numerator_changed, RAISES),
    (div_by_number_input_changed, LEGAL),
    (add_output_changed, LEGAL),
    (add_input_changed, LEGAL),
    (sub_inputs_changed, LEGAL),
    (sum_input_changed, LEGAL),
    (softmax_output_changed, RAISES),
    (log_input_changed, RAISES),
    (saved_leaf_changed_through_detach, RAISES),
    (saved_leaf_changed_through_data, LEGAL),
    (saved_view_base_changed, RAISES),
    (other_view_of_base_changed, RAISES),
    (clone_of_saved_changed, LEGAL),
    (in_place_then_use_again, RAISES),
    (changed_after_backward_is_legal, LEGAL),
]


def _outcome(t: Any, scenario: Callable[[Any], Any]) -> tuple[Any, BaseException | None]:
    try:
        return scenario(t), None
    except Exception as e:  # noqa: BLE001  (compared with torch's outcome)
        return None, e


def _assert_close(got: Any, ref: Any, where: str = "result") -> None:
    if isinstance(ref, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(ref), f"{where}: {got!r:.200}"
        for k, (g, r) in enumerate(zip(got, ref)):
            _assert_close(g, r, f"{where}[{k}]")
    elif ref is None:
        assert got is None, f"{where}: chainrule has a gradient where torch has None"
    else:
        assert got is not None, f"{where}: chainrule has None where torch has a value"
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                                   np.asarray(ref, dtype=np.float64), rtol=1e-5, atol=1e-6,
                                   err_msg=where)


@pytest.mark.parametrize("scenario,expected", SCENARIOS, ids=[s.__name__ for s, _ in SCENARIOS])
def test_saved_tensor_changed_in_place(scenario: Callable[[Any], Any], expected: str) -> None:
    ref, ref_err = _outcome(torch, scenario)
    assert (ref_err is not None) == (expected == RAISES), \
        f"table error: expected torch to be {expected}; torch gives {ref_err!r}"
    got, err = _outcome(cr, scenario)
    if ref_err is not None:
        assert err is not None, f"torch raises ({str(ref_err)[:200]}); chainrule does not"
        assert isinstance(err, RuntimeError), f"chainrule raises {type(err).__name__}: {err}"
        assert "version" in str(err).lower(), f"the error should name the versions: {err}"
        return
    if err is not None:
        raise AssertionError(f"torch does not raise; chainrule raises "
                             f"{type(err).__name__}: {err}") from err
    _assert_close(got, ref)


def test_error_names_op_shape_and_versions() -> None:
    """The message says which op saved the tensor, its shape, and both versions."""
    a = cr.tensor(A, dtype=cr.float32, requires_grad=True)
    y = a.exp()
    y.add_(1)
    y.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    assert "[5]" in msg, msg
    assert "exp" in msg.lower(), msg
    assert "version 2" in msg and "version 0" in msg, msg


# == x._version, counted as torch counts it ========================================================


def seq_basic_in_place_ops(t: Any) -> list:
    x = t.zeros(3)
    vs = [x._version]
    x.add_(1)
    vs.append(x._version)
    x += 1
    vs.append(x._version)
    x[0] = 5.0
    vs.append(x._version)
    x.zero_()
    vs.append(x._version)
    x.fill_(2.0)
    vs.append(x._version)
    x.copy_(t.ones(3))
    vs.append(x._version)
    x.clamp_(min=0.5)
    vs.append(x._version)
    x.mul_(2)
    vs.append(x._version)
    x.masked_fill_(x > 1, 0.0)
    vs.append(x._version)
    x[x > -1] = 3.0
    vs.append(x._version)
    x.div_(2)
    x.sub_(1)
    vs.append(x._version)
    return vs


def seq_out_of_place_does_not_count(t: Any) -> list:
    x = t.ones(2, 3)
    vs = [x._version]
    _ = x + 1, x.exp(), x.sum(), x * x, x.t(), x[0], x.clone(), x.reshape(3, 2)
    vs.append(x._version)
    x.requires_grad_()
    vs.append(x._version)
    c = x.clone()
    vs.append(c._version)
    return vs


def seq_views_share(t: Any) -> list:
    x = t.zeros(2, 3)
    v = x[0]
    w = x.t()
    u = x.view(-1)
    out = [(x._version, v._version, w._version, u._version)]
    v.add_(1)
    out.append((x._version, v._version, w._version, u._version))
    x.mul_(2)
    out.append((x._version, v._version, w._version, u._version))
    w.zero_()
    out.append((x._version, v._version, w._version, u._version))
    u[1] = 4.0
    out.append((x._version, v._version, w._version, u._version))
    return out


def seq_detach_shares_data_does_not(t: Any) -> list:
    x = t.zeros(3, requires_grad=True)
    d = x.detach()
    d.add_(1)
    out = [(x._version, d._version)]
    with t.no_grad():
        x.add_(1)
    out.append((x._version, d._version))
    e = x.data
    e.add_(1)
    out.append((x._version, e._version))
    e.add_(1)
    out.append((x._version, e._version))
    return out


def seq_view_of_view(t: Any) -> list:
    x = t.zeros(4, 4)
    v = x[1:3][:, 1:3]
    v.add_(1)
    out = [(x._version, v._version)]
    x[0].fill_(2)
    out.append((x._version, v._version))
    return out


VERSION_SEQUENCES = [seq_basic_in_place_ops, seq_out_of_place_does_not_count, seq_views_share,
                     seq_detach_shares_data_does_not, seq_view_of_view]


@pytest.mark.parametrize("seq", VERSION_SEQUENCES, ids=[s.__name__ for s in VERSION_SEQUENCES])
def test_version_counts_like_torch(seq: Callable[[Any], list]) -> None:
    assert seq(cr) == seq(torch)


def _bumped(t: Any, change: Callable[[Any, Any], Any]) -> tuple[bool, bool]:
    """(whether the parameter's version moved, whether its values changed)."""
    model = _mlp(t)
    p = model[0].weight
    before, values = p._version, p.detach().numpy().copy()
    change(t, model)
    return p._version > before, not np.array_equal(p.detach().numpy(), values)


def _opt_step(opt_cls: str, **kw: Any) -> Callable[[Any, Any], Any]:
    def change(t: Any, model: Any) -> None:
        opt = getattr(t.optim, opt_cls)(model.parameters(), **kw)
        model(t.tensor(X, dtype=t.float32)).sum().backward()
        opt.step()

    change.__name__ = f"{opt_cls}.step"
    return change


def _init_call(name: str, *args: Any) -> Callable[[Any, Any], Any]:
    def change(t: Any, model: Any) -> None:
        getattr(t.nn.init, name)(model[0].weight, *args)

    change.__name__ = f"nn.init.{name}"
    return change


def _zero_grad_only(t: Any, model: Any) -> None:
    model(t.tensor(X, dtype=t.float32)).sum().backward()
    t.optim.SGD(model.parameters(), lr=0.1).zero_grad()


def _load_state_dict(t: Any, model: Any) -> None:
    sd = {k: v * 2 for k, v in model.state_dict().items()}
    model.load_state_dict(sd)


BUMPERS = [_opt_step("SGD", lr=0.1), _opt_step("SGD", lr=0.1, momentum=0.9, weight_decay=0.01),
           _opt_step("Adam", lr=0.01), _opt_step("AdamW", lr=0.01), _opt_step("RMSprop", lr=0.01),
           _opt_step("Adagrad", lr=0.1), _init_call("zeros_"), _init_call("ones_"),
           _init_call("constant_", 0.5), _init_call("normal_"), _init_call("uniform_"),
           _init_call("xavier_uniform_"), _init_call("xavier_normal_"),
           _init_call("kaiming_uniform_"), _init_call("kaiming_normal_"),
           _init_call("orthogonal_"), _zero_grad_only, _load_state_dict]


@pytest.mark.parametrize("change", BUMPERS, ids=[c.__name__ for c in BUMPERS])
def test_optimizers_and_init_bump_the_version(change: Callable[[Any, Any], Any]) -> None:
    assert _bumped(cr, change) == _bumped(torch, change)
