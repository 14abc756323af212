"""Data types with PyTorch's names and meanings: `cr.float32`, `cr.long`,
`x.dtype.is_floating_point`, the default floating dtype, and PyTorch's type promotion.

A `dtype` wraps a NumPy dtype: NumPy accepts it wherever it takes a dtype (`np.zeros(3,
dtype=cr.float32)`), and it compares equal to the NumPy spellings of the same type
(`cr.float32 == np.float32`), so arrays and tensors meet without conversions.

Promotion follows PyTorch, not NumPy: a float tensor with an int tensor keeps the float's dtype
(float32 * int64 is float32, NumPy says float64), and operands are ranked: tensors with dimensions
decide first, then 0-d tensors, then Python numbers, each lower rank counting only when its
category (bool < integer < floating < complex) is higher than everything above it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class dtype:  # noqa: N801  (PyTorch's name: torch.dtype)
    """A tensor element type: `chainrule.float32`, `chainrule.int64`, ..."""

    __slots__ = ("_np", "_name")

    def __init__(self, np_dtype: Any, name: str) -> None:
        self._np = np.dtype(np_dtype)
        self._name = name

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype (what lets NumPy accept a chainrule dtype anywhere)."""
        return self._np

    @property
    def is_floating_point(self) -> bool:
        return self._np.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self._np.kind in "ifc"

    @property
    def itemsize(self) -> int:
        return self._np.itemsize

    def __getattr__(self, name: str) -> Any:
        """NumPy's dtype attributes (kind, type, name, char, ...) for code that mixes both."""
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._np, name)

    def to_real(self) -> dtype:
        return from_numpy_dtype(np.empty(0, self._np).real.dtype)

    def to_complex(self) -> dtype:
        if self._np.kind == "c":
            return self
        return from_numpy_dtype(np.result_type(self._np, np.complex64))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, dtype):
            return self is other
        if other is None or isinstance(other, str) and other not in _NAMES:
            return False
        try:
            return self._np == as_numpy_dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self._np)

    def __repr__(self) -> str:
        return f"chainrule.{self._name}"

    def __reduce__(self) -> Any:
        return (getattr, (_module(), self._name))


def _module() -> Any:
    import chainrule

    return chainrule


float16 = dtype(np.float16, "float16")
float32 = dtype(np.float32, "float32")
float64 = dtype(np.float64, "float64")
complex64 = dtype(np.complex64, "complex64")
complex128 = dtype(np.complex128, "complex128")
uint8 = dtype(np.uint8, "uint8")
uint16 = dtype(np.uint16, "uint16")
uint32 = dtype(np.uint32, "uint32")
uint64 = dtype(np.uint64, "uint64")
int8 = dtype(np.int8, "int8")
int16 = dtype(np.int16, "int16")
int32 = dtype(np.int32, "int32")
int64 = dtype(np.int64, "int64")
bool_ = dtype(np.bool_, "bool")

# PyTorch's aliases: torch.float is float32, torch.int is int32, torch.long is int64, ...
ALIASES = {
    "half": float16, "float": float32, "double": float64, "cfloat": complex64,
    "cdouble": complex128, "short": int16, "int": int32, "long": int64, "bool": bool_,
    "complex32": None, "bfloat16": None,
}
_ALL = (float16, float32, float64, complex64, complex128, uint8, uint16, uint32, uint64, int8,
        int16, int32, int64, bool_)
_BY_NP = {d._np: d for d in _ALL}
_NAMES = {d._name: d for d in _ALL} | {k: v for k, v in ALIASES.items() if v is not None}


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The chainrule dtype of a NumPy dtype (what `tensor.dtype` returns)."""
    d = _BY_NP.get(np_dtype)
    if d is None:
        d = _BY_NP.get(np.dtype(np_dtype).newbyteorder("="))
        if d is None:
            raise TypeError(f"chainrule has no dtype for NumPy's {np_dtype}; supported: "
                            f"{', '.join(sorted(_NAMES))}")
    return d


def as_numpy_dtype(d: Any) -> np.dtype:
    """Normalise a dtype given as a chainrule dtype, a NumPy dtype or type, a Python type
    (float is float64 and int is int64, as in PyTorch) or a name such as 'float32'."""
    if isinstance(d, dtype):
        return d._np
    if isinstance(d, str):
        name = d[len("torch."):] if d.startswith("torch.") else d
        if name in ("bfloat16", "complex32"):
            raise TypeError(f"dtype {d!r} is not supported: NumPy has no {name}; use float16 "
                            "or float32")
        if name in _NAMES:
            return _NAMES[name]._np
    try:
        out = np.dtype(d)
    except TypeError:
        raise TypeError(f"unknown dtype {d!r}: use a chainrule dtype (cr.float32, cr.long, ...) "
                        f"or one of the names {sorted(_NAMES)}") from None
    if out not in _BY_NP:
        raise TypeError(f"dtype {d!r} ({out}) is not supported; supported: "
                        f"{', '.join(sorted(_NAMES))}")
    return out


class _Default:
    """The default floating dtype (global state: set_default_dtype changes it)."""

    float = np.dtype(np.float32)
    complex = np.dtype(np.complex64)


def default_float() -> np.dtype:
    """The NumPy dtype new floating tensors get when no dtype is given (float32 by default)."""
    return _Default.float


def get_default_dtype() -> dtype:
    return from_numpy_dtype(_Default.float)


def set_default_dtype(d: Any) -> None:
    """Set the dtype of new floating tensors and of Python floats meeting integer tensors:
    cr.float32 (the default) or cr.float64 (or float16)."""
    nd = as_numpy_dtype(d)
    if nd.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes can be the default, got "
                        f"{from_numpy_dtype(nd)}; use cr.float32 or cr.float64")
    _Default.float = nd
    _Default.complex = np.dtype(np.complex128 if nd == np.float64 else np.complex64)


def is_floating(d: np.dtype) -> bool:
    """Floating or complex: the dtypes that can carry gradients."""
    return d.kind in "fc"


# -- PyTorch's type promotion ---------------------------------------------------------------------
def promote_types(a: Any, b: Any) -> np.dtype:
    """The smallest dtype both a and b convert to, by PyTorch's table: bool yields to anything,
    a float or complex type wins over any integer type whatever their sizes."""
    a, b = as_numpy_dtype(a), as_numpy_dtype(b)
    if a == b:
        return a
    ka, kb = a.kind, b.kind
    if ka == "b":
        return b
    if kb == "b":
        return a
    if ka in "iu" and kb in "fc":
        return b
    if kb in "iu" and ka in "fc":
        return a
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """PyTorch's combine_categories: a lower-priority dtype only counts when its category is
    higher (a float 0-d tensor or Python float makes an int tensor's result floating)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    hk, lk = higher.kind, lower.kind
    if hk == "c":
        return higher
    if lk == "c":
        return np.result_type(higher, np.complex64) if hk == "f" else lower
    if hk == "f":
        return higher
    if hk == "b" or lk == "f":
        return promote_types(higher, lower)
    return higher


def scalar_dtype(v: Any) -> np.dtype:
    """The dtype PyTorch gives a Python number: bool, int64, the default float, complex."""
    if isinstance(v, bool):
        return np.dtype(np.bool_)
    if isinstance(v, int):
        return np.dtype(np.int64)
    if isinstance(v, float):
        return _Default.float
    if isinstance(v, complex):
        return _Default.complex
    raise TypeError(f"expected a number, got {type(v).__name__}")


def result_type(*operands: Any) -> np.dtype:
    """The dtype of an elementwise op on these operands, by PyTorch's rules. Operands are
    Tensors, arrays (ranked like tensors) and Python numbers (ranked last)."""
    dim = zero = wrapped = None
    for v in operands:
        a = getattr(v, "array", v)
        if isinstance(a, (bool, int, float, complex)):
            wrapped = scalar_dtype(a) if wrapped is None else promote_types(wrapped,
                                                                             scalar_dtype(a))
            continue
        d = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
        if getattr(a, "ndim", 0) > 0:
            dim = d if dim is None else promote_types(dim, d)
        else:
            zero = d if zero is None else promote_types(zero, d)
    out = _combine(dim, _combine(zero, wrapped))
    return out if out is not None else _Default.float


def can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """PyTorch's rule for writing a result into an existing tensor (in-place ops, out=):
    no complex into real, no floating into integral, no non-bool into bool."""
    sk, dk = src.kind, dst.kind
    if sk == "c" and dk != "c" or sk == "f" and dk in "iub":
        return False
    return not (dk == "b" and sk != "b")


def type_name(d: np.dtype) -> str:
    """PyTorch's legacy tensor type name: FloatTensor, LongTensor, ... (for messages)."""
    return {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
            "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
            "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
            "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor"}.get(
        np.dtype(d).name, f"{np.dtype(d).name}Tensor")


class finfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of a floating dtype as Python numbers (bits, eps, max, min, tiny,
    smallest_normal, resolution, dtype), as torch.finfo; the default dtype when none is given."""

    def __init__(self, d: Any = None) -> None:
        nd = _Default.float if d is None else as_numpy_dtype(d)
        if nd.kind not in "fc":
            raise TypeError(f"finfo: {from_numpy_dtype(nd)} is not a floating dtype; use "
                            "iinfo")
        f = np.finfo(nd)
        self.bits, self.dtype = int(f.bits), str(np.empty(0, nd).real.dtype)
        self.eps, self.max, self.min = float(f.eps), float(f.max), float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = float(f.resolution)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:  # noqa: N801
    """Machine limits of an integer dtype (bits, max, min, dtype) as Python ints."""

    def __init__(self, d: Any) -> None:
        nd = as_numpy_dtype(d)
        if nd.kind not in "iub":
            raise TypeError(f"iinfo: {from_numpy_dtype(nd)} is not an integer dtype; use "
                            "finfo")
        i = np.iinfo(np.uint8 if nd.kind == "b" else nd)
        self.bits, self.max, self.min, self.dtype = int(i.bits), int(i.max), int(i.min), nd.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
