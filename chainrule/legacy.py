"""PyTorch's legacy names that older tutorials still use: the typed tensor classes
(`torch.FloatTensor([1, 2])`, `torch.LongTensor([3])`, `isinstance(x, torch.FloatTensor)`,
`x.type(torch.LongTensor)`) and `torch.autograd.Variable`, which in PyTorch 2 makes a plain tensor.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.tensor import Tensor


class _TensorType(type):
    """The metaclass of FloatTensor & co: a CPU tensor of that dtype is an instance."""

    dtype: Any

    def __instancecheck__(cls, obj: Any) -> bool:
        return (isinstance(obj, Tensor) and obj.array.dtype == cls.dtype
                and obj.device.type == "cpu")

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        from chainrule.creation import tensor, zeros

        if not args:
            return zeros(0, dtype=cls.dtype, device=device)
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=cls.dtype, device=device)  # sizes (PyTorch: uninitialised)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, "
                            f"got {len(args)} arguments")
        (data,) = args
        if isinstance(data, Tensor):  # an alias of data, as PyTorch's legacy constructor
            if data.array.dtype != cls.dtype:
                raise TypeError(f"{cls.__name__}(): expected a tensor of dtype {cls.dtype}, got "
                                f"{data.dtype}: convert it with data.to({cls.dtype})")
            return data.detach()
        return tensor(data, dtype=cls.dtype, device=device)

    def __repr__(cls) -> str:
        return f"<class 'chainrule.{cls.__name__}'>"


def _legacy(name: str, dtype: Any) -> type:
    return _TensorType(name, (), {"dtype": dtype, "__module__": "chainrule"})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
CharTensor = _legacy("CharTensor", dtypes.int8)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)


class _VariableMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """`Variable(t, requires_grad=False)`: as in PyTorch 2, a tensor sharing t's data, cut from
    its graph (a leaf), that requires grad if asked; every tensor is an instance."""

    def __new__(cls, data: Tensor, requires_grad: bool = False,  # type: ignore[misc]
                volatile: bool = False) -> Tensor:
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "torch.no_grad():` instead.", UserWarning, stacklevel=2)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
