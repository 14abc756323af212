"""Tensors from data, with PyTorch's copy and share rules: tensor() always copies; as_tensor(),
from_numpy() and from_dlpack() share memory with a NumPy array or another library's tensor where
they can. Dtypes are inferred as PyTorch infers them (float64 data stays float64; Python floats
give the default float dtype).
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator

import numpy as np

from chainrule.backend import CPU, check_device, default_device, to_device
from chainrule.dtypes import as_numpy_dtype, default_float
from chainrule.tensor import Tensor


def _finish(arr: Any, device: Any, requires_grad: bool, who: str) -> Tensor:
    """A new leaf tensor of arr on the requested (or default) device."""
    d = default_device() if device is None else check_device(device, who)
    if d.type != "cpu" or type(arr) is not np.ndarray:
        arr = to_device(arr, d, who)
    t = Tensor._make(arr, None)
    if requires_grad:
        t.requires_grad = True
    return t


# the NumPy dtypes a tensor can hold, in the order PyTorch's error lists them
_SUPPORTED = tuple(np.dtype(n) for n in (
    "float64", "float32", "float16", "complex64", "complex128", "int64", "int32", "int16", "int8",
    "uint64", "uint32", "uint16", "uint8", "bool"))
_WIDE = ("float64", "complex128", "double", "cdouble")
_PY_NUMBERS = (bool, int, float, complex)
_PY_NUMBER_TYPES = frozenset(_PY_NUMBERS)


def _checked(a: np.ndarray, who: str) -> np.ndarray:
    """a, refused as PyTorch refuses it when no tensor can hold its dtype; a non-native byte
    order is converted (a copy) except by from_numpy, which must share and so refuses it."""
    if a.dtype in _SUPPORTED:
        return a
    native = a.dtype.newbyteorder("=")
    if native not in _SUPPORTED:
        raise TypeError(f"{who}: can't convert np.ndarray of type numpy.{a.dtype.type.__name__}. "
                        "The only supported types are: float64, float32, float16, complex64, "
                        "complex128, int64, int32, int16, int8, uint64, uint32, uint16, uint8, "
                        "and bool.")
    if who == "from_numpy":
        raise ValueError("from_numpy: given numpy array has byte order different from the native "
                         "byte order. Conversion between byte orders is currently not supported; "
                         "convert it first: a.astype(a.dtype.newbyteorder('='))")
    return a.astype(native)


def _typed_leaves(data: Any) -> Iterator[Any]:
    """The values in nested lists that carry a dtype of their own (NumPy scalars and arrays,
    tensors), skipping Python numbers."""
    if set(map(type, data)) <= _PY_NUMBER_TYPES:
        return  # the common case, decided at C speed
    for x in data:
        tx = type(x)
        if tx in _PY_NUMBER_TYPES:
            continue
        if tx is list or tx is tuple:
            yield from _typed_leaves(x)
        else:
            yield x


def _from_python(data: Any) -> np.ndarray:
    """Numbers and nested lists as a new array, dtype inferred as PyTorch infers it: bools
    give bool, ints int64, floats the default float dtype, complex the default complex dtype;
    NumPy scalars and tensors inside keep theirs (so float64 stays float64)."""
    arr = np.asarray(data)
    if arr.dtype.kind in "USOVMm":
        raise TypeError(f"tensor(): could not infer a numeric dtype from {type(data).__name__} "
                        f"data (NumPy reads it as {arr.dtype}); tensors hold numbers and bools")
    if not isinstance(data, (list, tuple)):
        leaves: Any = () if type(data) in _PY_NUMBERS else (data,)
    else:
        leaves = _typed_leaves(data)
    if arr.dtype == np.float64 or arr.dtype == np.complex128:
        # NumPy reads Python floats as float64, PyTorch as the default dtype: float64 only
        # when a value says so (np.float64(1.0), a float64 array or tensor)
        if not any(str(getattr(x, "dtype", "")).rpartition(".")[2] in _WIDE for x in leaves):
            wide = default_float() == np.float64
            return arr.astype((np.float64 if wide else np.float32) if arr.dtype.kind == "f"
                              else (np.complex128 if wide else np.complex64))
    elif arr.dtype.kind in "iu" and arr.dtype != np.int64 and next(iter(leaves), None) is None:
        return arr.astype(np.int64)  # Python ints are int64 whatever NumPy's default int is
    return arr


def _shared(data: Any) -> np.ndarray:
    """The NumPy array of an object that has one (a DLPack exporter such as a torch tensor, or
    an object with __array__), sharing its memory where the object allows."""
    if hasattr(data, "__dlpack__"):
        # a torch tensor in a graph cannot be exported; its values (.detach()) can
        src = data.detach() if callable(getattr(data, "detach", None)) else data
        try:
            return np.from_dlpack(src)
        except (BufferError, RuntimeError, TypeError, ValueError):
            if not hasattr(src, "__array__"):
                raise
            data = src
    return np.asarray(data)


def _array_of(data: Any, who: str) -> np.ndarray:
    """data's values as a NumPy array (PyTorch's dtype inference), sharing memory where data
    has an array of its own (NumPy arrays, tensors of other libraries through DLPack)."""
    if isinstance(data, Tensor):
        return data.numpy(force=True)
    if isinstance(data, np.ndarray):
        return _checked(data, who)
    if isinstance(data, np.generic):
        return _checked(np.asarray(data), who)
    if not isinstance(data, (list, tuple)) and (hasattr(data, "__dlpack__")
                                                or hasattr(data, "__array__")):
        return _checked(_shared(data), who)
    return _from_python(data)


_COPY_CONSTRUCT = ("To copy construct from a tensor, it is recommended to use "
                   "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                   ".requires_grad_(True), rather than chainrule.tensor(sourceTensor).")


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False, *, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of data (numbers, nested lists, NumPy arrays, tensors of
    chainrule or another library), never sharing its memory. Python floats give the default
    float dtype (float32), ints int64, bools bool; a NumPy array, NumPy scalar or tensor keeps
    its dtype (float64 stays float64). A tensor argument keeps its device and warns, as in
    PyTorch: use t.detach().clone(). name= (chainrule's) labels the tensor in graphs."""
    dt = None if dtype is None else as_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        warnings.warn(_COPY_CONSTRUCT, UserWarning, stacklevel=2)
        a = data.array
        arr = a.astype(a.dtype if dt is None else dt, copy=True)
        device = data.device if device is None else device
    elif dt is not None and isinstance(data, (list, tuple, *_PY_NUMBERS)):
        arr = np.array(data, dtype=dt)  # straight to dtype: no float32 step
    else:
        arr = np.array(_array_of(data, "tensor"), dtype=dt, copy=True)
    t = _finish(arr, device, requires_grad, "tensor")
    t.name = name
    return t


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a tensor, sharing memory where it can, as torch.as_tensor: a chainrule tensor
    of that dtype and device is returned itself (else converted, recorded for autograd); a
    NumPy array, or a tensor of another library (through DLPack), of that dtype on the CPU
    is shared; anything else is copied."""
    if isinstance(data, Tensor):
        d = None if device is None else check_device(device, "as_tensor")
        same_dtype = dtype is None or as_numpy_dtype(dtype) == data.array.dtype
        here = data.device
        if same_dtype and (d is None or d.type == here.type and d.index in (None, here.index)):
            return data
        return data.to(dtype=dtype, device=d)
    arr = _array_of(data, "as_tensor")
    if dtype is not None:
        arr = arr.astype(as_numpy_dtype(dtype), copy=False)
    if not arr.flags.writeable:
        _warn_read_only()
    return _finish(arr, device, False, "as_tensor")


def _warn_read_only() -> None:
    warnings.warn("The given NumPy array is not writable, and the tensor shares its memory: "
                  "in-place changes to the tensor will fail. Copy the array (a.copy()) or make "
                  "it writable before converting it to a tensor.", UserWarning, stacklevel=3)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (a write on one shows in the other), of its
    dtype. Refused, as in PyTorch, for dtypes no tensor holds (object, str, longdouble) and
    for a non-native byte order; a reversed (negative-stride) view is accepted."""
    if not isinstance(ndarray, np.ndarray):
        kind = type(ndarray)
        name = (kind.__name__ if kind.__module__ == "builtins"
                else f"{kind.__module__}.{kind.__name__}")
        raise TypeError(f"expected np.ndarray (got {name})")
    arr = _checked(ndarray, "from_numpy")
    if not arr.flags.writeable:
        _warn_read_only()
    return Tensor._make(arr, None)


class _Capsule:
    """A legacy DLPack capsule (torch.utils.dlpack.to_dlpack's) dressed as an exporter, which
    np.from_dlpack reads; NumPy itself refuses memory that is not on the CPU."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, stream: Any = None) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return 1, 0


class _Writable:
    """The memory of an array NumPy marked read-only, as a writable array (np.asarray of this;
    it keeps the array, and so the capsule, alive)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a
        face = a.__array_interface__
        self.__array_interface__ = dict(face, data=(face["data"][0], False))


_HOST = (1, 3, 11, 13)  # DLPack devices NumPy reads: CPU, CUDA host, ROCm host, CUDA managed


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor sharing memory with ext_tensor, a tensor or array of another library (anything
    with __dlpack__: NumPy, PyTorch, JAX ...) or a DLPack capsule, as torch.from_dlpack: same
    dtype, shape and strides, writes show on both sides, requires_grad False. copy=True copies;
    copy=False refuses to; device= moves (a copy)."""
    if type(ext_tensor).__name__ == "PyCapsule":
        if device is not None or copy is not None:
            raise AssertionError("device and copy kwargs not supported when ext_tensor is "
                                 "already a DLPack capsule.")
        ext_tensor = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise RuntimeError(f"from_dlpack: expected a tensor or array with __dlpack__ (NumPy, "
                           f"PyTorch, JAX ...) or a DLPack capsule, got "
                           f"{type(ext_tensor).__name__}; for Python data use cr.tensor(data)")
    d = CPU if device is None else check_device(device, "from_dlpack")
    kind, index = ext_tensor.__dlpack_device__()
    if int(kind) not in _HOST:
        from chainrule.utils.dlpack import DLDeviceType

        where = DLDeviceType(kind).name if kind in DLDeviceType._value2member_map_ else kind
        raise RuntimeError(f"from_dlpack: the tensor is in {where} memory (device {index}); "
                           "chainrule reads DLPack memory on the CPU: move it there first, "
                           "e.g. x.cpu()")
    if d.type != "cpu" and copy is False:
        raise ValueError(f"cannot move DLPack tensor from device {(int(kind), int(index))} to "
                         f"{d} without copying. Set copy=None or copy=True.")
    arr = np.from_dlpack(ext_tensor) if copy is None else np.from_dlpack(ext_tensor, copy=copy)
    if isinstance(ext_tensor, _Capsule) and not arr.flags.writeable:
        # a legacy capsule cannot flag read-only memory, so NumPy assumes it is; exporters give
        # legacy capsules of writable memory only (NumPy refuses the others) and PyTorch
        # writes through them: so does chainrule
        arr = np.asarray(_Writable(arr))
    return _finish(arr, d, False, "from_dlpack")
