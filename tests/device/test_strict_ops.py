"""Every op of the spec table (tests/ops/specs.py) on the device: forward and backward equal to
the CPU run, and float64 gradcheck / gradgradcheck on the device for a sample of the table."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pytest
from ops.specs import (  # tests/ is on sys.path (pytest's rootdir-relative packages)
    SPECS,
    OpSpec,
    as_list,
    seed_of,
)

import chainrule as cr
from chainrule import backend

# Violations in files another helper owns right now: strict xfails, so they flip when fixed.
OWNED_ELSEWHERE: dict[str, str] = {}  # op -> the violation and its line, while unfixed


def _params(specs: list[OpSpec]) -> list:
    return [pytest.param(s, id=s.name, marks=pytest.mark.xfail(
        reason=OWNED_ELSEWHERE[s.op], strict=True, raises=TypeError))
        if s.op in OWNED_ELSEWHERE else pytest.param(s, id=s.name) for s in specs]


def _run(s: OpSpec, xs: list[np.ndarray], device: str) -> tuple[list, list]:
    """Outputs and input gradients (host arrays, copied explicitly) of s on device."""
    ts = [cr.tensor(x, device=device, requires_grad=True) for x in xs]
    ys = [y for y in as_list(s.fn(*ts)) if isinstance(y, cr.Tensor)]
    live = [y for y in ys if y.requires_grad]
    gs: list = []
    if live:
        rng = np.random.default_rng(1)
        vs = [cr.tensor(rng.standard_normal(y.shape), dtype=y.dtype, device=device) for y in live]
        gs = cr.autograd.grad(live, ts, grad_outputs=vs, allow_unused=True)
    out = [y.detach().cpu().numpy() for y in ys]
    return out, [None if g is None else g.cpu().numpy() for g in gs]


@contextmanager
def _constants_on(fn: Any, device: str) -> Iterator[None]:
    """The host Tensors a spec's function closes over (index tensors, masks) moved to device
    while it runs (a host index tensor meeting a device input is PyTorch's device error), and
    the tensors it creates itself made there (the default device)."""
    saved: list = []
    cells = [c for c in (fn.__closure__ or ()) if isinstance(c.cell_contents, cr.Tensor)]
    for c in cells:
        saved.append((c, c.cell_contents))
        c.cell_contents = c.cell_contents.to(device)
    names = [n for n in fn.__code__.co_names if isinstance(fn.__globals__.get(n), cr.Tensor)]
    old = {n: fn.__globals__[n] for n in names}
    fn.__globals__.update({n: t.to(device) for n, t in old.items()})
    cr.set_default_device(device)
    try:
        yield
    finally:
        cr.set_default_device(None)
        fn.__globals__.update(old)
        for c, t in saved:
            c.cell_contents = t


@pytest.mark.parametrize("s", _params(SPECS))
def test_forward_backward_match_cpu(s: OpSpec, dev: str) -> None:
    xs = s.inputs(np.random.default_rng(seed_of(s)))
    want = _run(s, xs, "cpu")
    with _constants_on(s.fn, dev):
        got = _run(s, xs, dev)
    for w, g in zip(want[0] + want[1], got[0] + got[1]):
        if w is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)
    assert backend.device_of(cr.tensor(xs[0], device=dev).array).type == "cuda"


FIRST_OF_EACH_OP = [s for k, s in enumerate(SPECS) if s.op not in {t.op for t in SPECS[:k]}]


@pytest.mark.parametrize("s", _params(FIRST_OF_EACH_OP))
def test_gradcheck_and_gradgradcheck_on_device(s: OpSpec, dev: str) -> None:
    """float64 finite differences against backprop, both run on the device (one case per op:
    the CPU suite checks every case; this checks that no backward leaves the device)."""
    xs = s.inputs(np.random.default_rng(seed_of(s)))
    with _constants_on(s.fn, dev):
        ts = [cr.tensor(x, device=dev, requires_grad=True) for x in xs]
        assert cr.gradcheck(s.fn, *ts, eps=s.eps) is True
        assert cr.gradgradcheck(s.fn, *ts, eps=s.eps) is True
