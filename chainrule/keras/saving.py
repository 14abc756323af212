"""keras.saving: load_model / save_model, the registry of custom objects
(register_keras_serializable, custom_object_scope, get_custom_objects) and
serialize_keras_object / deserialize_keras_object.

A class decorated with @register_keras_serializable() is found by load_model without
custom_objects=, as in Keras. Models are saved in chainrule's own file format (see
chainrule.keras.models.saving), not Keras' .keras zip: a file saved by one library does not
load in the other. Loading rebuilds only classes from the built-in registry, the registered
ones and those passed in custom_objects: no stored code runs.
"""

from __future__ import annotations

import contextvars
import inspect
from typing import Any, Callable

import numpy as np

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "load_weights", "register_keras_serializable", "save_model", "save_weights",
           "serialize_keras_object"]

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("_SCOPE",
                                                                               default=None)


def get_custom_objects() -> dict[str, Any]:
    """The live global dict of custom objects (registered name -> class or function): what is
    put into it is found by load_model and deserialize_keras_object."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Decorator: register a class or function under '<package>>(name or its __name__)', so
    that saved models using it load without custom_objects=."""
    if "/" in package or ">" in package:
        raise ValueError(f"Invalid package name {package!r}: it cannot contain '/' or '>'")

    def decorator(obj: Any) -> Any:
        key = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             "method.")
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """The name obj was registered under, else its __name__."""
    return _GLOBAL_CUSTOM_NAMES.get(obj) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None,
                          module_objects: dict | None = None) -> Any:
    """The object registered (or in scope, or in custom_objects / module_objects) under name;
    None when there is none."""
    for table in (_SCOPE.get() or {}, _GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """with CustomObjectScope({'MyLayer': MyLayer}): ... makes the objects visible to
    load_model and deserialize_keras_object inside the block."""

    def __init__(self, custom_objects: dict[str, Any] | None = None) -> None:
        self.custom_objects = dict(custom_objects or {})
        self._token: Any = None

    def __enter__(self) -> CustomObjectScope:
        self._token = _SCOPE.set({**(_SCOPE.get() or {}), **self.custom_objects})
        return self

    def __exit__(self, *exc: Any) -> None:
        _SCOPE.reset(self._token)


custom_object_scope = CustomObjectScope


def merged_custom_objects(extra: dict | None = None) -> dict[str, Any]:
    """Everything a load may use by name: the registered objects (by their registered
    names, 'package>name'), the scope's, then the caller's custom_objects."""
    out: dict[str, Any] = dict(_GLOBAL_CUSTOM_OBJECTS)
    out.update(_SCOPE.get() or {})
    out.update(extra or {})
    return out


# -- load / save ----------------------------------------------------------------------------
def save_model(model: Any, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
    """model.save(filepath): architecture, weights, compile settings and optimizer state."""
    model.save(filepath, overwrite=overwrite, **kwargs)


def load_model(filepath: Any, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """The model saved by model.save / save_model (registered classes need no
    custom_objects)."""
    from chainrule.keras.models.saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    model.save_weights(filepath, overwrite=overwrite)


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported")
    model.load_weights(filepath)


# -- objects <-> configs --------------------------------------------------------------------
def _entry(module: str | None, obj: Any, config: Any) -> dict[str, Any]:
    cls = obj if inspect.isclass(obj) else type(obj)
    registered = _GLOBAL_CUSTOM_NAMES.get(cls)
    return {"module": module if registered is None else None, "class_name": cls.__name__,
            "config": config, "registered_name": registered}


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-able description of obj, in Keras 3's shape: {'module', 'class_name',
    'config', 'registered_name'} for layers, models, metrics, losses, optimizers and
    functions; plain values (and lists / dicts of them) as they are."""
    from chainrule.keras import losses, metrics, optimizers
    from chainrule.keras._layer import Layer
    from chainrule.keras.models.saving import layer_config

    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(serialize_keras_object(v) for v in obj)
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(),
                                                      "dtype": obj.dtype.name}}
    if isinstance(obj, Layer):
        entry = layer_config(obj)
        module = "keras.models" if entry["class_name"] in ("Sequential", "Functional") \
            else "keras.layers"
        return {**_entry(module, obj, entry["config"]), "class_name": entry["class_name"]}
    if isinstance(obj, metrics.Metric):
        return _entry("keras.metrics", obj, obj.get_config())
    if isinstance(obj, losses.Loss):
        return _entry("keras.losses", obj, obj.get_config())
    if isinstance(obj, optimizers.Optimizer):
        return _entry("keras.optimizers", obj, obj.get_config())
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        name = _GLOBAL_CUSTOM_NAMES.get(obj) or _activation_name(obj) or obj.__name__
        return {"module": "builtins", "class_name": "function", "config": name,
                "registered_name": "function"}
    if hasattr(obj, "get_config"):  # regularizers, initializers ...: Keras' module name
        module = type(obj).__module__
        if module.startswith("chainrule.keras."):
            module = module[len("chainrule."):]
        return _entry(module, obj, obj.get_config())
    raise TypeError(f"serialize_keras_object: cannot serialize {obj!r}: it has no "
                    "get_config() (give it one, and register it with "
                    "@keras.saving.register_keras_serializable())")


def _activation_name(fn: Any) -> str | None:
    from chainrule.keras import activations

    return next((n for n, f in activations.ALL.items() if f is fn), None)


def deserialize_keras_object(config: Any, custom_objects: dict | None = None,
                             safe_mode: bool = True, **kwargs: Any) -> Any:
    """The object that serialize_keras_object described (layers, models, metrics, losses,
    optimizers, functions, registered classes)."""
    from chainrule.keras import activations, losses, metrics, optimizers

    if config is None or isinstance(config, (str, int, float, bool)):
        return config
    if isinstance(config, (list, tuple)):
        return type(config)(deserialize_keras_object(v, custom_objects) for v in config)
    if not isinstance(config, dict) or "class_name" not in config:
        if isinstance(config, dict):
            return {k: deserialize_keras_object(v, custom_objects) for k, v in config.items()}
        raise TypeError(f"deserialize_keras_object: cannot read {config!r}")
    known = merged_custom_objects(custom_objects)
    name, inner = config["class_name"], config.get("config", {})
    module = config.get("module")
    if name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if name == "function":
        fn = known.get(config.get("registered_name") or "") or known.get(inner) \
            or activations.ALL.get(inner)
        if fn is None:
            raise TypeError(f"Could not locate function {inner!r}. Make sure custom functions "
                            "are decorated with `@keras.saving.register_keras_serializable()`.")
        return fn
    cls = known.get(config.get("registered_name") or "") or known.get(name)
    if (cls is None and module in (None, "keras.layers", "keras.models")) or _is_layer(cls):
        from chainrule.keras.models.saving import deserialize

        return deserialize({"class_name": name, "config": inner,
                            "registered_name": config.get("registered_name")}, known)
    if cls is None:
        cls = {"keras.metrics": metrics.CLASSES, "keras.losses": losses.CLASSES,
               "keras.optimizers": {c.__name__: c for c in optimizers.ALL.values()}
               }.get(module or "", {}).get(name)
    if cls is None and module in ("keras.regularizers", "keras.initializers",
                                  "keras.constraints", "keras.optimizers.schedules"):
        import importlib

        try:
            cls = getattr(importlib.import_module("chainrule." + module), name, None)
        except ImportError:
            cls = None
    if cls is None:
        raise TypeError(f"Could not locate class {name!r}. Make sure custom classes are "
                        "decorated with `@keras.saving.register_keras_serializable()`.")
    return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)


def _is_layer(cls: Any) -> bool:
    from chainrule.keras._layer import Layer

    return inspect.isclass(cls) and issubclass(cls, Layer)
