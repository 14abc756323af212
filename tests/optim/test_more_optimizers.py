"""RAdam, Rprop and ASGD beyond their trajectories (those are in test_vs_torch.py with every
optimizer): defaults equal torch's, the registry, state_dict round trips, float32, the array
interface and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn import Parameter


@pytest.fixture
def torch64():
    """torch keeps scalar state (step, ASGD's eta and mu) in the default dtype: make it
    float64 so both sides compute in float64 throughout."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def rosenbrock(p, sign):
    return sign * ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2)


def test_defaults_are_torchs(torch64):
    p, tp = Parameter(np.ones(2)), torch64.ones(2, requires_grad=True)
    for name in ("RAdam", "Rprop", "ASGD"):
        ours, theirs = getattr(optim, name)([p]), getattr(torch64.optim, name)([tp])
        for k, v in ours.defaults.items():
            assert theirs.defaults[k] == v, (name, k)


@pytest.mark.parametrize("name, cls", [("radam", optim.RAdam), ("rprop", optim.Rprop),
                                       ("asgd", optim.ASGD), ("RAdam", optim.RAdam)])
def test_registry_names(name, cls):
    opt = optim.create(name, [Parameter(np.ones(2))], lr=0.1)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.1
    assert name.lower() in optim.available()


def test_errors_name_the_option():
    p = [Parameter(np.ones(1))]
    with pytest.raises(ValueError, match=r"RAdam: betas\[1\] must be in \[0, 1\), got 1.0"):
        optim.RAdam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="RAdam: lr must be >= 0"):
        optim.RAdam(p, lr=-0.1)
    optim.RAdam(p, lr=0.0)  # torch accepts lr = 0
    with pytest.raises(ValueError, match="Rprop: etas must be a pair"):
        optim.Rprop(p, etas=(1.2, 0.5))
    with pytest.raises(ValueError, match="Rprop: step_sizes must be a pair"):
        optim.Rprop(p, step_sizes=1e-6)
    with pytest.raises(ValueError, match="ASGD: weight_decay must be >= 0"):
        optim.ASGD(p, weight_decay=-1)
    with pytest.raises(TypeError, match="weight_decay"):
        optim.Rprop(p, weight_decay=0.1)  # torch's Rprop has none either
