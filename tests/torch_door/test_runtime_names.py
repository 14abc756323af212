"""PyTorch's run-time names: threads, determinism, matmul precision, warnings, typename, the two
anomaly modes, torch.backends and torch.compile (autocast and GradScaler: test_amp_names.py).
Each is compared with torch where torch is importable (the values it returns, the errors and
warnings it gives), and the habits are run as users write them: a compiled model trained for a
few steps, `cudnn.deterministic = True` at the top of a script.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import runtime
from chainrule.modes import _Mode


@pytest.fixture(autouse=True)
def _restore_switches() -> Any:
    """Each test leaves the global switches (chainrule's and torch's) as it found them."""
    saved = dict(runtime._state), _Mode.anomaly, _Mode.anomaly_check_nan
    cudnn = dict(cr.backends.cudnn._values)
    threads = cr.get_num_threads()
    yield
    runtime._state.clear()
    runtime._state.update(saved[0])
    _Mode.anomaly, _Mode.anomaly_check_nan = saved[1], saved[2]
    cr.backends.cudnn._values.update(cudnn)
    if cr.get_num_threads() != threads:
        cr.set_num_threads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.use_deterministic_algorithms(False)
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.deterministic = torch.backends.cudnn.benchmark = False


def _error(fn: Any, *args: Any, **kwargs: Any) -> tuple[type, str]:
    """(type, message) of the error fn(*args, **kwargs) raises."""
    with pytest.raises(Exception) as err:
        fn(*args, **kwargs)
    return type(err.value), str(err.value)


# -- threads -------------------------------------------------------------------------------------
def test_set_num_threads_changes_the_blas_threads() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    if not blas:
        pytest.skip("threadpoolctl finds no BLAS in this process")
    cr.set_num_threads(1)
    assert cr.get_num_threads() == 1
    assert {p["num_threads"] for p in threadpoolctl.threadpool_info()
            if p["user_api"] == "blas"} == {1}
    cr.set_num_threads(2)
    assert cr.get_num_threads() == 2


def test_set_num_threads_without_threadpoolctl_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_blas_pools", lambda: None)
    monkeypatch.setitem(runtime._state, "warned", set())
    with pytest.warns(UserWarning, match="has no effect.*threadpoolctl"):
        cr.set_num_threads(1)


@pytest.mark.parametrize("call", ["set_num_threads(0)", "set_num_threads(-1)",
                                  "set_num_threads(1.5)", "set_num_threads(True)",
                                  "set_num_interop_threads(0)"])
def test_thread_count_errors_match_torch(call: str) -> None:
    torch = pytest.importorskip("torch")
    assert _error(eval, "L." + call, {"L": cr}) == _error(eval, "L." + call, {"L": torch})


def test_interop_threads_can_be_set_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime._state, "interop", None)
    cr.set_num_interop_threads(3)
    assert cr.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
        cr.set_num_interop_threads(2)


# -- determinism, precision, warnings, typename --------------------------------------------------
def test_deterministic_switches_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, cr):
        seen = []
        lib.use_deterministic_algorithms(True, warn_only=True)
        seen.append((lib.are_deterministic_algorithms_enabled(),
                     lib.is_deterministic_algorithms_warn_only_enabled(),
                     lib.get_deterministic_debug_mode()))
        for mode in ("error", 0, "warn", True, 2, "default"):
            lib.set_deterministic_debug_mode(mode)
            seen.append((lib.are_deterministic_algorithms_enabled(),
                         lib.get_deterministic_debug_mode()))
        if lib is torch:
            expected = seen
    assert seen == expected
    for call in ("use_deterministic_algorithms(1)", "use_deterministic_algorithms(True, "
                 "warn_only=1)", "set_deterministic_debug_mode('x')",
                 "set_deterministic_debug_mode(3)", "set_deterministic_debug_mode(1.0)"):
        assert _error(eval, "L." + call, {"L": cr}) == \
            _error(eval, "L." + call, {"L": torch}), call


def test_matmul_precision_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, cr):
        seen = [lib.get_float32_matmul_precision()]
        for p in ("high", "medium", "highest"):
            lib.set_float32_matmul_precision(p)
            seen.append((lib.get_float32_matmul_precision(), lib.backends.cuda.matmul.allow_tf32))
        lib.backends.cuda.matmul.allow_tf32 = True
        seen.append(lib.get_float32_matmul_precision())
        lib.backends.cuda.matmul.allow_tf32 = False
        seen.append(lib.get_float32_matmul_precision())
        with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
            lib.set_float32_matmul_precision("fast")
        seen.append(lib.get_float32_matmul_precision())
        if lib is torch:
            expected = seen
    assert seen == expected
    assert _error(lambda: cr.set_float32_matmul_precision(1)) == \
        _error(lambda: torch.set_float32_matmul_precision(1))


def test_warn_always_flush_denormal_and_typename() -> None:
    torch = pytest.importorskip("torch")
    cr.set_warn_always(True)
    assert cr.is_warn_always_enabled()
    cr.set_warn_always(False)
    assert not cr.is_warn_always_enabled()
    assert _error(lambda: cr.set_warn_always(1)) == _error(lambda: torch.set_warn_always(1))
    # chainrule cannot set the CPU's flush-to-zero flags: PyTorch's answer where it cannot
    assert cr.set_flush_denormal(True) is False
    assert _error(lambda: cr.set_flush_denormal(1)) == _error(lambda: torch.set_flush_denormal(1))
    pairs = [(cr.zeros(2), torch.zeros(2)), (cr.zeros(2, dtype=cr.int64),
                                             torch.zeros(2, dtype=torch.int64)),
             (3, 3), ("a", "a"), (len, len),
             (cr.zeros(2, requires_grad=True).sum().grad_fn,
              torch.zeros(2, requires_grad=True).sum().grad_fn)]
    for c, t in pairs:
        assert cr.typename(c) == torch.typename(t).replace("torch.", "chainrule.")
    assert cr.typename(cr.nn.Linear(2, 2)).endswith(".Linear")


# -- anomaly modes -------------------------------------------------------------------------------
def _nan_in_backward(lib: Any, mode: Any) -> tuple[Any, list[str]]:
    """sqrt at 0 times 0: forward finite, backward 0 * inf = NaN in SqrtBackward0."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with mode():
                x = lib.tensor([0.0, 1.0], requires_grad=True)
                (x.sqrt() * 0).sum().backward()
                result: Any = str(x.grad.tolist())  # str: NaN == NaN
        except Exception as e:  # noqa: BLE001 - the error is the result compared
            result = (type(e), str(e))
    return result, [str(w.message).split(".")[0] for w in caught
                    if issubclass(w.category, UserWarning)]


def test_pytorch_anomaly_mode_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    for mode in (lambda L: L.autograd.detect_anomaly, lambda L: lambda: L.autograd.
                 set_detect_anomaly(True), lambda L: lambda: L.autograd.detect_anomaly(False)):
        got, ref = _nan_in_backward(cr, mode(cr)), _nan_in_backward(torch, mode(torch))
        assert got == ref
    result, warned = _nan_in_backward(cr, cr.autograd.detect_anomaly)
    assert result == (RuntimeError, "Function 'SqrtBackward0' returned nan values in its 0th "
                                    "output.")
    assert warned == ["Anomaly Detection has been enabled", "Error detected in SqrtBackward0"]
    assert not cr.is_anomaly_enabled()


@pytest.mark.parametrize("case", ["nan_forward", "inf_backward"])
def test_pytorch_anomaly_mode_lets_nan_forward_and_inf_pass(case: str) -> None:
    """PyTorch's mode raises only on NaN in a backward output; chainrule's own raises on
    NaN/Inf born anywhere, forward or backward."""
    torch = pytest.importorskip("torch")
    data = [-1.0, 4.0] if case == "nan_forward" else [0.0, 4.0]

    def run(lib: Any, mode: Any) -> Any:
        x = lib.tensor(data, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mode():
                y = x.log() if case == "nan_forward" else x.sqrt()
                y.sum().backward()
        return x.grad.numpy()

    np.testing.assert_array_equal(run(cr, cr.autograd.detect_anomaly),
                                  run(torch, torch.autograd.detect_anomaly))
    with pytest.raises(FloatingPointError, match="Log: forward" if case == "nan_forward" else
                       "Sqrt: backward"):
        run(cr, cr.detect_anomaly)


def test_anomaly_state_queries_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, cr):
        seen = [lib.is_anomaly_enabled()]
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            seen.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
        seen.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
        lib.autograd.set_detect_anomaly(True)
        seen.append(lib.is_anomaly_enabled())
        lib.autograd.set_detect_anomaly(False)
        seen.append(lib.is_anomaly_enabled())
        if lib is torch:
            expected = seen
    assert seen == expected
    with cr.detect_anomaly():
        assert cr.is_anomaly_enabled()


def test_pytorch_anomaly_mode_names_the_forward_line() -> None:
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = cr.autograd.detect_anomaly()
    with mode, pytest.warns(UserWarning, match=r"Error detected in MulBackward0.*\n.*"
                                               r"test_runtime_names.py.*y = nan \* x"):
        x = cr.tensor([0.0, 4.0], requires_grad=True)
        nan = cr.tensor([float("nan"), 1.0])
        y = nan * x
        with pytest.raises(RuntimeError, match="'MulBackward0' returned nan values in its 1th"):
            y.sum().backward()


# -- torch.backends ------------------------------------------------------------------------------
def test_backends_switches_as_programs_set_them() -> None:
    torch = pytest.importorskip("torch")
    import chainrule.backends.cudnn as cudnn

    assert cudnn is cr.backends.cudnn
    for lib in (torch, cr):
        lib.backends.cudnn.benchmark = True
        seen = [lib.backends.cudnn.benchmark, lib.backends.cudnn.enabled,
                lib.backends.cudnn.is_available(), lib.backends.cudnn.version(),
                lib.backends.cudnn.benchmark_limit, lib.backends.mps.is_available()]
        with lib.backends.cudnn.flags(enabled=True, deterministic=True):
            seen.append((lib.backends.cudnn.enabled, lib.backends.cudnn.benchmark,
                         lib.backends.cudnn.deterministic))
        seen.append((lib.backends.cudnn.benchmark, lib.backends.cudnn.deterministic))
        for call in ("L.backends.cudnn.benchmark = 1", "L.backends.cudnn.deterministic = 'y'",
                     "L.backends.cuda.matmul.allow_tf32 = 1", "L.backends.mkldnn.enabled = 0",
                     "L.backends.cuda.matmul.no_such_switch = True"):
            seen.append(_error(exec, call, {"L": lib})[0])
        seen.append(_error(getattr, lib.backends.cuda.matmul, "no_such_switch")[0])
        if lib is torch:
            expected = seen
    assert seen == expected


# -- torch.compile -------------------------------------------------------------------------------
def _net(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def _train(lib: Any, model: Any, steps: int = 5) -> list[float]:
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = lib.tensor(np.linspace(-1, 1, 48).reshape(16, 3), dtype=lib.float32)
    y = (x ** 2).sum(1, keepdim=True)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_compiled_model_trains_as_the_model() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in _net(torch).state_dict().items()}
    plain, compiled = _net(cr), _net(cr)
    for m in (plain, compiled):
        m.load_state_dict({k: cr.tensor(v) for k, v in weights.items()})
    model = cr.compile(compiled)
    assert type(model).__name__ == "OptimizedModule" and model._orig_mod is compiled
    losses = _train(cr, model)
    assert losses == _train(cr, plain)
    t_model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    t_model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    np.testing.assert_allclose(losses, _train(torch, t_model), rtol=1e-5)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), plain.state_dict()[k[len("_orig_mod."):]])


def test_compiled_state_dict_keys_and_loading_match_torch() -> None:
    torch = pytest.importorskip("torch")
    results = []
    for lib, kw in ((torch, {"backend": "eager"}), (cr, {})):
        model = _net(lib)
        compiled = lib.compile(model, **kw)
        keys = list(compiled.state_dict())
        uncompiled = _net(lib).state_dict()
        err = _error(compiled.load_state_dict, uncompiled)[0]
        loose = compiled.load_state_dict(uncompiled, strict=False)
        back = model.load_state_dict(compiled.state_dict(), strict=False)
        compiled._orig_mod.load_state_dict(uncompiled)  # the fix PyTorch users apply
        compiled.eval()
        results.append((keys, issubclass(err, RuntimeError), loose.missing_keys,
                        loose.unexpected_keys, back.missing_keys, back.unexpected_keys,
                        model.training, [n for n, _ in compiled.named_modules()], len(compiled)))
    assert results[1] == results[0]
    assert results[0][0][0] == "_orig_mod.0.weight"


def test_compile_arguments_as_torch() -> None:
    torch = pytest.importorskip("torch")
    model = _net(cr)
    assert cr.compile(model, disable=True) is model
    for kw in ({"mode": "fastest"}, {"backend": "nope"}, {"mode": "default", "options": {}}):
        c, t = _error(cr.compile, model, **kw), _error(torch.compile, torch.nn.Linear(1, 1),
                                                       **kw)
        assert issubclass(c[0], RuntimeError) and c[1] == t[1], kw
    assert _error(lambda: cr.compile(3)) == _error(lambda: torch.compile(3))
    assert cr.compiler.list_backends() == torch.compiler.list_backends()

    @cr.compile(mode="max-autotune")
    def double(x: Any) -> Any:
        return x * 2

    assert double.__name__ == "double" and double(cr.ones(2)).tolist() == [2.0, 2.0]
    assert not cr.compiler.is_compiling() and cr.compiler.disable(double) is double


def test_deterministic_script_preamble() -> None:
    """The first lines of many reproducibility recipes, then a short training run."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    weights = {k: v.detach().numpy().copy() for k, v in _net(torch).state_dict().items()}
    runs = []
    for lib in (torch, cr):
        lib.manual_seed(0)
        lib.backends.cudnn.deterministic = True
        lib.backends.cudnn.benchmark = False
        lib.use_deterministic_algorithms(True)
        assert lib.are_deterministic_algorithms_enabled() and lib.backends.cudnn.deterministic
        net = _net(lib)
        net.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        runs.append(_train(lib, net))
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)


def test_module_compile_in_place_keeps_the_model() -> None:
    # torch: model.compile() compiles in place; state_dict keys stay the model's own
    model = cr.nn.Linear(3, 2)
    before = model(cr.ones(1, 3))
    assert model.compile(mode="max-autotune") is None
    assert list(model.state_dict()) == ["weight", "bias"]
    assert cr.equal(model(cr.ones(1, 3)), before)
    with pytest.raises(RuntimeError, match="Invalid backend"):
        model.compile(backend="no-such-backend")
