"""Learning-rate schedules, Keras style: called with the step (iterations so far) -> rate.

`Adam(learning_rate=ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9))`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence


class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ^ (step / decay_steps) (floored when staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p)
                                                                if self.staircase else p)


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p)
                                                                    if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (values has one entry more than boundaries)."""

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: values needs one entry more than "
                             f"boundaries, got {len(values)} and {len(boundaries)}")
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]

    def __call__(self, step: int) -> float:
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine decay from initial_learning_rate to alpha * initial over decay_steps. With
    warmup_target: first a linear rise from initial_learning_rate to warmup_target over
    warmup_steps, then the cosine decay from warmup_target (Keras 3)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0) -> None:
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.alpha, self.name = float(alpha), name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step: float, start: float) -> float:
        cos = 0.5 * (1 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cos + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            lr0 = self.initial_learning_rate
            return (self.warmup_target - lr0) * step / self.warmup_steps + lr0
        return self._decay(step - self.warmup_steps, float(self.warmup_target))


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ^ power + end, step capped at decay_steps;
    with cycle=True decay_steps grows to the first multiple of itself above step."""

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.end_learning_rate, self.power = float(end_learning_rate), float(power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step: int) -> float:
        steps = self.decay_steps
        if self.cycle:
            steps = steps * (1.0 if step == 0 else math.ceil(step / steps))
        else:
            step = min(step, steps)
        p = step / steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                + self.end_learning_rate)


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decays restarting after first_decay_steps, each period t_mul times the
    last and each restart's peak m_mul times the last; floor alpha * initial."""

    def __init__(self, initial_learning_rate: float, first_decay_steps: int,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay") -> None:
        if first_decay_steps <= 0:
            raise ValueError(f"Argument `first_decay_steps` must be > 0. Received: "
                             f"first_decay_steps={first_decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps, self.t_mul, self.m_mul = first_decay_steps, t_mul, m_mul
        self.alpha, self.name = float(alpha), name

    def __call__(self, step: int) -> float:
        frac = step / self.first_decay_steps
        if self.t_mul == 1.0:
            i = math.floor(frac)
            frac -= i
        else:
            i = math.floor(math.log(1.0 - frac * (1.0 - self.t_mul)) / math.log(self.t_mul))
            frac = (frac - (1.0 - self.t_mul ** i) / (1.0 - self.t_mul)) / self.t_mul ** i
        cos = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * frac))
        return self.initial_learning_rate * ((1 - self.alpha) * cos + self.alpha)


CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                   CosineDecay, PolynomialDecay, CosineDecayRestarts)}
