"""lr_find's suggestion and saliency's gradients."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import functional as F
from chainrule.viz import lr_find, plot_saliency, saliency


def classification_setup():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 10)).astype(np.float32)
    y = (X @ rng.standard_normal((10, 3))).argmax(1)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                        generator=np.random.default_rng(1))
    return model, loader


def test_suggestion_lies_on_the_descending_part_of_the_curve():
    model, loader = classification_setup()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = copy.deepcopy(model.state_dict())  # state_dict() shares the weights
    found = lr_find(model, loader, F.cross_entropy, opt)
    lrs, losses, i = found.lrs, found.losses, found.suggestion_index
    lowest = int(np.argmin(losses))
    assert found.suggestion == lrs[i] and i < lowest  # before the minimum of the curve
    assert losses[i] < losses[0]  # the loss has started to fall ...
    assert np.gradient(losses, np.log10(lrs))[i] < 0  # ... and is falling there
    assert losses[-1] > 2 * losses[lowest] or len(lrs) == 100  # the test ran to divergence
    after = model.state_dict()  # the test changed nothing
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert opt.param_groups[0]["lr"] == 0.01 and not opt.state


def test_lr_find_rejects_a_bad_range():
    model, loader = classification_setup()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(model, loader, F.cross_entropy, optim.SGD(model.parameters()), start_lr=1.0,
                end_lr=0.1)


def test_lr_find_picture(tmp_path):
    pytest.importorskip("matplotlib")
    model, loader = classification_setup()
    found = lr_find(model, loader, F.cross_entropy, optim.Adam(model.parameters()),
                    num_iter=30)
    fig = found.plot(tmp_path / "lr.png")
    assert fig.axes[0].get_xscale() == "log" and (tmp_path / "lr.png").exists()


def test_saliency_of_a_linear_model_is_its_weight_row():
    cr.manual_seed(0)
    lin = nn.Linear(5, 3)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    target = np.array([0, 2, 1, 2])
    s = saliency(lin, x, target)
    w = lin.weight.detach().numpy()
    np.testing.assert_allclose(s, w[target], rtol=1e-6)
    np.testing.assert_allclose(saliency(lin, x, 1), np.tile(w[1], (4, 1)))
    with pytest.raises(ValueError, match="out of range"):
        saliency(lin, x, 3)


def test_saliency_restores_training_mode_and_matches_grad():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Dropout(0.5), nn.Linear(6, 2))
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    s = saliency(model, x, 1)
    assert model.training  # put back as it was; the saliency itself ran in eval mode
    model.eval()
    xt = cr.tensor(x, requires_grad=True)
    (g,) = cr.autograd.grad(model(xt)[:, 1].sum(), [xt])
    np.testing.assert_allclose(s, g.numpy(), rtol=1e-6)


def test_saliency_picture_for_images(tmp_path):
    pytest.importorskip("matplotlib")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    images = np.random.default_rng(0).random((2, 1, 6, 6)).astype(np.float32)
    s = saliency(model, images, [0, 1], path=tmp_path / "s.png")
    assert s.shape == images.shape and (tmp_path / "s.png").exists()
    with pytest.raises(ValueError, match="images"):
        plot_saliency(np.zeros((2, 5)), np.zeros((2, 5)))
