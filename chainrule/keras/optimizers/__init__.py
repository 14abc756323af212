"""Keras optimizers: Keras' names, arguments and defaults, running chainrule.optim underneath.

    model.compile(optimizer=Adam(learning_rate=1e-3), ...)   or   optimizer='adam'

A Keras optimizer is created without variables; the first training step builds a chainrule.optim
optimizer (with Keras' update rules, see _updates.py) over the model's trainable weights.
Gradient clipping (clipnorm per weight, global_clipnorm, clipvalue) and weight_decay (decoupled:
p <- p - p * weight_decay * learning_rate, before the step) are applied here, as Keras does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import optim
from chainrule.backend import xp_of
from chainrule.keras._weight import weight_of
from chainrule.keras.optimizers import _updates, schedules
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

_UNSUPPORTED = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                "gradient_accumulation_steps")
_UNSUPPORTED_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99}


def _host(g: Any) -> np.ndarray:
    return g.detach().numpy() if isinstance(g, Tensor) else np.asarray(g)


def _grad_like(g: Any, p: Tensor) -> Tensor:
    """g as a gradient for p: p's dtype and shape (ValueError naming both when they differ)."""
    if isinstance(g, Tensor) and g.dtype == p.dtype and tuple(g.shape) == tuple(p.shape):
        return g
    a = np.ascontiguousarray(_host(g), dtype=p.array.dtype)
    if a.shape != tuple(p.shape):
        raise ValueError(f"optimizer.apply: a gradient of shape {a.shape} for the variable "
                         f"{p.name or ''} of shape {tuple(p.shape)}")
    return as_tensor(a)


class Optimizer:
    """Base of the Keras optimizers. Subclasses set `_impl` (a chainrule.optim class) and
    return its options from `_impl_options()`."""

    _impl: type = optim.SGD

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        cls = type(self).__name__
        if "lr" in kwargs:
            warnings.warn(f"{cls}: `lr` is Keras 2's name; use `learning_rate`",
                          DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        for k in _UNSUPPORTED:
            if k in kwargs and kwargs.pop(k) not in (None, _UNSUPPORTED_DEFAULTS.get(k)):
                raise NotImplementedError(f"{cls}: {k} is not supported in chainrule.keras")
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        if sum(v is not None for v in (clipnorm, global_clipnorm)) > 1:
            raise ValueError(f"{cls}: give at most one of clipnorm and global_clipnorm")
        self.name = name or cls.lower()
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        self._lr = learning_rate if callable(learning_rate) else float(learning_rate)
        self.iterations = 0
        self.impl: optim.Optimizer | None = None
        self._param_ids: tuple[int, ...] = ()
        self._pending_state: dict | None = None

    def _check(self) -> None:
        """Validate the options now, with the chainrule optimizer's own checks."""
        lr = self._lr_value(0)
        if lr < 0 or lr != lr:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {lr!r}")
        self._impl(None, lr=lr if lr > 0 else 1.0, **self._impl_options())  # 0: see build()

    def _impl_options(self) -> dict[str, Any]:
        return {}

    # -- the learning rate ---------------------------------------------------------------------
    def _lr_value(self, step: int) -> float:
        return float(self._lr(step)) if callable(self._lr) else self._lr

    @property
    def learning_rate(self) -> float:
        return self._lr_value(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr = float(value)
        if self.impl is not None:
            for g in self.impl.param_groups:
                g["lr"] = self._lr

    # -- stepping ------------------------------------------------------------------------------
    def build(self, params: list[Tensor]) -> None:
        """(Re)create the chainrule optimizer over `params`, keeping the state of those that
        it already knew."""
        old = self.impl
        lr = self.learning_rate
        # chainrule.optim refuses lr=0 (PyTorch allows it), which a warmup schedule starts at:
        # build with a stand-in rate, then give the group the real one
        self.impl = self._impl(params, lr=lr if lr > 0 else 1.0, **self._impl_options())
        for g in self.impl.param_groups:
            g["lr"] = lr
        self._param_ids = tuple(id(p) for p in params)
        if old is not None:
            for p in params:
                if p in old.state:
                    self.impl.state[p] = old.state[p]
        elif self._pending_state is not None:
            try:
                self.impl.load_state_dict(self._pending_state)
            except (ValueError, KeyError) as e:
                warnings.warn(f"{self.name}: the saved optimizer state does not fit the model "
                              f"({e}); starting from fresh state", stacklevel=2)
            self._pending_state = None

    def apply(self, grads: Any, trainable_variables: Any = None) -> None:
        """Keras' apply: one update of `trainable_variables` (model.trainable_weights: the
        Parameters or their Keras-layout views; default: the variables of the last update) from
        `grads`, one per variable in Keras' layout (None leaves a variable as it is)."""
        grads = list(grads)
        if trainable_variables is None:
            if self.impl is None:
                raise ValueError(f"{self.name}.apply: pass the variables the first time: "
                                 "optimizer.apply(grads, model.trainable_weights)")
            trainable_variables = [p for g in self.impl.param_groups for p in g["params"]]
        variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"{self.name}.apply: got {len(grads)} gradients for "
                             f"{len(variables)} variables; give one gradient per variable")
        params: list[Tensor] = []
        for g, v in zip(grads, variables):
            w = weight_of(v)
            if w is None:
                if not isinstance(v, Tensor) or v.creator is not None:
                    raise TypeError(f"{self.name}.apply: variables must be the model's weights "
                                    f"(model.trainable_weights), got {type(v).__name__}")
                v.grad = None if g is None else _grad_like(g, v)
                params.append(v)
                continue
            parts = None if g is None else w.stored(_host(g))
            for i, p in enumerate(w.params):
                p.grad = None if parts is None else _grad_like(parts[i], p)
                params.append(p)
        self._step(params)

    def _step(self, params: list[Tensor]) -> None:
        """One update of `params` from their .grad (after loss.backward())."""
        if self.impl is None or tuple(id(p) for p in params) != self._param_ids:
            self.build(params)
        lr = self.learning_rate
        if callable(self._lr):
            for g in self.impl.param_groups:
                g["lr"] = lr
        with_grad = [p for p in params if p.grad is not None]
        self._clip(with_grad)
        if self.weight_decay:  # Keras decays only the variables that have a gradient
            for p in with_grad:
                p.array *= 1.0 - self.weight_decay * lr
                p._bump()  # an in-place change: a graph that saved p sees it
        self.impl.step()
        self.iterations += 1

    def apply_gradients(self, grads_and_vars: Any) -> None:
        """Keras' apply_gradients(zip(grads, variables)): apply(grads, variables)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _clip(self, params: list[Tensor]) -> None:
        if not (self.clipnorm or self.global_clipnorm or self.clipvalue):
            return
        grads = [p.grad.array for p in params]
        xp = xp_of(*grads)
        if self.clipnorm:
            new = [g * (self.clipnorm / max(float(xp.sqrt((g * g).sum())), self.clipnorm))
                   for g in grads]
        elif self.global_clipnorm:
            norm = float(np.sqrt(sum(float((g * g).sum()) for g in grads)))
            scale = self.global_clipnorm * min(1 / norm if norm else np.inf,
                                               1 / self.global_clipnorm)
            new = [g * scale for g in grads]
        else:
            new = [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        for p, g in zip(params, new):
            p.grad = Tensor._make(g.astype(p.array.dtype, copy=False), None)

    # -- configuration -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        lr: Any = self._lr
        if callable(lr):
            if type(lr).__name__ not in schedules.CLASSES:
                raise ValueError(f"{self.name}: cannot save the learning-rate schedule {lr!r}")
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            sched = schedules.CLASSES.get(lr.get("class_name", ""))
            if sched is None:
                raise ValueError(f"unknown learning-rate schedule {lr.get('class_name')!r}")
            config["learning_rate"] = sched.from_config(lr.get("config", {}))
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}>"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum; Keras' defaults lr 0.01."""

    _impl = _updates.SGD

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._check()

    def _impl_options(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    _impl = _updates.RMSprop

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        self._check()

    def _impl_options(self) -> dict[str, Any]:
        return {"alpha": self.rho, "momentum": self.momentum, "eps": self.epsilon,
                "centered": self.centered}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    _impl = _updates.Adagrad

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), epsilon
        self._check()

    def _impl_options(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "eps": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value}


class Adadelta(Optimizer):
    """The same update as chainrule.optim.Adadelta; Keras' defaults (lr 0.001, rho 0.95)."""

    _impl = optim.Adadelta

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)
        self._check()

    def _impl_options(self) -> dict[str, Any]:
        return {"rho": self.rho, "eps": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class _AdamFamily(Optimizer):
    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _impl_options(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adam(_AdamFamily):
    """Adam with Keras' defaults (learning_rate 0.001, epsilon 1e-7) and epsilon placement."""

    _impl = _updates.Adam

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)
        self._check()

    def _impl_options(self) -> dict[str, Any]:
        return {**super()._impl_options(), "amsgrad": self.amsgrad}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras' default weight_decay=0.004."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)


class Adamax(_AdamFamily):
    _impl = _updates.Adamax

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check()


class Nadam(_AdamFamily):
    _impl = _updates.Nadam

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check()


ALL: dict[str, type] = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad,
                        "adadelta": Adadelta, "adam": Adam, "adamw": AdamW, "adamax": Adamax,
                        "nadam": Nadam}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('adam', case-insensitive), a saved config or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; valid optimizers are "
                             f"{', '.join(repr(k) for k in ALL)}, or an instance such as "
                             "Adam(learning_rate=1e-3)")
        return cls()
    if isinstance(identifier, dict):
        cls = ALL.get(str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"unknown optimizer config {identifier.get('class_name')!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, optim.Optimizer):
        raise TypeError("compile: pass a Keras optimizer (chainrule.keras.optimizers.Adam(...)) "
                        "or its name; a chainrule.optim optimizer is for nn.Module training loops")
    raise TypeError(f"compile: optimizer must be a name or a Keras optimizer, got "
                    f"{identifier!r}")


def serialize(opt: Optimizer) -> dict[str, Any]:
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop",
           "SGD", "get", "schedules", "serialize"]
