"""examples/transformer_char_lm.py: its loss falls as PyTorch's does on the same data. The very
same example code is run on PyTorch (its imports renamed to torch's), from the same initial
weights and on the same batches; the losses are compared step by step. And a quick run of the
whole script, on chainrule and on PyTorch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transformer_char_lm.py"
TORCH_IMPORTS = {
    "import chainrule as cr\n": "import torch as cr\n",
    "import chainrule.nn as nn\n": "import torch.nn as nn\n",
    "import chainrule.nn.functional as F\n": "import torch.nn.functional as F\n",
    "from chainrule import optim\n": "from torch import optim\n",
}


def load(torch: bool = False) -> types.ModuleType:
    """The example as a module; with torch=True, its source with the imports renamed."""
    name = "transformer_char_lm_torch" if torch else "transformer_char_lm"
    source = EXAMPLE.read_text()
    if torch:
        for ours, theirs in TORCH_IMPORTS.items():
            assert source.count(ours) == 1, ours
            source = source.replace(ours, theirs)
    module = types.ModuleType(name)
    module.__file__ = str(EXAMPLE)
    exec(compile(source, str(EXAMPLE), "exec"), module.__dict__)
    return module


def twin_models(ours_mod, theirs_mod, vocab: int, dtype: str, **kw):
    """The example's model in chainrule and in torch, with torch's initial weights in both."""
    theirs = theirs_mod.CharTransformer(vocab, **kw)
    ours = ours_mod.CharTransformer(vocab, **kw)
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    assert list(ours.state_dict()) == list(sd)
    return (ours.double(), theirs.double()) if dtype == "float64" else (ours, theirs)


def train_side_by_side(steps: int, dtype: str, lr: float = 3e-3, **kw) -> tuple[list, list]:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours_mod, theirs_mod = load(), load(torch=True)
    text = ours_mod.load_text()
    vocab = ours_mod.Vocab(text)
    data = vocab.encode(text)
    ours, theirs = twin_models(ours_mod, theirs_mod, len(vocab), dtype, **kw)
    opts = cr.optim.Adam(ours.parameters(), lr=lr), torch.optim.Adam(theirs.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    losses: tuple[list, list] = ([], [])
    for _ in range(steps):
        x, y = ours_mod.batch(data, 8, kw["max_len"], rng)
        for mod, model, opt, out in zip((ours_mod, theirs_mod), (ours, theirs), opts, losses):
            loss = mod.lm_loss(model, x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
    return losses


MODEL = dict(d_model=32, nhead=4, num_layers=2, dim_feedforward=64, dropout=0.0, max_len=32)


def test_losses_match_torch_step_by_step_in_float64():
    ours, theirs = train_side_by_side(8, "float64", **MODEL)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert ours[-1] < ours[0] - 0.5


def test_loss_falls_like_torchs_in_float32():
    ours, theirs = train_side_by_side(30, "float32", **MODEL)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert np.mean(ours[-5:]) < np.mean(ours[:5]) - 1.0


@pytest.mark.parametrize("backend", ["chainrule", "torch"])
def test_example_runs(backend, capsys):
    """A quick run of the script's main(); the whole program also runs on PyTorch with the
    imports renamed."""
    if backend == "torch":
        pytest.importorskip("torch")
    module = load(torch=backend == "torch")
    history = module.main(["--epochs", "2", "--steps", "3", "--d-model", "32", "--seq-len", "24",
                           "--sample", "40"])
    out = capsys.readouterr().out
    assert "epoch  1" in out and "epoch  2" in out and "sample:" in out
    assert len(history["train"]) == 2 and np.isfinite(history["val"]).all()
    assert history["sample"].startswith("Once upon a ") and len(history["sample"]) == 52
