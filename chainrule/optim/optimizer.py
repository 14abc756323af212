"""The Optimizer base class and the registry of optimizers by their textbook names.

An optimizer holds parameter groups (a list of dicts: 'params' plus that group's options, the
defaults filled in) and, per parameter, a state dict created on the parameter's first step.
A subclass writes three short methods: `_validate(group)` (refuse bad options with a message
that names the optimizer, the option and its value), `_init_state(p, group)` and
`_update(p, g, state, group)`, which changes the raw array `p` in place from the raw gradient
`g` (never written to).
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections import defaultdict
from typing import Any, Callable, Iterable, Union

import numpy as np

from chainrule.autograd import enable_grad, no_grad
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.optim.state_checks import check_state_keys, checked_layout
from chainrule.tensor import Tensor

ParamsT = Union[Iterable[Tensor], Iterable[dict]]


class Optimizer:
    """Base class of the optimizers: param groups, lazy per-parameter state, step().

    Built without params (`Adam(lr=0.1)`), an optimizer updates plain arrays instead:
    `params = opt.update(grads, params)`.
    """

    def __init__(self, params: ParamsT | None, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch_bufs: dict[tuple, Any] = {}
        self._array_mode = params is None
        self._pending_state: dict[str, Any] | None = None
        if params is None:
            return
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of tensors (a list), "
                            "not one tensor; wrap it: [p]")
        if hasattr(params, "parameters") and callable(params.parameters):
            raise TypeError(f"{self._name}: pass the model's parameters, model.parameters(), "
                            "not the model itself")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- the hooks a subclass writes -----------------------------------------------------------
    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError for a bad option in `group` (also used for the defaults)."""

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first step (arrays shaped like p)."""
        return {}

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{self._name} does not define _update()")

    # -- parameter groups ----------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones come from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group is a dict, got {type(param_group)}")
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"{self._name}: a param group needs a 'params' entry")
        if isinstance(params, set):
            raise TypeError(f"{self._name}: params must be an ordered collection (a list), "
                            "not a set, so that state_dict indices are reproducible")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name}: can only optimize Tensors, got {type(p).__name__}; for "
                    f"plain arrays build the optimizer without params and call update()")
            if p.creator is not None:
                raise ValueError(f"{self._name}: can't optimize a non-leaf tensor "
                                 f"(shape {p.shape}); optimize the leaf it was computed from")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{self._name}: some parameters appear more than once (in this "
                             "group or in another group); give each parameter once")
        self.param_groups.append(group)

    # -- stepping ------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure() when one is given
        (the closure re-evaluates the loss and calls backward)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.array if isinstance(p.grad, Tensor) else p.grad
                    state = self.state[p]
                    if not state:
                        state.update(self._init_state(p.array, group))
                    self._update(p.array, g, state, group)
                    p._bump()  # an in-place change: a graph that saved p sees it
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (set_to_none=False zeroes it in place instead)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none or not isinstance(p.grad, Tensor):
                    p.grad = None
                elif p.grad.creator is None and getattr(p.grad.array.flags, "writeable", True):
                    p.grad.array.fill(0)
                    p.grad._bump()
                else:
                    p.grad = Tensor._make(xp_of(p.grad.array).zeros_like(p.grad.array), None)

    # -- the classic array interface -----------------------------------------------------------
    def update(self, grads: Any, params: Any) -> Any:
        """Update plain arrays in place and return them: one array or a list of arrays, with
        their gradients in the same layout. State is kept per position in the list."""
        if not self._array_mode:
            raise RuntimeError(f"{self._name} was built with parameters: call step() after "
                               "backward(); update() is for an optimizer built without params")
        single = not isinstance(params, (list, tuple))
        ps = [params] if single else list(params)
        gs = [grads] if single else list(grads)
        ps, gs = self._checked_arrays(ps, gs)
        if not self.param_groups:
            self.add_param_group({"params": [as_tensor(p) for p in ps]})
            if self._pending_state is not None:
                self.load_state_dict(self._pending_state)
        holders = self.param_groups[0]["params"]
        for h, p, g in zip(holders, ps, gs):
            h.array, h.grad = p, Tensor._make(g, None)
        self.step()
        for h in holders:
            h.grad = None
        return ps[0] if single else ps

    def _checked_arrays(self, ps: list, gs: list) -> tuple[list, list]:
        """Parameters as writeable float arrays, gradients as arrays of their dtype; the
        counts and shapes checked against each other and against earlier calls."""
        who = f"{self._name}.update"
        if len(gs) != len(ps):
            raise ValueError(f"{who}: got {len(gs)} gradients for {len(ps)} parameters; pass "
                             "one gradient per parameter")
        ps = [_float_array(p, who) for p in ps]
        gs = [xp_of(p).asarray(g.array if isinstance(g, Tensor) else g, dtype=p.dtype)
              for p, g in zip(ps, gs)]
        old = self.param_groups[0]["params"] if self.param_groups else None
        if old is not None and len(old) != len(ps):
            raise ValueError(f"{who}: this optimizer was first used with {len(old)} arrays, "
                             f"now got {len(ps)}; keep the same list")
        for i, (p, g) in enumerate(zip(ps, gs)):
            if g.shape != p.shape:
                raise ShapeError(f"{who}: gradient {i} has shape {g.shape} but parameter {i} "
                                 f"has shape {p.shape}; they must match")
            if old is not None and old[i].shape != p.shape:
                raise ShapeError(f"{who}: parameter {i} had shape {old[i].shape}, now "
                                 f"{p.shape}; keep shapes fixed")
        return ps, gs

    # -- scratch space: no model-size allocations per step ------------------------------------
    def _scratch(self, like: Any, slot: int = 0) -> Any:
        """A reusable work array shaped like `like` (contents undefined); one flat buffer per
        (slot, dtype) serves every parameter, so a step allocates nothing of model size."""
        xp = xp_of(like)
        key = (xp.__name__, like.dtype, slot)
        buf = self._scratch_bufs.get(key)
        if buf is None or buf.size < like.size:
            buf = self._scratch_bufs[key] = xp.empty(like.size, dtype=like.dtype)
        return buf[:like.size].reshape(like.shape)

    def _grad_with_decay(self, p: Any, g: Any, weight_decay: float, maximize: bool) -> Any:
        """g, or (-g if maximize) + weight_decay * p in a scratch array (g is never written)."""
        wd = weight_decay
        if not wd and not maximize:
            return g
        out = self._scratch(p, 0)
        xp_of(p).multiply(p, wd, out=out)
        if maximize:
            out -= g
        else:
            out += g
        return out

    def _update_moments(self, p: Any, g: Any, state: dict[str, Any], betas: Any) -> Any:
        """Adam's two moments, in place: m <- m + (1 - beta1) (g - m) (torch's lerp, equal to
        beta1 m + (1 - beta1) g) and v <- beta2 v + (1 - beta2) g^2; returns (m, v, scratch)."""
        xp, (beta1, beta2), tmp = xp_of(p), betas, self._scratch(p, 1)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        v *= beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v += tmp
        return m, v, tmp

    # -- saving and restoring ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: array or number}}, 'param_groups': [{options, 'params':
        [index, ...]}]}, parameters numbered in group order as in torch; arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                ids.append(index.setdefault(id(p), len(index)))
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: _saved(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state saved by state_dict() into an optimizer over parameters of the same
        shapes in the same order; every check runs before anything changes, and a malformed
        state dict (a missing or mistyped field, state that does not fit its parameter) raises
        ValueError naming the field, here rather than at the first step()."""
        groups, saved_state = checked_layout(state_dict, self._name)
        if self._array_mode and not self.param_groups:
            self._pending_state = state_dict  # the arrays arrive with the first update()
            return
        who = f"{self._name}.load_state_dict"
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{who}: loaded state dict has a different number of parameter "
                             f"groups: the saved state has {len(groups)} param groups, this "
                             f"optimizer {len(self.param_groups)}")
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in groups]
        if sizes != saved_sizes:
            raise ValueError(f"{who}: loaded state dict contains a parameter group that "
                             "doesn't match the size of optimizer's group: the saved groups "
                             f"hold {saved_sizes} parameters, this optimizer's {sizes}")
        new_groups = []
        for k, (g_saved, g) in enumerate(zip(groups, self.param_groups)):
            group = {**self.defaults, **{n: v for n, v in g_saved.items() if n != "params"},
                     "params": g["params"]}
            try:
                self._validate(group)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{who}: param_groups[{k}]: {e}") from None
            new_groups.append(group)
        by_index = {i: (p, group) for g_saved, group in zip(groups, new_groups)
                    for i, p in zip(g_saved["params"], group["params"])}
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for i, s in saved_state.items():
            if i not in by_index:
                raise ValueError(f"{who}: state[{i}] belongs to no parameter (the param "
                                 f"groups list {len(by_index)} parameter indices, not {i}); "
                                 "the state dict is inconsistent")
            p, group = by_index[i]
            check_state_keys(self, s, p, group, f"{who}: state[{i}]")
            try:
                new_state[p] = {k: self._restored_state(k, v, p) for k, v in s.items()}
            except ShapeError:
                raise
            except (TypeError, ValueError) as e:
                raise ValueError(f"{who}: state[{i}]: {e}") from None
        self.state = new_state
        self.param_groups = new_groups

    def _restored_state(self, key: str, v: Any, p: Tensor) -> Any:
        """Saved state value v of parameter p as this optimizer keeps it (arrays are checked
        against p's shape and copied onto its device and dtype)."""
        return _restored(v, p, key, self._name)

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        if not self.param_groups:
            lines += [f"    {k}: {v}" for k, v in sorted(self.defaults.items())]
        return "\n".join(lines) + "\n)"

    # -- validation helpers for _validate ------------------------------------------------------
    def _check(self, name: str, v: Any, rule: str) -> None:
        """Refuse option `name` of value v unless it is a number in `rule`: '>0', '>=0',
        '[0,1)' or '[0,1]' (NaN fails every rule)."""
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{self._name}: {name} must be a number, got {v!r}")
        ok = {">0": v > 0, ">=0": v >= 0, "[0,1)": 0 <= v < 1, "[0,1]": 0 <= v <= 1}[rule]
        if not ok or math.isnan(v):
            words = {">0": "> 0", ">=0": ">= 0", "[0,1)": "in [0, 1)", "[0,1]": "in [0, 1]"}
            raise ValueError(f"{self._name}: {name} must be {words[rule]}, got {v!r}")

    def _check_betas(self, group: dict[str, Any]) -> None:
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k in range(2):
            self._check(f"betas[{k}]", betas[k], "[0,1)")


def _float_array(p: Any, who: str) -> Any:
    """p as an array to update in place (numbers and lists become new float64 arrays)."""
    if isinstance(p, Tensor):
        p = p.array
    if not hasattr(p, "dtype") or not hasattr(p, "shape") or isinstance(p, np.generic):
        p = np.array(p, dtype=np.float64)
    if p.dtype.kind != "f":
        raise TypeError(f"{who}: parameters must be floating-point arrays to be updated in "
                        f"place, got {p.dtype}; convert with p.astype(np.float64)")
    if not getattr(p.flags, "writeable", True):
        raise ValueError(f"{who}: a parameter array is read-only; pass a writeable copy")
    return p


def _saved(v: Any) -> Any:
    """A state value as a plain NumPy array copy (from a GPU too) or a Python number; lists
    and tuples (LBFGS's history) are copied element by element."""
    if isinstance(v, (list, tuple)):
        return type(v)(_saved(x) for x in v)
    if hasattr(v, "shape") and not isinstance(v, np.generic):
        return np.array(v.get() if hasattr(v, "get") else v, copy=True)
    return v.item() if isinstance(v, np.generic) else v


def _restored(v: Any, p: Tensor, key: str, who: str) -> Any:
    if not hasattr(v, "shape") or isinstance(v, np.generic):
        return v.item() if isinstance(v, np.generic) else v
    if tuple(v.shape) != p.shape:
        raise ShapeError(f"{who}.load_state_dict: state '{key}' has shape {tuple(v.shape)} "
                         f"but its parameter has shape {p.shape}; same model, same order?")
    if getattr(getattr(v, "dtype", None), "kind", "") not in "biuf":
        raise ValueError(f"state '{key}' is an array of {getattr(v, 'dtype', '?')}, not numbers")
    return xp_of(p.array).array(v, dtype=p.dtype, copy=True)


# -- the registry: one table of names used by every front door ---------------------------------
# name -> (class name in chainrule.optim, defaults that the name implies)
_REGISTRY: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "nag": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adadelta": ("Adadelta", {}),
    "adam": ("Adam", {}),
    "amsgrad": ("Adam", {"amsgrad": True}),
    "adamw": ("AdamW", {}),
    "adamax": ("Adamax", {}),
    "nadam": ("NAdam", {}),
    "radam": ("RAdam", {}),
    "rprop": ("Rprop", {}),
    "asgd": ("ASGD", {}),
    "lbfgs": ("LBFGS", {}),
}


def available() -> list[str]:
    """The optimizer names create() knows."""
    return list(_REGISTRY)


def create(name: str, params: ParamsT | None = None, **kwargs: Any) -> Optimizer:
    """The optimizer called `name` ('sgd', 'momentum', 'nesterov' or 'nag', 'adagrad',
    'rmsprop', 'adadelta', 'adam', 'amsgrad', 'adamw', 'adamax', 'nadam', 'radam', 'rprop',
    'asgd', 'lbfgs'; any case) over params; kwargs override the defaults the name implies.
    Without params it updates arrays (all but 'lbfgs', which needs step(closure))."""
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: "
                         f"{', '.join(_REGISTRY)}")
    cls_name, implied = _REGISTRY[key]
    cls = getattr(importlib.import_module("chainrule.optim"), cls_name)
    return cls(params, **{**implied, **kwargs})
