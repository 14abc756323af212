"""Dropout1d / Dropout2d / Dropout3d and F.dropout1d / F.dropout2d / F.dropout3d: whole channels
zeroed, the rest scaled by 1 / (1 - p), identity in eval mode, and PyTorch's input-rank rules,
errors and warnings."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


@pytest.mark.parametrize("fn,shape,lead", [
    (F.dropout1d, (8, 16, 5), 2), (F.dropout1d, (16, 5), 1), (F.dropout2d, (8, 16, 3, 4), 2),
    (F.dropout3d, (4, 8, 2, 3, 2), 2), (F.dropout3d, (8, 2, 3, 2), 1)])
def test_whole_channels_are_dropped_and_the_rest_scaled(fn, shape, lead):
    cr.manual_seed(0)
    x = cr.ones(*shape, requires_grad=True)
    y = fn(x, 0.25)
    a = y.numpy()
    per = a.reshape(shape[:lead] + (-1,))  # one row per channel ((N, C) or unbatched C)
    assert set(np.unique(per)) <= {0.0, np.float32(1 / 0.75)}
    assert (per == per[..., :1]).all()  # constant over each channel
    assert 0 < (per[..., 0] == 0).mean() < 0.6
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)  # the gradient is the same mask


def test_identity_in_eval_and_for_p_zero():
    for m, x in ((nn.Dropout1d(), cr.randn(2, 3, 4)), (nn.Dropout2d(), cr.randn(2, 3, 4, 4)),
                 (nn.Dropout3d(), cr.randn(2, 3, 4, 4, 4))):
        assert m.eval()(x) is x
    x = cr.randn(2, 3, 4)
    assert F.dropout1d(x, 0.0) is x
    assert F.dropout1d(x, 0.5, training=False) is x
    assert not F.dropout1d(x, 1.0).numpy().any()


def test_inplace_changes_the_input():
    cr.manual_seed(1)
    x = cr.ones(4, 6, 3)
    y = F.dropout1d(x, 0.5, inplace=True)
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert (x.numpy() == 0).any()


def test_rank_rules_errors_and_warnings():
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        F.dropout1d(cr.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        y = F.dropout2d(cr.ones(4, 8, 5), 0.5)
    a = y.numpy()
    assert (a == a[..., :1]).all()  # (N, C, L): per (sample, channel), as PyTorch
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(cr.ones(4, 8), 0.5)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.dropout2d(cr.ones(4), 0.5)
    assert repr(nn.Dropout2d(0.3)) == "Dropout2d(p=0.3, inplace=False)"


def test_same_rules_as_torch():
    torch = pytest.importorskip("torch")
    for fn, tfn in ((F.dropout1d, torch.nn.functional.dropout1d),
                    (F.dropout2d, torch.nn.functional.dropout2d),
                    (F.dropout3d, torch.nn.functional.dropout3d)):
        for rank in range(1, 6):
            shape = (3,) * rank
            with warnings.catch_warnings(record=True) as ours:
                warnings.simplefilter("always")
                try:
                    fn(cr.ones(*shape))
                    mine = None
                except Exception as e:  # noqa: BLE001  (the type is what is compared)
                    mine = RuntimeError if isinstance(e, RuntimeError) else type(e)
            with warnings.catch_warnings(record=True) as theirs:
                warnings.simplefilter("always")
                try:
                    tfn(torch.ones(*shape))
                    want = None
                except Exception as e:  # noqa: BLE001
                    want = type(e)
            assert mine == want, (fn.__name__, rank)
            assert len(ours) == len(theirs), (fn.__name__, rank)
