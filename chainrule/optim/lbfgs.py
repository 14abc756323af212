"""L-BFGS (Liu & Nocedal 1989): quasi-Newton steps from a short history of gradient changes,
with an optional strong-Wolfe line search; torch.optim.LBFGS (after minFunc and torch7's optim),
ported step for step onto the flat NumPy vector of all parameters."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule.autograd import enable_grad, no_grad
from chainrule.backend import xp_of
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor


def _host(x: Any) -> Any:
    """A reduction's result as a NumPy scalar of its dtype (a CuPy 0-d array is copied over,
    explicitly: L-BFGS decides on the host, as torch's does with .item())."""
    return x if isinstance(x, np.generic) else np.dtype(x.dtype).type(x.item())


def _cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                       bounds: tuple | None = None) -> Any:
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped
    to bounds (default: the interval between x1 and x2); the middle of the bounds when the
    cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    with np.errstate(all="ignore"):  # inf and nan mean what they mean in torch: no warning
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if d2_square >= 0:
            d2 = np.sqrt(d2_square)
            if x1 <= x2:
                min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            return min(max(min_pos, xmin_bound), xmax_bound)
        return (xmin_bound + xmax_bound) / 2.0


class _Bracket:
    """Step sizes t with their losses f, gradients g and slopes gtd = g.d (one or two)."""

    def __init__(self, t: list, f: list, g: list, gtd: list | None = None) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd

    def set(self, i: int, t: Any, f: Any, g: Any, gtd: Any) -> None:
        self.t[i], self.f[i], self.g[i], self.gtd[i] = t, f, g, gtd  # type: ignore[index]


def _strong_wolfe(obj_func: Callable, x: list, t: Any, d: Any, f: float, g: Any, gtd: Any,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Any, Any, int]:
    """A step t along d that satisfies the strong Wolfe conditions,
    f(x + t d) <= f + c1 t g.d and |g(x + t d).d| <= -c2 g.d: grow t by cubic interpolation
    until an interval brackets such a step, then zoom into it. Returns (loss, flat gradient,
    t, evaluations); obj_func(x, t, d) -> (loss, flat gradient) at x + t d."""
    d_norm = _host(xp_of(d).abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    evals, gtd_new = 1, _host(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done, ls_iter = False, 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            b = _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()],
                         [gtd_prev, gtd_new])
            break
        if abs(gtd_new) <= -c2 * gtd:
            b, done = _Bracket([t], [f_new], [g_new]), True
            break
        if gtd_new >= 0:
            b = _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()],
                         [gtd_prev, gtd_new])
            break
        # the slope is still negative: extrapolate, at least 1% and at most 10x further
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                          bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals, gtd_new, ls_iter = evals + 1, _host(g_new.dot(d)), ls_iter + 1
    if ls_iter >= max_ls:  # out of evaluations: bracket from the start point
        b = _Bracket([0, t], [f, f_new], [g, g_new])
    low, evals = _zoom(obj_func, x, d, f, gtd, b, done, ls_iter, evals, d_norm,
                       c1, c2, tolerance_change, max_ls)
    return b.f[low], b.g[low], b.t[low], evals


def _zoom(obj_func: Callable, x: list, d: Any, f: float, gtd: Any, b: _Bracket, done: bool,
          ls_iter: int, evals: int, d_norm: Any, c1: float, c2: float, tolerance_change: float,
          max_ls: int) -> tuple[int, int]:
    """Shrink the bracket b in place around a strong-Wolfe step; returns the index of its low
    end (the lower loss: the answer) and the evaluations counted so far."""
    insuf_progress = False
    low, high = (0, 1) if b.f[0] <= b.f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(b.t[1] - b.t[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(b.t[0], b.f[0], b.gtd[0], b.t[1], b.f[1], b.gtd[1])
        # t near an end of the bracket twice in a row (or beyond it): move it 10% inside
        top, bottom = max(b.t), min(b.t)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insuf_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        evals, gtd_new, ls_iter = evals + 1, _host(g_new.dot(d)), ls_iter + 1
        if f_new > (f + c1 * t * gtd) or f_new >= b.f[low]:
            b.set(high, t, f_new, g_new.copy(), gtd_new)  # no sufficient decrease: new high
            low, high = (0, 1) if b.f[0] <= b.f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (b.t[high] - b.t[low]) >= 0:
                b.set(high, b.t[low], b.f[low], b.g[low], b.gtd[low])  # old low becomes high
            b.set(low, t, f_new, g_new.copy(), gtd_new)
    return low, evals


class LBFGS(Optimizer):
    """L-BFGS over all parameters as one flat vector p (torch.optim.LBFGS's algorithm).
    step(closure) calls closure() (zero_grad, loss, backward; returns the loss) and runs up
    to max_iter iterations and about max_eval calls of closure (default max_iter * 5 // 4)::

        g <- gradient at p;  stop if max|g| <= tolerance_grad
        each iteration k (counted across steps):
            if k = 1:  d <- -g
            else:      y <- g - g_prev;  s <- t * d
                       if y.s > 1e-10: remember (y, s, rho = 1 / y.s), the last history_size
                                       pairs;  H0 <- y.s / y.y
                       d <- -H g   (H: the two-loop recursion over the remembered pairs,
                                    starting from H0 times the identity)
            t <- lr * min(1, 1 / sum|g|)  if k = 1, else lr
            stop if g.d > -tolerance_change
            t <- a strong-Wolfe step from t (c1 = 1e-4, c2 = 0.9)    if line_search_fn
            p <- p + t * d;  g <- gradient at p   (but not after the last iteration
                                                   without a line search)
            stop after max_iter iterations or max_eval evaluations, or when
            max|g| <= tolerance_grad, max|t d| <= tolerance_change or
            |loss - previous loss| < tolerance_change

    One param group only. State (kept on the first parameter, across steps): 'func_evals',
    'n_iter', 'd', 't', 'old_dirs' (y), 'old_stps' (s), 'ro', 'H_diag', 'prev_flat_grad',
    'prev_loss', 'al'.
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if params is None:
            raise TypeError("LBFGS needs the parameters: LBFGS(model.parameters()), then "
                            "opt.step(closure); it has no array interface")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups); "
                             "pass one list of parameters")
        self._params = self.param_groups[0]["params"]
        self._numel_cache: int | None = None

    def _validate(self, group: dict[str, Any]) -> None:
        self._check("lr", group["lr"], ">=0")

    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self) -> Any:
        xp = xp_of(self._params[0].array)
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(xp.zeros(p.numel(), dtype=p.array.dtype))
            else:
                views.append((p.grad.array if isinstance(p.grad, Tensor) else p.grad).ravel())
        return xp.concatenate(views)

    def _add_grad(self, step_size: Any, update: Any) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.array += step_size * update[offset:offset + n].reshape(p.shape)
            p._bump()
            offset += n

    def _clone_param(self) -> list:
        return [p.array.copy() for p in self._params]

    def _set_param(self, params_data: list) -> None:
        for p, data in zip(self._params, params_data):
            p.array[...] = data
            p._bump()

    def _directional_evaluate(self, closure: Callable, x: list, t: Any, d: Any) -> tuple:
        """(loss, flat gradient) at x + t d; the parameters are x again afterwards."""
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def update(self, grads: Any, params: Any) -> Any:
        raise TypeError("LBFGS has no array interface: it re-evaluates the loss during a step; "
                        "build it over tensors and call opt.step(closure)")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run one L-BFGS optimization (up to max_iter iterations); returns the loss that the
        first call of closure() computed."""
        if closure is None:
            raise TypeError("LBFGS.step() needs a closure that re-evaluates the loss: def "
                            "closure(): opt.zero_grad(); loss = loss_fn(model(x), y); "
                            "loss.backward(); return loss  -- then opt.step(closure)")
        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS doesn't support parameter groups, found "
                             f"{len(self.param_groups)}; keep one list of parameters")
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        # LBFGS's state is global; it lives on the first parameter, as in torch
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        xp = xp_of(flat_grad)
        if _host(xp.abs(flat_grad).max()) <= tolerance_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                d = self._direction(state, flat_grad, prev_flat_grad, d, t,
                                    group["history_size"])
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / _host(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = _host(flat_grad.dot(d))
            if gtd > -tolerance_change:  # not a descent direction (any more)
                break
            loss, flat_grad, t, evals = self._move(closure, group, loss, flat_grad, d, t, gtd,
                                                   max_eval - current_evals, n_iter)
            current_evals += evals
            state["func_evals"] += evals
            if (n_iter == max_iter or current_evals >= max_eval
                    or _host(xp.abs(flat_grad).max()) <= tolerance_grad
                    or _host(xp.abs(d * t).max()) <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break
        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def _move(self, closure: Callable, group: dict, loss: float, flat_grad: Any, d: Any,
              t: Any, gtd: Any, max_ls: int, n_iter: int) -> tuple[float, Any, Any, int]:
        """Step along d (after a line search, if any); returns the new (loss, flat gradient,
        t, closure evaluations)."""
        line_search_fn = group["line_search_fn"]
        if line_search_fn is not None:
            if line_search_fn != "strong_wolfe":
                raise RuntimeError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                                   f"got {line_search_fn!r}")
            x_init = self._clone_param()

            def obj_func(x: list, t: Any, d: Any) -> tuple:
                return self._directional_evaluate(closure, x, t, d)

            loss, flat_grad, t, evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad,
                                                      gtd, max_ls=max_ls)
            self._add_grad(t, d)
            return loss, flat_grad, t, evals
        self._add_grad(t, d)
        if n_iter == group["max_iter"]:
            # no re-evaluation after the last iteration: with stochastic losses it is wasted
            return loss, flat_grad, t, 0
        with enable_grad():
            loss = float(closure())
        return loss, self._gather_flat_grad(), t, 1

    def _direction(self, state: dict, flat_grad: Any, prev_flat_grad: Any, d: Any, t: Any,
                   history_size: int) -> Any:
        """Remember the last step's (y, s) if y.s > 1e-10, then d = -H g by the two-loop
        recursion (Nocedal & Wright, Algorithm 7.4)."""
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = _host(y.dot(s))
        if ys > 1e-10:  # curvature condition: keeps H positive definite
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / _host(y.dot(y))
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = _host(old_stps[i].dot(q)) * ro[i]
            q += -al[i] * old_dirs[i]
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = _host(old_dirs[i].dot(r)) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    def _restored_state(self, key: str, v: Any, p: Tensor) -> Any:
        """Flat vectors (and lists of them) of all parameters' size, numbers as they are."""
        if isinstance(v, (list, tuple)):
            return [self._restored_state(key, x, p) for x in v]
        if v is None or not hasattr(v, "shape") or isinstance(v, np.generic):
            return v
        if v.shape != (self._numel(),):
            raise ValueError(f"LBFGS.load_state_dict: state '{key}' has shape {v.shape}, but "
                             f"the parameters have {self._numel()} elements in all; same "
                             "model, same order?")
        return xp_of(p.array).array(v, dtype=p.dtype, copy=True)
