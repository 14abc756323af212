"""Version counters and the saved-tensor check: PyTorch's guard against in-place changes of
tensors an op saved for its backward.

Each storage has one counter, shared by a tensor, its views and .detach(); every in-place change
bumps it. An op records the in-place clock when it saves tensors; at backward, a saved tensor
whose storage changed since is refused with PyTorch's message, naming the op and both versions.
"""

from __future__ import annotations

from typing import Any

from chainrule.dtypes import type_name


class _Version:
    """The in-place version counter of one storage, shared by a tensor and its views.

    `clock` counts in-place changes process-wide; an op records the clock when it saves tensors
    for backward, and a tensor whose last change (`t`) is later was changed since. `hist` keeps
    the clocks of recent changes, to report the version the op saw."""

    __slots__ = ("v", "t", "hist")
    clock = 0

    def __init__(self) -> None:
        self.v = 0
        self.t = 0
        self.hist: list[int] = []

    def bump(self) -> None:
        _Version.clock += 1
        self.v += 1
        self.t = _Version.clock
        h = self.hist
        h.append(self.t)
        if len(h) > 64:
            del h[:32]

    def version_at(self, clock: int) -> int | None:
        """The version this storage had at `clock` (None if that is too long ago to know)."""
        later = sum(1 for t in self.hist if t > clock)
        if later == len(self.hist) and len(self.hist) < self.v:
            return None
        return self.v - later


def saved_tensors_of(f: Any) -> list[tuple[Any, str]]:
    """The tensors f's backward reads, with a description of each ("input 1", "output 0")."""
    spec = f.saves
    tokens = ("inputs", "out") if spec is None else spec.split()
    n = f.needs_input_grad
    out = []
    for tok in tokens:
        if tok == "inputs":
            out += [(x, f"input {i}") for i, x in enumerate(f.inputs)]
        elif tok == "out":
            out += [(y, f"output {k}") for k, y in enumerate(f.outputs) if y is not None]
        elif tok == "cross":
            out += [(x, f"input {i}") for i, x in enumerate(f.inputs[:2]) if n[1 - i]]
        else:
            out.append((f.inputs[int(tok)], f"input {tok}"))
    return out


def check_saved(f: Any) -> None:
    """Refuse to run f's backward when a tensor it saved was changed in place since (PyTorch's
    version counter check)."""
    for x, what in saved_tensors_of(f):
        vc = x._vc
        if vc is not None and vc.t > f._t:
            raise version_error(x, f, vc, what)


def version_error(x: Any, f: Any, vc: _Version, what: str) -> RuntimeError:
    then = vc.version_at(f._t)
    expected = "an earlier version" if then is None else f"version {then}"
    made = f", which is output 0 of {x.creator.name}," if x.creator is not None else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [chainrule.{type_name(x.array.dtype)} {list(x.array.shape)}]{made} is at "
        f"version {vc.v}; expected {expected} instead. It is {what} of {f.name}, saved for its "
        "backward. Hint: do the in-place change after backward(), or on a copy (x = x.clone() "
        "or x = x + ... instead of x += ...); an optimizer step or an nn.init call between the "
        "forward pass and backward() is the usual cause.")
