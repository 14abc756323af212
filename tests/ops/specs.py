"""The one table of op specs that drives the op tests (gradcheck, torch, dtype).

Each OpSpec names a chainrule function of Tensors, the same computation in PyTorch (or None), the
input shapes and each input's domain. Domains keep finite differences meaningful:

  real      standard normal
  positive  uniform in [0.5, 2]            (log, sqrt, a base raised to a tensor power)
  nonzero   +-uniform in [0.5, 1.5]        (denominators, prod)
  distinct  all elements of all such inputs at least 0.06 apart and at least 0.03 from every
            multiple of 0.1, so no ties (max, min, maximum) and no kinks (0 for abs / relu,
            +-0.5 for the clip bounds used below)
  zeros     nonzero, but every third element exactly 0 (prod's and pow's special cases; used
            only where the function is smooth through 0)

Constants an op needs (a where-condition, a boolean mask, index arrays) are fixed here, not drawn.
Importing this module does not import torch: `th` imports it on first use.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import chainrule as cr
from chainrule.tensor import Tensor

DOMAINS = ("real", "positive", "nonzero", "distinct", "zeros")


class _LazyTorch:
    """`th.nn.functional.gelu` names a torch function without importing torch; calling it
    imports torch, so the table loads (and its torch side stays unused) without torch."""

    def __init__(self, path: tuple[str, ...] = ()) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _LazyTorch(self._path + (name,))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        obj: Any = torch
        for name in self._path:
            obj = getattr(obj, name)
        return obj(*args, **kwargs)


th = _LazyTorch()
thF = th.nn.functional


@dataclass(frozen=True)
class OpSpec:
    name: str                    # unique test id, "op[case]"
    op: str                      # the chainrule op it exercises (for the coverage check)
    fn: Callable[..., Any]       # chainrule: Tensors -> Tensor or list of Tensors
    torch_fn: Callable[..., Any] | None
    shapes: tuple[tuple[int, ...], ...]
    domain: tuple[str, ...]
    eps: float = 1e-6            # finite-difference step for gradcheck

    def __repr__(self) -> str:
        return self.name

    def inputs(self, rng: np.random.Generator, dtype: Any = np.float64) -> list[np.ndarray]:
        return [a.astype(dtype) for a in make_inputs(self.shapes, self.domain, rng)]


SPECS: list[OpSpec] = []


def spec(op: str, case: str, fn: Callable[..., Any], torch_fn: Callable[..., Any] | None,
         *shapes: tuple[int, ...], domain: str | Sequence[str] = "real", eps: float = 1e-6) -> None:
    dom = (domain,) * len(shapes) if isinstance(domain, str) else tuple(domain)
    assert len(dom) == len(shapes) and set(dom) <= set(DOMAINS), (op, case)
    name = f"{op}[{case}]" if case else op
    assert name not in {s.name for s in SPECS}, name
    SPECS.append(OpSpec(name, op, fn, torch_fn, tuple(shapes), dom, eps))


def make_inputs(shapes: Sequence[tuple[int, ...]], domain: Sequence[str],
                rng: np.random.Generator) -> list[np.ndarray]:
    n_distinct = sum(int(np.prod(s)) for s, d in zip(shapes, domain) if d == "distinct")
    # half-way between multiples of 0.1 for any count (n / 2 would put odd counts on them)
    grid = (rng.permutation(n_distinct) - n_distinct // 2 + 0.5) * 0.1
    grid += rng.uniform(-0.02, 0.02, n_distinct)
    out, used = [], 0
    for s, d in zip(shapes, domain):
        n = int(np.prod(s))
        if d == "real":
            a = rng.standard_normal(s)
        elif d == "positive":
            a = rng.uniform(0.5, 2.0, s)
        elif d in ("nonzero", "zeros"):
            a = rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s)
            if d == "zeros":
                a.reshape(-1)[1::3] = 0.0
        else:
            a = grid[used:used + n].reshape(s)
            used += n
        out.append(np.asarray(a, dtype=np.float64))
    return out


# -- helpers shared by the test files --------------------------------------------------------------
def as_list(y: Any) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def graph_ops(outputs: Sequence[Tensor]) -> list[Any]:
    """Every Function in the graph behind `outputs` (each once)."""
    seen: set[int] = set()
    ops = []
    stack = [y.creator for y in outputs if y.creator is not None]
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        ops.append(f)
        stack.extend(x.creator for x in f.inputs if x.creator is not None)
    return ops


def raw_backward_dtypes(outputs: Sequence[Tensor]) -> dict[str, set]:
    """op name -> dtypes its forward produced and its backward returned, called directly with
    upstream gradients of the output dtype. The backward walk casts every gradient to its
    input's dtype, which would hide a float64 leak; calling backward directly does not."""
    found: dict[str, set] = {}
    for f in graph_ops(outputs):
        saved = getattr(f, "_out_meta", None)  # (shape, dtype) of each output, where kept
        metas = [(y.shape, y.dtype) if y is not None else saved and saved[k]
                 for k, y in enumerate(f.outputs)]
        if not all(metas):
            continue  # an output was dropped and its shape not kept: nothing to feed backward
        gys = [cr.tensor(np.ones(shape, dtype)) for shape, dtype in metas]
        with cr.no_grad():
            gxs = f.backward(*gys)
        gxs = gxs if isinstance(gxs, tuple) else (gxs,)
        dts = found.setdefault(f.name, set())
        dts.update(np.dtype(d) for _, d in metas)
        dts.update(g.dtype for g in gxs if g is not None)
    return found


# -- constants used by the specs (fixed, so runs are reproducible) ---------------------------------
_c = np.random.default_rng(1234)
COND_34 = _c.random((3, 4)) > 0.5
COND_31 = np.array([[True], [False], [True]])
MASK_34 = np.array([[True, False, True, True], [False, False, True, False],
                    [True, True, False, False]])
MASK_ROWS = np.array([True, False, True])
REP_IDX = [0, 2, 0, 0]                  # repeated rows
PAIR_ROWS, PAIR_COLS = [0, 1, 1, 0], [2, 2, 0, 2]  # (0, 2) appears twice
IDX_2D = np.array([[0, 1], [2, 0]])


def _tdims(x: Any, axis: Any) -> tuple[int, ...]:
    """Torch dims for a NumPy-style axis (None = all)."""
    return tuple(range(x.dim())) if axis is None else (axis if isinstance(axis, tuple) else (axis,))


def _tprod(x: Any, dims: tuple[int, ...], keepdim: bool) -> Any:
    """torch.prod reduces one dim at a time."""
    for d in sorted(dims, reverse=True):
        x = th.prod(x, dim=d, keepdim=keepdim)
    return x


def _tsplit(x: Any, sections: Any, axis: int) -> Any:
    return th.tensor_split(x, sections, dim=axis)


def _tpad(x: Any, widths: Sequence[tuple[int, int]]) -> Any:
    flat = [w for pair in reversed(widths) for w in pair]
    return th.nn.functional.pad(x, flat)


# ================================================================================================
# elementwise: arithmetic (operators), with broadcasting, 0-d and empty operands
# ================================================================================================
def _binary(op: str, f: Callable[[Any, Any], Any], dom: tuple[str, str]) -> None:
    spec(op, "same", f, f, (3, 4), (3, 4), domain=dom)
    spec(op, "bcast_3x1x4_2x4", f, f, (3, 1, 4), (2, 4), domain=dom)
    spec(op, "bcast_2x1_1x3", f, f, (2, 1), (1, 3), domain=dom)
    spec(op, "0d_left", f, f, (), (2, 3), domain=dom)
    spec(op, "0d_right", f, f, (2, 3), (), domain=dom)
    spec(op, "0d_0d", f, f, (), (), domain=dom)
    spec(op, "empty", f, f, (0, 3), (3,), domain=dom)


_binary("add", lambda a, b: a + b, ("real", "real"))
_binary("sub", lambda a, b: a - b, ("real", "real"))
_binary("mul", lambda a, b: a * b, ("real", "real"))
_binary("div", lambda a, b: a / b, ("real", "nonzero"))
_binary("pow", lambda a, b: a ** b, ("positive", "real"))
spec("add", "scalar", lambda x: x + 2.5, lambda x: x + 2.5, (3, 4))
spec("add", "rscalar", lambda x: 2.5 + x, lambda x: 2.5 + x, (3, 4))
spec("add", "fn", lambda a, b: cr.add(a, b), th.add, (2, 3), (3,))
spec("sub", "rscalar", lambda x: 1 - x, lambda x: 1 - x, (3, 4))
spec("sub", "fn", lambda a, b: cr.sub(a, b), th.sub, (2, 3), (3,))
spec("mul", "scalar", lambda x: x * 2.0, lambda x: x * 2.0, (3, 4))
spec("mul", "self", lambda x: x * x, lambda x: x * x, (3, 4))
spec("mul", "fn", lambda a, b: cr.mul(a, b), th.mul, (2, 3), (3,))
spec("div", "scalar", lambda x: x / 3, lambda x: x / 3, (3, 4))
spec("div", "rscalar", lambda x: 2.0 / x, lambda x: 2.0 / x, (3, 4), domain="nonzero")
spec("div", "fn", lambda a, b: cr.div(a, b), th.div, (2, 3), (3,), domain=("real", "nonzero"))
spec("pow", "int2", lambda x: x ** 2, lambda x: x ** 2, (3, 4))
spec("pow", "int3", lambda x: x ** 3, lambda x: x ** 3, (3, 4))
spec("pow", "half", lambda x: x ** 0.5, lambda x: x ** 0.5, (3, 4), domain="positive")
spec("pow", "neg_frac", lambda x: x ** -1.5, lambda x: x ** -1.5, (3, 4), domain="positive")
spec("pow", "rscalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, (3, 4))
spec("pow", "fn", lambda a, b: cr.pow(a, b), th.pow, (2, 3), (), domain=("positive", "real"))
spec("pow", "zero_exponent", lambda x: x ** 0, lambda x: x ** 0, (2, 3), domain="zeros")
spec("pow", "zero_base", lambda a, b: abs(a) ** (b + 2.0), lambda a, b: abs(a) ** (b + 2.0),
     (2, 3), (2, 3), domain=("zeros", "positive"))
spec("pow", "method", lambda x: x.pow(3), lambda x: x.pow(3), (2, 3))
spec("neg", "", lambda x: -x, lambda x: -x, (3, 4))
spec("neg", "0d", lambda x: cr.neg(x), th.neg, ())
spec("neg", "empty", lambda x: -x, lambda x: -x, (0, 3))

# ================================================================================================
# elementwise: unary functions
# ================================================================================================
_UNARY: list[tuple[str, Callable, Callable, str]] = [
    ("abs", cr.abs, lambda x: th.abs(x), "distinct"),
    ("exp", cr.exp, lambda x: th.exp(x), "real"),
    ("log", cr.log, lambda x: th.log(x), "positive"),
    ("log1p", cr.log1p, lambda x: th.log1p(x), "positive"),
    ("sqrt", cr.sqrt, lambda x: th.sqrt(x), "positive"),
    ("sin", cr.sin, lambda x: th.sin(x), "real"),
    ("cos", cr.cos, lambda x: th.cos(x), "real"),
    ("tanh", cr.tanh, lambda x: th.tanh(x), "real"),
    ("sigmoid", cr.sigmoid, lambda x: th.sigmoid(x), "real"),
    ("relu", cr.relu, lambda x: th.relu(x), "distinct"),
    ("leaky_relu", cr.leaky_relu, lambda x: thF.leaky_relu(x, 0.01), "distinct"),
    ("elu", cr.elu, lambda x: thF.elu(x), "distinct"),
    ("gelu", cr.gelu, lambda x: thF.gelu(x), "real"),
    ("softplus", cr.softplus, lambda x: thF.softplus(x), "real"),
    ("normal_cdf", cr.normal_cdf, lambda x: th.special.ndtr(x), "real"),
]
for _name, _f, _tf_, _dom in _UNARY:
    spec(_name, "", _f, _tf_, (3, 4), domain=_dom)
    spec(_name, "0d", _f, _tf_, (), domain=_dom)
    spec(_name, "empty", _f, _tf_, (0, 3), domain=_dom)

spec("abs", "builtin", lambda x: abs(x), lambda x: abs(x), (2, 3), domain="distinct")
spec("exp", "method", lambda x: x.exp(), lambda x: x.exp(), (2, 3))
spec("sigmoid", "large", lambda x: cr.sigmoid(x * 8.0), lambda x: th.sigmoid(x * 8.0), (2, 5))
spec("tanh", "method", lambda x: x.tanh(), lambda x: x.tanh(), (2, 3))
spec("leaky_relu", "slope", lambda x: cr.leaky_relu(x, 0.2),
     lambda x: thF.leaky_relu(x, 0.2), (3, 4), domain="distinct")
spec("elu", "alpha", lambda x: cr.elu(x, alpha=0.5), lambda x: thF.elu(x, alpha=0.5),
     (3, 4), domain="distinct")
spec("softplus", "beta", lambda x: cr.softplus(x, beta=2.0),
     lambda x: thF.softplus(x, beta=2.0), (3, 4))
spec("gelu", "method", lambda x: x.gelu(), lambda x: thF.gelu(x), (2, 3))

spec("maximum", "same", cr.maximum, th.maximum, (3, 4), (3, 4), domain="distinct")
spec("maximum", "bcast", cr.maximum, th.maximum, (3, 1, 4), (2, 4), domain="distinct")
spec("maximum", "0d", cr.maximum, th.maximum, (2, 3), (), domain="distinct")
spec("maximum", "empty", cr.maximum, th.maximum, (0, 3), (3,), domain="distinct")
spec("maximum", "scalar", lambda x: cr.maximum(x, 0.02),
     lambda x: th.clamp(x, min=0.02), (3, 4), domain="distinct")
spec("minimum", "same", cr.minimum, th.minimum, (3, 4), (3, 4), domain="distinct")
spec("minimum", "bcast", cr.minimum, th.minimum, (3, 1, 4), (2, 4), domain="distinct")
spec("minimum", "0d", cr.minimum, th.minimum, (), (2, 3), domain="distinct")
spec("clip", "both", lambda x: cr.clip(x, -0.5, 0.5), lambda x: th.clamp(x, -0.5, 0.5),
     (4, 5), domain="distinct")
spec("clip", "min", lambda x: x.clip(min=-0.5), lambda x: th.clamp(x, min=-0.5),
     (4, 5), domain="distinct")
spec("clip", "max", lambda x: x.clip(max=0.5), lambda x: th.clamp(x, max=0.5),
     (4, 5), domain="distinct")
spec("clip", "0d", lambda x: cr.clip(x, -0.5, 0.5), lambda x: th.clamp(x, -0.5, 0.5), (),
     domain="distinct")
spec("where", "same", lambda a, b: cr.where(COND_34, a, b),
     lambda a, b: th.where(th.as_tensor(COND_34), a, b), (3, 4), (3, 4))
spec("where", "bcast", lambda a, b: cr.where(COND_31, a, b),
     lambda a, b: th.where(th.as_tensor(COND_31), a, b), (3, 4), (4,))
spec("where", "tensor_cond", lambda a, b: cr.where(a > b, a, b * 2.0),
     lambda a, b: th.where(a > b, a, b * 2.0), (3, 4), (3, 4), domain="distinct")
spec("where", "scalar", lambda x: cr.where(COND_34, x, 0.0),
     lambda x: th.where(th.as_tensor(COND_34), x, 0.0), (3, 4))
spec("where", "0d", lambda a, b: cr.where(COND_34, a, b),
     lambda a, b: th.where(th.as_tensor(COND_34), a, b), (), (3, 4))
spec("astype", "roundtrip", lambda x: x.astype("float32").astype("float64") * 1.0,
     lambda x: x.float().double() * 1.0, (2, 3), eps=1e-2)

# ================================================================================================
# reductions
# ================================================================================================
for _ax, _kd, _case in [(None, False, "all"), (0, False, "ax0"), (-1, False, "ax-1"),
                        ((0, 2), False, "ax02"), ((0, 2), True, "ax02_keep"),
                        (1, True, "ax1_keep"), (None, True, "all_keep")]:
    spec("sum", _case, lambda x, a=_ax, k=_kd: cr.sum(x, a, k),
         lambda x, a=_ax, k=_kd: th.sum(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4))
    spec("mean", _case, lambda x, a=_ax, k=_kd: x.mean(a, k),
         lambda x, a=_ax, k=_kd: th.mean(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4))
    spec("amax", _case, lambda x, a=_ax, k=_kd: x.amax(a, k),
         lambda x, a=_ax, k=_kd: th.amax(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4),
         domain="distinct")
    spec("amin", _case, lambda x, a=_ax, k=_kd: cr.amin(x, a, k),
         lambda x, a=_ax, k=_kd: th.amin(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4),
         domain="distinct")
    spec("logsumexp", _case, lambda x, a=_ax, k=_kd: cr.logsumexp(x, a, k),
         lambda x, a=_ax, k=_kd: th.logsumexp(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4))
    spec("prod", _case, lambda x, a=_ax, k=_kd: x.prod(a, k),
         lambda x, a=_ax, k=_kd: _tprod(x, _tdims(x, a), k), (2, 3, 2), domain="nonzero")
    spec("var", _case, lambda x, a=_ax, k=_kd: cr.var(x, a, keepdim=k),
         lambda x, a=_ax, k=_kd: th.var(x, dim=_tdims(x, a), keepdim=k), (2, 3, 4))
    spec("std", _case, lambda x, a=_ax, k=_kd: x.std(a, keepdims=k, correction=0),
         lambda x, a=_ax, k=_kd: th.std(x, dim=_tdims(x, a), correction=0, keepdim=k),
         (2, 3, 4))


for _op, _f, _tfn in [("sum", cr.sum, th.sum), ("mean", cr.mean, th.mean),
                      ("max", cr.max, th.max), ("min", cr.min, th.min),
                      ("prod", cr.prod, th.prod),
                      ("logsumexp", cr.logsumexp, lambda x: th.logsumexp(x, _tdims(x, None))),
                      ("var", lambda x: cr.var(x, correction=0),
                       lambda x: th.var(x, correction=0)),
                      ("std", lambda x: cr.std(x, unbiased=False),
                       lambda x: th.std(x, correction=0))]:
    if _op != "std":  # the std of one element is 0, where sqrt has no derivative
        spec(_op, "0d", _f, _tfn, (), domain="distinct")
    spec(_op, "1d", _f, _tfn, (5,), domain="distinct")
spec("sum", "empty_all", cr.sum, th.sum, (0, 3))
spec("sum", "empty_ax0", lambda x: cr.sum(x, 0), lambda x: th.sum(x, 0), (0, 3))
spec("sum", "empty_ax1_keep", lambda x: cr.sum(x, 1, True), lambda x: th.sum(x, 1, True), (0, 3))
spec("mean", "empty_ax1", lambda x: cr.mean(x, 1), lambda x: th.mean(x, 1), (0, 3))
spec("amax", "empty_ax1", lambda x: cr.amax(x, 1), lambda x: th.amax(x, 1), (0, 3),
     domain="distinct")
spec("logsumexp", "empty_ax1", lambda x: cr.logsumexp(x, 1), lambda x: th.logsumexp(x, 1),
     (0, 3))
spec("prod", "zeros_all", cr.prod, th.prod, (5,), domain="zeros")
spec("prod", "zeros_ax1", lambda x: x.prod(1), lambda x: th.prod(x, 1), (3, 4), domain="zeros")
spec("prod", "zeros_ax02_keep", lambda x: x.prod((0, 2), keepdims=True),
     lambda x: _tprod(x, (0, 2), True), (2, 3, 2), domain="zeros")
spec("var", "ddof1", lambda x: cr.var(x, 1, ddof=1),
     lambda x: th.var(x, 1, correction=1), (3, 4))
spec("var", "default_unbiased", lambda x: x.var(), lambda x: x.var(), (3, 4))
spec("var", "unbiased_false_pos", lambda x: x.var(1, False), lambda x: x.var(1, False), (3, 4))
spec("var", "correction2", lambda x: x.var(0, correction=2), lambda x: x.var(0, correction=2),
     (5, 2))
spec("std", "default_unbiased", lambda x: x.std(), lambda x: x.std(), (3, 4))
spec("std", "dim_unbiased", lambda x: cr.std(x, 1, True, True),
     lambda x: th.std(x, 1, True, True), (3, 4))
spec("std", "ddof1_keep", lambda x: x.std((0, 1), ddof=1, keepdims=True),
     lambda x: th.std(x, (0, 1), unbiased=True, keepdim=True), (3, 4))
spec("logsumexp", "large", lambda x: cr.logsumexp(x * 50.0, 1),
     lambda x: th.logsumexp(x * 50.0, 1), (3, 4))
for _ax in (-1, 0, 1):
    spec("softmax", f"ax{_ax}", lambda x, a=_ax: cr.softmax(x, a),
         lambda x, a=_ax: th.softmax(x, a), (2, 3, 4))
    spec("log_softmax", f"ax{_ax}", lambda x, a=_ax: x.log_softmax(a),
         lambda x, a=_ax: th.log_softmax(x, a), (2, 3, 4))
spec("softmax", "1d", lambda x: cr.softmax(x, 0), lambda x: th.softmax(x, 0), (5,))
spec("softmax", "large", lambda x: cr.softmax(x * 100.0, dim=1),
     lambda x: th.softmax(x * 100.0, -1), (2, 5), domain="distinct")
spec("log_softmax", "1d", lambda x: cr.log_softmax(x, dim=-1), lambda x: th.log_softmax(x, -1),
     (5,))
spec("softmax", "empty_axis", lambda x: cr.softmax(x, 0), lambda x: th.softmax(x, 0), (0, 4))
spec("log_softmax", "empty_axis", lambda x: cr.log_softmax(x, 0),
     lambda x: th.log_softmax(x, 0), (0, 4))
spec("log_softmax", "empty", lambda x: cr.log_softmax(x, 1),
     lambda x: th.log_softmax(x, 1), (0, 4))
spec("cumsum", "flat", lambda x: x.flatten().cumsum(0), lambda x: th.cumsum(x.flatten(), 0),
     (2, 3, 4))
spec("cumsum", "ax0", lambda x: x.cumsum(0), lambda x: th.cumsum(x, 0), (3, 4))
spec("cumsum", "ax-1", lambda x: cr.cumsum(x, -1), lambda x: th.cumsum(x, -1), (2, 3, 4))
spec("cumsum", "1d", lambda x: cr.cumsum(x, 0), lambda x: th.cumsum(x, 0), (6,))
spec("cumsum", "empty", lambda x: cr.cumsum(x, 1), lambda x: th.cumsum(x, 1), (0, 3))
spec("sum_to", "lead", lambda x: cr.sum_to(x, (4,)), lambda x: x.sum(0), (3, 4))
spec("sum_to", "keep", lambda x: cr.sum_to(x, (2, 1, 4)),
     lambda x: x.sum(1, keepdim=True), (2, 3, 4))
spec("sum_to", "mixed", lambda x: cr.sum_to(x, (3, 1)),
     lambda x: x.sum((0, 2)).unsqueeze(-1), (2, 3, 4))

# ================================================================================================
# shape ops
# ================================================================================================
spec("reshape", "2d", lambda x: x.reshape(2, 6), lambda x: x.reshape(2, 6), (3, 4))
spec("reshape", "infer", lambda x: cr.reshape(x, (-1,)), lambda x: x.reshape(-1), (2, 3, 2))
spec("reshape", "to_0d", lambda x: x.reshape(()), lambda x: x.reshape(()), (1, 1))
spec("reshape", "from_0d", lambda x: x.reshape(1, 1, 1), lambda x: x.reshape(1, 1, 1), ())
spec("reshape", "empty", lambda x: x.reshape(3, 0), lambda x: x.reshape(3, 0), (0, 3))
spec("transpose", "02", lambda x: cr.transpose(x, 0, 2), lambda x: x.transpose(0, 2), (2, 3, 4))
spec("transpose", "method", lambda x: x.transpose(1, 0), lambda x: x.transpose(1, 0), (3, 4))
spec("transpose", "neg", lambda x: x.transpose(-1, -2), lambda x: x.transpose(-1, -2), (2, 3, 4))
spec("transpose", "same", lambda x: x.transpose(1, 1), lambda x: x.transpose(1, 1), (2, 3))
spec("transpose", "empty", lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1), (0, 3))
spec("reverse_dims", "T", lambda x: x.T, lambda x: x.T, (3, 4))
spec("reverse_dims", "fn", lambda x: cr.reverse_dims(x), lambda x: x.permute(1, 0), (3, 4))
spec("matrix_transpose", "mT", lambda x: x.mT, lambda x: x.mT, (2, 3, 4))
spec("t", "2d", lambda x: x.t(), lambda x: x.t(), (3, 4))
spec("t", "1d", lambda x: cr.t(x), lambda x: th.t(x), (4,))
spec("movedim", "", lambda x: cr.movedim(x, 0, -1), lambda x: th.movedim(x, 0, -1), (2, 3, 4))
spec("movedim", "pairs", lambda x: x.movedim((0, 1), (2, 0)),
     lambda x: x.movedim((0, 1), (2, 0)), (2, 3, 4))
spec("view", "", lambda x: x.view(4, 3), lambda x: x.view(4, 3), (3, 4))
spec("view", "infer", lambda x: cr.view(x, -1, 2), lambda x: x.view(-1, 2), (3, 4))
spec("view_as", "", lambda a: a.view_as(cr.zeros(2, 6)), lambda a: a.view_as(th.zeros(2, 6)),
     (3, 4))
spec("reshape_as", "", lambda a: a.reshape_as(cr.zeros(6, 2)),
     lambda a: a.reshape_as(th.zeros(6, 2)), (3, 4))
spec("ravel", "", lambda x: x.T.ravel(), lambda x: x.T.ravel(), (3, 4))
spec("unflatten", "", lambda x: x.unflatten(1, (2, -1)), lambda x: x.unflatten(1, (2, -1)),
     (3, 4))
spec("expand", "", lambda x: x.expand(2, 3, -1), lambda x: x.expand(2, 3, -1), (3, 1))
spec("expand", "size", lambda x: cr.expand(x, (4, 3)), lambda x: x.expand((4, 3)), (1, 3))
spec("expand_as", "", lambda a, b: a.expand_as(b) * b, lambda a, b: a.expand_as(b) * b,
     (1, 3), (2, 3))
spec("narrow", "", lambda x: x.narrow(1, 1, 2), lambda x: x.narrow(1, 1, 2), (3, 4))
spec("narrow", "neg_start", lambda x: cr.narrow(x, 0, -2, 2), lambda x: th.narrow(x, 0, -2, 2),
     (3, 4))
spec("select", "", lambda x: x.select(1, 2), lambda x: x.select(1, 2), (3, 4))
spec("select", "neg", lambda x: cr.select(x, -1, -1), lambda x: th.select(x, -1, -1), (3, 4))
spec("clone", "", lambda x: x.clone() * 2.0, lambda x: x.clone() * 2.0, (3, 4))
spec("contiguous", "", lambda x: x.T.contiguous(), lambda x: x.T.contiguous(), (3, 4))
spec("permute", "", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), (2, 3, 4))
spec("permute", "neg", lambda x: cr.permute(x, (-1, 0, 1)), lambda x: x.permute(-1, 0, 1),
     (2, 3, 4))
spec("swapaxes", "", lambda x: cr.swapaxes(x, 0, 2), lambda x: x.transpose(0, 2), (2, 3, 4))
spec("swapaxes", "neg", lambda x: x.swapaxes(-1, -2), lambda x: x.transpose(-1, -2), (2, 3, 4))
spec("squeeze", "all", lambda x: cr.squeeze(x), lambda x: x.squeeze(), (1, 3, 1, 2))
spec("squeeze", "axis", lambda x: x.squeeze(2), lambda x: x.squeeze(2), (1, 3, 1, 2))
spec("squeeze", "tuple", lambda x: x.squeeze((0, 2)), lambda x: x.squeeze((0, 2)), (1, 3, 1, 2))
spec("squeeze", "not_one", lambda x: x.squeeze(1), lambda x: x.squeeze(1), (1, 3, 1, 2))
spec("unsqueeze", "", lambda x: cr.unsqueeze(x, 1), lambda x: x.unsqueeze(1), (3, 4))
spec("unsqueeze", "0d", lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), ())
spec("expand_dims", "", lambda x: cr.expand_dims(x, -1), lambda x: x.unsqueeze(-1), (3, 4))
spec("broadcast_to", "", lambda x: cr.broadcast_to(x, (2, 3, 4)),
     lambda x: th.broadcast_to(x, (2, 3, 4)), (3, 1))
spec("broadcast_to", "0d", lambda x: x.broadcast_to((2, 3)), lambda x: x.broadcast_to((2, 3)), ())
spec("broadcast_to", "empty", lambda x: cr.broadcast_to(x, (0, 3)),
     lambda x: th.broadcast_to(x, (0, 3)), (3,))
spec("flatten", "all", lambda x: cr.flatten(x), lambda x: th.flatten(x), (2, 3, 4))
spec("flatten", "middle", lambda x: x.flatten(1, 2), lambda x: x.flatten(1, 2), (2, 3, 4, 2))
spec("flatten", "0d", lambda x: x.flatten(), lambda x: x.flatten(), ())
spec("concatenate", "ax0", lambda a, b, c: cr.concatenate([a, b, c]),
     lambda a, b, c: th.cat([a, b, c]), (2, 3), (1, 3), (3, 3))
spec("concatenate", "ax1", lambda a, b: cr.concatenate((a, b), axis=1),
     lambda a, b: th.cat((a, b), 1), (2, 3), (2, 1))
spec("concatenate", "ax-1", lambda a, b: cr.concatenate([a, b], axis=-1),
     lambda a, b: th.cat([a, b], -1), (2, 2, 3), (2, 2, 2))
spec("concatenate", "empty", lambda a, b: cr.concatenate([a, b]),
     lambda a, b: th.cat([a, b]), (0, 3), (2, 3))
spec("concatenate", "self", lambda a: cr.concatenate([a, a * 2.0], axis=1),
     lambda a: th.cat([a, a * 2.0], 1), (2, 3))
spec("stack", "ax0", lambda a, b: cr.stack([a, b]), lambda a, b: th.stack([a, b]), (2, 3), (2, 3))
spec("stack", "ax-1", lambda a, b, c: cr.stack([a, b, c], axis=-1),
     lambda a, b, c: th.stack([a, b, c], -1), (2, 3), (2, 3), (2, 3))
spec("stack", "0d", lambda a, b: cr.stack([a, b]), lambda a, b: th.stack([a, b]), (), ())
spec("split", "size", lambda x: cr.split(x, 2, dim=1), lambda x: th.split(x, 2, 1), (2, 6))
spec("split", "uneven", lambda x: x.split(2), lambda x: x.split(2), (5, 2))
spec("split", "sizes", lambda x: x.split([1, 4]), lambda x: x.split([1, 4]), (5, 2))
spec("split", "partial_use", lambda x: cr.split(x, 2)[1] * 3.0,
     lambda x: th.split(x, 2)[1] * 3.0, (4, 3))
spec("chunk", "", lambda x: x.chunk(3, 1), lambda x: x.chunk(3, 1), (2, 6))
spec("chunk", "uneven", lambda x: cr.chunk(x, 3), lambda x: th.chunk(x, 3), (5, 2))
spec("chunk", "fewer", lambda x: cr.chunk(x, 4, dim=0), lambda x: th.chunk(x, 4, 0), (6, 2))
spec("tensor_split", "sections", lambda x: cr.tensor_split(x, 3, dim=1),
     lambda x: _tsplit(x, 3, 1), (2, 7))
spec("tensor_split", "indices", lambda x: x.tensor_split([1, 3]),
     lambda x: _tsplit(x, [1, 3], 0), (5, 2))
spec("unbind", "", lambda x: x.unbind(1), lambda x: x.unbind(1), (2, 3))
spec("unbind", "partial", lambda x: cr.unbind(x)[2] * 2.0, lambda x: th.unbind(x)[2] * 2.0,
     (3, 2))
spec("pad", "int", lambda x: cr.ops.join.pad(x, 1), lambda x: _tpad(x, [(1, 1), (1, 1)]), (2, 3))
spec("pad", "pairs", lambda x: cr.ops.join.pad(x, ((1, 0), (0, 2)), value=0.5),
     lambda x: thF.pad(x, (0, 2, 1, 0), value=0.5), (2, 3))
spec("flip", "all", lambda x: cr.flip(x), lambda x: th.flip(x, (0, 1)), (3, 4))
spec("flip", "ax1", lambda x: x.flip(1), lambda x: th.flip(x, (1,)), (3, 4))
spec("flip", "tuple", lambda x: cr.flip(x, (0, 2)), lambda x: th.flip(x, (0, 2)), (2, 3, 4))
spec("repeat_interleave", "dim", lambda x: cr.repeat_interleave(x, 2, dim=1),
     lambda x: th.repeat_interleave(x, 2, dim=1), (2, 3))
spec("repeat_interleave", "none", lambda x: x.repeat_interleave(3),
     lambda x: th.repeat_interleave(x, 3), (2, 2))
spec("repeat_interleave", "counts", lambda x: cr.repeat_interleave(x, cr.tensor([1, 0, 3]), 0),
     lambda x: th.repeat_interleave(x, th.tensor([1, 0, 3]), dim=0), (3, 2))
spec("repeat_interleave", "0d", lambda x: cr.repeat_interleave(x, 2),
     lambda x: th.repeat_interleave(x, 2), ())
spec("repeat", "tile", lambda x: x.repeat(2, 1), lambda x: x.repeat(2, 1), (2, 3))
spec("repeat", "more_dims", lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), (2, 3))
spec("repeat", "ones", lambda x: x.repeat(1, 1) * 2.0, lambda x: x.repeat(1, 1) * 2.0, (2, 3))
spec("roll", "", lambda x: x.roll(1, 0), lambda x: x.roll(1, 0), (3, 4))
spec("roll", "flat", lambda x: cr.roll(x, -2), lambda x: th.roll(x, -2), (3, 4))
spec("roll", "multi", lambda x: x.roll((1, -1), (0, 1)), lambda x: x.roll((1, -1), (0, 1)),
     (3, 4))
spec("fliplr", "", cr.fliplr, th.fliplr, (3, 4))
spec("flipud", "", lambda x: x.flipud(), lambda x: x.flipud(), (3, 4))
spec("cat", "", lambda a, b: cr.cat([a, b], 1), lambda a, b: th.cat([a, b], 1), (2, 3), (2, 1))
spec("cat", "dim_kw", lambda a, b: cr.cat((a, b), dim=-1), lambda a, b: th.cat((a, b), dim=-1),
     (2, 3), (2, 2))
spec("cat", "legacy_empty", lambda a: cr.cat([cr.tensor([], dtype=cr.float64), a]),
     lambda a: th.cat([a.new_zeros(0), a]), (2, 3))
spec("hstack", "", lambda a, b: cr.hstack([a, b]), lambda a, b: th.hstack([a, b]), (2, 3), (2, 1))
spec("vstack", "", lambda a, b: cr.vstack([a, b]), lambda a, b: th.vstack([a, b]), (3,), (2, 3))
spec("dstack", "", lambda a, b: cr.dstack([a, b]), lambda a, b: th.dstack([a, b]), (2, 3), (2, 3))
spec("dstack", "1d", lambda a, b: cr.dstack([a, b]), lambda a, b: th.dstack([a, b]), (3,), (3,))
spec("tile", "1", lambda x: cr.tile(x, 2), lambda x: th.tile(x, (2,)), (2, 3))
spec("tile", "2d", lambda x: x.tile((2, 3)), lambda x: th.tile(x, (2, 3)), (2, 3))
spec("tile", "more_dims", lambda x: cr.tile(x, (2, 1, 2)), lambda x: th.tile(x, (2, 1, 2)),
     (2, 3))

# indexing and slicing (getitem); negative steps are refused, as in PyTorch
spec("getitem", "slice", lambda x: x[1:3], lambda x: x[1:3], (4, 3))
spec("getitem", "slice2", lambda x: x[:, 1:], lambda x: x[:, 1:], (4, 3))
spec("getitem", "int", lambda x: x[1], lambda x: x[1], (4, 3))
spec("getitem", "int_neg", lambda x: x[-1, 2], lambda x: x[-1, 2], (4, 3))
spec("getitem", "step", lambda x: x[::2, 1:], lambda x: x[::2, 1:], (4, 3))
spec("getitem", "ellipsis", lambda x: x[..., 0], lambda x: x[..., 0], (2, 3, 4))
spec("getitem", "newaxis", lambda x: x[None, :, 1:], lambda x: x[None, :, 1:], (3, 4))
spec("getitem", "int_array_repeated", lambda x: x[REP_IDX], lambda x: x[REP_IDX], (3, 4))
spec("getitem", "int_array_cols", lambda x: x[:, [3, 0, 3]], lambda x: x[:, [3, 0, 3]], (3, 4))
spec("getitem", "int_array_pairs", lambda x: x[PAIR_ROWS, PAIR_COLS],
     lambda x: x[PAIR_ROWS, PAIR_COLS], (3, 4))
spec("getitem", "int_array_2d", lambda x: x[IDX_2D], lambda x: x[th.as_tensor(IDX_2D)], (3, 4))
spec("getitem", "tensor_index", lambda x: x[cr.tensor(REP_IDX)],
     lambda x: x[th.tensor(REP_IDX)], (3, 4))
spec("getitem", "bool_mask", lambda x: x[MASK_34], lambda x: x[th.as_tensor(MASK_34)], (3, 4))
spec("getitem", "bool_rows", lambda x: x[MASK_ROWS], lambda x: x[th.as_tensor(MASK_ROWS)],
     (3, 4))
spec("getitem", "bool_tensor", lambda x: x[x > 0.0], lambda x: x[x > 0.0], (3, 4),
     domain="distinct")
spec("getitem", "mixed", lambda x: x[1:, [0, 0, 2]], lambda x: x[1:, [0, 0, 2]], (3, 4))
spec("getitem", "empty_list", lambda x: x[[]], lambda x: x[[]], (3, 4))
spec("getitem", "empty_result", lambda x: x[2:2], lambda x: x[2:2], (4, 3))
spec("getitem", "iterate", lambda x: cr.stack(list(x)) * 2.0,
     lambda x: th.stack(list(x)) * 2.0, (3, 2))

# ================================================================================================
# linear algebra
# ================================================================================================
_MATMUL = [("2d", (3, 4), (4, 2)), ("batched", (2, 3, 4), (2, 4, 5)),
           ("bcast_batch", (2, 1, 3, 4), (3, 4, 2)), ("batched_2d", (2, 3, 4), (4, 2)),
           ("2d_batched", (3, 4), (2, 4, 2)), ("1d_left", (4,), (4, 2)),
           ("1d_right", (3, 4), (4,)), ("1d_1d", (4,), (4,)), ("1d_batched", (4,), (2, 4, 3)),
           ("batched_1d", (2, 3, 4), (4,)), ("empty_rows", (0, 3), (3, 2)),
           ("empty_inner", (2, 0), (0, 3)), ("stack_2d", (2, 2, 3, 4), (4, 2)),
           ("empty_stack", (0, 3, 4), (4, 2))]
for _case, _sa, _sb in _MATMUL:
    spec("matmul", _case, lambda a, b: a @ b, lambda a, b: a @ b, _sa, _sb)
spec("matmul", "fn", cr.matmul, th.matmul, (2, 3), (3, 2))
spec("matmul", "self", lambda a: a @ a.T, lambda a: a @ a.T, (3, 4))
spec("matmul", "chain", lambda a, b: (a @ b).tanh() @ b.T,
     lambda a, b: (a @ b).tanh() @ b.T, (2, 3), (3, 4))

_EINSUM = [("matrix", "ij,jk->ik", [(3, 4), (4, 2)]),
           ("batched", "bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
           ("trace", "ii->", [(3, 3)]),
           ("diagonal", "ii->i", [(3, 3)]),
           ("outer", "i,j->ij", [(3,), (4,)]),
           ("ellipsis", "...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
           ("ellipsis_bcast", "...ij,...jk->...ik", [(1, 3, 4), (2, 4, 2)]),
           ("implicit_matrix", "ij,jk", [(3, 4), (4, 2)]),
           ("implicit_transpose", "ji", [(3, 4)]),
           ("implicit_trace", "ii", [(3, 3)]),
           ("sum_all", "ij->", [(3, 4)]),
           ("dot", "i,i->", [(4,), (4,)]),
           ("bilinear", "i,ij,j->", [(3,), (3, 4), (4,)]),
           ("three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
           ("diag_mul", "ii,i->i", [(3, 3), (3,)]),
           ("broadcast_mul", "ij,ij->ij", [(2, 3), (2, 3)])]
for _case, _sub, _shapes in _EINSUM:
    spec("einsum", _case, lambda *xs, s=_sub: cr.einsum(s, *xs),
         lambda *xs, s=_sub: th.einsum(s, *xs), *_shapes)


# ================================================================================================
# PyTorch's other elementwise functions, reductions and selections
# ================================================================================================
for _name, _dom in [("floor", "distinct"), ("ceil", "distinct"), ("trunc", "distinct"),
                    ("round", "distinct"), ("sign", "distinct"), ("expm1", "real"),
                    ("exp2", "real"), ("log2", "positive"), ("log10", "positive"),
                    ("tan", "real"), ("square", "real"), ("rsqrt", "positive"),
                    ("reciprocal", "nonzero")]:
    spec(_name, "", getattr(cr, _name), lambda x, n=_name: getattr(th, n)(x), (3, 4),
         domain=_dom)
spec("fix", "", cr.fix, th.fix, (3, 4), domain="distinct")
spec("absolute", "", cr.absolute, th.absolute, (3, 4), domain="distinct")
spec("negative", "", cr.negative, th.negative, (3, 4))
spec("round", "decimals", lambda x: cr.round(x * 10.0, decimals=1),
     lambda x: th.round(x * 10.0, decimals=1), (3, 4), domain="distinct")
spec("div", "floor", lambda a, b: cr.div(a, b, rounding_mode="floor"),
     lambda a, b: th.div(a, b, rounding_mode="floor"), (3, 4), (3, 4),
     domain=("distinct", "nonzero"))
spec("div", "trunc", lambda a, b: a.div(b, rounding_mode="trunc"),
     lambda a, b: a.div(b, rounding_mode="trunc"), (3, 4), (4,),
     domain=("distinct", "nonzero"))
spec("remainder", "", lambda a, b: a % b, lambda a, b: a % b, (3, 4), (3, 4),
     domain=("real", "nonzero"))
spec("remainder", "scalar", lambda a: cr.remainder(a, 0.7), lambda a: th.remainder(a, 0.7),
     (3, 4))
spec("fmod", "", cr.fmod, th.fmod, (3, 4), (4,), domain=("real", "nonzero"))
spec("float_power", "", lambda a: cr.float_power(a, 2.5), lambda a: th.float_power(a, 2.5),
     (3,), domain="positive")
spec("lerp", "", cr.lerp, th.lerp, (3, 4), (3, 4), (4,))
spec("lerp", "scalar_weight", lambda a, b: a.lerp(b, 0.3), lambda a, b: a.lerp(b, 0.3),
     (3, 4), (3, 4))
spec("addcmul", "", lambda a, b, c: cr.addcmul(a, b, c, value=0.5),
     lambda a, b, c: th.addcmul(a, b, c, value=0.5), (3, 4), (3, 4), (4,))
spec("addcdiv", "", lambda a, b, c: a.addcdiv(b, c, value=2.0),
     lambda a, b, c: a.addcdiv(b, c, value=2.0), (3, 4), (3, 4), (3, 4),
     domain=("real", "real", "nonzero"))
spec("clamp", "tensors", lambda x, lo, hi: cr.clamp(x, lo, hi + 1.0),
     lambda x, lo, hi: th.clamp(x, lo, hi + 1.0), (3, 4), (4,), (3, 4), domain="distinct")
spec("clamp", "min_gt_max", lambda x: cr.clamp(x, 0.55, -0.55),
     lambda x: th.clamp(x, 0.55, -0.55), (3, 4), domain="distinct")
spec("clamp_min", "", lambda x: x.clamp_min(0.05), lambda x: x.clamp_min(0.05), (3, 4),
     domain="distinct")
spec("clamp_max", "", lambda x: cr.clamp_max(x, 0.05), lambda x: th.clamp_max(x, 0.05), (3, 4),
     domain="distinct")
spec("divide", "", cr.divide, th.divide, (3, 4), (4,), domain=("real", "nonzero"))
spec("multiply", "", cr.multiply, th.multiply, (3, 4), (4,))
spec("subtract", "alpha", lambda a, b: cr.subtract(a, b, alpha=2.0),
     lambda a, b: th.subtract(a, b, alpha=2.0), (3, 4), (4,))
spec("add", "alpha", lambda a, b: a.add(b, alpha=0.5), lambda a, b: a.add(b, alpha=0.5),
     (3, 4), (4,))
spec("true_divide", "", cr.true_divide, th.true_divide, (3, 4), (4,),
     domain=("real", "nonzero"))
spec("clip", "method_bounds", lambda x: x.clip(-0.5, 0.5), lambda x: x.clip(-0.5, 0.5), (3, 4),
     domain="distinct")
spec("clamp", "method", lambda x: x.clamp(min=-0.5), lambda x: x.clamp(min=-0.5), (3, 4),
     domain="distinct")
spec("gelu", "tanh", lambda x: cr.gelu(x, approximate="tanh"),
     lambda x: thF.gelu(x, approximate="tanh"), (3, 4))

spec("cumprod", "", lambda x: x.cumprod(1), lambda x: x.cumprod(1), (3, 4), domain="nonzero")
spec("cumprod", "zeros", lambda x: cr.cumprod(x, 0), lambda x: th.cumprod(x, 0), (4, 3),
     domain="zeros")
spec("nansum", "", lambda x: x.nansum(1), lambda x: x.nansum(1), (3, 4))
spec("nanmean", "", lambda x: cr.nanmean(x, 0, True), lambda x: th.nanmean(x, 0, True), (3, 4))
spec("var_mean", "", lambda x: cr.var_mean(x, 1), lambda x: th.var_mean(x, 1), (3, 4))
spec("std_mean", "", lambda x: cr.std_mean(x, 0, keepdim=True),
     lambda x: th.std_mean(x, 0, keepdim=True), (3, 4))
spec("sum_to_size", "", lambda x: x.sum_to_size(1, 4), lambda x: x.sum_to_size(1, 4), (3, 4))
spec("sum", "dtype", lambda x: cr.sum(x, 1, dtype=cr.float64),
     lambda x: th.sum(x, 1, dtype=x.dtype), (3, 4))
spec("mean", "dim_list", lambda x: x.mean([0, 2]), lambda x: x.mean([0, 2]), (2, 3, 4))

spec("max", "dim", lambda x: x.max(1).values, lambda x: x.max(1).values, (3, 4),
     domain="distinct")
spec("max", "dim_keep", lambda x: cr.max(x, 0, keepdim=True)[0],
     lambda x: th.max(x, 0, keepdim=True)[0], (3, 4), domain="distinct")
spec("max", "binary", lambda a, b: cr.max(a, b), lambda a, b: th.max(a, b), (3, 4), (4,),
     domain="distinct")
spec("min", "dim", lambda x: x.min(-1)[0], lambda x: x.min(-1)[0], (3, 4), domain="distinct")
spec("median", "all", lambda x: x.median(), lambda x: x.median(), (3, 5), domain="distinct")
spec("median", "dim", lambda x: cr.median(x, 1).values, lambda x: th.median(x, 1).values,
     (3, 4), domain="distinct")
spec("kthvalue", "", lambda x: x.kthvalue(2, 1).values, lambda x: x.kthvalue(2, 1).values,
     (3, 4), domain="distinct")
spec("sort", "", lambda x: x.sort(1).values, lambda x: x.sort(1).values, (3, 4),
     domain="distinct")
spec("sort", "descending", lambda x: cr.sort(x, 0, descending=True)[0],
     lambda x: th.sort(x, 0, descending=True)[0], (3, 4), domain="distinct")
spec("msort", "", cr.msort, th.msort, (3, 4), domain="distinct")
spec("topk", "", lambda x: x.topk(2).values, lambda x: x.topk(2).values, (3, 4),
     domain="distinct")
spec("topk", "smallest_dim0", lambda x: cr.topk(x, 2, 0, largest=False)[0],
     lambda x: th.topk(x, 2, 0, largest=False)[0], (3, 4), domain="distinct")
spec("gather", "", lambda x: x.gather(1, cr.tensor(IDX_2D)),
     lambda x: x.gather(1, th.as_tensor(IDX_2D)), (2, 3))
spec("gather", "dim0_repeats", lambda x: cr.gather(x, 0, cr.tensor([[0, 1, 0], [0, 0, 1]])),
     lambda x: th.gather(x, 0, th.tensor([[0, 1, 0], [0, 0, 1]])), (2, 3))
spec("take_along_dim", "", lambda x: cr.take_along_dim(x, cr.tensor(IDX_2D), 1),
     lambda x: th.take_along_dim(x, th.as_tensor(IDX_2D), 1), (2, 3))

spec("mm", "", cr.mm, th.mm, (3, 4), (4, 2))
spec("bmm", "", lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), (2, 3, 4), (2, 4, 2))
spec("mv", "", cr.mv, th.mv, (3, 4), (4,))
spec("dot", "", lambda a, b: a.dot(b), lambda a, b: a.dot(b), (4,), (4,))
spec("outer", "", cr.outer, th.outer, (3,), (4,))
spec("ger", "", cr.ger, th.outer, (3,), (2,))
spec("swapdims", "", lambda x: cr.swapdims(x, 0, 1), lambda x: th.swapdims(x, 0, 1), (3, 4))
spec("moveaxis", "", lambda x: cr.moveaxis(x, 1, 0), lambda x: th.moveaxis(x, 1, 0), (3, 4))
spec("concat", "", lambda a, b: cr.concat([a, b]), lambda a, b: th.concat([a, b]), (2, 3), (1, 3))
spec("row_stack", "", lambda a, b: cr.row_stack([a, b]), lambda a, b: th.vstack([a, b]),
     (3,), (3,))

# ops that take or give no gradient; the coverage check leaves them out
NOT_DIFFERENTIABLE = {"argmax", "argmin", "argsort", "all", "any", "count_nonzero",
                      "floor_divide", "argwhere", "nonzero", "unique", "unique_consecutive"}


def seed_of(s: OpSpec) -> int:
    """A fixed seed per spec, so each test draws the same inputs on every run."""
    return zlib.crc32(s.name.encode())


from . import (  # noqa: E402,F401  (each registers its rows into SPECS)
    specs_activation,  # the activation_more rows
    specs_conv3d,  # the 3-D conv and pooling rows
    specs_math,  # the math and indexing rows
    specs_more,  # the breadth rows: math_more, linalg_more, search, counting, shape_more
    specs_runtime,  # pdist (chainrule/functional_top.py)
)
