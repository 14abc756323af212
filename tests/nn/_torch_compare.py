"""Shared by the tests that hold layers to PyTorch: copy a torch module's weights into the
chainrule module, run both on the same input, and compare outputs and gradients."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def copy_weights(module, torch_module) -> None:
    """Parameters and buffers of torch_module copied into module, by name."""
    theirs = dict(torch_module.state_dict())
    for name, t in module.state_dict(keep_vars=True).items():
        t.array[...] = theirs[name].detach().numpy()


def outputs(y):
    if isinstance(y, (tuple, list)):
        return [v for item in y for v in outputs(item)]
    return [y]


def compare(module, torch_module, *inputs, atol=1e-6, rng=None, train=True):
    """Run both modules (train or eval mode) on float64 copies of inputs; assert outputs and
    the gradients of inputs and parameters agree to atol. Returns the chainrule outputs."""
    import torch

    rng = np.random.default_rng(0) if rng is None else rng
    module.train(train)
    torch_module.train(train)
    xs = [cr.tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f") for a in inputs]
    ts = [torch.tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f")
          for a in inputs]
    ys, tys = outputs(module(*xs)), outputs(torch_module(*ts))
    assert len(ys) == len(tys)
    gs = [rng.standard_normal(tuple(t.shape)) for t in tys]
    for y, ty in zip(ys, tys):
        assert tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=0)
    loss = sum((y * cr.tensor(g)).sum() for y, g in zip(ys, gs) if y.requires_grad)
    tloss = sum((ty * torch.tensor(g)).sum() for ty, g in zip(tys, gs) if ty.requires_grad)
    if isinstance(loss, cr.Tensor):
        loss.backward()
        tloss.backward()
        for x, t in zip(xs, ts):
            if t.grad is not None:
                np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=0)
        theirs = dict(torch_module.named_parameters())
        for name, p in module.named_parameters():
            if theirs[name].grad is not None:
                np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(),
                                           atol=atol, rtol=0, err_msg=name)
    return ys
