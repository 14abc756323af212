"""What a checkpoint's document holds, and the allowlist that guards whole modules
(torch.serialization's names: add_safe_globals, safe_globals, get_safe_globals,
clear_safe_globals).

A saved structure becomes a JSON document plus named arrays: dicts, lists, tuples, numbers,
strings and None as themselves, Tensors and NumPy arrays by the name of their array. A whole
Module, `cr.save(model, f)`, is stored as its class's import path and its attributes
(parameters, buffers, submodules, numbers, strings, dtypes, functions by name), each module and
parameter once, so shared weights stay shared.

Loading rebuilds a module without running anything from the file: classes and functions are
looked up in modules this process has already imported, never imported, and one is only
accepted when it is chainrule's own, or allowed with add_safe_globals([cls]) or
`with safe_globals([cls]):` (what torch.load(weights_only=True) asks for too), or when the
caller passes weights_only=False. The module is made with cls.__new__ and its attributes set;
its __init__ is not called.
"""

from __future__ import annotations

import math
import pickle
import sys
from collections import OrderedDict
from types import BuiltinFunctionType, FunctionType
from typing import Any, Iterable

import numpy as np

from chainrule.backend import is_device_array, to_host
from chainrule.errors import CheckpointError

# safetensors dtype name -> NumPy dtype (bfloat16 and the float8s have no NumPy dtype)
DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
          "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16",
          "F32": "float32", "F64": "float64"}

_ALLOWED: dict[tuple[str, str], Any] = {}  # (module, qualname) -> the object
_SCOPES: list[dict[tuple[str, str], Any]] = []  # the active `with safe_globals(...)` blocks


class UnsafeGlobal(CheckpointError, pickle.UnpicklingError):
    """A file names a class or function that loading may not use: not chainrule's own and not
    allowed (torch.load raises pickle.UnpicklingError here)."""


# -- the allowlist -------------------------------------------------------------------------------
def _where(obj: Any) -> tuple[str, str]:
    return getattr(obj, "__module__", None) or "", getattr(obj, "__qualname__", None) or ""


def _entries(objs: Iterable[Any]) -> dict[tuple[str, str], Any]:
    out = {}
    for o in objs:
        if isinstance(o, tuple):  # torch's (obj, "module.name") form
            obj, name = o
            mod, _, qual = str(name).rpartition(".")
            out[(mod, qual)] = obj
        else:
            out[_where(o)] = o
    return out


def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes and functions in loaded files, for the rest of the process."""
    _ALLOWED.update(_entries(safe_globals))


def get_safe_globals() -> list:
    """The classes and functions add_safe_globals allowed."""
    return list(_ALLOWED.values())


def clear_safe_globals() -> None:
    _ALLOWED.clear()


class safe_globals:  # noqa: N801  (PyTorch's name: a context manager)
    """with safe_globals([Net]): model = cr.load(path): Net is allowed inside the block only."""

    def __init__(self, safe_globals: list) -> None:
        self.entries = _entries(safe_globals)

    def __enter__(self) -> safe_globals:
        _SCOPES.append(self.entries)
        return self

    def __exit__(self, *exc: Any) -> None:
        _SCOPES.remove(self.entries)


def _find(mod: str, qual: str) -> Any:
    """The object named qual in the already imported module mod, if it is defined there (None
    otherwise; nothing is imported)."""
    obj = sys.modules.get(mod)
    for part in qual.split(".") if obj is not None and qual and "<" not in qual else ("",):
        obj = getattr(obj, part, None) if part else None
    return obj if obj is not None and _where(obj) == (mod, qual) else None


def _lookup(mod: Any, qual: Any, weights_only: bool) -> Any:
    """The class or function saved as (mod, qual), if loading may use it; UnsafeGlobal if not.
    Nothing is imported: the module must already be loaded."""
    if not isinstance(mod, str) or not isinstance(qual, str):
        raise TypeError("a global is not a pair of names")
    for table in (*_SCOPES, _ALLOWED):
        if (mod, qual) in table:
            return table[(mod, qual)]
    obj = _find(mod, qual)
    # chainrule's own: its modules and the math they call (never io, cli, data, viz, ...)
    own = mod == "chainrule" or mod.startswith(("chainrule.nn.", "chainrule.ops.")) or \
        mod in ("chainrule.nn", "chainrule.linalg", "chainrule.autograd")
    if obj is not None and (own or weights_only is False):
        return obj
    short = qual.rpartition(".")[2] or qual
    raise UnsafeGlobal(
        f"the file names {mod}.{qual}, which loading does not use unless it is allowed (nothing "
        "read from a file is trusted, and no module is imported for it). If you trust the "
        f"file, allow it: chainrule.serialization.add_safe_globals([{short}]), or load inside "
        f"`with chainrule.serialization.safe_globals([{short}]):`, or pass weights_only=False "
        "(then any class of a module already imported is accepted)")


def _findable(obj: Any) -> bool:
    """Whether obj can be found again by its module and qualified name."""
    return _find(*_where(obj)) is obj


# -- encoding ----------------------------------------------------------------------------------
def as_array(obj: Any) -> np.ndarray | None:
    """obj as a host NumPy array when it is an array or a Tensor, else None."""
    from chainrule.tensor import Tensor

    if isinstance(obj, Tensor):
        obj = obj.array
    if is_device_array(obj):
        obj = to_host(obj)  # a GPU array: bring it to the host, to be written
    if isinstance(obj, np.ndarray):
        if obj.dtype.name not in DTYPES.values():
            raise TypeError(f"cr.save: arrays of dtype {obj.dtype} cannot be stored; supported: "
                            f"{', '.join(DTYPES.values())}")
        # little-endian C order, as safetensors stores it (ascontiguousarray would make 0-d 1-d)
        return obj.astype(obj.dtype.newbyteorder("<"), order="C", copy=False)
    return None


class Encoder:
    """A structure -> (JSON-able document, self.arrays)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.refs: dict[int, int] = {}  # id(module or parameter) -> its number in the file
        self.keep: list[Any] = []  # the objects numbered, alive until the encoding ends

    def name_for(self, path: str) -> str:
        name, k = path or "tensor", 1
        while name in self.arrays or name == "__metadata__":  # the header's own key
            name, k = f"{path}#{k}", k + 1
        return name

    def encode(self, obj: Any, path: str) -> Any:
        from chainrule.dtypes import dtype as cr_dtype
        from chainrule.nn.module import Module, Parameter
        from chainrule.tensor import Tensor

        if isinstance(obj, (Module, Parameter)):
            return self.encode_shared(obj, path)
        arr = as_array(obj)
        if arr is not None:  # a Tensor loads back as a Tensor, a NumPy array as an array
            name = self.name_for(path)
            self.arrays[name] = arr
            return {"__tensor__" if isinstance(obj, Tensor) else "__array__": name}
        if isinstance(obj, np.generic):
            obj = obj.item()
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, f"{path}/{i}") for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else {"__tuple__": items}
        if isinstance(obj, OrderedDict):
            return {"__odict__": self.encode_pairs(obj, path)}
        if isinstance(obj, dict):
            return self.encode_dict(obj, path)
        if isinstance(obj, (set, frozenset)):
            return {"__set__": [self.encode(v, path) for v in sorted(obj, key=repr)]}
        if isinstance(obj, cr_dtype):
            return {"__dtype__": str(obj).rpartition(".")[2]}
        if type(obj).__name__ == "device" and type(obj).__module__ == "chainrule.backend":
            return {"__device__": str(obj)}
        if isinstance(obj, (type, FunctionType, BuiltinFunctionType)) and _findable(obj):
            return {"__global__": list(_where(obj))}  # a function or class, by name
        raise TypeError(f"cr.save: cannot store an object of type {type(obj).__name__} at "
                        f"{path or 'the top level'}; store arrays, Tensors, Modules, numbers, "
                        "strings, None, and lists, tuples or dicts of them (nothing is pickled)")

    def encode_shared(self, obj: Any, path: str) -> Any:
        """A module or parameter, once: later occurrences refer to the first."""
        from chainrule.nn.module import Parameter

        if id(obj) in self.refs:
            return {"__ref__": self.refs[id(obj)]}
        ref = self.refs[id(obj)] = len(self.refs)
        self.keep.append(obj)
        if isinstance(obj, Parameter):
            name = self.name_for(path)
            self.arrays[name] = as_array(obj)
            return {"__param__": [ref, name, bool(obj.requires_grad)]}
        mod, qual = _where(type(obj))
        if "<" in qual:
            raise TypeError(f"cr.save: cannot save a module of class {qual} (defined inside a "
                            "function, so it cannot be found by name when loading); define "
                            "the class at the top level of a module, or save its state_dict()")
        state = {k: self.encode(v, f"{path}/{k}" if path else k) for k, v in vars(obj).items()}
        return {"__module__": [ref, [mod, qual], state]}

    def encode_pairs(self, obj: dict, path: str) -> list:
        pairs = []
        for k, v in obj.items():
            if isinstance(k, np.generic):
                k = k.item()
            if not isinstance(k, (str, int, float, bool, tuple)) and k is not None:
                raise TypeError(f"cr.save: dict keys must be strings, numbers, None or "
                                f"tuples, got {type(k).__name__} at {path or 'the top level'}")
            pairs.append([self.encode(k, path), self.encode(v, f"{path}/{k}" if path else str(k))])
        return pairs

    def encode_dict(self, obj: dict, path: str) -> Any:
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: self.encode(v, f"{path}/{k}" if path else k) for k, v in obj.items()}
        return {"__dict__": self.encode_pairs(obj, path)}


# -- decoding ----------------------------------------------------------------------------------
class Decoder:
    """(document, arrays) -> the structure. tensor(array), when given, turns what was saved as
    a Tensor back into one (else every array stays a NumPy array). modules: None refuses whole
    modules (the library's own readers); True rebuilds the allowed ones; weights_only as
    torch.load's."""

    def __init__(self, arrays: dict[str, np.ndarray], tensor: Any = None,
                 modules: bool = False, weights_only: bool | None = None) -> None:
        self.arrays, self.tensor = arrays, tensor
        self.modules, self.weights_only = modules, weights_only
        self.memo: dict[int, Any] = {}

    def array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise KeyError(f"the document refers to a tensor {name!r} that is not stored")
        return self.arrays[name]

    def decode(self, doc: Any) -> Any:
        if isinstance(doc, list):
            return [self.at(i, v) for i, v in enumerate(doc)]
        if not isinstance(doc, dict):
            return doc
        if len(doc) == 1:
            (key, val), = doc.items()
            special = _SPECIAL.get(key)
            if special is not None:
                return special(self, val)
        return {k: self.at(k, v) for k, v in doc.items()}

    def at(self, key: Any, doc: Any) -> Any:
        """decode(doc), the value at `key`: an error on the way records the path it took (in
        reverse, on the exception's _cr_path), so the message can name the field."""
        try:
            return self.decode(doc)
        except Exception as e:
            path = getattr(e, "_cr_path", None)
            if path is None:
                path = e._cr_path = []  # type: ignore[attr-defined]
            path.append(key)
            raise

    def pairs(self, val: Any) -> list:
        return [(_hashable(self.decode(k)), self.decode(v)) for k, v in val]

    def shared(self, kind: str, val: Any) -> tuple[int, Any]:
        if not self.modules:
            raise CheckpointError("the file holds a whole module; cr.load rebuilds it (this "
                                  "reader takes state dicts and arrays only)")
        ref, *rest = val
        if not isinstance(ref, int) or ref in self.memo:
            raise ValueError(f"a {kind} with a bad or repeated number {ref!r}")
        return ref, rest

    def parameter(self, val: Any) -> Any:
        from chainrule.nn.module import Parameter

        ref, (name, requires_grad) = self.shared("parameter", val)
        t = self.tensor(self.array(name))
        p = self.memo[ref] = Parameter(t, requires_grad=bool(requires_grad))
        return p

    def module(self, val: Any) -> Any:
        from chainrule.nn.module import Module, Parameter

        ref, ((mod, qual), state) = self.shared("module", val)
        cls = _lookup(mod, qual, self.weights_only)
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise UnsafeGlobal(f"the file says {mod}.{qual} is a module class; it is not a "
                               "subclass of nn.Module, so loading does not build it")
        obj = self.memo[ref] = cls.__new__(cls)
        attrs = self.decode(state)
        if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise TypeError(f"the attributes of a {qual} are not a dict of names")
        for kind, want in (("_parameters", Parameter), ("_modules", Module)):
            inner = attrs.get(kind)
            if not isinstance(inner, dict) or not all(
                    v is None or isinstance(v, want) for v in inner.values()):
                raise TypeError(f"the {kind} of a {qual} are not {want.__name__}s")
        obj.__dict__.update(attrs)
        return obj

    def ref(self, val: Any) -> Any:
        if not isinstance(val, int) or val not in self.memo:
            raise KeyError(f"a reference to object {val!r}, which the file does not define")
        return self.memo[val]


def _hashable(k: Any) -> Any:
    if isinstance(k, list):
        raise TypeError("a dict key decodes to a list")
    return k


def _dtype(name: Any) -> Any:
    import chainrule.dtypes as dtypes

    dt = getattr(dtypes, name, None) if isinstance(name, str) else None
    if not isinstance(dt, dtypes.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dt


def _device(name: Any) -> Any:
    from chainrule.backend import device

    if not isinstance(name, str):
        raise TypeError(f"a device is not a string: {name!r}")
    try:
        return device(name)
    except (RuntimeError, ValueError) as e:  # device()'s own verdict on the name
        raise ValueError(f"a device named {name[:40]!r}: {e}") from None


def _global(d: Decoder, val: Any) -> Any:
    if not d.modules:
        raise CheckpointError("the file holds a function or class by name; cr.load rebuilds "
                              "it (this reader takes state dicts and arrays only)")
    mod, qual = val
    return _lookup(mod, qual, d.weights_only)


_SPECIAL = {
    "__tensor__": lambda d, v: d.array(v) if d.tensor is None else d.tensor(d.array(v)),
    "__array__": lambda d, v: d.array(v),
    "__float__": lambda d, v: float(v),
    "__tuple__": lambda d, v: tuple(d.decode(x) for x in v),
    "__dict__": lambda d, v: dict(d.pairs(v)),
    "__odict__": lambda d, v: OrderedDict(d.pairs(v)),
    "__set__": lambda d, v: {_hashable(d.decode(x)) for x in v},
    "__dtype__": lambda d, v: _dtype(v),
    "__device__": lambda d, v: _device(v),
    "__global__": _global,
    "__param__": Decoder.parameter,
    "__module__": Decoder.module,
    "__ref__": Decoder.ref,
}
