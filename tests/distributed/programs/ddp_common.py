"""The model, data and training loop shared by the DDP job (each rank on its slice of the
global batch) and by the test's one-process reference (the whole global batch)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim

STEPS, BATCH, D_IN, D_OUT = 20, 16, 8, 4


class MLP(nn.Module):
    def __init__(self, unused: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(D_IN, 16)
        self.fc2 = nn.Linear(16, D_OUT)
        if unused:  # a head this forward never calls: only find_unused_parameters copes
            self.head = nn.Linear(D_OUT, 2)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.fc2(self.fc1(x).tanh())


def cnn() -> nn.Module:
    # no conv bias: batch norm cancels its gradient, and Adam would amplify the rounding noise
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, D_OUT))


def make_model(dtype: str, unused: bool = False, seed: int = 0, kind: str = "mlp") -> nn.Module:
    cr.manual_seed(seed)
    m = MLP(unused) if kind == "mlp" else cnn()
    return m.double() if dtype == "float64" else m


def make_optimizer(name: str, params: object) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def data(dtype: str, micro: int = 1, kind: str = "mlp") -> tuple[np.ndarray, np.ndarray]:
    """Global batches: x (STEPS, micro, BATCH, D_IN) (or (..., 2, 4, 4) images for the CNN),
    y (STEPS, micro, BATCH, D_OUT)."""
    rng = np.random.default_rng(1)
    shape = (D_IN,) if kind == "mlp" else (2, 4, 4)
    x = (rng.standard_normal((STEPS, micro, BATCH) + shape) * 2 + 1).astype(dtype)
    y = rng.standard_normal((STEPS, micro, BATCH, D_OUT)).astype(dtype)
    return x, y


def train(model: nn.Module, opt: optim.Optimizer, x: np.ndarray, y: np.ndarray,
          no_sync: object = None) -> None:
    """STEPS steps; each accumulates the gradients of its micro-batches (all but the last
    under `no_sync()` when given) and then takes one optimizer step."""
    import contextlib

    loss_fn = nn.MSELoss()
    for step in range(x.shape[0]):
        opt.zero_grad()
        for k in range(x.shape[1]):
            last = k == x.shape[1] - 1
            ctx = no_sync() if no_sync is not None and not last else contextlib.nullcontext()
            with ctx:
                loss_fn(model(cr.tensor(x[step, k])), cr.tensor(y[step, k])).backward()
        opt.step()


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    sd = model.state_dict()
    return {k.removeprefix("module."): v.numpy().copy() for k, v in sd.items()}


CONFIGS = [  # (name, model, optimizer, dtype, micro-batches, unused head); the CNN's
    # BatchNorm2d becomes a SyncBatchNorm under DDP, a plain BatchNorm2d in the reference
    ("sgd32", "mlp", "sgd", "float32", 1, False), ("adam32", "mlp", "adam", "float32", 1, False),
    ("sgd64", "mlp", "sgd", "float64", 1, False), ("adam64", "mlp", "adam", "float64", 1, False),
    ("accumulate64", "mlp", "sgd", "float64", 2, False),
    ("unused64", "mlp", "adam", "float64", 1, True),
    ("cnn_sgd32", "cnn", "sgd", "float32", 1, False),
    ("cnn_adam32", "cnn", "adam", "float32", 1, False),
    ("cnn_sgd64", "cnn", "sgd", "float64", 1, False),
    ("cnn_adam64", "cnn", "adam", "float64", 1, False),
]
