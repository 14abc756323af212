"""Schedulers of schedulers: SequentialLR (one after another, switching at milestones) and
ChainedScheduler (all at once, each step). Importable from chainrule.optim.lr_scheduler, as in
torch."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

from chainrule.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.state_checks import check_scheduler_state


def _check_schedulers(who: Any, schedulers: Sequence[Any], optimizer: Any) -> None:
    name = type(who).__name__
    if len(schedulers) < 1:
        raise ValueError(f"{name}: expects at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{name}: schedulers[{i}] ({type(s).__name__}) has no optimizer; "
                            "pass learning-rate schedulers")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{name}: schedulers[{i}] is a ReduceLROnPlateau, which needs the "
                             "metric in step(metric); step it yourself, outside the "
                             f"{name}")
        if s.optimizer is not optimizer:
            raise ValueError(f"{name}: schedulers[{i}] ({type(s).__name__}) belongs to "
                             "another optimizer; build every scheduler on the same one")


class _Composite(LRScheduler):
    """state_dict holds the wrapped schedulers' state dicts under '_schedulers'."""

    _schedulers: list

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_scheduler_state(self, state_dict)
        saved = state_dict.get("_schedulers")
        if not isinstance(saved, list) or len(saved) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: field '_schedulers' must "
                             f"be a list of {len(self._schedulers)} state dicts (one per "
                             f"scheduler), got {type(saved).__name__}")
        for s, one in zip(self._schedulers, saved):
            check_scheduler_state(s, one)
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, one in zip(self._schedulers, saved):
            s.load_state_dict(one)


class SequentialLR(_Composite):
    """schedulers[0] until epoch milestones[0], then schedulers[1] (restarted from its epoch
    0) until milestones[1], and so on; len(milestones) = len(schedulers) - 1."""

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int], last_epoch: int = -1) -> None:
        _check_schedulers(self, schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # undo the first step that building each scheduler took, then take it for the
        # scheduler that runs at epoch 0 only
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Step back every (nested) scheduler's epoch by one."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch with the scheduler whose turn it is (at its milestone, that
        scheduler starts over from its epoch 0)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Steps every scheduler in order at each step(): their changes compound (the
    chainable schedulers multiply the current lr)."""

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler: expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers(self, schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = [g["lr"] for g in self._schedulers[-1].optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """Step each scheduler once."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [g["lr"] for g in self._schedulers[-1].optimizer.param_groups]
