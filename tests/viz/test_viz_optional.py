"""matplotlib is optional: data functions work without it, drawing ones say what to install."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.viz import GradientMonitor, descent, explain, graph, lr_sweep, saliency


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Every `import matplotlib...` fails, as on a machine without it."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_importing_chainrule_viz_does_not_import_matplotlib():
    code = ("import sys, chainrule, chainrule.viz; "
            "print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_without_matplotlib_data_works_and_pictures_say_what_to_install(no_matplotlib,
                                                                          tmp_path):
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    r = descent("quadratic", ["sgd", "adam"], steps=10)
    assert r["sgd"].final_loss < r["sgd"].losses[0]
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"'):
        r.plot(tmp_path / "d.png")
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"'):
        lr_sweep("quadratic", lrs=[0.1, 0.3], steps=5, path=tmp_path / "s.png")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    monitor = GradientMonitor(model)
    x = cr.randn(3, 2)
    loss = model(x).sum()
    assert "digraph" in graph(loss) and len(explain(loss).records) > 0
    loss.backward()
    monitor.record()
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"'):
        monitor.plot(tmp_path / "m.png")
    images = np.zeros((1, 1, 2, 1), np.float32)
    flat = nn.Sequential(nn.Flatten(), nn.Linear(2, 2))
    assert saliency(flat, images, 0).shape == images.shape
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"'):
        saliency(flat, images, 0, path=tmp_path / "s.png")
    assert not list(tmp_path.iterdir())
