"""lr=0 is a learning rate PyTorch accepts (a warmup schedule starts there); a negative one is
refused by both."""

import pytest

import chainrule as cr

NAMES = ["SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "NAdam", "RMSprop"]


@pytest.mark.parametrize("name", NAMES)
def test_lr_zero_is_accepted_and_leaves_the_weights(name):
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
    opt = getattr(cr.optim, name)([w], lr=0.0)
    (w * w).sum().backward()
    opt.step()
    assert w.tolist() == [1.0, -2.0]


@pytest.mark.parametrize("name", NAMES)
def test_negative_lr_is_refused_like_torch(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], lr=-0.1)
    with pytest.raises(ValueError, match="lr"):
        getattr(cr.optim, name)([cr.nn.Parameter(cr.zeros(2))], lr=-0.1)
