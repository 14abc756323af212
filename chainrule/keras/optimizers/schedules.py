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
    """Cosine decay from initial_learning_rate to alpha * initial over decay_steps."""

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 alpha: float = 0.0) -> None:
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.alpha = float(alpha)

    def __call__(self, step: int) -> float:
        t = min(step, self.decay_steps) / self.decay_steps
        cos = 0.5 * (1 + math.cos(math.pi * t))
        return self.initial_learning_rate * ((1 - self.alpha) * cos + self.alpha)


CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                   CosineDecay)}
