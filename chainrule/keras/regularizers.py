"""Weight penalties added to the training loss: `Dense(64, kernel_regularizer=l2(1e-4))`."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class Regularizer:
    def __call__(self, w: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: Tensor) -> Tensor:
        out = None
        if self.l1:
            out = w.abs().sum() * self.l1
        if self.l2:
            t = (w * w).sum() * self.l2
            out = t if out is None else out + t
        return out if out is not None else (w * 0.0).sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}


def get(identifier: Any) -> Regularizer | None:
    """None, a name ('l1', 'l2', 'l1_l2'), a saved config dict, or a Regularizer / callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in NAMES:
            raise ValueError(f"unknown regularizer {identifier!r}; valid regularizers are "
                             f"{', '.join(NAMES)}")
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(f"unknown regularizer config {identifier!r}")
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"a regularizer must be None, a name or a callable, got {identifier!r}")


def serialize(reg: Any) -> Any:
    if reg is None:
        return None
    if type(reg).__name__ in CLASSES:
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise ValueError(f"cannot save the regularizer {reg!r}; use L1, L2 or L1L2")
