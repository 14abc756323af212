"""Tensor methods outside the spec table on the device: in-place updates, in-place random
fills, nn.init, and the non-differentiable ops (counting, sorting, selection by value)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.init as init

IN_PLACE: list[tuple[str, Callable[[Any, str], Any]]] = [
    ("add_", lambda x, d: x.add_(1.5)),
    ("mul_tensor", lambda x, d: x.mul_(cr.arange(4.0, device=d))),
    ("clamp_", lambda x, d: x.clamp_(-0.5, 0.5)),
    ("copy_from_host", lambda x, d: x.copy_(cr.ones(3, 4))),
    ("masked_fill_", lambda x, d: x.masked_fill_(x > 0, 0.0)),
    ("index_fill_", lambda x, d: x.index_fill_(0, cr.tensor([0, 2], device=d), 2.0)),
    ("setitem_mask", lambda x, d: x.__setitem__(x < 0, 0.0)),
    ("setitem_list", lambda x, d: x.__setitem__(([0, 1], [1, 2]), 5.0)),
    ("zero_", lambda x, d: x.zero_()),
]


@pytest.mark.parametrize("name, f", IN_PLACE, ids=[n for n, _ in IN_PLACE])
def test_in_place_methods_match_cpu(name: str, f: Callable, dev: str) -> None:
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x_cpu, x_dev = cr.tensor(a), cr.tensor(a, device=dev)
    f(x_cpu, "cpu")
    f(x_dev, dev)
    assert x_dev.device.type == "cuda"
    np.testing.assert_array_equal(x_dev.cpu().numpy(), x_cpu.numpy())


RANDOM_FILLS = ["uniform_()", "normal_()", "bernoulli_(0.5)", "random_(0, 5)", "exponential_()",
                "log_normal_()"]


@pytest.mark.parametrize("call", RANDOM_FILLS)
def test_random_fills_stay_on_the_device(call: str, dev: str) -> None:
    x = cr.empty(64, device=dev)
    cr.manual_seed(0)
    eval(f"x.{call}")  # noqa: S307  (a fixed table of calls)
    y = cr.empty(64, device=dev)
    cr.manual_seed(0)
    eval(f"y.{call}")  # noqa: S307
    assert x.device.type == "cuda" and cr.equal(x, y)


INITS = sorted(n for n in dir(init) if n.endswith("_") and not n.startswith("_")
               and n not in ("constant_", "dirac_"))


@pytest.mark.parametrize("name", INITS)
def test_init_on_the_device_matches_the_cpu(name: str, dev: str) -> None:
    """Initial values are drawn on the host generator: the same seed, the same weights."""
    def draw(device: str) -> np.ndarray:
        w = cr.empty(4, 6, device=device)
        cr.manual_seed(0)
        getattr(init, name)(w)
        assert w.device.type == cr.device(device).type
        return w.cpu().numpy()

    np.testing.assert_allclose(draw(dev), draw("cpu"), rtol=1e-6)


OPS: list[tuple[str, Callable[[Any], Any]]] = [
    ("bincount", lambda d: cr.bincount(cr.tensor([1, 2, 2, 5], device=d))),
    ("histc", lambda d: cr.histc(cr.arange(10.0, device=d), bins=4)),
    ("unique", lambda d: cr.unique(cr.tensor([3, 1, 3, 2], device=d), return_counts=True)),
    ("nonzero", lambda d: cr.nonzero(cr.tensor([[1, 0], [0, 2]], device=d))),
    ("topk", lambda d: cr.topk(cr.tensor([3.0, 1.0, 4.0, 1.5], device=d), 2)),
    ("sort", lambda d: cr.sort(cr.tensor([3.0, 1.0, 4.0], device=d), descending=True)),
    ("argmax", lambda d: cr.tensor([[3.0, 1.0], [0.0, 4.0]], device=d).argmax(1)),
    ("masked_select", lambda d: cr.masked_select(cr.arange(4.0, device=d),
                                                 cr.tensor([True, False, True, True],
                                                           device=d))),
    ("mask_index", lambda d: cr.arange(4.0, device=d)[cr.tensor([True, False, True, False])]),
    ("list_index", lambda d: cr.arange(6.0, device=d).reshape(2, 3)[[1, 0], [2, 2]]),
    ("multinomial", lambda d: cr.multinomial(cr.tensor([[0.0, 1.0, 0.0]], device=d), 1)),
    ("randperm", lambda d: cr.randperm(5, device=d).sort()[0]),
    ("allclose", lambda d: cr.tensor(cr.allclose(cr.ones(2, device=d), cr.ones(2, device=d)))),
    ("equal", lambda d: cr.tensor(cr.equal(cr.ones(2, device=d), cr.zeros(2, device=d)))),
    ("contains", lambda d: cr.tensor(2.0 in cr.arange(3.0, device=d))),
    ("index_select_empty", lambda d: cr.index_select(cr.ones(0, 3, device=d), 0,
                                                     cr.tensor([], dtype=cr.int64, device=d))),
    ("gather_empty", lambda d: cr.gather(cr.ones(2, 3, device=d), 1,
                                         cr.zeros(2, 0, dtype=cr.int64, device=d))),
]


@pytest.mark.parametrize("name, f", OPS, ids=[n for n, _ in OPS])
def test_non_differentiable_ops_match_cpu(name: str, f: Callable, dev: str) -> None:
    got, want = f(dev), f("cpu")
    got = got if isinstance(got, (tuple, list)) else [got]
    want = want if isinstance(want, (tuple, list)) else [want]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.cpu().numpy(), w.numpy())
