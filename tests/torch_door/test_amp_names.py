"""torch.autocast and torch.amp.GradScaler, compared with torch: the scale sequence and the
weights of a scaled training loop with an inf gradient made on purpose, the errors and the
disabled forms, where autocast is off, on, or (in chainrule) refused; and the AMP recipe of the
PyTorch docs, written for a GPU, run on a CPU-only machine as torch runs it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr


def _error(fn: Any, *args: Any, **kwargs: Any) -> tuple[type, str]:
    """(type, message) of the error fn(*args, **kwargs) raises."""
    with pytest.raises(Exception) as err:
        fn(*args, **kwargs)
    return type(err.value), str(err.value)


def _scaled_training(lib: Any, weights: dict, inf_steps: tuple = (2, 3)) -> tuple:
    """GradScaler on the CPU, with an inf gradient made on purpose at inf_steps."""
    model = lib.nn.Linear(4, 2)
    model.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_factor=1.7,
                                backoff_factor=0.3, growth_interval=2)
    x = lib.tensor(np.linspace(-2, 2, 32).reshape(8, 4), dtype=lib.float32)
    y = lib.tensor(np.cos(np.arange(16.0)).reshape(8, 2), dtype=lib.float32)
    scales, grads = [], []
    for step in range(8):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        scaler.scale(loss).backward()
        if step in inf_steps:
            model.weight.grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        grads.append(model.bias.grad.numpy().copy())
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return scales, grads, state, scaler.state_dict()


def test_grad_scaler_matches_torch_with_an_inf_gradient() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in torch.nn.Linear(4, 2).state_dict().items()}
    t_scales, t_grads, t_state, t_sd = _scaled_training(torch, weights)
    scales, grads, state, sd = _scaled_training(cr, weights)
    assert scales == t_scales  # float32 arithmetic, bit for bit
    assert scales[2] < scales[1] and scales[-1] > scales[-2]  # backed off, then grew
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=1e-6)
    for k in t_state:
        np.testing.assert_allclose(state[k], t_state[k], rtol=1e-6, atol=1e-7)
    assert sd == t_sd


def test_grad_scaler_errors_and_disabled_forms_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, cr):
        with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
            off = lib.amp.GradScaler()
        seen = [off.is_enabled(), off.get_scale(), off.state_dict()]
        loss = lib.tensor(2.0, requires_grad=True)
        seen.append(off.scale(loss) is loss)
        with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler\\(args...\\)"):
            lib.cuda.amp.GradScaler()
        scaler, p = lib.amp.GradScaler("cpu"), lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        seen.append(_error(scaler.step, opt))
        seen.append(_error(lib.amp.GradScaler, "cpu", growth_factor=1.0))
        scaler.scale((p * 3).sum()).backward()
        scaler.unscale_(opt)
        seen.append(_error(scaler.unscale_, opt))
        scaler.step(opt)
        seen.append(_error(scaler.step, opt))
        scaler.update(new_scale=8.0)
        seen.append(scaler.get_scale())
        empty = lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1)
        seen.append(_error(scaler.step, empty))
        if lib is torch:
            expected = seen
    assert seen == expected


def test_autocast_where_torch_turns_it_off_or_on() -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, cr):
        with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported"):
            ac = lib.autocast(device_type="cuda", dtype=lib.float16)
        with ac:
            seen = [lib.is_autocast_enabled("cuda"), (lib.ones(2, 2) @ lib.ones(2, 2)).dtype]
        with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype"):
            ac = lib.autocast("cpu", dtype=lib.float64)
        with ac:
            seen.append(lib.is_autocast_enabled("cpu"))
        with lib.autocast("xpu"):
            seen.append((lib.is_autocast_enabled("xpu"), (lib.ones(2) + 1).dtype))
        seen.append(lib.is_autocast_enabled("xpu"))
        with lib.autocast("cpu", enabled=False):
            seen.append(lib.is_autocast_enabled("cpu"))
        seen.append(_error(lib.autocast, "nowhere")[0])
        seen.append(_error(lib.autocast, 1)[0])
        if lib is torch:
            expected = [str(s) for s in seen]
    assert [str(s).replace("chainrule.", "torch.") for s in seen] == expected


def test_cpu_autocast_raises_rather_than_compute_in_float32() -> None:
    """PyTorch would run matmuls in bfloat16 here; chainrule cannot, and says so."""
    for make in (lambda: cr.autocast("cpu"), lambda: cr.autocast("cpu", dtype=cr.float16)):
        with pytest.raises(NotImplementedError, match="autocast"):
            make()


def _docs_amp_loop(torch: Any, weights: dict, scaler_device: str) -> tuple[list, list]:
    """The AMP recipe of the PyTorch docs, as written for a GPU, run on a CPU-only machine."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = torch.nn.MSELoss()
    scaler = torch.amp.GradScaler(scaler_device)
    data = torch.tensor(np.linspace(-1, 1, 64).reshape(16, 4), dtype=torch.float32)
    target = data.sum(1, keepdim=True)
    losses, dtypes = [], []
    for _epoch in range(4):
        optimizer.zero_grad()
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            output = model(data)
            loss = loss_fn(output, target)
        dtypes.append(str(output.dtype).split(".")[-1])
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    return losses, dtypes


@pytest.mark.parametrize("scaler_device", ["cuda", "cpu"])
def test_docs_amp_training_loop_on_a_cpu(scaler_device: str) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 1))
    weights = {k: v.numpy().copy() for k, v in t_model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_losses, t_dtypes = _docs_amp_loop(torch, weights, scaler_device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses, dtypes = _docs_amp_loop(cr, weights, scaler_device)
    assert dtypes == t_dtypes == ["float32"] * 4
    np.testing.assert_allclose(losses, t_losses, rtol=1e-5)
    assert any("Disabling autocast" in str(w.message) for w in caught)


def test_grad_scaler_by_hand() -> None:
    """init 8, growth 2 every 2 clean steps, backoff 0.5 on an inf: the scale goes 8, 16, 8,
    8, 16; the skipped step leaves the weight alone; the others see unscaled gradients."""
    w = cr.nn.Parameter(cr.tensor([1.0]))
    opt = cr.optim.SGD([w], lr=0.5)
    scaler = cr.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    scales, weights = [], []
    for step in range(5):
        opt.zero_grad()
        loss = (w * 3.0).sum()
        scaled = scaler.scale(loss)
        assert scaled.item() == pytest.approx(3.0 * w.item() * scaler.get_scale())
        scaled.backward()
        if step == 2:
            w.grad.fill_(float("nan"))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(w.item())
    assert scales == [8.0, 16.0, 8.0, 8.0, 16.0]
    assert weights == [-0.5, -2.0, -2.0, -3.5, -5.0]  # d loss / d w = 3, times lr 0.5
    assert scaler.state_dict() == {"scale": 16.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                   "growth_interval": 2, "_growth_tracker": 0}
