"""Run one program's source twice, as PyTorch's tutorials are written (`import torch`, ...) and with
the imports renamed to chainrule, and compare what the two print, number by number.

Where the two libraries draw different random numbers, the torch run records and the chainrule
run replays: `torch.randn` / `rand` / `randint` results, the masks of `F.dropout` (and of the
attention dropout, through a math attention on both sides), and the initial weights of every
model the program hands to `__hook__(model)` (torch's state_dict, loaded by chainrule). Nothing
else of the program changes.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import sys
import types
from typing import Any

import numpy as np

import chainrule as cr

IMPORTS = [
    (r"^(\s*)import torch\.nn\.functional as F$", r"\1import chainrule.nn.functional as F"),
    (r"^(\s*)import torch\.nn as nn$", r"\1import chainrule.nn as nn"),
    (r"^(\s*)import torch\.optim as optim$", r"\1import chainrule.optim as optim"),
    (r"^(\s*)import torch$", r"\1import chainrule as torch"),
    (r"^(\s*)from torch import ", r"\1from chainrule import "),
    (r"^(\s*)from torch\.", r"\1from chainrule."),
]
NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


def to_chainrule(src: str) -> str:
    for a, b in IMPORTS:
        src = re.sub(a, b, src, flags=re.M)
    left = [s for s in src.splitlines() if re.match(r"\s*(import|from) torch\b", s)]
    assert not left, f"imports left unrenamed: {left}"
    return src


def _math_attention(lib: Any, drop: Any) -> Any:
    def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
        w = q @ k.transpose(-2, -1) * (scale or q.size(-1) ** -0.5)
        if is_causal:
            attn_mask = lib.ones(q.size(-2), k.size(-2), dtype=lib.bool).tril()
        if attn_mask is not None:
            w = (w.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == lib.bool
                 else w + attn_mask)
        w = w.softmax(-1)
        return (drop(w, dropout_p) if dropout_p > 0 else w) @ v
    return sdpa


@contextlib.contextmanager
def _patched(pairs: list[tuple[Any, str, Any]]):
    old = [(obj, name, getattr(obj, name)) for obj, name, _ in pairs]
    for obj, name, new in pairs:
        setattr(obj, name, new)
    try:
        yield
    finally:
        for obj, name, value in old:
            setattr(obj, name, value)


def _torch_patches(state: dict) -> tuple[list, Any]:
    import torch
    import torch.nn.functional as F

    draws, masks, sds = state["draws"], state["masks"], state["sds"]

    def record(f):
        def g(*a, **k):
            t = f(*a, **k)
            draws.append(t.detach().numpy().copy())
            return t
        return g

    orig_drop = F.dropout

    def drop(x, p=0.5, training=True, inplace=False):
        y = orig_drop(x, p, training, inplace)
        if training and p > 0:
            masks.append((y != 0).detach().numpy().copy())
        return y

    def hook(model):
        sds.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})

    pairs = [(torch, n, record(getattr(torch, n))) for n in ("randn", "rand", "randint")]
    pairs += [(F, "dropout", drop), (F, "scaled_dot_product_attention",
                                     _math_attention(torch, drop))]
    return pairs, hook


def _chainrule_patches(state: dict) -> tuple[list, Any]:
    import chainrule.nn.layers.attention as att
    import chainrule.nn.layers.linear as lin

    draws, masks, sds = iter(state["draws"]), iter(state["masks"]), iter(state["sds"])

    def replay(*a, dtype=None, requires_grad=False, **k):
        return cr.tensor(next(draws), dtype=dtype, requires_grad=requires_grad)

    def drop(x, p=0.5, training=True, inplace=False):
        return x * cr.tensor(next(masks), dtype=x.dtype) / (1 - p) if training and p else x

    def hook(model):
        model.load_state_dict({k: cr.tensor(v) for k, v in next(sds).items()})

    pairs = [(cr, n, replay) for n in ("randn", "rand", "randint")]
    pairs += [(lin, "dropout", drop), (cr.nn.functional, "dropout", drop), (att, "dropout", drop),
              (att, "scaled_dot_product_attention", _math_attention(cr, drop))]
    return pairs, hook


def run(src: str, lib: str, state: dict, argv: list[str] | None = None) -> str:
    """What the program prints under torch or chainrule (state carries the recorded draws)."""
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    cr.manual_seed(0)
    if lib == "torch":
        state.update(draws=[], masks=[], sds=[])
        pairs, hook = _torch_patches(state)
    else:
        src = to_chainrule(src)
        pairs, hook = _chainrule_patches(state)
    main = types.ModuleType("__main__")  # a real __main__: torch.save pickles its classes
    main.__dict__["__hook__"] = hook
    saved, sys.modules["__main__"] = sys.modules["__main__"], main
    saved_argv, sys.argv = sys.argv, ["program.py", *(argv or [])]
    out = io.StringIO()
    try:
        with _patched(pairs), contextlib.redirect_stdout(out):
            exec(compile(src, f"<{lib} program>", "exec"), main.__dict__)
    finally:
        sys.modules["__main__"], sys.argv = saved, saved_argv
    return out.getvalue()


def numbers(text: str) -> np.ndarray:
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return np.array([float(x) for x in NUM.findall(text)])


def run_both(src: str, rtol: float = 1e-4, argv: list[str] | None = None) -> tuple[str, str]:
    """Run under both libraries; every printed number must agree to rtol (relative, or absolute
    below 1). Returns both outputs for the test's own checks."""
    state: dict = {}
    ref = run(src, "torch", state, argv)
    got = run(src, "chainrule", state, argv)
    a, b = numbers(ref), numbers(got)
    assert len(a) == len(b) and len(a) > 0, f"torch printed:\n{ref}\nchainrule printed:\n{got}"
    err = np.abs(a - b) / np.maximum(1.0, np.abs(a))
    assert np.all((err <= rtol) | (np.isnan(a) & np.isnan(b))), (
        f"max difference {np.nanmax(err):.3g}\ntorch printed:\n{ref}\nchainrule printed:\n{got}")
    return ref, got
