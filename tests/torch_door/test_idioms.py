"""The PyTorch door, idiom by idiom: each row of the table below is one PyTorch idiom (a method
and an argument form), written once as a function of the module (`t` is torch or chainrule), run
on both with the same inputs, and compared with torch as the oracle (idiom_table.py says what is
compared: outputs, inputs afterwards, versions, gradients, errors). Skipped where torch is not
installed.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import pytest
from idiom_table import Idiom, Table, check

import chainrule as cr

torch = pytest.importorskip("torch")


# -- the inputs -------------------------------------------------------------------------------
_rng = np.random.default_rng(20240609)


def R(*shape: int) -> np.ndarray:
    """Standard normal values (no ties, no zeros)."""
    return _rng.standard_normal(shape)


def P(*shape: int) -> np.ndarray:
    """Positive values in [0.5, 2)."""
    return _rng.uniform(0.5, 2.0, shape)


def I(*shape: int, lo: int = -5, hi: int = 6) -> np.ndarray:  # noqa: E743
    """Integers in [lo, hi)."""
    return _rng.integers(lo, hi, shape)


def D(*shape: int) -> np.ndarray:
    """Distinct integers (no ties: sort, max and topk indices are unambiguous)."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) - n // 2).reshape(shape)


def B(*shape: int) -> np.ndarray:
    """Booleans."""
    return _rng.random(shape) < 0.5


TABLE = Table("float32")
row = TABLE.row


# == shape: transpose, t, T, mT, permute, movedim =================================================
row("transpose-2d", lambda t, a: a.transpose(0, 1), R(2, 3))
row("transpose-neg-dims", lambda t, a: a.transpose(-1, -2), R(2, 3, 4))
row("transpose-3d-1-2", lambda t, a: a.transpose(1, 2), R(2, 3, 4))
row("transpose-same-dim", lambda t, a: a.transpose(1, 1), R(2, 3))
row("transpose-func", lambda t, a: t.transpose(a, 0, 1), R(3, 2))
row("transpose-kw", lambda t, a: a.transpose(dim0=0, dim1=2), R(2, 3, 4))
row("transpose-out-of-range", lambda t, a: a.transpose(0, 2), R(2, 3), raises=True)
row("transpose-one-arg", lambda t, a: a.transpose(0), R(2, 3), raises=True)
row("swapaxes", lambda t, a: a.swapaxes(0, 2), R(2, 3, 4))
row("swapdims", lambda t, a: t.swapdims(a, 0, 1), R(2, 3))
row("t-2d", lambda t, a: a.t(), R(2, 3))
row("t-1d", lambda t, a: a.t(), R(4))
row("t-0d", lambda t, a: a.t(), R())
row("t-3d-raises", lambda t, a: a.t(), R(2, 3, 4), raises=True)
row("t-func", lambda t, a: t.t(a), R(2, 3))
row("T-2d", lambda t, a: a.T, R(2, 3))
row("T-1d", lambda t, a: a.T, R(3))
row("mT-3d", lambda t, a: a.mT, R(2, 3, 4))
row("mT-2d", lambda t, a: a.mT, R(2, 3))
row("mT-1d-raises", lambda t, a: a.mT, R(3), raises=True)
row("permute-varargs", lambda t, a: a.permute(2, 0, 1), R(2, 3, 4))
row("permute-tuple", lambda t, a: a.permute((1, 2, 0)), R(2, 3, 4))
row("permute-list", lambda t, a: a.permute([1, 0]), R(2, 3))
row("permute-negative", lambda t, a: a.permute(-1, 0, 1), R(2, 3, 4))
row("permute-func", lambda t, a: t.permute(a, (1, 0, 2)), R(2, 3, 4))
row("permute-too-few", lambda t, a: a.permute(1, 0), R(2, 3, 4), raises=True)
row("permute-repeated", lambda t, a: a.permute(0, 0, 1), R(2, 3, 4), raises=True)
row("movedim-int", lambda t, a: a.movedim(0, -1), R(2, 3, 4))
row("movedim-tuple", lambda t, a: a.movedim((0, 1), (2, 0)), R(2, 3, 4))
row("movedim-func", lambda t, a: t.movedim(a, 2, 0), R(2, 3, 4))
row("moveaxis", lambda t, a: t.moveaxis(a, 1, 0), R(2, 3, 4))

# == shape: view, reshape, contiguous, expand, flatten, unflatten, squeeze, unsqueeze =============
row("view-2d", lambda t, a: a.view(4, 6), R(2, 3, 4))
row("view-minus1", lambda t, a: a.view(-1), R(2, 3, 4))
row("view-infer-middle", lambda t, a: a.view(2, -1, 3), R(2, 3, 4))
row("view-tuple", lambda t, a: a.view((3, 8)), R(2, 3, 4))
row("view-size-object", lambda t, a, b: a.view(b.size()), R(2, 6), R(3, 4))
row("view-dtype", lambda t, a: a.view(t.int32).shape, R(2, 3), grad=False)
row("view-bad-size", lambda t, a: a.view(5, 5), R(2, 3, 4), raises=True)
row("view-two-minus1", lambda t, a: a.view(-1, -1), R(2, 3), raises=True)
row("view-noncontiguous-raises", lambda t, a: a.t().view(-1), R(2, 3), raises=True)
row("view-0d-to-1", lambda t, a: a.view(1, 1), R())
row("reshape-varargs", lambda t, a: a.reshape(3, 8), R(2, 3, 4))
row("reshape-tuple", lambda t, a: a.reshape((-1, 4)), R(2, 3, 4))
row("reshape-noncontiguous", lambda t, a: a.t().reshape(-1), R(2, 3))
row("reshape-func", lambda t, a: t.reshape(a, (6,)), R(2, 3))
row("reshape-bad", lambda t, a: a.reshape(7), R(2, 3), raises=True)
row("reshape-0d", lambda t, a: a.reshape(()), R(1))
row("view_as", lambda t, a, b: a.view_as(b), R(6), R(2, 3))
row("reshape_as", lambda t, a, b: a.reshape_as(b), R(2, 3), R(3, 2))
row("contiguous-view", lambda t, a: a.t().contiguous().view(-1), R(2, 3))
row("is_contiguous-after-t", lambda t, a: (a.is_contiguous(), a.t().is_contiguous()), R(2, 3))
row("expand-singleton", lambda t, a: a.expand(3, 4), R(1, 4))
row("expand-minus1", lambda t, a: a.expand(-1, 4), R(3, 1))
row("expand-new-leading", lambda t, a: a.expand(2, 3, 4), R(3, 4))
row("expand-tuple", lambda t, a: a.expand((2, 3)), R(3))
row("expand-non1-raises", lambda t, a: a.expand(4, 4), R(3, 4), raises=True)
row("expand-fewer-dims-raises", lambda t, a: a.expand(4), R(3, 4), raises=True)
row("expand_as", lambda t, a, b: a.expand_as(b), R(2, 1), R(2, 5))
row("flatten-all", lambda t, a: a.flatten(), R(2, 3, 4))
row("flatten-start", lambda t, a: a.flatten(1), R(2, 3, 4))
row("flatten-start-end", lambda t, a: a.flatten(0, 1), R(2, 3, 4, 5))
row("flatten-negative", lambda t, a: a.flatten(-2, -1), R(2, 3, 4))
row("flatten-kw", lambda t, a: a.flatten(start_dim=1, end_dim=2), R(2, 3, 4, 5))
row("flatten-0d", lambda t, a: a.flatten(), R())
row("flatten-func", lambda t, a: t.flatten(a, 1), R(2, 3, 4))
row("flatten-start-gt-end", lambda t, a: a.flatten(2, 1), R(2, 3, 4), raises=True)
row("unflatten", lambda t, a: a.unflatten(1, (2, 3)), R(4, 6))
row("unflatten-minus1", lambda t, a: a.unflatten(1, (-1, 3)), R(4, 6))
row("unflatten-neg-dim", lambda t, a: a.unflatten(-1, (2, 2)), R(3, 4))
row("unflatten-bad", lambda t, a: a.unflatten(1, (4, 2)), R(4, 6), raises=True)
row("squeeze-all", lambda t, a: a.squeeze(), R(1, 3, 1, 2))
row("squeeze-dim", lambda t, a: a.squeeze(0), R(1, 3, 1))
row("squeeze-non1-dim-noop", lambda t, a: a.squeeze(1), R(2, 3))
row("squeeze-negative", lambda t, a: a.squeeze(-1), R(3, 1))
row("squeeze-tuple", lambda t, a: a.squeeze((0, 2)), R(1, 3, 1, 1))
row("squeeze-tuple-mixed", lambda t, a: a.squeeze((0, 1)), R(1, 3, 1))
row("squeeze-kw", lambda t, a: a.squeeze(dim=2), R(2, 3, 1))
row("squeeze-0d", lambda t, a: a.squeeze(), R())
row("squeeze-out-of-range", lambda t, a: a.squeeze(3), R(1, 3), raises=True)
row("unsqueeze-0", lambda t, a: a.unsqueeze(0), R(2, 3))
row("unsqueeze-last", lambda t, a: a.unsqueeze(-1), R(2, 3))
row("unsqueeze-end-positive", lambda t, a: a.unsqueeze(2), R(2, 3))
row("unsqueeze-middle", lambda t, a: a.unsqueeze(1), R(2, 3))
row("unsqueeze-0d", lambda t, a: a.unsqueeze(0), R())
row("unsqueeze-func", lambda t, a: t.unsqueeze(a, dim=1), R(4))
row("unsqueeze-out-of-range", lambda t, a: a.unsqueeze(3), R(2, 3), raises=True)
row("unsqueeze-no-arg", lambda t, a: a.unsqueeze(), R(2, 3), raises=True)

# == split, chunk, tensor_split, unbind, cat, stack ===============================================
row("split-int", lambda t, a: a.split(2), R(6, 3))
row("split-int-uneven", lambda t, a: a.split(4), R(6, 3))
row("split-int-dim", lambda t, a: a.split(1, dim=1), R(2, 3))
row("split-int-dim-positional", lambda t, a: a.split(2, 1), R(2, 5))
row("split-list", lambda t, a: a.split([1, 3, 2]), R(6, 2))
row("split-list-dim", lambda t, a: a.split([2, 1], dim=1), R(2, 3))
row("split-list-zero-piece", lambda t, a: a.split([0, 3]), R(3))
row("split-list-bad-sum", lambda t, a: a.split([1, 1]), R(3), raises=True)
row("split-func", lambda t, a: t.split(a, 2, dim=0), R(5, 2))
row("split-unpack", lambda t, a: (lambda x, y: y - x)(*a.split(2, dim=1)), R(3, 4))
row("chunk-even", lambda t, a: a.chunk(3), R(6, 2))
row("chunk-uneven", lambda t, a: a.chunk(4), R(6))
row("chunk-more-than-size", lambda t, a: a.chunk(5), R(3))
row("chunk-dim", lambda t, a: a.chunk(2, dim=1), R(2, 5))
row("chunk-func", lambda t, a: t.chunk(a, 2, -1), R(3, 4))
row("tensor_split-int", lambda t, a: a.tensor_split(3), R(7))
row("tensor_split-indices", lambda t, a: a.tensor_split([1, 4]), R(6, 2))
row("tensor_split-dim", lambda t, a: a.tensor_split((1,), dim=1), R(2, 3))
row("tensor_split-func", lambda t, a: t.tensor_split(a, 2, dim=1), R(2, 5))
row("unbind-0", lambda t, a: a.unbind(), R(3, 2))
row("unbind-1", lambda t, a: a.unbind(1), R(3, 2))
row("unbind-func", lambda t, a: t.unbind(a, dim=-1), R(2, 3))
row("unbind-unpack", lambda t, a: (lambda x, y, z: x * y + z)(*a.unbind(1)), R(4, 3))
row("cat-dim0", lambda t, a, b: t.cat([a, b]), R(2, 3), R(4, 3))
row("cat-dim1", lambda t, a, b: t.cat([a, b], dim=1), R(2, 3), R(2, 1))
row("cat-dim-neg", lambda t, a, b: t.cat((a, b), -1), R(2, 3), R(2, 2))
row("cat-three", lambda t, a, b, c: t.cat([a, b, c], 0), R(1, 2), R(2, 2), R(3, 2))
row("cat-mismatch", lambda t, a, b: t.cat([a, b], dim=1), R(2, 3), R(3, 3), raises=True)
row("cat-empty-list", lambda t: t.cat([]), raises=True)
row("cat-promotes", lambda t, a, b: t.cat([a, b]), R(2), I(3), dtype=("float32", "int64"))
row("concat-alias", lambda t, a, b: t.concat([a, b], dim=0), R(2), R(3))
row("stack-dim0", lambda t, a, b: t.stack([a, b]), R(2, 3), R(2, 3))
row("stack-dim1", lambda t, a, b: t.stack((a, b), dim=1), R(2, 3), R(2, 3))
row("stack-dim-last", lambda t, a, b: t.stack([a, b], -1), R(2, 3), R(2, 3))
row("stack-mismatch", lambda t, a, b: t.stack([a, b]), R(2, 3), R(3, 2), raises=True)
row("stack-0d", lambda t, a, b: t.stack([a, b]), R(), R())
row("stack-unbind-roundtrip", lambda t, a: t.stack(a.unbind(1), 1), R(3, 4))

# == repeat, repeat_interleave, tile ==============================================================
row("repeat-2-1", lambda t, a: a.repeat(2, 1), R(2, 3))
row("repeat-2-3", lambda t, a: a.repeat(2, 3), R(2, 3))
row("repeat-tuple", lambda t, a: a.repeat((1, 2)), R(2, 3))
row("repeat-new-dims", lambda t, a: a.repeat(2, 1, 1), R(2, 3))
row("repeat-1d", lambda t, a: a.repeat(3), R(2))
row("repeat-fewer-dims-raises", lambda t, a: a.repeat(2), R(2, 3), raises=True)
row("repeat_interleave-int", lambda t, a: a.repeat_interleave(2), R(2, 3))
row("repeat_interleave-dim0", lambda t, a: a.repeat_interleave(2, dim=0), R(2, 3))
row("repeat_interleave-dim1", lambda t, a: a.repeat_interleave(3, 1), R(2, 2))
row("repeat_interleave-tensor", lambda t, a: a.repeat_interleave(t.tensor([1, 0, 2]), dim=0),
    R(3, 2))
row("repeat_interleave-func", lambda t, a: t.repeat_interleave(a, 2, dim=-1), R(2, 2))
row("tile-1d", lambda t, a: a.tile((2,)), R(3))
row("tile-2d", lambda t, a: a.tile(2, 2), R(2, 3))
row("tile-fewer-dims", lambda t, a: a.tile((2,)), R(2, 3))
row("tile-more-dims", lambda t, a: a.tile(2, 1, 1), R(2, 3))
row("tile-func", lambda t, a: t.tile(a, (1, 3)), R(2, 2))

# == narrow, select, indexing =====================================================================
row("narrow", lambda t, a: a.narrow(0, 1, 2), R(4, 3))
row("narrow-dim1", lambda t, a: a.narrow(1, 0, 1), R(4, 3))
row("narrow-negative-start", lambda t, a: a.narrow(-1, -2, 2), R(4, 3))
row("narrow-func", lambda t, a: t.narrow(a, 1, 1, 2), R(2, 3))
row("narrow-out-of-range", lambda t, a: a.narrow(0, 3, 2), R(4, 3), raises=True)
row("select", lambda t, a: a.select(0, 1), R(3, 4))
row("select-negative", lambda t, a: a.select(1, -1), R(3, 4))
row("select-out-of-range", lambda t, a: a.select(0, 3), R(3, 4), raises=True)
row("index-int", lambda t, a: a[0], R(3, 4))
row("index-negative", lambda t, a: a[-1], R(3, 4))
row("index-two-ints", lambda t, a: a[1, -2], R(3, 4))
row("index-slice", lambda t, a: a[1:3], R(4, 2))
row("index-slice-step", lambda t, a: a[::2], R(5, 2))
row("index-slice-negative-bounds", lambda t, a: a[-3:-1], R(5))
row("index-col", lambda t, a: a[:, 0], R(3, 4))
row("index-ellipsis", lambda t, a: a[..., 1], R(2, 3, 4))
row("index-ellipsis-middle", lambda t, a: a[0, ..., 2], R(2, 3, 4))
row("index-none", lambda t, a: a[None], R(2, 3))
row("index-none-middle", lambda t, a: a[:, None], R(2, 3))
row("index-none-ellipsis", lambda t, a: a[..., None], R(2, 3))
row("index-negative-step-raises", lambda t, a: a[::-1], R(4), raises=True)
row("index-out-of-range", lambda t, a: a[3], R(3, 2), raises=True)
row("index-too-many", lambda t, a: a[0, 0, 0], R(3, 2), raises=True)
row("index-list", lambda t, a: a[[0, 2]], R(3, 4))
row("index-list-repeated", lambda t, a: a[[0, 0, 2, 0]], R(3, 4))
row("index-tensor", lambda t, a: a[t.tensor([2, 0])], R(3, 4))
row("index-0d-tensor", lambda t, a: a[t.tensor(1)], R(3, 4))
row("index-two-lists", lambda t, a: a[[0, 1, 2], [3, 0, 1]], R(3, 4))
row("index-slice-and-list", lambda t, a: a[:, [0, 2]], R(3, 4))
row("index-list-negative", lambda t, a: a[[-1, 0]], R(3, 2))
row("index-list-out-of-range", lambda t, a: a[[0, 3]], R(3, 2), raises=True)
row("index-tensor-2d", lambda t, a: a[t.tensor([[0, 1], [2, 2]])], R(3, 2))
row("index-int-tensor-input", lambda t, a, i: a[i], R(5, 2), D(3) + 3,
    dtype=("float32", "int64"))
row("index-bool-mask", lambda t, a: a[a > 0], R(3, 4))
row("index-bool-mask-rows", lambda t, a, m: a[m], R(4, 3), np.array([True, False, True, True]),
    dtype=("float32", "bool"))
row("index-bool-mask-bad-shape", lambda t, a, m: a[m], R(4, 3), np.array([True, False]),
    dtype=("float32", "bool"), raises=True)
row("index-bool-list", lambda t, a: a[[True, False, True]], R(3, 2))
row("index-mixed-int-slice-none", lambda t, a: a[1, None, :, ::2], R(2, 3, 4))
row("index-0d-item-tensor", lambda t, a: a[()], R())

# == reductions ===================================================================================
row("sum-all", lambda t, a: a.sum(), R(2, 3))
row("sum-dim", lambda t, a: a.sum(0), R(2, 3))
row("sum-dim-keepdim", lambda t, a: a.sum(1, keepdim=True), R(2, 3))
row("sum-dim-tuple", lambda t, a: a.sum((0, 2)), R(2, 3, 4))
row("sum-dim-list-keepdim", lambda t, a: a.sum(dim=[0, 1], keepdim=True), R(2, 3, 4))
row("sum-neg-dim", lambda t, a: a.sum(-1), R(2, 3))
row("sum-dtype", lambda t, a: a.sum(dtype=t.float64), R(2, 3))
row("sum-int32-gives-int64", lambda t, a: a.sum(), I(2, 3), dtype="int32")
row("sum-int32-dim", lambda t, a: a.sum(1), I(2, 3), dtype="int32")
row("sum-bool", lambda t, a: a.sum(), B(5), dtype="bool")
row("sum-func-dim", lambda t, a: t.sum(a, 1), R(2, 3))
row("sum-axis-alias", lambda t, a: a.sum(axis=1), R(2, 3))
row("sum-bad-dim", lambda t, a: a.sum(2), R(2, 3), raises=True)
row("sum-empty", lambda t, a: a.sum(), R(0, 3))
row("mean-all", lambda t, a: a.mean(), R(2, 3))
row("mean-dim", lambda t, a: a.mean(1), R(2, 3))
row("mean-dim-tuple-keepdim", lambda t, a: a.mean((0, 1), keepdim=True), R(2, 3, 2))
row("mean-int-raises", lambda t, a: a.mean(), I(3), dtype="int64", raises=True)
row("mean-int-dtype", lambda t, a: a.mean(dtype=t.float32), I(3), dtype="int64")
row("mean-func", lambda t, a: t.mean(a, dim=0), R(2, 3))
row("prod-all", lambda t, a: a.prod(), P(2, 3))
row("prod-dim", lambda t, a: a.prod(1), R(2, 3))
row("prod-dim-keepdim", lambda t, a: a.prod(0, keepdim=True), R(2, 3))
row("prod-int", lambda t, a: a.prod(1), I(2, 3, lo=1, hi=4), dtype="int32")
row("amax-all", lambda t, a: a.amax(), R(2, 3))
row("amax-dim", lambda t, a: a.amax(1), R(2, 3))
row("amax-tuple", lambda t, a: a.amax((0, 1)), R(2, 3, 2))
row("amin-keepdim", lambda t, a: a.amin(1, keepdim=True), R(2, 3))
row("amax-ties-grad", lambda t, a: a.amax(1), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
row("amax-func", lambda t, a: t.amax(a, dim=-1), R(2, 3))
row("max-all", lambda t, a: a.max(), R(2, 3))
row("max-dim-tuple", lambda t, a: tuple(a.max(1)), R(3, 4))
row("max-dim-unpack", lambda t, a: (lambda v, i: (v * 2, i))(*a.max(1)), R(3, 4))
row("max-dim-values", lambda t, a: a.max(1).values, R(3, 4))
row("max-dim-indices", lambda t, a: a.max(1).indices, R(3, 4))
row("max-dim-index0", lambda t, a: a.max(1)[0], R(3, 4))
row("max-dim-kw-keepdim", lambda t, a: a.max(dim=0, keepdim=True), R(3, 4))
row("max-dim-int", lambda t, a: a.max(0), D(3, 4), dtype="int64")
row("max-func-dim", lambda t, a: t.max(a, 1), R(3, 4))
row("max-elementwise", lambda t, a, b: t.max(a, b), R(3, 4), R(3, 4))
row("max-method-elementwise", lambda t, a, b: a.max(b), R(3, 4), R(4))
row("max-empty-raises", lambda t, a: a.max(), R(0), raises=True)
row("min-all", lambda t, a: a.min(), R(2, 3))
row("min-dim", lambda t, a: a.min(0), R(3, 4))
row("min-dim-indices", lambda t, a: a.min(-1).indices, R(3, 4))
row("min-elementwise", lambda t, a, b: t.min(a, b), R(3, 4), R(1, 4))
row("maximum", lambda t, a, b: t.maximum(a, b), R(3, 4), R(3, 4))
row("median-all", lambda t, a: a.median(), R(7))
row("median-all-even", lambda t, a: a.median(), R(2, 3))
row("median-dim", lambda t, a: a.median(1), R(3, 5))
row("median-dim-even", lambda t, a: a.median(dim=1), R(3, 4))
row("median-dim-keepdim", lambda t, a: a.median(0, keepdim=True).values, R(3, 4))
row("sort-default", lambda t, a: a.sort(), R(3, 4))
row("sort-dim0", lambda t, a: a.sort(0), R(3, 4))
row("sort-descending", lambda t, a: a.sort(descending=True), R(3, 4))
row("sort-dim-descending", lambda t, a: a.sort(dim=0, descending=True), R(3, 4))
row("sort-values-indices", lambda t, a: (a.sort().values, a.sort().indices), R(5))
row("sort-int", lambda t, a: a.sort(), D(6), dtype="int64")
row("sort-func", lambda t, a: t.sort(a, 1), R(2, 4))
row("argsort-default", lambda t, a: a.argsort(), R(3, 4))
row("argsort-dim-descending", lambda t, a: a.argsort(0, descending=True), R(3, 4))
row("argsort-func", lambda t, a: t.argsort(a, dim=1), R(2, 4))
row("topk", lambda t, a: a.topk(2), R(3, 5))
row("topk-dim0", lambda t, a: a.topk(2, dim=0), R(3, 5))
row("topk-smallest", lambda t, a: a.topk(3, largest=False), R(2, 5))
row("topk-values", lambda t, a: a.topk(1).values, R(2, 5))
row("topk-too-large", lambda t, a: a.topk(6), R(2, 5), raises=True)
row("topk-func", lambda t, a: t.topk(a, 2, 1), R(2, 5))
row("kthvalue", lambda t, a: a.kthvalue(2), R(3, 5))
row("kthvalue-dim0", lambda t, a: a.kthvalue(1, 0), R(3, 5))
row("kthvalue-keepdim", lambda t, a: a.kthvalue(3, keepdim=True), R(3, 5))
row("kthvalue-out-of-range", lambda t, a: a.kthvalue(6), R(3, 5), raises=True)
row("argmax-all", lambda t, a: a.argmax(), R(3, 4))
row("argmax-dim", lambda t, a: a.argmax(1), R(3, 4))
row("argmax-keepdim", lambda t, a: a.argmax(1, keepdim=True), R(3, 4))
row("argmax-neg-dim-kw", lambda t, a: a.argmax(dim=-1), R(3, 4))
row("argmin-dim0", lambda t, a: a.argmin(0), R(3, 4))
row("argmax-func", lambda t, a: t.argmax(a, dim=0), R(3, 4))
row("argmax-int", lambda t, a: a.argmax(), D(3, 4), dtype="int64")
row("var-default-unbiased", lambda t, a: a.var(), R(3, 4))
row("var-dim", lambda t, a: a.var(1), R(3, 4))
row("var-unbiased-false", lambda t, a: a.var(1, unbiased=False), R(3, 4))
row("var-unbiased-kw", lambda t, a: a.var(dim=0, unbiased=True), R(3, 4))
row("var-correction0", lambda t, a: a.var(1, correction=0), R(3, 4))
row("var-correction2", lambda t, a: a.var(correction=2), R(3, 4))
row("var-keepdim", lambda t, a: a.var(0, keepdim=True), R(3, 4))
row("var-tuple-dim", lambda t, a: a.var((0, 1)), R(3, 4, 2))
row("var-func", lambda t, a: t.var(a, 1), R(3, 4))
row("var-int-raises", lambda t, a: a.var(), I(4), dtype="int64", raises=True)
row("std-default", lambda t, a: a.std(), R(3, 4))
row("std-dim", lambda t, a: a.std(1), R(3, 4))
row("std-unbiased-false", lambda t, a: a.std(0, unbiased=False), R(3, 4))
row("std-correction0-keepdim", lambda t, a: a.std(1, correction=0, keepdim=True), R(3, 4))
row("std-func", lambda t, a: t.std(a), R(5))
row("var_mean", lambda t, a: t.var_mean(a, 1), R(3, 4))
row("var_mean-all", lambda t, a: t.var_mean(a), R(3, 4))
row("var_mean-correction0", lambda t, a: t.var_mean(a, dim=0, correction=0), R(3, 4))
row("std_mean", lambda t, a: t.std_mean(a, 1, keepdim=True), R(3, 4))
row("logsumexp-dim", lambda t, a: a.logsumexp(1), R(3, 4))
row("logsumexp-tuple", lambda t, a: a.logsumexp((0, 1)), R(3, 4))
row("logsumexp-keepdim", lambda t, a: t.logsumexp(a, dim=-1, keepdim=True), R(3, 4))
row("logsumexp-large", lambda t, a: a.logsumexp(0), R(3) * 100)
row("cumsum-0", lambda t, a: a.cumsum(0), R(3, 4))
row("cumsum-dim-kw", lambda t, a: a.cumsum(dim=1), R(3, 4))
row("cumsum-int", lambda t, a: a.cumsum(0), I(5), dtype="int32")
row("cumsum-dtype", lambda t, a: a.cumsum(1, dtype=t.float64), R(2, 3))
row("cumsum-no-dim-raises", lambda t, a: a.cumsum(), R(3), raises=True)
row("cumsum-func", lambda t, a: t.cumsum(a, -1), R(2, 3))
row("cumprod", lambda t, a: a.cumprod(1), R(3, 4))
row("cumprod-func", lambda t, a: t.cumprod(a, dim=0), R(3, 4))
row("all-bool", lambda t, a: a.all(), B(5), dtype="bool")
row("any-bool", lambda t, a: a.any(), B(5), dtype="bool")
row("all-dim", lambda t, a: a.all(1), B(3, 4), dtype="bool")
row("any-dim-keepdim", lambda t, a: a.any(dim=0, keepdim=True), B(3, 4), dtype="bool")
row("all-float", lambda t, a: a.all(), R(4), grad=False)
row("any-int", lambda t, a: a.any(), np.array([0, 0, 2]), dtype="int64")
row("all-func", lambda t, a: t.all(a > 0), R(4))
row("any-empty", lambda t, a: a.any(), B(0), dtype="bool")
row("count_nonzero", lambda t, a: a.count_nonzero(), I(3, 4, lo=-1, hi=2), dtype="int64")
row("count_nonzero-dim", lambda t, a: t.count_nonzero(a, dim=1), I(3, 4, lo=-1, hi=2),
    dtype="int64")
row("count_nonzero-float", lambda t, a: (a > 0).float().count_nonzero(0), R(3, 4))

# == softmax, log_softmax =========================================================================
row("softmax-dim1", lambda t, a: a.softmax(1), R(3, 4))
row("softmax-dim-neg", lambda t, a: a.softmax(dim=-1), R(2, 3, 4))
row("softmax-dim0", lambda t, a: a.softmax(0), R(3, 4))
row("softmax-func", lambda t, a: t.softmax(a, 1), R(3, 4))
row("softmax-F", lambda t, a: t.nn.functional.softmax(a, dim=1), R(3, 4))
row("softmax-dtype", lambda t, a: a.softmax(1, dtype=t.float64), R(3, 4))
row("softmax-large", lambda t, a: a.softmax(0), R(4) * 1000)
row("log_softmax-dim1", lambda t, a: a.log_softmax(1), R(3, 4))
row("log_softmax-F", lambda t, a: t.nn.functional.log_softmax(a, dim=-1), R(2, 3, 4))
row("log_softmax-func-dim0", lambda t, a: t.log_softmax(a, 0), R(3, 4))
row("softmax-int-raises", lambda t, a: a.softmax(0), I(3), dtype="int64", raises=True)

# == size, shape, numel, dim ... ==================================================================
row("size", lambda t, a: a.size(), R(2, 3))
row("size-d", lambda t, a: a.size(0), R(2, 3))
row("size-neg", lambda t, a: a.size(-1), R(2, 3))
row("size-kw", lambda t, a: a.size(dim=1), R(2, 3))
row("size-out-of-range", lambda t, a: a.size(2), R(2, 3), raises=True)
row("size-is-tuple", lambda t, a: (isinstance(a.size(), tuple), a.size() == (2, 3)), R(2, 3))
row("size-numel", lambda t, a: a.size().numel(), R(2, 3))
row("size-slice", lambda t, a: a.shape[1:], R(2, 3, 4))
row("shape", lambda t, a: a.shape, R(2, 3))
row("shape-index", lambda t, a: a.shape[-1], R(2, 3))
row("shape-unpack", lambda t, a: (lambda n, c: n * 10 + c)(*a.shape), R(2, 3))
row("shape-0d", lambda t, a: a.shape, R())
row("numel", lambda t, a: a.numel(), R(2, 3))
row("numel-func", lambda t, a: t.numel(a), R(2, 3, 4))
row("nelement", lambda t, a: a.nelement(), R(4, 2))
row("dim", lambda t, a: a.dim(), R(2, 3))
row("ndim", lambda t, a: a.ndim, R(2, 3, 4))
row("ndimension", lambda t, a: a.ndimension(), R())
row("element_size-f32", lambda t, a: a.element_size(), R(2))
row("element_size-i64", lambda t, a: a.element_size(), I(2), dtype="int64")
row("element_size-f16", lambda t, a: a.element_size(), R(2), dtype="float16")
row("element_size-bool", lambda t, a: a.element_size(), B(2), dtype="bool")
row("len", lambda t, a: len(a), R(4, 3))
row("len-0d-raises", lambda t, a: len(a), R(), raises=True)
row("is_floating_point", lambda t, a, b: (a.is_floating_point(), b.is_floating_point()), R(2),
    I(2), dtype=("float32", "int64"))
row("dtype-attr", lambda t, a: a.dtype, R(2))
row("dtype-is_floating_point", lambda t, a: (a.dtype.is_floating_point, t.int64.is_floating_point),
    R(2))
row("dtype-itemsize", lambda t, a: a.dtype.itemsize, R(2), dtype="float64")

# == item, tolist, format, bool, len, int, float, index ===========================================
row("item-float", lambda t, a: a.sum().item(), R(3))
row("item-int", lambda t, a: a.sum().item(), I(3), dtype="int64")
row("item-bool", lambda t, a: (a > 0).all().item(), R(3))
row("item-one-element-1d", lambda t, a: a.item(), R(1))
row("item-many-raises", lambda t, a: a.item(), R(3), raises=True)
row("tolist-2d", lambda t, a: a.tolist(), R(2, 3))
row("tolist-int", lambda t, a: a.tolist(), I(2, 2), dtype="int64")
row("tolist-bool", lambda t, a: a.tolist(), B(3), dtype="bool")
row("tolist-0d", lambda t, a: a.tolist(), R())
row("tolist-empty", lambda t, a: a.tolist(), R(0))
row("format-0d-spec", lambda t, a: f"{a.sum():.4f}", R(3))
row("format-0d-width", lambda t, a: f"loss {a.mean():>10.3e}|", R(3))
row("format-0d-int", lambda t, a: f"{a.sum():d}", I(3), dtype="int64")
row("format-0d-empty-spec", lambda t, a: f"{a.sum()}", R(3))
row("format-1d-spec-raises", lambda t, a: f"{a:.4f}", R(1), raises=True)
row("format-percent", lambda t, a: "{:.1%}".format((a > 0).float().mean()), R(10))
row("bool-0d", lambda t, a: bool(a), np.array(0.0))
row("bool-one-element", lambda t, a: bool(a), R(1))
row("bool-int", lambda t, a: bool(a), np.array([3]), dtype="int64")
row("bool-many-raises", lambda t, a: bool(a), R(2), raises=True)
row("bool-empty-raises", lambda t, a: bool(a), R(0), raises=True)
row("if-comparison", lambda t, a: "pos" if a.sum() > 0 else "neg", R(4))
row("int-of-float-truncates", lambda t, a: int(a), np.array(-2.7))
row("int-of-int", lambda t, a: int(a), np.array([7]), dtype="int64")
row("int-many-raises", lambda t, a: int(a), I(2), dtype="int64", raises=True)
row("float-of-int", lambda t, a: float(a), np.array(3), dtype="int64")
row("float-of-float", lambda t, a: float(a), np.array([1.5]))
row("index-range", lambda t, a: list(range(a)), np.array(3), dtype="int64")
row("index-list-by-tensor", lambda t, a: [10, 20, 30][a], np.array(1), dtype="int64")
row("operator-index", lambda t, a: operator.index(a), np.array(5), dtype="int64")
row("index-float-raises", lambda t, a: operator.index(a), np.array(2.0), raises=True)
row("index-many-raises", lambda t, a: operator.index(a), I(2), dtype="int64", raises=True)
row("sum-of-python-list", lambda t, a: sum(a.unbind()), R(3, 2))
row("iterate-rows", lambda t, a: [r * 2 for r in a], R(3, 2))
row("iterate-0d-raises", lambda t, a: list(a), R(), raises=True)
row("round-builtin", lambda t, a: round(a.sum().item(), 2), R(3))

# == torch.tensor dtype inference =================================================================
row("tensor-ints", lambda t: t.tensor([1, 2, 3]))
row("tensor-floats", lambda t: t.tensor([1.0, 2.5]))
row("tensor-mixed-int-float", lambda t: t.tensor([1, 2.5]))
row("tensor-bools", lambda t: t.tensor([True, False]))
row("tensor-nested", lambda t: t.tensor([[1, 2], [3, 4]]))
row("tensor-nested-float", lambda t: t.tensor([[1.0], [2.0]]))
row("tensor-scalar-int", lambda t: t.tensor(3))
row("tensor-scalar-float", lambda t: t.tensor(3.5))
row("tensor-scalar-bool", lambda t: t.tensor(True))
row("tensor-empty", lambda t: t.tensor([]))
row("tensor-ragged-raises", lambda t: t.tensor([[1, 2], [3]]), raises=True)
row("tensor-dtype-kw", lambda t: t.tensor([1, 2], dtype=t.float))
row("tensor-dtype-long-from-float", lambda t: t.tensor([1.7, -1.7], dtype=t.long))
row("tensor-tuple", lambda t: t.tensor((1.0, 2.0)))
row("tensor-numpy-int32", lambda t, n: t.tensor(n), I(3), dtype=("raw",))
row("tensor-numpy-float64", lambda t, n: t.tensor(n), R(3), dtype=("raw",))
row("tensor-numpy-float32", lambda t, n: t.tensor(n.astype(np.float32)), R(3), dtype=("raw",))
row("tensor-numpy-bool", lambda t, n: t.tensor(n), B(3), dtype=("raw",))
row("tensor-numpy-uint8", lambda t, n: t.tensor(n.astype(np.uint8)), I(3, lo=0, hi=9),
    dtype=("raw",))
row("tensor-numpy-int-scalar", lambda t: t.tensor(np.int64(4)))
row("tensor-numpy-float-scalar", lambda t: t.tensor(np.float64(4.5)))
row("tensor-requires_grad", lambda t: t.tensor([1.0, 2.0], requires_grad=True).requires_grad)
row("tensor-int-requires_grad-raises", lambda t: t.tensor([1, 2], requires_grad=True),
    raises=True)
row("tensor-from-0d-tensors", lambda t, a, b: t.tensor([a.item(), b.item()]), R(), R())
row("from_numpy-keeps-dtype", lambda t, n: t.from_numpy(n.astype(np.int32)), I(3),
    dtype=("raw",))
row("from_numpy-shares-memory", lambda t, n: (lambda x: (n.__setitem__(0, 9.0), x)[1])(
    t.from_numpy(n)), R(3), dtype=("raw",))
row("as_tensor-float64", lambda t, n: t.as_tensor(n), R(2), dtype=("raw",))
row("as_tensor-dtype", lambda t, n: t.as_tensor(n, dtype=t.float32), R(2), dtype=("raw",))
row("as_tensor-list", lambda t: t.as_tensor([1, 2]))
row("Tensor-constructor-float", lambda t: t.Tensor([1, 2]))
row("numpy-roundtrip", lambda t, a: t.tensor(a.numpy() * 2), R(3), grad=False)
row("numpy-after-detach", lambda t, a: a.detach().numpy().dtype.name, R(3))

# == type promotion ===============================================================================
row("promo-f32-mul-i64", lambda t, a, b: a * b, R(3), I(3), dtype=("float32", "int64"))
row("promo-i64-mul-f32", lambda t, a, b: b * a, R(3), I(3), dtype=("float32", "int64"))
row("promo-f32-add-i32", lambda t, a, b: a + b, R(3), I(3), dtype=("float32", "int32"))
row("promo-f64-add-f32", lambda t, a, b: a + b, R(3), R(3), dtype=("float64", "float32"))
row("promo-f16-add-f32", lambda t, a, b: a + b, R(3), R(3), dtype=("float16", "float32"),
    grad=False)
row("promo-i64-add-pyfloat", lambda t, a: a + 1.5, I(3), dtype="int64")
row("promo-i32-mul-pyfloat", lambda t, a: a * 0.5, I(3), dtype="int32")
row("promo-pyfloat-rsub-int", lambda t, a: 1.5 - a, I(3), dtype="int64")
row("promo-i64-add-pyint", lambda t, a: a + 2, I(3), dtype="int64")
row("promo-i32-add-pyint", lambda t, a: a + 2, I(3), dtype="int32")
row("promo-u8-add-pyint", lambda t, a: a + 1, I(3, lo=0, hi=9), dtype="uint8")
row("promo-f32-add-pyfloat", lambda t, a: a + 1e-3, R(3))
row("promo-f32-mul-pyint", lambda t, a: a * 3, R(3))
row("promo-f16-add-pyfloat", lambda t, a: a + 0.5, R(3), dtype="float16", grad=False)
row("promo-f16-mul-i64", lambda t, a, b: a * b, R(3), I(3), dtype=("float16", "int64"),
    grad=False)
row("promo-int-div-int", lambda t, a, b: a / b, I(3), D(3) * 2 + 1, dtype="int64")
row("promo-int-div-pyint", lambda t, a: a / 2, I(3), dtype="int64")
row("promo-pyint-div-int", lambda t, a: 1 / a, D(3) * 2 + 1, dtype="int64")
row("promo-int-floordiv-int", lambda t, a, b: a // b, I(4), D(4) * 2 + 1, dtype="int64")
row("promo-int-mod-pyint", lambda t, a: a % 3, I(4), dtype="int64")
row("promo-float-floordiv", lambda t, a: a // 0.3, R(4), grad=False)
row("promo-div-floor-int", lambda t, a, b: t.div(a, b, rounding_mode="floor"), I(4),
    D(4) * 2 + 1, dtype="int64")
row("promo-div-trunc-int", lambda t, a, b: a.div(b, rounding_mode="trunc"), I(4), D(4) * 2 + 1,
    dtype="int64")
row("promo-div-trunc-float", lambda t, a: a.div(0.7, rounding_mode="trunc"), R(4), grad=False)
row("promo-0d-f64-with-f32", lambda t, a, b: a + b, R(3), R(), dtype=("float32", "float64"))
row("promo-0d-f32-with-f16", lambda t, a, b: a * b, R(3), R(), dtype=("float16", "float32"),
    grad=False)
row("promo-0d-i64-with-i32", lambda t, a, b: a + b, I(3), I(), dtype=("int32", "int64"))
row("promo-0d-f64-with-i32", lambda t, a, b: a + b, I(3), R(), dtype=("int32", "float64"))
row("promo-0d-f64-with-0d-f32", lambda t, a, b: a + b, R(), R(), dtype=("float32", "float64"))
row("promo-0d-int-with-f32", lambda t, a, b: a * b, R(3), I(), dtype=("float32", "int64"))
row("promo-bool-add-int", lambda t, a, b: a + b, B(3), I(3), dtype=("bool", "int64"))
row("promo-bool-mul-pyfloat", lambda t, a: a * 2.5, B(3), dtype="bool")
row("promo-bool-add-pyint", lambda t, a: a + 1, B(3), dtype="bool")
row("promo-bool-and-bool", lambda t, a, b: a & b, B(4), B(4), dtype="bool")
row("promo-bool-sub-raises", lambda t, a, b: a - b, B(3), B(3), dtype="bool", raises=True)
row("promo-u8-add-i8", lambda t, a, b: a + b, I(3, lo=0, hi=9), I(3), dtype=("uint8", "int8"))
row("promo-i16-add-i32", lambda t, a, b: a + b, I(3), I(3), dtype=("int16", "int32"))
row("promo-cmp-f32-i64", lambda t, a, b: a < b, R(3), I(3), dtype=("float32", "int64"))
row("promo-cmp-i64-pyfloat", lambda t, a: a == 1.0, np.array([1, 2, 1]), dtype="int64")
row("promo-cmp-f32-f64", lambda t, a, b: a >= b, R(3), R(3), dtype=("float32", "float64"))
row("promo-cmp-int-bool", lambda t, a, b: a != b, I(3, lo=0, hi=2), B(3),
    dtype=("int64", "bool"))
row("promo-int-pow-2", lambda t, a: a ** 2, I(3), dtype="int64")
row("promo-int-pow-half", lambda t, a: a ** 0.5, I(3, lo=0, hi=9), dtype="int64")
row("promo-int-pow-negative-raises", lambda t, a: a ** -1, I(3, lo=1, hi=5), dtype="int64",
    raises=True)
row("promo-rpow", lambda t, a: 2 ** a, R(3))
row("promo-where", lambda t, c, a, b: t.where(c, a, b), B(3), R(3), I(3),
    dtype=("bool", "float32", "int64"))
row("promo-where-scalar", lambda t, a: t.where(a > 0, a, 0.0), R(4))
row("promo-matmul-mismatch-raises", lambda t, a, b: a @ b, R(2, 3), R(3, 2),
    dtype=("float32", "float64"), raises=True)
row("promo-result_type", lambda t, a, b: t.result_type(a, b), R(3), I(3),
    dtype=("float32", "int64"))
row("promo-promote_types", lambda t: t.promote_types(t.int32, t.float16))
row("promo-abs-int", lambda t, a: a.abs(), I(3), dtype="int32")
row("promo-neg-bool-raises", lambda t, a: -a, B(3), dtype="bool", raises=True)
row("promo-exp-int", lambda t, a: a.exp(), I(3), dtype="int64")
row("promo-sqrt-int", lambda t, a: t.sqrt(a), I(3, lo=0, hi=9), dtype="int64")
row("promo-mean-of-bool-float", lambda t, a: (a > 0).float().mean(), R(8))
row("promo-eq-sum", lambda t, a, b: (a.argmax(1) == b).sum(), R(5, 3), I(5, lo=0, hi=3),
    dtype=("float32", "int64"))

# == dtype aliases and conversions ================================================================
row("alias-float", lambda t: (t.float == t.float32, t.double == t.float64, t.half == t.float16))
row("alias-int", lambda t: (t.long == t.int64, t.int == t.int32, t.short == t.int16))
row("alias-bool", lambda t: t.zeros(2, dtype=t.bool))
row("alias-str", lambda t: (str(t.float).split(".")[1], str(t.long).split(".")[1]))
row("conv-float", lambda t, a: a.float(), I(3), dtype="int64")
row("conv-double", lambda t, a: a.double(), R(3))
row("conv-half", lambda t, a: a.half(), R(3), grad=False)
row("conv-long-truncates", lambda t, a: a.long(), R(5) * 3)
row("conv-int", lambda t, a: a.int(), R(5) * 3)
row("conv-bool", lambda t, a: a.bool(), np.array([0.0, 0.5, -2.0]))
row("conv-bool-to-float", lambda t, a: a.float(), B(4), dtype="bool")
row("conv-to-dtype", lambda t, a: a.to(t.float64), R(3))
row("conv-to-dtype-kw", lambda t, a: a.to(dtype=t.int32), R(3) * 3)
row("conv-to-other", lambda t, a, b: a.to(b), R(3), I(3), dtype=("float32", "int64"))
row("conv-to-device-dtype", lambda t, a: a.to("cpu", t.float64), R(3))
row("conv-to-same-is-self", lambda t, a: a.to(t.float32) is a, R(3))
row("conv-float-same-is-self", lambda t, a: a.float() is a, R(3))
row("conv-to-copy", lambda t, a: a.to(t.float32, copy=True) is a, R(3))
row("conv-type-dtype", lambda t, a: a.type(t.float64), R(3))
row("conv-type-long", lambda t, a: a.type(t.long), R(3) * 3)
row("conv-type_as", lambda t, a, b: a.type_as(b), I(3), R(3), dtype=("int64", "float64"))
row("conv-cpu", lambda t, a: a.cpu(), R(3))
row("conv-device", lambda t, a: str(a.device), R(3))
row("conv-grad-through-double", lambda t, a: a.double() * 2, R(3))
row("get_default_dtype", lambda t: t.get_default_dtype())
row("finfo-eps", lambda t: (t.finfo(t.float32).eps, t.finfo(t.float16).max))
row("iinfo-max", lambda t: (t.iinfo(t.int64).max, t.iinfo(t.int32).min))
row("is_tensor", lambda t, a: (t.is_tensor(a), t.is_tensor([1.0])), R(2))

# == factories ====================================================================================
row("zeros-varargs", lambda t: t.zeros(2, 3))
row("zeros-tuple", lambda t: t.zeros((2, 3)))
row("zeros-list", lambda t: t.zeros([2, 3]))
row("zeros-size", lambda t, a: t.zeros(a.size()), R(2, 3))
row("zeros-dtype", lambda t: t.zeros(2, 3, dtype=t.int64))
row("zeros-0d", lambda t: t.zeros(()))
row("zeros-negative-raises", lambda t: t.zeros(2, -1), raises=True)
row("ones", lambda t: t.ones(3))
row("ones-dtype", lambda t: t.ones(2, 2, dtype=t.bool))
row("ones-requires-grad", lambda t: t.ones(2, requires_grad=True).requires_grad)
row("full-int-infers-long", lambda t: t.full((2, 2), 7))
row("full-float", lambda t: t.full((2, 2), 7.0))
row("full-bool", lambda t: t.full((2,), True))
row("full-dtype", lambda t: t.full((2, 2), 1.5, dtype=t.float64))
row("full-list-size", lambda t: t.full([3], -1))
row("arange-int", lambda t: t.arange(5))
row("arange-start-stop-step", lambda t: t.arange(1, 10, 3))
row("arange-float-step", lambda t: t.arange(0, 1, 0.25))
row("arange-float-end", lambda t: t.arange(5.0))
row("arange-negative-step", lambda t: t.arange(10, 0, -2))
row("arange-dtype", lambda t: t.arange(0, 5, dtype=t.float32))
row("arange-kw", lambda t: t.arange(start=2, end=6))
row("arange-wrong-sign-raises", lambda t: t.arange(0, 5, -1), raises=True)
row("linspace", lambda t: t.linspace(0, 1, 5))
row("linspace-steps-kw", lambda t: t.linspace(0, 10, steps=3))
row("linspace-one-step", lambda t: t.linspace(2, 3, 1))
row("linspace-dtype", lambda t: t.linspace(-1, 1, 4, dtype=t.float64))
row("eye", lambda t: t.eye(3))
row("eye-rect", lambda t: t.eye(2, 3))
row("eye-dtype", lambda t: t.eye(2, dtype=t.int64))
row("zeros_like", lambda t, a: t.zeros_like(a), R(2, 3))
row("zeros_like-int", lambda t, a: t.zeros_like(a), I(2, 3), dtype="int32")
row("ones_like-dtype", lambda t, a: t.ones_like(a, dtype=t.float64), R(2, 3))
row("full_like", lambda t, a: t.full_like(a, 3), R(2, 3))
row("full_like-int-from-float", lambda t, a: t.full_like(a, 2.7), I(2), dtype="int64")
row("empty-shape-dtype", lambda t: (t.empty(2, 3).shape, t.empty(2, 3).dtype))
row("empty-dtype", lambda t: t.empty((4,), dtype=t.int64).dtype)
row("empty_like", lambda t, a: (t.empty_like(a).shape, t.empty_like(a).dtype), I(2, 3),
    dtype="int32")
row("rand-shape-dtype", lambda t: (t.rand(2, 3).shape, t.rand(2, 3).dtype))
row("randn-dtype", lambda t: t.randn(3, dtype=t.float64).dtype)
row("randint-dtype", lambda t: (t.randint(0, 10, (3,)).dtype, t.randint(5, (2, 2)).shape))
row("new_zeros", lambda t, a: a.new_zeros(2, 2), I(3), dtype="int32")
row("new_ones-tuple", lambda t, a: a.new_ones((3,)), R(2))
row("new_full", lambda t, a: a.new_full((2,), 4), R(2), dtype="float64")
row("new_tensor", lambda t, a: a.new_tensor([1, 2]), R(2), dtype="float64")

# == in-place ops (no grad involved) ==============================================================


def _iadd(t: Any, a: Any, b: Any) -> Any:
    a0 = a
    a += b
    return a, a is a0


def _isub(t: Any, a: Any, b: Any) -> Any:
    a0 = a
    a -= b
    return a, a is a0


def _imul(t: Any, a: Any, b: Any) -> Any:
    a0 = a
    a *= b
    return a, a is a0


def _itruediv(t: Any, a: Any, b: Any) -> Any:
    a0 = a
    a /= b
    return a, a is a0


def _params_list_update(t: Any, a: Any, b: Any) -> Any:
    """The hand-written SGD step: the tensor in the list is the one that changes."""
    params = [a, b]
    with t.no_grad():
        for p in params:
            p -= 0.1 * p
    return params[0] is a, a, b


row("add_", lambda t, a: a.add_(1), R(2, 3), grad=False)
row("add_-returns-self", lambda t, a: a.add_(1) is a, R(2, 3), grad=False)
row("add_-tensor", lambda t, a, b: a.add_(b), R(2, 3), R(3), grad=False)
row("add_-alpha", lambda t, a, b: a.add_(b, alpha=2), R(2, 3), R(2, 3), grad=False)
row("add_-alpha-scalar", lambda t, a: a.add_(3, alpha=-0.5), R(2), grad=False)
row("sub_-alpha", lambda t, a, b: a.sub_(b, alpha=0.5), R(2, 3), R(2, 3), grad=False)
row("mul_", lambda t, a: a.mul_(2), R(2, 3), grad=False)
row("mul_-tensor-broadcast", lambda t, a, b: a.mul_(b), R(2, 3), R(2, 1), grad=False)
row("div_", lambda t, a: a.div_(4), R(2, 3), grad=False)
row("div_-floor", lambda t, a, b: a.div_(b, rounding_mode="floor"), R(4) * 5, P(4), grad=False)
row("div_-trunc", lambda t, a: a.div_(0.7, rounding_mode="trunc"), R(4) * 5, grad=False)
row("div_-int-raises", lambda t, a: a.div_(2), I(3), dtype="int64", raises=True)
row("div_-int-floor", lambda t, a: a.div_(2, rounding_mode="floor"), I(4), dtype="int64")
row("add_-int-with-float-raises", lambda t, a: a.add_(0.5), I(3), dtype="int64", raises=True)
row("add_-broadcast-bigger-raises", lambda t, a, b: a.add_(b), R(3), R(2, 3), grad=False,
    raises=True)
row("iadd-scalar", lambda t, a: _iadd(t, a, 1), R(2, 3), grad=False)
row("iadd-tensor-broadcast", lambda t, a, b: _iadd(t, a, b), R(2, 3), R(3), grad=False)
row("isub", lambda t, a, b: _isub(t, a, b), R(2, 3), R(2, 3), grad=False)
row("imul", lambda t, a: _imul(t, a, 3), R(2, 3), grad=False)
row("itruediv", lambda t, a: _itruediv(t, a, 2), R(2, 3), grad=False)
row("iadd-int-float-raises", lambda t, a: _iadd(t, a, 1.5), I(3), dtype="int64", raises=True)
row("iadd-int-floattensor-raises", lambda t, a, b: _iadd(t, a, b), I(3), R(3),
    dtype=("int64", "float32"), raises=True)
row("itruediv-int-raises", lambda t, a: _itruediv(t, a, 2), I(3), dtype="int64", raises=True)
row("iadd-float-inttensor", lambda t, a, b: _iadd(t, a, b), R(3), I(3),
    dtype=("float32", "int64"), grad=False)
row("iadd-f32-f64-stays-f32", lambda t, a, b: _iadd(t, a, b), R(3), R(3),
    dtype=("float32", "float64"), grad=False)
row("iadd-int-int", lambda t, a: _iadd(t, a, 2), I(3), dtype="int32")
row("iadd-broadcast-bigger-raises", lambda t, a, b: _iadd(t, a, b), R(3), R(2, 3), grad=False,
    raises=True)
row("imul-bool-mask", lambda t, a, m: _imul(t, a, m), R(4), B(4), dtype=("float32", "bool"),
    grad=False)
row("hand-sgd-in-list", _params_list_update, R(3), R(2), grad=False)
row("clamp_-min", lambda t, a: a.clamp_(min=0), R(2, 3), grad=False)
row("clamp_-both", lambda t, a: a.clamp_(-0.5, 0.5), R(2, 3), grad=False)
row("clamp_-max", lambda t, a: a.clamp_(max=0), R(2, 3), grad=False)
row("clamp-no-bounds-raises", lambda t, a: a.clamp(), R(2, 3), raises=True)
row("clamp-int", lambda t, a: a.clamp(-2, 2), I(5), dtype="int64")
row("clamp-tensor-bounds", lambda t, a, lo: a.clamp(min=lo), R(2, 3), R(3))
row("zero_", lambda t, a: a.zero_(), R(2, 3), grad=False)
row("fill_", lambda t, a: a.fill_(3), R(2, 3), grad=False)
row("fill_-0d-tensor", lambda t, a: a.fill_(t.tensor(2.5)), R(2), grad=False)
row("fill_-int-float-truncates", lambda t, a: a.fill_(2.7), I(3), dtype="int64")
row("fill_-1d-tensor-raises", lambda t, a: a.fill_(t.tensor([1.0, 2.0])), R(2), grad=False,
    raises=True)
row("copy_", lambda t, a, b: a.copy_(b), R(2, 3), R(2, 3), grad=False)
row("copy_-broadcast", lambda t, a, b: a.copy_(b), R(2, 3), R(3), grad=False)
row("copy_-int-into-float", lambda t, a, b: a.copy_(b), R(3), I(3), dtype=("float32", "int64"),
    grad=False)
row("copy_-float-into-int", lambda t, a, b: a.copy_(b), I(3), R(3) * 3,
    dtype=("int64", "float32"))
row("copy_-f64-into-f32", lambda t, a, b: a.copy_(b), R(3), R(3), dtype=("float32", "float64"),
    grad=False)
row("copy_-bigger-raises", lambda t, a, b: a.copy_(b), R(3), R(2, 3), grad=False, raises=True)
row("copy_-returns-self", lambda t, a, b: a.copy_(b) is a, R(3), R(3), grad=False)
row("masked_fill_", lambda t, a: a.masked_fill_(a < 0, 0), R(2, 3), grad=False)
row("masked_fill_-neg-inf", lambda t, a, m: a.masked_fill_(m, float("-inf")), R(2, 3), B(2, 3),
    dtype=("float32", "bool"), grad=False)
row("masked_fill_-broadcast-mask", lambda t, a, m: a.masked_fill_(m, 1.0), R(2, 3), B(3),
    dtype=("float32", "bool"), grad=False)
row("masked_fill_-int-mask-raises", lambda t, a, m: a.masked_fill_(m, 0), R(3),
    I(3, lo=0, hi=2), dtype=("float32", "int64"), grad=False, raises=True)
row("masked_fill_-0d-tensor-value", lambda t, a, m: a.masked_fill_(m, t.tensor(-1.0)), R(3),
    B(3), dtype=("float32", "bool"), grad=False)
row("masked_fill-out-of-place", lambda t, a, m: a.masked_fill(m, -1e9), R(2, 3), B(2, 3),
    dtype=("float32", "bool"))
row("masked_fill-causal", lambda t, a: a.masked_fill(t.arange(3)[None, :] > t.arange(3)[:, None],
                                                     float("-inf")).softmax(-1), R(3, 3))
row("relu_", lambda t, a: a.relu_(), R(2, 3), grad=False)
row("sigmoid_", lambda t, a: a.sigmoid_(), R(2, 3), grad=False)
row("neg_", lambda t, a: a.neg_(), R(2, 3), grad=False)
row("normal_-in-place", lambda t: (lambda x: (x.normal_(0, 0.01) is x, x.shape, x.dtype,
                                                bool(x.std() < 0.02)))(t.zeros(200)))
row("uniform_-in-place", lambda t: (lambda x: (x.uniform_(-1, 1) is x, x.dtype,
                                               bool(((x >= -1) & (x <= 1)).all())))(t.zeros(100)))
row("requires_grad_", lambda t, a: a.requires_grad_().requires_grad, R(2), grad=False)
row("requires_grad_-int-raises", lambda t, a: a.requires_grad_(), I(2), dtype="int64",
    raises=True)


def _setitem(index: Any, value: Any) -> Callable[..., Any]:
    def fn(t: Any, a: Any, *rest: Any) -> Any:
        v = value(t, *rest) if callable(value) else value
        a[index(a) if callable(index) else index] = v
        return a
    return fn


row("setitem-int-scalar", _setitem(0, 1.0), R(2, 3), grad=False)
row("setitem-two-ints", _setitem((1, 2), -7.0), R(2, 3), grad=False)
row("setitem-col-tensor", _setitem((slice(None), 1), lambda t, b: b), R(2, 3), R(2),
    grad=False)
row("setitem-row-broadcast", _setitem(0, lambda t, b: b), R(2, 3), R(3), grad=False)
row("setitem-ellipsis", _setitem(Ellipsis, 0.0), R(2, 3), grad=False)
row("setitem-slice-broadcast-col", _setitem(slice(0, 2), lambda t, b: b), R(3, 3), R(2, 1),
    grad=False)
row("setitem-mask-scalar", _setitem(lambda a: a > 0, 0.0), R(3, 4), grad=False)
row("setitem-mask-values", lambda t, a: (a.__setitem__(a < 0, -a[a < 0]), a)[1], R(6),
    grad=False)
row("setitem-list-index", _setitem([0, 2], 5.0), R(3, 2), grad=False)
row("setitem-list-repeated", _setitem([0, 0], lambda t: t.tensor([[1.0, 2.0], [3.0, 4.0]])),
    R(3, 2), grad=False)
row("setitem-0d-tensor", _setitem((0, 0), lambda t: t.tensor(7.0)), R(2, 2), grad=False)
row("setitem-int-tensor-float-value", _setitem(0, 2.7), I(3), dtype="int64")
row("setitem-float-tensor-int-value", _setitem(1, lambda t: t.tensor([1, 2])), R(2, 2),
    grad=False)
row("setitem-wrong-shape-raises", _setitem(slice(1, None), lambda t, b: b), R(3, 3), R(3, 2),
    grad=False, raises=True)
row("setitem-out-of-range-raises", _setitem(3, 0.0), R(3), grad=False, raises=True)
row("setitem-none-index", _setitem((slice(None), None), lambda t, b: b), R(3), R(3, 1),
    grad=False)
row("setitem-tensor-index", _setitem(lambda a: a.new_tensor([1]).long(), -1.0), R(3),
    grad=False)

# in-place ops on views change the base; on copies they do not
row("view-select-add_", lambda t, a: (a[0].add_(1), a)[1], R(2, 3), grad=False)
row("view-t-mul_", lambda t, a: (a.t().mul_(2), a)[1], R(2, 3), grad=False)
row("view-transpose-row-fill_", lambda t, a: (a.transpose(0, 1)[0].fill_(0), a)[1], R(2, 3),
    grad=False)
row("view-col-zero_", lambda t, a: (a[:, 1].zero_(), a)[1], R(2, 3), grad=False)
row("view-narrow-fill_", lambda t, a: (a.narrow(1, 0, 1).fill_(9), a)[1], R(2, 3), grad=False)
row("view-view-setitem", lambda t, a: (a.view(-1).__setitem__(4, 5.0), a)[1], R(2, 3),
    grad=False)
row("view-unsqueeze-add_", lambda t, a: (a.unsqueeze(0).add_(1), a)[1], R(2, 3), grad=False)
row("view-step-slice-mul_", lambda t, a: (a[::2].mul_(-1), a)[1], R(5), grad=False)
row("view-permute-copy_", lambda t, a, b: (a.permute(1, 0).copy_(b), a)[1], R(2, 3), R(3, 2),
    grad=False)
row("view-split-piece-mul_", lambda t, a: (a.split(1)[1].mul_(10), a)[1], R(3, 2), grad=False)
row("view-unbind-piece-zero_", lambda t, a: (a.unbind(1)[0].zero_(), a)[1], R(3, 2),
    grad=False)
row("view-chained-select-iadd", lambda t, a: (_iadd(t, a[1][0], 100.0), a)[1], R(2, 3),
    grad=False)
row("view-squeeze-add_", lambda t, a: (a.squeeze(0).add_(1), a)[1], R(1, 3), grad=False)
row("view-movedim-add_", lambda t, a: (a.movedim(0, 1)[0].add_(1), a)[1], R(3, 2), grad=False)
row("view-chain-view-reads-update", lambda t, a: (lambda v: (a.add_(1), v)[1])(a.t()), R(2, 3),
    grad=False)
row("copy-advanced-index-add_", lambda t, a: (a[[0, 1]].add_(1), a)[1], R(2, 3), grad=False)
row("copy-mask-zero_", lambda t, a: (a[a > 0].zero_(), a)[1], R(2, 3), grad=False)
row("copy-clone-add_", lambda t, a: (a.clone().add_(1), a)[1], R(2, 3), grad=False)
row("view-expand-add_-raises", lambda t, a: a.expand(3, 3).add_(1), R(1, 3), grad=False,
    raises=True)

# == autograd-visible in-place ====================================================================


def _nonleaf_inplace(t: Any, a: Any) -> Any:
    b = a * 2
    b.add_(1)
    b.mul_(3)
    b.sub_(a, alpha=0.5)
    return b


def _inplace_by_own_detach(t: Any, a: Any) -> Any:
    b = a * 2
    b.mul_(b.detach())  # mul_ saves the detached b, which shares b's version counter
    return b


def _nonleaf_setitem(t: Any, a: Any) -> Any:
    b = a.clone()
    b[0] = 0.0
    return b * a


def _setitem_value_requires_grad(t: Any, a: Any, v: Any) -> Any:
    b = a * 1
    b[1] = v
    return b


def _setitem_mask_nonleaf(t: Any, a: Any) -> Any:
    b = a.exp()
    b = b * 1
    b[a < 0] = 0.0
    return b


def _iadd_nonleaf(t: Any, a: Any, b: Any) -> Any:
    c = a * 1
    c += b
    c *= a
    return c


def _view_inplace_nonleaf(t: Any, a: Any) -> Any:
    b = a * 1
    b[0].mul_(3)
    b.t()[1].add_(a[0, 0])
    return b


def _clamp_inplace_nonleaf(t: Any, a: Any) -> Any:
    b = a * 2
    b.clamp_(min=0)
    return b.sum(0)


def _masked_fill_nonleaf(t: Any, a: Any) -> Any:
    b = a + 0
    b.masked_fill_(a > 0.5, 0.0)
    return b


def _copy_nonleaf(t: Any, a: Any, v: Any) -> Any:
    b = a * 1
    b[:, 0].copy_(v)
    return b


def _saved_output_modified(t: Any, a: Any) -> Any:
    b = a.exp()
    b.add_(1)  # exp saves its output: backward must refuse
    return b


def _saved_output_modified_by_op_saving_its_input(t: Any, a: Any) -> Any:
    b = a.exp()
    b.sin_()  # sin_ keeps its own copy of b's old value; exp's saved output still changed
    return b


def _inplace_saving_its_input_twice(t: Any, a: Any) -> Any:
    b = a * 2
    b.sin_()  # each keeps a private copy of its input: legal, and the gradient chains
    b.cos_()
    return b


def _saved_input_modified(t: Any, a: Any, w: Any) -> Any:
    h = a + 0
    y = h * w
    h.mul_(2)  # mul saved h for w's gradient
    return y


def _legal_modify_add_input(t: Any, a: Any, w: Any) -> Any:
    h = a * 1
    y = h + w
    h.mul_(2)  # add saves nothing
    return y, h


def _leaf_add_(t: Any, a: Any) -> Any:
    return a.add_(1)


def _leaf_setitem(t: Any, a: Any) -> Any:
    a[0] = 1.0
    return a


def _leaf_iadd(t: Any, a: Any) -> Any:
    a += 1
    return a


def _leaf_no_grad(t: Any, a: Any) -> Any:
    with t.no_grad():
        a.mul_(2)
        a[0] = 5.0
        a -= 1
    return a, a.requires_grad, a.is_leaf, a.grad_fn is None


def _leaf_view_inplace(t: Any, a: Any) -> Any:
    a[0].add_(1)
    return a


def _detach_shares(t: Any, a: Any) -> Any:
    d = a.detach()
    d.zero_()
    return a * 1, d.requires_grad


def _data_shares(t: Any, a: Any) -> Any:
    a.data.mul_(3)
    return a * a, a.data.requires_grad


def _data_assign_is_leaf(t: Any, a: Any) -> Any:
    a.data[0] = 100.0
    return a.sum(), a.is_leaf


def _detach_is_cut(t: Any, a: Any) -> Any:
    return (a * 2).detach() * a, (a * 2).detach().requires_grad


def _no_grad_output(t: Any, a: Any) -> Any:
    with t.no_grad():
        y = a * 2
    return y.requires_grad, y.grad_fn is None, y + a


def _inplace_on_leaf_view_nograd(t: Any, a: Any) -> Any:
    with t.no_grad():
        a[:, 0] = 0.0
    return a * 2


def _relu_inplace_then_use(t: Any, a: Any) -> Any:
    h = a * 3
    h.relu_()
    return h * 2


def _sigmoid_inplace_then_mul(t: Any, a: Any) -> Any:
    h = a + 0
    h.sigmoid_()
    return h * h


row("grad-nonleaf-inplace-chain", _nonleaf_inplace, R(2, 3))
row("grad-inplace-by-own-detach-raises", _inplace_by_own_detach, R(2, 3), raises=True)
row("grad-nonleaf-setitem", _nonleaf_setitem, R(2, 3))
row("grad-setitem-value-requires-grad", _setitem_value_requires_grad, R(3, 2), R(2))
row("grad-setitem-mask", _setitem_mask_nonleaf, R(2, 3))
row("grad-iadd-imul-nonleaf", _iadd_nonleaf, R(2, 3), R(3))
row("grad-view-inplace-nonleaf", _view_inplace_nonleaf, R(2, 3))
row("grad-clamp_-nonleaf", _clamp_inplace_nonleaf, R(3, 2))
row("grad-masked_fill_-nonleaf", _masked_fill_nonleaf, R(2, 3))
row("grad-copy_-into-view", _copy_nonleaf, R(3, 2), R(3))
row("grad-relu_-nonleaf", _relu_inplace_then_use, R(2, 3))
row("grad-sigmoid_-nonleaf", _sigmoid_inplace_then_mul, R(2, 3))
row("grad-saved-output-modified-raises", _saved_output_modified, R(3), raises=True)
row("grad-saved-input-modified-raises", _saved_input_modified, R(3), R(3), raises=True)
row("grad-saved-output-modified-by-sin_-raises", _saved_output_modified_by_op_saving_its_input,
    R(3), raises=True)
row("grad-inplace-saving-input-twice", _inplace_saving_its_input_twice, R(3))
row("grad-legal-modify-add-input", _legal_modify_add_input, R(3), R(3))
row("grad-leaf-add_-raises", _leaf_add_, R(3), raises=True)
row("grad-leaf-setitem-raises", _leaf_setitem, R(3), raises=True)
row("grad-leaf-iadd-raises", _leaf_iadd, R(3), raises=True)
row("grad-leaf-view-inplace-raises", _leaf_view_inplace, R(2, 3), raises=True)
row("grad-leaf-no_grad-works", _leaf_no_grad, R(3))
row("grad-leaf-view-no_grad-works", _inplace_on_leaf_view_nograd, R(2, 3))
row("grad-detach-shares-storage", _detach_shares, R(3))
row("grad-data-shares-storage", _data_shares, R(3))
row("grad-data-setitem-keeps-leaf", _data_assign_is_leaf, R(3))
row("grad-detach-cuts", _detach_is_cut, R(3))
row("grad-no_grad-output", _no_grad_output, R(3))


# == more argument forms: positional flags, NumPy aliases, edge cases ==============================
row("var-positional-unbiased-bool", lambda t, a: a.var(False), R(3, 4))
row("std-positional-unbiased-bool", lambda t, a: a.std(True), R(3, 4))
row("var-dim-positional-unbiased", lambda t, a: a.var(1, False), R(3, 4))
row("max-dim-positional-keepdim", lambda t, a: a.max(1, True), R(3, 4))
row("sum-dim-positional-keepdim", lambda t, a: a.sum(1, True), R(3, 4))
row("sum-keepdims-alias", lambda t, a: a.sum(1, keepdims=True), R(3, 4))
row("mean-axis-alias", lambda t, a: a.mean(axis=0), R(3, 4))
row("all-dim-tuple", lambda t, a: a.all(dim=(0, 1)), B(2, 3, 2), dtype="bool")
row("count_nonzero-dim-tuple", lambda t, a: a.count_nonzero(dim=(0, 1)), I(2, 3, lo=0, hi=2),
    dtype="int64")
row("logsumexp-all-neg-inf", lambda t, a: a.logsumexp(1), np.array([[-np.inf, -np.inf],
                                                                    [0.0, 1.0]]), grad=False)
row("softmax-method-no-dim-raises", lambda t, a: a.softmax(), R(3, 4), raises=True)
row("F-softmax-implicit-dim", lambda t, a: t.nn.functional.softmax(a), R(3, 4))
row("sort-stable", lambda t, a: a.sort(stable=True), np.array([2.0, 1.0, 2.0, 0.0, 1.0]),
    grad=False)
row("topk-all-kwargs", lambda t, a: t.topk(a, k=2, dim=1, largest=True, sorted=True), R(3, 5))
row("max-dim-index1", lambda t, a: a.max(dim=1)[1], R(3, 4))
row("argmax-over-flattened", lambda t, a: t.argmax(a), R(3, 4))
row("T-3d", lambda t, a: a.T, R(2, 3, 4))
row("shape-eq-Size", lambda t, a: (a.shape == t.Size([2, 3]), len(a.size())), R(2, 3))
row("view-Size-arg", lambda t, a: a.view(t.Size([6])), R(2, 3))
row("expand-new-leading-minus1-raises", lambda t, a: a.expand(-1, 3), R(3), raises=True)
row("unsqueeze-expand-minus1", lambda t, a: a.unsqueeze(1).expand(-1, 3, -1), R(2, 4))
row("cat-ndim-mismatch-raises", lambda t, a, b: t.cat([a, b]), R(2, 3), R(3), raises=True)
row("matmul-1d-1d", lambda t, a, b: a @ b, R(3), R(3))
row("matmul-batched-broadcast", lambda t, a, b: t.matmul(a, b), R(2, 3, 4), R(4, 5))
row("matmul-mat-vec", lambda t, a, b: a @ b, R(2, 3), R(3))
row("matmul-bad-raises", lambda t, a, b: a @ b, R(2, 3), R(2, 3), raises=True)
row("tensor-of-tensor", lambda t, a: t.tensor(a.detach()), R(3))
row("tensor-list-of-0d-tensors", lambda t: t.tensor([t.tensor(1.0), t.tensor(2.0)]))
row("tensor-big-int", lambda t: t.tensor([1, 2 ** 40]))
row("arange-float-tenths", lambda t: t.arange(0, 1, 0.1))
row("arange-float-start-int-step", lambda t: t.arange(1, 2.5, 0.5))
row("promo-0d-int-times-float-vector", lambda t: t.tensor(2) * t.tensor([1.5]))
row("promo-float-vector-times-0d-int", lambda t: t.ones(3) * t.tensor(2))
row("promo-np-float64-scalar-right", lambda t, a: a * np.float64(2.0), R(3))
row("promo-np-float64-scalar-left", lambda t, a: np.float64(2.0) * a, R(3))
row("promo-int-mul-true", lambda t, a: a * True, I(3), dtype="int64")
row("promo-clamp-int-float-bound", lambda t, a: a.clamp(0.5), I(4), dtype="int64")
row("promo-clamp_-int-float-bound-raises", lambda t, a: a.clamp_(0.5), I(4), dtype="int64",
    raises=True)
row("mul_-int-float-raises", lambda t, a: a.mul_(2.5), I(3), dtype="int64", raises=True)
row("ior-bool", lambda t, a, b: a.__ior__(b), B(4), B(4), dtype="bool")
row("iadd-self-transpose-overlap", lambda t, a: _iadd(t, a, a.t()), R(3, 3), grad=False,
    raises=True)
row("numpy-shares-memory", lambda t, a: (a.numpy().__setitem__(0, 5.0), a)[1], R(3),
    grad=False)
row("clone-is-copy", lambda t, a: (lambda c: (c.zero_(), a)[1])(a.detach().clone()), R(3))


def _py_setitem_iadd(t: Any, a: Any) -> Any:
    a[0] += 1
    a[:, :2] *= 2
    a[a > 1] -= 10
    return a


def _py_setitem_iadd_repeated(t: Any, a: Any) -> Any:
    a[[0, 0, 1]] += 1  # index_put without accumulate: row 0 gets +1 once
    return a


row("python-item-iadd", _py_setitem_iadd, R(2, 3), grad=False)
row("python-repeated-index-iadd", _py_setitem_iadd_repeated, R(3, 2), grad=False)

# == autograd habits around backward ===============================================================


def _grad_accumulates(t: Any, a: Any) -> Any:
    (a * a).sum().backward()
    (a * 3).sum().backward()
    return a.grad


def _grad_zero_and_none(t: Any, a: Any) -> Any:
    (a * a).sum().backward()
    a.grad.zero_()
    (a * 2).sum().backward()
    g = a.grad.clone()
    a.grad = None
    (a * 5).sum().backward()
    return g, a.grad


def _second_backward_raises(t: Any, a: Any) -> Any:
    y = (a * a).sum()
    y.backward()
    y.backward()
    return a.grad


def _retain_graph(t: Any, a: Any) -> Any:
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    return a.grad


def _backward_nonscalar_raises(t: Any, a: Any) -> Any:
    (a * 2).backward()
    return a.grad


def _backward_with_gradient(t: Any, a: Any) -> Any:
    (a * a).backward(gradient=t.ones_like(a) * 0.5)
    return a.grad


def _retain_grad(t: Any, a: Any) -> Any:
    h = a * 2
    h.retain_grad()
    (h * h).sum().backward()
    return h.grad, a.grad, h.is_leaf


def _create_graph(t: Any, a: Any) -> Any:
    (g,) = t.autograd.grad((a ** 3).sum(), a, create_graph=True)
    return g


def _old_style_data_sgd(t: Any, a: Any) -> Any:
    (a * a).sum().backward()
    a.data -= 0.1 * a.grad.data
    a.grad.data.zero_()
    return a, a.grad


def _no_grad_decorator(t: Any, a: Any) -> Any:
    @t.no_grad()
    def f(x: Any) -> Any:
        return x * 2

    return f(a).requires_grad, f(a)


def _set_grad_enabled(t: Any, a: Any) -> Any:
    with t.set_grad_enabled(False):
        y = a * 2
    with t.no_grad():
        with t.enable_grad():
            z = a * 3
    return y, z


def _inference_mode(t: Any, a: Any) -> Any:
    with t.inference_mode():
        y = a * 2
    return y.requires_grad, y


def _leaf_sigmoid_inplace_raises(t: Any, a: Any) -> Any:
    return a.sigmoid_()


def _nonleaf_mask_assign(t: Any, a: Any) -> Any:
    y = a * 2
    y[y > 0] = 0.0
    return y


row("autograd-grad-accumulates", _grad_accumulates, R(3))
row("autograd-grad-zero-and-none", _grad_zero_and_none, R(3))
row("autograd-second-backward-raises", _second_backward_raises, R(3), raises=True)
row("autograd-retain_graph", _retain_graph, R(3))
row("autograd-backward-nonscalar-raises", _backward_nonscalar_raises, R(3), raises=True)
row("autograd-backward-gradient", _backward_with_gradient, R(3))
row("autograd-retain_grad", _retain_grad, R(3))
row("autograd-create_graph", _create_graph, R(3))
row("autograd-old-style-data-sgd", _old_style_data_sgd, R(3))
row("autograd-no_grad-decorator", _no_grad_decorator, R(3))
row("autograd-set_grad_enabled", _set_grad_enabled, R(3))
row("autograd-inference_mode", _inference_mode, R(3))
row("autograd-leaf-sigmoid_-raises", _leaf_sigmoid_inplace_raises, R(3), raises=True)
row("autograd-nonleaf-mask-assign", _nonleaf_mask_assign, R(2, 3))


# == views: element views, and views that see later writes to the base ============================


def _view_operand_inplace(t: Any, a: Any) -> Any:
    b = a * 1
    b[:, 1].add_(a[:, 0])  # a view of a non-leaf, changed by a view of a leaf
    return b


row("view-element-add_", lambda t, a: (a[0].add_(1), a)[1], R(3), grad=False)
row("view-element-2d-fill_", lambda t, a: (a[1, 0].fill_(5), a)[1], R(2, 3), grad=False)
row("view-element-of-row-zero_", lambda t, a: (a[1][0].zero_(), a)[1], R(2, 3), grad=False)
row("view-element-sees-base", lambda t, a: (lambda v: (a.zero_(), v)[1])(a[1, 0]), R(2, 3),
    grad=False)
row("view-row-sees-base", lambda t, a: (lambda v: (a.mul_(2), v)[1])(a[1]), R(2, 3),
    grad=False)
row("view-split-sees-base", lambda t, a: (lambda ps: (a.mul_(2), ps)[1])(a.split(1)), R(3, 2),
    grad=False)
row("view-expand-sees-base", lambda t, a: (lambda e: (a.add_(1), e)[1])(a.expand(2, 3)),
    R(1, 3), grad=False)
row("view-t-sees-setitem", lambda t, a: (lambda v: (a.__setitem__(0, 7.0), v)[1])(a.t()),
    R(2, 3), grad=False)
row("contiguous-is-self", lambda t, a: (a.contiguous() is a, a.t().contiguous() is a), R(2, 3))
row("grad-view-inplace-with-view-operand", _view_operand_inplace, R(2, 3))


# == a few more habits: masks, where, legacy cat, integer division by zero =====================


def _backward_no_grad_raises(t: Any, a: Any) -> Any:
    (a.detach() * 2).sum().backward()
    return a.grad


def _grad_unused_raises(t: Any, a: Any, b: Any) -> Any:
    return t.autograd.grad((a * 2).sum(), [a, b])


def _grad_unused_allowed(t: Any, a: Any, b: Any) -> Any:
    ga, gb = t.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    return ga, gb is None


row("mask-invert", lambda t, a: ~(a > 0), R(5))
row("mask-and-or", lambda t, a, b: ((a > 0) & (b < 0)) | (a > 1), R(5), R(5))
row("mask-logical_not", lambda t, a: (a > 0).logical_not(), R(5))
row("mask-sum-dtype", lambda t, a: (a > 0).sum(dtype=t.int32), R(5))
row("where-one-arg", lambda t, a: t.where(a > 0), R(3, 4))
row("cat-legacy-empty", lambda t, a: t.cat([t.tensor([]), a]), R(2, 3))
row("cat-accumulate-1d", lambda t, a: t.cat([t.tensor([]), a, a]), R(3))
row("int-floordiv-by-zero-raises", lambda t, a: a // 0, I(3), dtype="int64", raises=True)
row("int-remainder-by-zero-raises", lambda t, a: a % 0, I(3), dtype="int64", raises=True)
row("float-div-by-zero-inf", lambda t, a: a / 0, R(3), grad=False)
row("autograd-backward-no-grad-raises", _backward_no_grad_raises, R(3), raises=True)
row("autograd-grad-unused-raises", _grad_unused_raises, R(3), R(3), raises=True)
row("autograd-grad-unused-allowed", _grad_unused_allowed, R(3), R(3))


@pytest.mark.parametrize("idiom", TABLE.rows, ids=TABLE.ids())
def test_idiom(idiom: Idiom) -> None:
    check(torch, idiom)


def test_table_is_large_and_ids_unique() -> None:
    ids = TABLE.ids()
    assert len(ids) >= 300
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]


def test_numpy_of_a_tensor_that_requires_grad_is_a_documented_difference() -> None:
    """PyTorch refuses x.numpy() when x requires grad; chainrule hands out the array (the README
    lists this among the differences): code written for PyTorch calls x.detach().numpy(),
    which works in both."""
    torch = pytest.importorskip("torch")
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    y = cr.ones(2, requires_grad=True)
    assert y.numpy() is y.array and y.detach().numpy() is y.array
