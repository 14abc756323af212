"""default_collate and default_convert: examples in, a batch out, with PyTorch's rules.

default_collate (the DataLoader's collate_fn when it batches), element type -> batch:

    Tensor / NumPy array     -> Tensor with a new first dim (arrays keep their dtype)
    float / int / bool       -> float64 / int64 / bool Tensor (PyTorch's choice for Python floats)
    NumPy scalar             -> Tensor of its dtype
    str / bytes              -> unchanged (the sequence of them)
    dict (any Mapping)       -> the same kind of mapping, each key collated
    namedtuple               -> the same namedtuple, each field collated
    tuple                    -> a list, each position collated (as PyTorch: (x, y) -> [xb, yb])
    list (other Sequences)   -> the same kind of sequence, each position collated

default_convert (used when batch_size=None): NumPy arrays and scalars become Tensors, the
containers above are walked, everything else is left alone.
"""

from __future__ import annotations

import collections.abc as abc
import copy
import re
from typing import Any

import numpy as np

from chainrule.creation import tensor
from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")
_STR_OR_OBJECT = re.compile(r"[SaUO]")  # dtype codes PyTorch refuses to make tensors of


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "__array_namespace__")
                                          and not isinstance(x, Tensor))


def _stack(batch: Any) -> Tensor:
    arrays = [b.array if isinstance(b, Tensor) else b for b in batch]
    try:
        return as_tensor(np.stack(arrays))
    except ValueError:
        shapes = [list(np.shape(a)) for a in arrays]
        k = next(i for i, s in enumerate(shapes) if s != shapes[0])
        raise ShapeError(f"stack expects each tensor to be equal size, but got {shapes[0]} at "
                         f"entry 0 and {shapes[k]} at entry {k}: the examples of a field have "
                         "different shapes; pad or crop them, or pass a collate_fn to the "
                         "DataLoader") from None


def _collate_each(elem: Any, columns: Any) -> Any:
    """The container `elem` rebuilt with each column collated (PyTorch's rules for mappings
    and sequences)."""
    if isinstance(elem, abc.Mapping):
        try:
            if isinstance(elem, abc.MutableMapping):
                clone = copy.copy(elem)  # keeps OrderedDict, defaultdict, ...
                clone.update(columns)
                return clone
            return type(elem)(columns)
        except TypeError:
            return dict(columns)
    if isinstance(elem, tuple):
        return list(columns)  # PyTorch's choice: a batch of tuples is a list of batches
    try:
        if isinstance(elem, abc.MutableSequence):
            clone = copy.copy(elem)
            for i, c in enumerate(columns):
                clone[i] = c
            return clone
        return type(elem)(columns)
    except TypeError:
        return list(columns)


def default_collate(batch: Any) -> Any:
    """Stack a sequence of examples into a batch, following the table in this module's
    docstring (PyTorch's default_collate)."""
    elem = batch[0]
    if isinstance(elem, Tensor) or _is_array(elem):
        if _is_array(elem) and _STR_OR_OBJECT.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return _stack(batch)
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return as_tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bools too: torch.tensor's inference (bool, int64, float32)
        return tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        return _collate_each(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(col) for col in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size (got "
                               f"lengths {sorted({len(e) for e in batch})}); pad the examples "
                               "or pass a collate_fn to the DataLoader")
        return _collate_each(elem, [default_collate(col) for col in zip(*batch)])
    raise TypeError(_ERR.format(type(elem)) + "; pass a collate_fn to the DataLoader")


def default_convert(data: Any) -> Any:
    """NumPy arrays and scalars in `data` become Tensors (string and object arrays excepted),
    walking mappings and sequences; everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if _is_array(data):
        return data if _STR_OR_OBJECT.search(data.dtype.str) else as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return as_tensor(data)
    if isinstance(data, abc.Mapping):
        return _collate_each(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        return _collate_each(data, [default_convert(d) for d in data])
    return data
