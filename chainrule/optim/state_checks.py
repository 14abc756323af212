"""Checks of saved optimizer and scheduler state before it is loaded: a malformed state dict
(from an edited or damaged checkpoint, or the wrong object) raises ValueError naming the field
at load_state_dict, rather than a KeyError or TypeError at the first step()."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule.backend import xp_of


def checked_layout(state_dict: Any, name: str) -> tuple[list[dict], dict[int, dict]]:
    """An optimizer state_dict's param_groups and state (keys as ints), checked for the
    layout that Optimizer.state_dict() makes; ValueError naming the first field that is not."""
    who = f"{name}.load_state_dict"
    if not isinstance(state_dict, dict):
        raise ValueError(f"{who}: expected the dict that state_dict() returns, got "
                         f"{type(state_dict).__name__}")
    for field, kind in (("param_groups", list), ("state", dict)):
        if not isinstance(state_dict.get(field), kind):
            got = type(state_dict[field]).__name__ if field in state_dict else "missing"
            raise ValueError(f"{who}: field '{field}' must be a {kind.__name__} ({got}); "
                             "pass what optimizer.state_dict() returned")
    groups, seen = state_dict["param_groups"], set()
    for k, g in enumerate(groups):
        if not isinstance(g, dict) or not isinstance(g.get("params"), (list, tuple)):
            raise ValueError(f"{who}: param_groups[{k}] must be a dict with a 'params' list")
        for i in g["params"]:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or i in seen:
                raise ValueError(f"{who}: param_groups[{k}]['params'] holds {i!r}: parameter "
                                 "indices are distinct integers")
            seen.add(i)
    state = {}
    for i, s in state_dict["state"].items():
        try:
            j = None if isinstance(i, (bool, float)) else int(i)
        except (TypeError, ValueError):
            j = None
        if j is None or not isinstance(s, dict) or not all(isinstance(k, str) for k in s):
            raise ValueError(f"{who}: state[{i!r}] must be a parameter index mapping to a dict "
                             "of named values")
        state[j] = s
    return groups, state


def _is_array(v: Any) -> bool:
    return hasattr(v, "shape") and not isinstance(v, np.generic)


def check_state_keys(opt: Any, s: dict, p: Any, group: dict[str, Any], where: str) -> None:
    """The saved state s of parameter p holds what opt's step reads: the entries of a fresh
    state, arrays where it has arrays and numbers where it has numbers."""
    from chainrule.optim.optimizer import Optimizer

    if type(opt)._init_state is Optimizer._init_state:
        return  # state made on the way (SGD's momentum buffer): nothing is required
    fresh = opt._init_state(xp_of(p.array).zeros((0,), dtype=p.dtype), group)
    for k, v in fresh.items():
        if k not in s:
            raise ValueError(f"{where} has no {k!r}, which {type(opt).__name__} keeps for "
                             f"every parameter (it has {sorted(s)})")
        got = s[k]
        if _is_array(v):
            ok = _is_array(got)
        else:
            ok = isinstance(got, numbers.Real) and not isinstance(got, bool)
        if not ok:
            raise ValueError(f"{where}[{k!r}] is {type(got).__name__}, not "
                             f"{'an array' if _is_array(v) else 'a number'}")


_PER_GROUP = ("lrs", "_lr", "momentums")  # base_lrs, _last_lr, max_momentums ...


def check_scheduler_state(scheduler: Any, state_dict: Any) -> None:
    """A scheduler's saved state fits it: a dict of attribute names whose values have the
    kinds of the scheduler's own (numbers for numbers, one entry per param group for the
    per-group lists); ValueError naming the field otherwise."""
    who = f"{type(scheduler).__name__}.load_state_dict"
    if not isinstance(state_dict, dict) or not all(isinstance(k, str) for k in state_dict):
        raise ValueError(f"{who}: expected the dict that state_dict() returns, got "
                         f"{type(state_dict).__name__}")
    mine = scheduler.state_dict()
    n = len(scheduler.optimizer.param_groups)
    for k, v in state_dict.items():
        if k not in mine or mine[k] is None or callable(mine[k]):
            continue
        cur, problem = mine[k], None
        if isinstance(cur, bool):
            problem = None if isinstance(v, (bool, numbers.Integral)) else "a bool"
        elif isinstance(cur, numbers.Real):
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
            problem = None if ok else "a number"
        elif isinstance(cur, str):
            problem = None if isinstance(v, str) else "a string"
        elif isinstance(cur, dict):
            problem = None if isinstance(v, dict) else "a dict"
        elif isinstance(cur, (list, tuple)):
            if not isinstance(v, (list, tuple)):
                problem = "a list"
            elif k.endswith(_PER_GROUP) and len(cur) == n and len(v) != n:
                problem = f"a list of {n} values (one per param group)"
        if problem is not None:
            raise ValueError(f"{who}: field '{k}' must be {problem}, got "
                             f"{type(v).__name__} {str(v)[:40]}")
