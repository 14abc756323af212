"""The comparison behind the idiom tables (test_idioms.py, test_math_idioms.py): each row is one
PyTorch idiom written once as a function of the module `t` (torch or chainrule), run on both with
the same inputs and compared with torch as the oracle:

- the outputs: the same structure (tensor, tuple, list, Size, dtype, Python number, str), and
  for tensors the same shape, dtype, values and requires_grad, and the same identity (an in-place
  op returns its own input) and version counter when it is an input;
- the inputs after the call (in-place ops and writes through views change their values and
  versions);
- for float inputs, the gradients of a random-weighted sum of the outputs w.r.t. every input;
- an error exactly where torch raises one, at the same moment (the call or the backward), of the
  same family (RuntimeError / ValueError / IndexError / TypeError).

Each row also says whether torch raises (`raises=True`); that keeps the table itself honest.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import chainrule as cr

# torch reports an integer division by zero as RuntimeError("ZeroDivisionError")
FAMILY = (RuntimeError, ValueError, IndexError, TypeError, ZeroDivisionError)
TOL = {  # values, gradients: (rtol, atol)
    "float16": ((2e-3, 2e-3), (2e-3, 2e-3)),
    "float32": ((1e-5, 1e-5), (1e-4, 1e-5)),
    "float64": ((1e-10, 1e-12), (1e-9, 1e-12)),
}


@dataclass
class Idiom:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple
    grad: bool
    raises: bool


@dataclass
class Table:
    """The rows of one table; `row` adds one, with the table's default input dtype."""

    dtype: str = "float32"
    rows: list[Idiom] = field(default_factory=list)

    def row(self, id: str, fn: Callable[..., Any], *inputs: Any,  # noqa: A002
            dtype: Any = None, grad: bool = True, raises: bool = False) -> None:
        """One idiom. dtype: one name for all inputs or a tuple of names, one per input; "raw"
        passes the input itself (a NumPy array, a list) instead of a tensor. grad=False: no
        input requires grad (needed for in-place ops on leaves)."""
        dtype = self.dtype if dtype is None else dtype
        dtypes = dtype if isinstance(dtype, tuple) else (dtype,) * len(inputs)
        assert len(dtypes) == len(inputs), id
        self.rows.append(Idiom(id, fn, inputs, dtypes, grad, raises))

    def ids(self) -> list[str]:
        return [r.id for r in self.rows]


@dataclass
class Outcome:
    error: BaseException | None = None
    phase: str = ""
    outputs: Any = None
    inputs_after: list | None = None
    grads: list | None = None


def _dtype_name(d: Any) -> str:
    return str(d).rsplit(".", 1)[-1]


def _make_inputs(mod: Any, idiom: Idiom) -> list:
    out = []
    for x, name in zip(idiom.inputs, idiom.dtypes):
        if name == "raw":
            out.append(np.array(x, copy=True))
            continue
        floating = name.startswith("float")
        req = idiom.grad and floating and name != "float16"
        out.append(mod.tensor(np.array(x), dtype=getattr(mod, name), requires_grad=req))
    return out


def _snap(mod: Any, obj: Any, inputs: list | None) -> Any:
    """A library-neutral picture of a result, for comparison. inputs: the call's inputs (to
    recognise one returned), or None for a snapshot of an input itself."""
    if isinstance(obj, mod.Tensor):
        same = None if inputs is None else next(
            (k for k, x in enumerate(inputs) if x is obj), None)
        # the version of a new tensor is an implementation detail (torch's one_hot gives 2);
        # that of an input (changed in place, or returned) is not
        version = obj._version if inputs is None or same is not None else None
        return ("tensor", tuple(obj.shape), _dtype_name(obj.dtype),
                np.array(obj.detach().numpy(), copy=True), bool(obj.requires_grad), same,
                version)
    if isinstance(obj, mod.Size):
        return ("Size", tuple(int(s) for s in obj))
    if isinstance(obj, mod.dtype):
        return ("dtype", _dtype_name(obj))
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.name, obj.copy())
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return (kind, [_snap(mod, o, inputs) for o in obj])
    if obj is None or type(obj) in (bool, int, float, str):
        return (type(obj).__name__, obj)
    return ("other", type(obj).__name__, repr(obj))


def _tensors_needing_grad(mod: Any, obj: Any) -> list:
    if isinstance(obj, mod.Tensor):
        return [obj] if obj.requires_grad else []
    if isinstance(obj, (list, tuple)):
        return [y for o in obj for y in _tensors_needing_grad(mod, o)]
    return []


def run(mod: Any, idiom: Idiom) -> Outcome:
    xs = _make_inputs(mod, idiom)
    try:
        out = idiom.fn(mod, *xs)
        res = Outcome(outputs=_snap(mod, out, xs))
    except Exception as e:  # noqa: BLE001  (compared with torch's outcome)
        return Outcome(error=e, phase="call")
    tensors = [x for x in xs if isinstance(x, mod.Tensor)]
    res.inputs_after = [_snap(mod, x, None) for x in tensors]
    leaves = [x for x in tensors if x.requires_grad]
    ys = _tensors_needing_grad(mod, out)
    if not leaves or not ys:
        return res
    rng = np.random.default_rng(zlib.crc32(idiom.id.encode()))
    ws = [mod.tensor(rng.standard_normal(tuple(y.shape)), dtype=y.dtype) for y in ys]
    try:
        gs = mod.autograd.grad(ys, leaves, grad_outputs=ws, allow_unused=True)
    except Exception as e:  # noqa: BLE001
        res.error, res.phase = e, "backward"
        return res
    res.grads = [(np.zeros(tuple(x.shape)) if g is None else g.detach().numpy().copy(),
                  None if g is None else _dtype_name(g.dtype)) for g, x in zip(gs, leaves)]
    return res


def _assert_same(got: Any, ref: Any, where: str) -> None:
    assert got[0] == ref[0], f"{where}: chainrule gives a {got[0]}, torch a {ref[0]}" \
        f" (chainrule {got[1:]!r:.200}, torch {ref[1:]!r:.200})"
    kind = ref[0]
    if kind in ("list", "tuple"):
        assert len(got[1]) == len(ref[1]), \
            f"{where}: chainrule gives {len(got[1])} items, torch {len(ref[1])}"
        for k, (g, r) in enumerate(zip(got[1], ref[1])):
            _assert_same(g, r, f"{where}[{k}]")
    elif kind == "tensor":
        _, shape, dt, vals, req, same, version = ref
        _, gshape, gdt, gvals, greq, gsame, gversion = got
        assert gshape == shape, f"{where}: shape {gshape}, torch {shape}"
        assert gdt == dt, f"{where}: dtype {gdt}, torch {dt}"
        assert greq == req, f"{where}: requires_grad {greq}, torch {req}"
        assert gsame == same, f"{where}: chainrule returns input {gsame} itself, torch {same}" \
            " (None: a new tensor)"
        assert gversion == version, f"{where}: version counter {gversion}, torch {version}"
        _assert_values(gvals, vals, dt, where)
    elif kind == "ndarray":
        assert got[1] == ref[1], f"{where}: ndarray dtype {got[1]}, torch {ref[1]}"
        _assert_values(got[2], ref[2], ref[1], where)
    elif kind == "float":
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-6, atol=1e-7, err_msg=where)
    else:
        assert got == ref, f"{where}: chainrule {got!r}, torch {ref!r}"


def _assert_values(got: np.ndarray, ref: np.ndarray, dtype: str, where: str) -> None:
    if dtype in TOL:
        rtol, atol = TOL[dtype][0]
        np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(got, ref, err_msg=where)


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e)[:300]}"


def check(torch: Any, idiom: Idiom) -> None:
    """Run the idiom on torch and on chainrule and assert the same outcome."""
    ref = run(torch, idiom)
    assert (ref.error is not None) == idiom.raises, \
        f"table error: row says raises={idiom.raises}, torch gives " \
        f"{_describe(ref.error) if ref.error else 'no error'}"
    got = run(cr, idiom)
    if ref.error is not None:
        assert got.error is not None, \
            f"torch raises at {ref.phase} ({_describe(ref.error)}); chainrule does not"
        assert got.phase == ref.phase, \
            f"torch raises at {ref.phase}, chainrule at {got.phase}: {_describe(got.error)}"
        assert isinstance(got.error, FAMILY), \
            f"chainrule raises {_describe(got.error)}; torch {_describe(ref.error)}"
        if ref.phase == "call":
            return
    elif got.error is not None:
        raise AssertionError(f"chainrule raises at {got.phase}, torch does not: "
                             f"{_describe(got.error)}") from got.error
    _assert_same(got.outputs, ref.outputs, "output")
    for k, (g, r) in enumerate(zip(got.inputs_after, ref.inputs_after)):
        _assert_same(g, r, f"input {k} after the call")
    if ref.grads is None:
        return
    assert got.grads is not None, "torch computes gradients; chainrule has no output needing one"
    # a gradient is as precise as the least precise input it went through
    coarsest = max((TOL[d][1] for d in idiom.dtypes if d in TOL), default=TOL["float32"][1])
    for k, ((g, gdt), (r, rdt)) in enumerate(zip(got.grads, ref.grads)):
        assert g.shape == r.shape, f"gradient {k}: shape {g.shape}, torch {r.shape}"
        if rdt is not None and gdt is not None:
            assert gdt == rdt, f"gradient {k}: dtype {gdt}, torch {rdt}"
        rtol, atol = max(TOL.get(rdt or "float32", TOL["float32"])[1], coarsest)
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"gradient {k}")
