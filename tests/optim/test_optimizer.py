"""The Optimizer base: registry, validation, param groups, lazy state, state_dict, arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule import no_grad
from chainrule.nn import Parameter

NAMES = ["sgd", "momentum", "nesterov", "nag", "adagrad", "rmsprop", "adadelta", "adam",
         "amsgrad", "adamw", "adamax", "nadam", "radam", "rprop", "asgd"]
# options that make every name move visibly on the test problems
LR = {"adadelta": 1.0, "adagrad": 0.1}
OPTIONS = {"asgd": {"t0": 3}}  # ASGD's average starts within the test's steps


def decay(name, wd):
    """weight_decay=wd where the optimizer has one (torch's Rprop has none)."""
    return {} if name == "rprop" else {"weight_decay": wd}


def mlp(seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.normal(size=(3, 5))), Parameter(np.zeros(5)),
            Parameter(rng.normal(size=(5, 1))), Parameter(np.zeros(1))]


def mlp_step(opt, params, x, y):
    W1, b1, W2, b2 = params
    opt.zero_grad()
    loss = ((((x @ W1 + b1).tanh() @ W2 + b2) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss.item()


DATA = np.random.default_rng(1).normal(size=(8, 3)), np.random.default_rng(2).normal(size=(8, 1))


# -- registry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls, options", [
    ("sgd", optim.SGD, {"momentum": 0, "nesterov": False}),
    ("momentum", optim.SGD, {"momentum": 0.9, "nesterov": False}),
    ("nesterov", optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("nag", optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("adagrad", optim.Adagrad, {}),
    ("rmsprop", optim.RMSprop, {"centered": False}),
    ("adadelta", optim.Adadelta, {"rho": 0.9}),
    ("adam", optim.Adam, {"amsgrad": False}),
    ("amsgrad", optim.Adam, {"amsgrad": True}),
    ("adamw", optim.AdamW, {"weight_decay": 1e-2}),
    ("adamax", optim.Adamax, {}),
    ("NAdam", optim.NAdam, {"momentum_decay": 4e-3}),
])
def test_registry_names(name, cls, options):
    p = Parameter(np.ones(2))
    opt = optim.create(name, [p], lr=0.1)
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["params"][0] is p
    for k, v in options.items():
        assert group[k] == v


def test_registry_kwargs_override_implied_options():
    opt = optim.create("momentum", [Parameter(np.ones(1))], lr=0.1, momentum=0.5)
    assert opt.param_groups[0]["momentum"] == 0.5
    # lbfgs (step(closure) only): tests/optim/test_lbfgs.py
    assert sorted(optim.available()) == sorted(NAMES + ["lbfgs"])


def test_unknown_optimizer_name_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        optim.create("adamm", [Parameter(np.ones(1))])
    msg = str(err.value)
    assert "'adamm'" in msg
    for name in NAMES:
        assert name in msg


# -- validation ------------------------------------------------------------------------------------
BAD = [
    (optim.SGD, {"lr": -0.1}, "lr", "-0.1"),
    (optim.SGD, {"lr": math.nan}, "lr", "nan"),
    (optim.SGD, {"momentum": -0.9}, "momentum", "-0.9"),
    (optim.SGD, {"weight_decay": -1e-4}, "weight_decay", "-0.0001"),
    (optim.SGD, {"dampening": 1.5}, "dampening", "1.5"),
    (optim.SGD, {"nesterov": True}, "nesterov", "momentum=0"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov", "0.1"),
    (optim.Adagrad, {"lr_decay": -1.0}, "lr_decay", "-1.0"),
    (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value", "-1.0"),
    (optim.Adagrad, {"eps": -1e-10}, "eps", "-1e-10"),
    (optim.RMSprop, {"alpha": 1.5}, "alpha", "1.5"),
    (optim.RMSprop, {"momentum": -0.1}, "momentum", "-0.1"),
    (optim.Adadelta, {"rho": -0.5}, "rho", "-0.5"),
    (optim.Adadelta, {"lr": -1.0}, "lr", "-1.0"),
    (optim.Adam, {"betas": (1.0, 0.999)}, "betas[0]", "1.0"),
    (optim.Adam, {"betas": (0.9, 1.0)}, "betas[1]", "1.0"),
    (optim.Adam, {"betas": (-0.1, 0.999)}, "betas[0]", "-0.1"),
    (optim.Adam, {"betas": (0.9, math.nan)}, "betas[1]", "nan"),
    (optim.Adam, {"betas": (0.9,)}, "betas", "(0.9,)"),
    (optim.Adam, {"eps": -1e-8}, "eps", "-1e-08"),
    (optim.Adam, {"weight_decay": -0.1}, "weight_decay", "-0.1"),
    (optim.AdamW, {"lr": math.nan}, "lr", "nan"),
    (optim.Adamax, {"betas": (0.9, 1.5)}, "betas[1]", "1.5"),
    (optim.NAdam, {"momentum_decay": -4e-3}, "momentum_decay", "-0.004"),
    (optim.NAdam, {"betas": (1.2, 0.999)}, "betas[0]", "1.2"),
]


@pytest.mark.parametrize("cls, kwargs, arg, shown", BAD,
                         ids=[f"{c.__name__}-{a}-{s}" for c, _, a, s in BAD])
def test_bad_options_are_refused_naming_optimizer_argument_value(cls, kwargs, arg, shown):
    for params in ([Parameter(np.ones(2))], None):  # parameter and array interfaces alike
        with pytest.raises(ValueError) as err:
            cls(params, **kwargs)
        msg = str(err.value)
        assert cls.__name__ in msg and arg in msg and shown in msg


def test_bad_option_in_a_param_group_is_refused():
    p, q = Parameter(np.ones(1)), Parameter(np.ones(1))
    with pytest.raises(ValueError, match=r"Adam: lr must be >= 0, got -1"):
        optim.Adam([{"params": [p]}, {"params": [q], "lr": -1}], lr=0.1)
    opt = optim.Adam([p], lr=0.1)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.add_param_group({"params": [q], "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 1
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.SGD([p], lr="0.1")


def test_bad_params_are_refused():
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="wrap it"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="update()"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {p}}], lr=0.1)

    class Model:
        def parameters(self):
            return iter([p])

    with pytest.raises(TypeError, match=r"model.parameters\(\)"):
        optim.SGD(Model(), lr=0.1)


# -- groups, stepping, state -------------------------------------------------------------------
def test_param_groups_fill_defaults_and_add_param_group():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [p], "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.5
    opt.add_param_group({"params": q, "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0 and opt.param_groups[1]["params"][0] is q
    p.grad, q.grad = cr.tensor(np.ones(2)), cr.tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(p.numpy(), 0.9)  # 1 - 0.1*1
    np.testing.assert_allclose(q.numpy(), 0.0)  # 1 - 1.0*1
    assert "Parameter Group 1" in repr(opt)


def test_state_is_lazy_and_params_without_grad_are_skipped():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.Adam([p, q], lr=0.1)
    assert len(opt.state) == 0
    p.grad = cr.tensor(np.ones(2))
    opt.step()
    assert set(opt.state[p]) == {"step", "exp_avg", "exp_avg_sq"} and opt.state[p]["step"] == 1
    assert not opt.state.get(q)
    np.testing.assert_array_equal(q.numpy(), 1.0)


def test_step_with_closure_returns_the_loss():
    p = Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        calls.append(1)
        return loss

    with no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 9.0 and calls == [1]
    np.testing.assert_allclose(p.numpy(), [1.5])  # 3 - 0.25 * 6


def test_zero_grad():
    p = Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    p.grad = cr.tensor(np.ones(2))
    kept = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is kept and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def test_gradients_are_never_written_and_float32_stays_float32():
    p = Parameter(np.ones(4, dtype=np.float32))
    g = np.arange(4, dtype=np.float32)
    for name in NAMES:
        opt = optim.create(name, [p], lr=0.01, maximize=True, **decay(name, 0.1))
        p.grad = cr.tensor(g)
        opt.step()
        np.testing.assert_array_equal(g, np.arange(4))
        assert p.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))


# -- state_dict -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name):
    x, y = DATA
    params = mlp()
    opt = optim.create(name, params, lr=LR.get(name, 0.05), **OPTIONS.get(name, {}))
    for _ in range(5):
        mlp_step(opt, params, x, y)
    saved, weights = opt.state_dict(), [p.numpy().copy() for p in params]
    for s in saved["state"].values():
        assert all(isinstance(v, (np.ndarray, int, float)) for v in s.values())
    assert saved["param_groups"][0]["params"] == [0, 1, 2, 3]
    reference = [mlp_step(opt, params, x, y) for _ in range(5)]
    # the saved arrays are copies: stepping on did not change them (plain SGD has no state)
    def arrays(sd):
        return [v for s in sd["state"].values() for v in s.values() if hasattr(v, "shape")]

    assert arrays(saved) or name == "sgd"
    assert name == "sgd" or any(not np.array_equal(a, b)
                                for a, b in zip(arrays(saved), arrays(opt.state_dict())))

    params2 = [Parameter(w) for w in weights]
    opt2 = optim.create(name, params2, lr=123.0, **OPTIONS.get(name, {}))  # saved lr wins
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == LR.get(name, 0.05)
    assert [mlp_step(opt2, params2, x, y) for _ in range(5)] == reference
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_refuses_mismatches_before_changing_anything():
    p = Parameter(np.ones(2))
    opt = optim.Adam([p], lr=0.1)
    p.grad = cr.tensor(np.ones(2))
    opt.step()
    saved = opt.state_dict()
    other = optim.Adam([Parameter(np.ones(2)), Parameter(np.ones(3))], lr=0.2)
    with pytest.raises(ValueError, match=r"hold \[1\] parameters, this optimizer's \[2\]"):
        other.load_state_dict(saved)
    two_groups = optim.Adam([{"params": [Parameter(np.ones(2))]},
                             {"params": [Parameter(np.ones(2))]}], lr=0.2)
    with pytest.raises(ValueError, match="1 param groups"):
        two_groups.load_state_dict(saved)
    wrong_shape = optim.Adam([Parameter(np.ones(3))], lr=0.2)
    with pytest.raises(ValueError, match=r"shape \(2,\) but its parameter has shape \(3,\)"):
        wrong_shape.load_state_dict(saved)
    assert wrong_shape.param_groups[0]["lr"] == 0.2 and not wrong_shape.state


# -- the array interface -----------------------------------------------------------------------
def rosenbrock_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                     200 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize("name", NAMES)
def test_array_interface_follows_the_parameter_interface(name):
    lr = {"sgd": 5e-4, "momentum": 2e-4, "nesterov": 2e-4, "nag": 2e-4, "asgd": 5e-4,
          "rprop": 1e-3}.get(name, 0.05)
    kwargs = {"lr": LR.get(name, lr), **decay(name, 0.01)}
    # parameter interface, gradients from autograd
    p = Parameter(np.array([-1.5, 2.0]))
    opt = optim.create(name, [p], **kwargs)
    # array interface: two arrays (a list), gradients by hand; state is kept per position
    x, w = np.array([-1.5, 2.0]), np.array([[1.0, -1.0]])
    aopt = optim.create(name, **kwargs)
    for _ in range(30):
        opt.zero_grad()
        ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2).backward()
        opt.step()
        out = aopt.update([rosenbrock_grad(x), 2 * w], [x, w])
        assert out[0] is x and out[1] is w  # updated in place
    np.testing.assert_allclose(x, p.numpy(), rtol=1e-12)
    assert np.abs(x - [-1.5, 2.0]).max() > 1e-3


def test_array_interface_single_array_and_errors():
    opt = optim.Adam(lr=0.1)
    x = np.array([1.0, -2.0])
    assert opt.update(np.array([1.0, -1.0]), x) is x
    np.testing.assert_allclose(x, [0.9, -1.9], rtol=1e-7)  # Adam's first step is lr*sign(g)
    with pytest.raises(ValueError, match="first used with 1 arrays, now got 2"):
        opt.update([np.ones(2), np.ones(2)], [x, np.ones(2)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\)"):
        opt.update(np.ones(3), x)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD(lr=0.1).update(np.ones(2, dtype=int), np.ones(2, dtype=int))
    with pytest.raises(RuntimeError, match="step()"):
        optim.SGD([Parameter(np.ones(1))], lr=0.1).update(np.ones(1), np.ones(1))
    y = optim.SGD(lr=0.5).update(2.0, 1.0)  # a Python number comes back as an array
    assert float(y) == 0.0


def test_array_interface_state_dict_round_trip():
    x = np.array([-1.5, 2.0])
    opt = optim.NAdam(lr=0.05)
    for _ in range(5):
        opt.update(rosenbrock_grad(x), x)
    saved, x2 = opt.state_dict(), x.copy()
    for _ in range(5):
        opt.update(rosenbrock_grad(x), x)
    opt2 = optim.NAdam(lr=1.0)
    opt2.load_state_dict(saved)  # applied when the arrays arrive
    for _ in range(5):
        opt2.update(rosenbrock_grad(x2), x2)
    np.testing.assert_array_equal(x, x2)
    assert opt2.param_groups[0]["lr"] == 0.05
