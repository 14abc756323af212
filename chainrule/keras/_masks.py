"""Keras masks (boolean (batch, steps) tensors saying which steps are real) ride along with the
tensors they describe, as Keras' `_keras_mask`; a Tensor has fixed slots, so they live in a table
here, keyed by id with a weak reference, and vanish with their tensors."""

from __future__ import annotations

import inspect
import weakref
from typing import Any

import numpy as np

from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

_MASKS: dict[int, tuple[weakref.ref, Any]] = {}  # id(tensor) -> (weak ref to it, mask)


def get_keras_mask(t: Any) -> Any:
    """The Keras mask attached to tensor `t`, or None."""
    if not _MASKS or not isinstance(t, Tensor):
        return None
    entry = _MASKS.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else None


def set_keras_mask(t: Tensor, mask: Any) -> None:
    """Attach `mask` to `t` (None removes it)."""
    key = id(t)
    if mask is None:
        _MASKS.pop(key, None)
        return

    def forget(ref: weakref.ref) -> None:
        if _MASKS.get(key, (None,))[0] is ref:
            del _MASKS[key]
    mask = mask if isinstance(mask, Tensor) else as_tensor(np.asarray(mask))
    _MASKS[key] = (weakref.ref(t, forget), mask)


# Keras code reads (and sets) a tensor's mask as `t._keras_mask` (the masking guide prints it):
# the same table, seen through a property of Tensor (whose slots leave no room for the mask)
Tensor._keras_mask = property(get_keras_mask, set_keras_mask)  # type: ignore[attr-defined]


def _masks_of(x: Any) -> Any:
    return [get_keras_mask(t) for t in x] if isinstance(x, list) else get_keras_mask(x)


def _dummy_masks(shapes: Any, flags: Any) -> Any:
    """All-True (2, steps) masks for the flagged inputs of these shapes (None for the rest)."""
    if isinstance(shapes, list):
        return [_dummy_masks(s, f) for s, f in zip(shapes, flags)]
    if not flags or len(shapes) < 2:
        return None
    return as_tensor(np.ones((2, 2 if shapes[1] is None else shapes[1]), dtype=bool))


_TAKES_MASK: dict[type, bool] = {}


def _takes_mask(cls: type) -> bool:
    """Whether cls.call has a `mask` parameter (cached per class)."""
    if cls not in _TAKES_MASK:
        _TAKES_MASK[cls] = "mask" in inspect.signature(cls.call).parameters
    return _TAKES_MASK[cls]
