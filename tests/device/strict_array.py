"""The array of the strict CuPy stand-in (tests only; the module object is in strict_xp.py).

`ndarray` holds a NumPy array and behaves like `cupy.ndarray` where the engine can tell, and
refuses every implicit conversion to the host; `_wrapped` turns a NumPy function into one that
takes and gives such arrays and refuses host arrays among its arguments. strict_xp.py's
docstring says what is refused and why.
"""

from __future__ import annotations

import sys
import types
import weakref
from typing import Any

import numpy as np

SKIP_FILES = {__file__}  # frames _where() passes over (strict_xp.py adds itself)
TRANSFERS: list[tuple[str, str]] = []  # (what, where) of each explicit device-to-host copy
UPLOADS: list[tuple[str, str]] = []  # (shape, where) of each explicit host-to-device copy


class TransferError(TypeError):
    """A hidden host/device transfer, or a host array mixed with a device array."""


def _where() -> str:
    """The first caller outside this file and chainrule/backend.py (whose helpers transfer on
    behalf of their callers): the line that made the violation or asked for the copy."""
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename in SKIP_FILES
                             or f.f_code.co_filename.endswith("chainrule/backend.py")):
        f = f.f_back
    return "?" if f is None else f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


def _refuse(what: str, fix: str = "") -> None:
    raise TransferError(f"strict device: {what}, at {_where()}" + (f"; {fix}" if fix else ""))


def _log(what: str) -> None:
    TRANSFERS.append((what, _where()))


# -- the array ----------------------------------------------------------------------------------
class Device:
    """cupy.cuda.Device: one device, id 0 (a context manager, as CuPy's is)."""

    def __init__(self, device: Any = None) -> None:
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"strict device: no device {self.id} (the stand-in has one)")

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def use(self) -> None:
        return None

    def synchronize(self) -> None:
        return None

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("strict", self.id))

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id} (strict stand-in)>"


def _host_mix(what: str) -> None:
    _refuse(f"a host (NumPy) array mixed with a device array in {what}",
            "move it first with .to(device) (or xp.asarray(host_array), once)")


def _operand(v: Any, what: str) -> Any:
    """An operator's other operand, unwrapped; host arrays refused."""
    if type(v) is ndarray:
        return v._a
    if isinstance(v, np.ndarray):
        _host_mix(what)
    if isinstance(v, (bool, int, float, complex, np.generic)):
        return v
    _refuse(f"{type(v).__name__} operand in {what}", "use a device array or a Python number")


def _index(idx: Any, what: str) -> Any:
    """An index unwrapped: device arrays, ints, slices, None, Ellipsis, lists of ints."""
    if type(idx) is ndarray:
        return idx._a
    if isinstance(idx, tuple):
        return tuple(_index(i, what) for i in idx)
    if isinstance(idx, np.ndarray):
        _host_mix(what)
    return idx


_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(NumPy array) -> wrapper


def _dev(a: np.ndarray) -> ndarray:
    """The one device array wrapping a (so `y.base is x` holds as on CuPy)."""
    w = _LIVE.get(id(a))
    if w is not None and w._a is a:
        return w
    return ndarray(a)


def _wrap(r: Any) -> Any:
    if isinstance(r, np.ndarray):
        return _dev(r)
    if isinstance(r, np.generic):  # CuPy reductions and indexing give 0-d arrays, not scalars
        return ndarray(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, list):
        return [_wrap(x) for x in r]
    return r


def _binop(name: str, what: str) -> Any:
    f = getattr(np.ndarray, name)

    def op(self: ndarray, other: Any) -> Any:
        r = f(self._a, _operand(other, what))
        return r if r is NotImplemented else _wrap(r)

    op.__name__ = name
    return op


def _iop(name: str, what: str) -> Any:
    f = getattr(np.ndarray, name)

    def op(self: ndarray, other: Any) -> ndarray:
        f(self._a, _operand(other, what))
        return self

    op.__name__ = name
    return op


def _implicit(kind: str) -> Any:
    def op(self: ndarray, *args: Any) -> Any:
        _refuse(f"implicit {kind} of a device array (CuPy copies it to the host and waits)",
                "ask for the host value explicitly with .item() or .get(), where it is needed")

    return op


_METHODS = frozenset(
    "all any argmax argmin argpartition argsort astype choose clip compress conj conjugate copy "
    "cumprod cumsum diagonal dot fill flatten max mean min nonzero partition prod put ravel "
    "repeat reshape round sort squeeze std sum swapaxes take trace transpose var view".split())


class ndarray:  # noqa: N801  (cupy.ndarray)
    """A device array of the stand-in: a NumPy array only reachable through explicit transfers."""

    __slots__ = ("_a", "__weakref__")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, a: np.ndarray) -> None:
        if not isinstance(a, np.ndarray):
            raise TypeError("strict_xp.ndarray wraps a NumPy array; use xp.asarray(data)")
        self._a = a
        _LIVE[id(a)] = self

    # explicit transfers
    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        _log("get")
        return self._a.copy()

    def set(self, arr: np.ndarray, stream: Any = None) -> None:
        self._a[...] = arr

    def item(self, *args: Any) -> Any:
        _log("item")
        return self._a.item(*args)

    # what CuPy refuses, and what it allows only with a hidden copy
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        _refuse("Implicit conversion to a NumPy array is not allowed (np.asarray of a device "
                "array, or a NumPy function given one)",
                "please use `.get()` to construct a NumPy array explicitly")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        others = [x for x in inputs if x is not self]
        if (method == "__call__" and not kwargs and len(inputs) == 2
                and all(isinstance(x, (np.generic, int, float, bool)) for x in others)):
            # np.float32(2) * a: a scalar operator meets a device array, fine on CuPy
            return _wrap(ufunc(*[_operand(x, ufunc.__name__) for x in inputs]))
        _refuse(f"numpy.{ufunc.__name__}.{method} on a device array (NumPy's function, not the "
                "array module's; or a host array mixed with a device array)",
                "use xp = xp_of(array) and xp." + ufunc.__name__)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        _refuse(f"numpy.{func.__name__} on a device array",
                f"use xp = xp_of(array) and xp.{func.__name__}")

    __float__ = _implicit("float()")
    __int__ = _implicit("int()")
    __complex__ = _implicit("complex()")
    __bool__ = _implicit("bool() (an `if` on an array)")
    __index__ = _implicit("use as an index (operator.index)")
    tolist = _implicit("tolist()")
    tobytes = _implicit("tobytes()")
    __reduce__ = _implicit("pickling")
    __reduce_ex__ = _implicit("pickling")

    def __copy__(self) -> ndarray:
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return ndarray(self._a.copy())

    # attributes
    @property
    def shape(self) -> tuple:
        return self._a.shape

    @shape.setter
    def shape(self, value: Any) -> None:  # CuPy's AttributeError when a view cannot do it
        self._a.shape = value

    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    mT = property(lambda self: ndarray(self._a.mT))
    real = property(lambda self: ndarray(self._a.real))
    imag = property(lambda self: ndarray(self._a.imag))
    device = property(lambda self: Device(0))
    data = property(lambda self: types.SimpleNamespace(ptr=self._a.ctypes.data))  # MemoryPointer

    @property
    def base(self) -> Any:
        b = self._a.base
        return _dev(b) if isinstance(b, np.ndarray) else None

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS:
            raise AttributeError(f"strict_xp.ndarray has no attribute {name!r}")
        return _wrapped(getattr(self._a, name), f"ndarray.{name}")

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (ndarray(self._a[i, ...]) for i in range(len(self._a)))

    def __getitem__(self, idx: Any) -> ndarray:
        i = _index(idx, "an index")
        r = self._a[i]
        if isinstance(r, np.generic):  # a[0, 1] is a 0-d view on CuPy
            r = self._a[(i if isinstance(i, tuple) else (i,)) + (Ellipsis,)]
        return ndarray(r)

    def __setitem__(self, idx: Any, value: Any) -> None:
        v = value._a if type(value) is ndarray else value
        if isinstance(v, np.ndarray) and type(value) is not ndarray:
            _host_mix("an index assignment")
        self._a[_index(idx, "an index assignment")] = v

    def __repr__(self) -> str:  # printing is a transfer the user asked for
        return "strict_" + repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __neg__(self) -> ndarray:
        return _wrap(-self._a)

    def __pos__(self) -> ndarray:
        return _wrap(+self._a)

    def __abs__(self) -> ndarray:
        return _wrap(abs(self._a))

    def __invert__(self) -> ndarray:
        return _wrap(~self._a)


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _binop(f"__{_name}__", f"operator {_name}"))
    setattr(ndarray, f"__r{_name}__", _binop(f"__r{_name}__", f"operator {_name}"))
    setattr(ndarray, f"__i{_name}__", _iop(f"__i{_name}__", f"operator {_name}="))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binop(f"__{_name}__", f"comparison {_name}"))


_BOOL_TO_ARRAY = frozenset({"array_equal", "allclose", "array_equiv"})  # 0-d arrays on CuPy


def _args_in(x: Any, what: str, upload: bool, outs: dict) -> Any:
    if type(x) is ndarray:
        outs[id(x._a)] = x
        return x._a
    if isinstance(x, np.ndarray):
        if not upload:
            _host_mix(what)
        UPLOADS.append((str(x.shape), _where()))
        return x.copy()  # the explicit upload: a new device array
    if isinstance(x, (list, tuple)):
        return type(x)(_args_in(v, what, upload, outs) for v in x)
    return x


def _wrapped(f: Any, what: str, upload: bool = False) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        outs: dict = {}
        a = [_args_in(x, what, upload, outs) for x in args]
        k = {n: _args_in(v, what, upload, outs) for n, v in kwargs.items()}
        r = f(*a, **k)
        if isinstance(r, np.ndarray) and id(r) in outs:  # out= (or asarray of a device array)
            return outs[id(r)]
        if isinstance(r, bool) and what.rsplit(".", 1)[-1] in _BOOL_TO_ARRAY:
            return ndarray(np.asarray(r))
        return _wrap(r)

    call.__name__ = what
    return call
