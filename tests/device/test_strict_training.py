"""Optimizers, schedulers, gradient clipping and whole training loops on the device: the same
numbers as on the CPU, with the only device-to-host copies the ones the loop asks for."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.optim import lr_scheduler as sched

from . import strict_xp
from .conftest import real_cuda

OPTIMIZERS: list[tuple[str, Callable[[Any], optim.Optimizer]]] = [
    ("SGD", lambda ps: optim.SGD(ps, lr=0.1)),
    ("SGD_momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                          weight_decay=0.01)),
    ("SGD_dampening_maximize", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3,
                                                    maximize=True)),
    ("Adam", lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01)),
    ("Adam_amsgrad", lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True)),
    ("AdamW", lambda ps: optim.AdamW(ps, lr=0.01)),
    ("Adamax", lambda ps: optim.Adamax(ps, lr=0.01)),
    ("NAdam", lambda ps: optim.NAdam(ps, lr=0.01)),
    ("RAdam", lambda ps: optim.RAdam(ps, lr=0.01)),
    ("Adagrad", lambda ps: optim.Adagrad(ps, lr=0.1)),
    ("Adadelta", lambda ps: optim.Adadelta(ps)),
    ("RMSprop", lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True)),
    ("Rprop", lambda ps: optim.Rprop(ps, lr=0.01)),
    ("ASGD", lambda ps: optim.ASGD(ps, lr=0.01, t0=1)),
    ("LBFGS", lambda ps: optim.LBFGS(ps, lr=0.5, max_iter=4, line_search_fn="strong_wolfe")),
]


def _data(device: str) -> tuple[cr.Tensor, cr.Tensor]:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((16, 4)), dtype=cr.float64, device=device)
    y = cr.tensor(rng.standard_normal((16, 2)), dtype=cr.float64, device=device)
    return x, y


def _optimize(make: Callable, device: str, steps: int = 4) -> tuple[list, list]:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double().to(device)
    opt = make(model.parameters())
    x, y = _data(device)
    losses = []

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        loss = opt.step(closure)
        losses.append(float(loss))  # the one copy to the host per step that the loop asks for
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize("name, make", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_steps_match_cpu(name: str, make: Callable, dev: str) -> None:
    want_losses, want = _optimize(make, "cpu")
    got_losses, got = _optimize(make, dev)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-10)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_optimizer_state_dict_moves_between_devices(dev: str) -> None:
    """A state saved from the device loads into a CPU optimizer, and the other way."""
    cr.manual_seed(0)
    model = nn.Linear(4, 2).double().to(dev)
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = _data(dev)
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    state = opt.state_dict()
    cpu_model = nn.Linear(4, 2).double()
    cpu_opt = optim.Adam(cpu_model.parameters(), lr=0.1)
    cpu_opt.load_state_dict(state)

    def host(v: Any) -> np.ndarray:
        return v.cpu().numpy() if isinstance(v, cr.Tensor) else cr.backend.to_host(v)

    m_dev = opt.state[model.weight]["exp_avg"]
    m_cpu = cpu_opt.state[cpu_model.weight]["exp_avg"]
    assert cr.backend.device_of(m_cpu.array if isinstance(m_cpu, cr.Tensor) else m_cpu).type \
        == "cpu"
    np.testing.assert_array_equal(host(m_cpu), host(m_dev))
    opt.load_state_dict(cpu_opt.state_dict())
    m_back = opt.state[model.weight]["exp_avg"]
    assert cr.backend.device_of(m_back.array if isinstance(m_back, cr.Tensor) else m_back).type \
        == "cuda"
    np.testing.assert_array_equal(host(m_back), host(m_dev))


SCHEDULERS: list[tuple[str, Callable]] = [
    ("StepLR", lambda o: sched.StepLR(o, 2, 0.5)),
    ("MultiStepLR", lambda o: sched.MultiStepLR(o, [1, 3])),
    ("ExponentialLR", lambda o: sched.ExponentialLR(o, 0.9)),
    ("CosineAnnealingLR", lambda o: sched.CosineAnnealingLR(o, 5)),
    ("CosineAnnealingWarmRestarts", lambda o: sched.CosineAnnealingWarmRestarts(o, 2)),
    ("OneCycleLR", lambda o: sched.OneCycleLR(o, 1.0, total_steps=10)),
    ("CyclicLR", lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=2)),
    ("LinearLR", lambda o: sched.LinearLR(o)),
    ("PolynomialLR", lambda o: sched.PolynomialLR(o, 5)),
    ("ConstantLR", lambda o: sched.ConstantLR(o)),
    ("LambdaLR", lambda o: sched.LambdaLR(o, lambda e: 0.9 ** e)),
    ("ReduceLROnPlateau", lambda o: sched.ReduceLROnPlateau(o, patience=0)),
]


@pytest.mark.parametrize("name, make", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_scheduler_with_device_loss(name: str, make: Callable, dev: str) -> None:
    def run(device: str) -> list[float]:
        cr.manual_seed(0)
        model = nn.Linear(4, 2).double().to(device)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        s = make(opt)
        x, y = _data(device)
        lrs = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            s.step(loss) if name == "ReduceLROnPlateau" else s.step()  # a device metric
            lrs.append(opt.param_groups[0]["lr"])
        return lrs + [float(loss)]

    np.testing.assert_allclose(run(dev), run("cpu"), rtol=1e-10)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.01, 100.0])
def test_clip_grad_norm_and_value(norm_type: float, max_norm: float, dev: str) -> None:
    def run(device: str) -> tuple:
        cr.manual_seed(0)
        model = nn.Linear(4, 2).double().to(device)
        x, y = _data(device)
        nn.functional.mse_loss(model(x), y).backward()
        total = nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type)
        nn.utils.clip_grad_value_(model.parameters(), 0.05)
        assert total.device.type == cr.device(device).type
        return total.item(), [p.grad.cpu().numpy() for p in model.parameters()]

    (tg, gg), (tw, gw) = run(dev), run("cpu")
    assert tg == pytest.approx(tw, rel=1e-12)
    for a, b in zip(gg, gw):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_clip_grad_norm_nonfinite_error(dev: str) -> None:
    w = cr.tensor([1.0, 2.0], device=dev, requires_grad=True)
    (w * float("inf")).sum().backward()
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)


# -- whole training loops, written as a PyTorch tutorial writes them ----------------------------
class CNN(nn.Module):
    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 3)
        self.drop = nn.Dropout(p)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = self.pool(nn.functional.relu(self.bn(self.conv1(x))))
        return self.fc(self.drop(cr.flatten(x, 1)))


class CNNAvg(CNN):
    """The CNN with average pooling."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__(p)
        self.pool = nn.AvgPool2d(2)


class LSTMTagger(nn.Module):
    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.drop = nn.Dropout(p)
        self.out = nn.Linear(8, 3)

    def forward(self, tokens: cr.Tensor) -> cr.Tensor:
        h, _ = self.lstm(self.emb(tokens))
        return self.out(self.drop(h[:, -1]))


def _batches(kind: str) -> list:
    rng = np.random.default_rng(0)
    if kind == "mlp":
        return [(rng.standard_normal((32, 10)).astype(np.float32), rng.integers(0, 3, 32))
                for _ in range(3)]
    if kind == "lstm":
        return [(rng.integers(0, 20, (16, 7)), rng.integers(0, 3, 16)) for _ in range(3)]
    return [(rng.standard_normal((16, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 16))
            for _ in range(3)]


MODELS = {
    "mlp": lambda p=0.0: nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(p),
                                       nn.Linear(16, 3)),
    "cnn": CNN,
    "cnn_avgpool": CNNAvg,
    "lstm": LSTMTagger,
}


# The copies to the host a training step may make: the loss.item() the loop asks for, and the
# range checks of class targets and embedding indices (PyTorch's CUDA kernels make those checks
# with a device assert instead; here each is one copy of a bool or two numbers).
ALLOWED = ("chainrule/tensor.py", "in item"), ("chainrule/nn/losses.py", "in _class_targets"), \
    ("chainrule/nn/layers/embedding.py", "in _indices")


def _check_transfers(steps: int) -> None:
    log = strict_xp.TRANSFERS
    assert all(any(f in where and fn in where for f, fn in ALLOWED) for _, where in log), log
    assert sum("chainrule/tensor.py" in where for _, where in log) == steps, log
    assert len(log) <= len(ALLOWED) * steps, log


def _train(kind: str, device: str, p: float = 0.0) -> list[float]:
    cr.manual_seed(0)
    model = MODELS[kind](p).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    strict_xp.TRANSFERS.clear()
    strict_xp.UPLOADS.clear()
    losses = []
    model.train()
    for x, y in _batches("lstm" if kind == "lstm" else "mlp" if kind == "mlp" else "cnn"):
        x, y = cr.from_numpy(x).to(device), cr.from_numpy(y).to(device)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    if device != "cpu" and not real_cuda():
        _check_transfers(steps=3)
        # the batch (x, y) is all that goes up: no dropout mask, no constant
        assert len(strict_xp.UPLOADS) == 2 * 3, strict_xp.UPLOADS
    model.eval()
    with cr.no_grad():
        x, _ = _batches("lstm" if kind == "lstm" else "mlp" if kind == "mlp" else "cnn")[0]
        losses.append(model(cr.from_numpy(x).to(device)).sum().item())
    return losses


@pytest.mark.parametrize("kind", ["mlp", "cnn", "cnn_avgpool", "lstm"])
def test_training_steps_match_cpu(kind: str, dev: str) -> None:
    # a GPU's BLAS sums in another order: float32 rounding, then max pooling may pick another
    # tap of a near tie; the stand-in computes with NumPy, so it must match closely
    tol = 1e-3 if real_cuda() else 1e-5
    np.testing.assert_allclose(_train(kind, dev), _train(kind, "cpu"), rtol=tol)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_training_with_dropout_draws_on_the_device(kind: str, dev: str) -> None:
    """Dropout masks come from the device's generator (seeded by cr.manual_seed): the same seed
    gives the same run, nothing is uploaded per step, and the losses stay near the CPU's."""
    first, again = _train(kind, dev, 0.3), _train(kind, dev, 0.3)
    assert first == again
    cpu = _train(kind, "cpu", 0.3)
    assert np.isfinite(first).all() and abs(first[0] - cpu[0]) < 0.5


def test_dataloader_over_a_tensor_dataset_on_the_device(dev: str) -> None:
    """The PyTorch habit: a TensorDataset of device tensors, shuffled by a DataLoader; the
    sampler's host indices go to the device once per batch, and the batches equal the CPU's."""
    from chainrule.data import DataLoader, TensorDataset

    x, y = cr.randn(10, 3), cr.arange(10)
    cr.manual_seed(0)
    cpu = [b for b in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)]
    cr.manual_seed(0)
    ds = TensorDataset(x.to(dev), y.to(dev))
    on_dev = [b for b in DataLoader(ds, batch_size=4, shuffle=True)]
    assert len(on_dev) == len(cpu) == 3
    for (xd, yd), (xc, yc) in zip(on_dev, cpu):
        assert xd.device.type == "cuda"
        assert np.array_equal(xd.cpu().numpy(), xc.numpy())
        assert np.array_equal(yd.cpu().numpy(), yc.numpy())
