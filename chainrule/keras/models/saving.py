"""model.save / load_model, save_weights / load_weights, to_json / model_from_json.

A saved model is one chainrule checkpoint file (chainrule.io: safetensors tensors + a JSON
document, written atomically, with a SHA-256 of everything that detects corruption, and an
HMAC-SHA256 signature that detects edits when CHAINRULE_CHECKPOINT_KEY is set): the
architecture as JSON (each layer's class name and config, and the graph's nodes), the weights
in Keras' layout and order, the compile settings and the optimizer state. Loading executes no
stored code: layers are rebuilt only from a closed registry of classes (plus the custom_objects
the caller passes); a truncated or damaged file (or, under a key, an unsigned or edited one)
raises chainrule.io.CheckpointError naming the problem, and a well-formed file whose fields do
not describe a model raises ModelFormatError (a ValueError) naming the field.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from chainrule import io
from chainrule.keras import activations
from chainrule.keras import layers as layers_mod
from chainrule.keras import losses as losses_mod
from chainrule.keras import metrics as metrics_mod
from chainrule.keras import saving as keras_saving
from chainrule.keras._graph import fill_kwargs, kwargs_from_json, kwargs_to_json
from chainrule.keras._layer import Layer, weight_budget

FORMAT, WEIGHTS_FORMAT = "chainrule.keras", "chainrule.keras.weights"


class ModelFormatError(ValueError):
    """A model file whose architecture cannot be rebuilt (unknown layer, bad config)."""


def _registry(custom_objects: dict | None) -> dict[str, Any]:
    from chainrule.keras.models.functional import Model
    from chainrule.keras.models.sequential import Sequential

    reg = {name: obj for name, obj in vars(layers_mod).items()
           if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer}
    reg.update({"Functional": Model, "Sequential": Sequential})
    # the classes registered with @register_keras_serializable, those of a custom_object_scope
    reg.update(keras_saving.merged_custom_objects(custom_objects))
    return reg


# -- architecture -> config ----------------------------------------------------------------------
def layer_config(layer: Layer) -> dict[str, Any]:
    from chainrule.keras.models.functional import Model
    from chainrule.keras.models.sequential import Sequential

    if isinstance(layer, Sequential):
        return {"class_name": "Sequential", "config": sequential_config(layer)}
    if isinstance(layer, Model):
        if layer._plan is None:
            raise ValueError(f"model '{layer.name}' is a subclassed Model: its architecture is "
                             "Python code, which is not saved; use save_weights(), rebuild the "
                             "model in code and load_weights()")
        return {"class_name": "Functional", "config": functional_config(layer)}
    # the name beside the config too, as Keras saves it: a custom get_config() may omit it
    entry = {"class_name": type(layer).__name__, "name": layer.name,
             "config": layer.get_config()}
    registered = keras_saving.get_registered_name(type(layer))
    if registered != type(layer).__name__:
        entry["registered_name"] = registered
    return entry


def functional_config(model: Any) -> dict[str, Any]:
    nodes = model._nodes
    pos = {id(n): i for i, n in enumerate(nodes)}
    seen, layer_cfgs = set(), []
    for n in nodes:
        if id(n.layer) not in seen:
            seen.add(id(n.layer))
            layer_cfgs.append(layer_config(n.layer))

    def ref(t: Any) -> list[int]:
        return [pos[id(t.node)], t.index]

    return {"name": model.name, "trainable": model.trainable, "layers": layer_cfgs,
            "nodes": [{"layer": n.layer.name, "inputs": [ref(t) for t in n.inputs],
                       "as_list": n.as_list, "kwargs": kwargs_to_json(n.kwargs),
                       **({"n_args": n.n_args} if n.n_args < len(n.inputs) else {})}
                      for n in nodes],
            "inputs": [ref(t) for t in model._inputs], "outputs": [ref(t) for t in model._outputs],
            "input_kind": model._in_kind, "output_kind": model._out_kind}


def sequential_config(model: Any) -> dict[str, Any]:
    inp = None
    if model._input is not None:
        inp = {"batch_shape": list(model._input.shape), "dtype": model._input.dtype}
    return {"name": model.name, "trainable": model.trainable, "input": inp,
            "layers": [layer_config(layer) for layer in model.layers]}


def model_to_json(model: Any) -> str:
    return json.dumps(layer_config(model))


# -- config -> architecture ----------------------------------------------------------------------
def _resolve_callables(config: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    config = dict(config)
    for key in ("activation", "recurrent_activation"):
        v = config.get(key)
        if isinstance(v, str) and v not in activations.ALL:
            # a layer's config names a function by its __name__; a registered one is also
            # found under 'package>name' when that name is not ambiguous
            found = [f for k, f in custom.items() if k.rpartition(">")[2] == v and ">" in k]
            fn = custom.get(v, found[0] if len(found) == 1 else None)
            if fn is None:
                raise ModelFormatError(f"unknown activation {v!r}; register it with "
                                       "@keras.saving.register_keras_serializable() or pass "
                                       f"it to load_model in custom_objects={{'{v}': fn}}")
            config[key] = fn
    return config


def deserialize(entry: Any, custom_objects: dict | None = None) -> Layer:
    """A layer or model from {'class_name': ..., 'config': {...}}."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFormatError(f"a layer entry must be {{'class_name', 'config'}}, got "
                               f"{str(entry)[:80]}")
    name, config = entry.get("class_name"), entry["config"]
    custom = keras_saving.merged_custom_objects(custom_objects)
    if name == "Functional":
        return _functional(config, custom)
    if name == "Sequential":
        return _sequential(config, custom)
    reg = _registry(custom)
    cls = reg.get(entry.get("registered_name") or "") or (
        reg.get(name) if isinstance(name, str) else None)
    if cls is None:
        raise ModelFormatError(f"unknown layer class {name!r}; known: "
                               f"{', '.join(sorted(_registry(None)))} (register custom layers "
                               "with @keras.saving.register_keras_serializable() or pass them "
                               "in custom_objects)")
    layer = cls.from_config(_resolve_callables(config, custom))
    if "name" not in config and isinstance(entry.get("name"), str):
        layer.name = entry["name"]  # the graph and the weights refer to the layer by it
    return layer


def _functional(config: dict[str, Any], custom: dict) -> Any:
    from chainrule.keras.models.functional import Model

    layers = {}
    for entry in config["layers"]:
        layer = deserialize(entry, custom)
        layers[layer.name] = layer
    outs: list[list[Any]] = []
    for n in config["nodes"]:
        layer = layers[n["layer"]]
        if isinstance(layer, layers_mod.InputLayer):
            outs.append([layer.output])
            continue
        args = [outs[p][i] for p, i in n["inputs"]]
        kwargs = fill_kwargs(kwargs_from_json(n.get("kwargs", {})), args)
        args = args[:n.get("n_args", len(args))]
        y = layer(args if n["as_list"] else args[0], **kwargs)
        outs.append(y if isinstance(y, list) else [y])

    def pick(refs: list, kind: Any) -> Any:
        ts = [outs[p][i] for p, i in refs]
        if kind == "single":
            return ts[0]
        return dict(zip(kind, ts)) if isinstance(kind, list) else ts

    return Model(pick(config["inputs"], config["input_kind"]),
                 pick(config["outputs"], config["output_kind"]), name=config["name"],
                 trainable=config.get("trainable", True))


def _sequential(config: dict[str, Any], custom: dict) -> Any:
    from chainrule.keras.models.sequential import Sequential

    model = Sequential(name=config["name"], trainable=config.get("trainable", True))
    inp = config.get("input")
    if inp is not None:
        model.add(layers_mod.Input(batch_shape=inp["batch_shape"], dtype=inp["dtype"]))
    for entry in config["layers"]:
        model.add(deserialize(entry, custom))
    return model


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Any:
    try:
        return deserialize(json.loads(json_string), custom_objects)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise ModelFormatError(f"model_from_json: the architecture is malformed ({e!r})") from None


# -- weights ---------------------------------------------------------------------------------------
def _weights_dict(model: Any) -> dict[str, np.ndarray]:
    entries = model._weight_entries()
    arrays = model.get_weights()
    return {f"{i:04d}:{layer.name}/{w.name}": a
            for i, ((layer, w), a) in enumerate(zip(entries, arrays))}


def _stored_weights(stored: Any, where: str) -> int:
    """Check field 'weights' (names to arrays of numbers) before anything is built; the number
    of values it holds."""
    if not isinstance(stored, dict) or not all(isinstance(k, str) for k in stored):
        raise ModelFormatError(f"{where}: field 'weights' must map weight names to arrays, got "
                               f"{type(stored).__name__}")
    for k, a in stored.items():
        if not isinstance(a, np.ndarray):
            raise ModelFormatError(f"{where}: weight {k} is a {type(a).__name__}, not an array")
        if a.dtype.kind not in "biuf":
            raise ModelFormatError(f"{where}: weight {k} is an array of {a.dtype}, not numbers")
    return sum(int(a.size) for a in stored.values())


def _set_weights(model: Any, stored: Any, where: str) -> None:
    _stored_weights(stored, where)
    keys = sorted(stored)
    entries = model._weight_entries()
    if len(keys) != len(entries):
        raise ModelFormatError(f"{where}: the file holds {len(keys)} weights, the model has "
                               f"{len(entries)}; was it saved from this architecture?")
    for k, (layer, w) in zip(keys, entries):
        if tuple(stored[k].shape) != w.shape:
            raise ModelFormatError(f"{where}: weight {k} has shape {stored[k].shape}, but "
                                   f"'{layer.name}/{w.name}' needs {w.shape}")
    model.set_weights([stored[k] for k in keys])


def _check_path(filepath: Any, overwrite: bool) -> str:
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    return path


def _compile_config(model: Any) -> dict[str, Any] | None:
    c = model.compiled
    if c is None:
        return None
    cfg = dict(c.config)
    try:
        json.dumps(cfg["loss"])
        json.dumps(cfg["metrics"])
        json.dumps(cfg["weighted_metrics"])
    except TypeError:
        cfg = _serialize_compile(cfg)
    return cfg


def _serialize_compile(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """Loss / metric objects by name; None (with a warning) when one is a custom function."""
    def loss_spec(s: Any) -> Any:
        if isinstance(s, (list, tuple)):
            return [loss_spec(v) for v in s]
        if isinstance(s, dict):
            return {k: loss_spec(v) for k, v in s.items()}
        return s if s is None or isinstance(s, str) else {"__loss__": losses_mod.serialize(s)}

    def metric_spec(s: Any) -> Any:
        if isinstance(s, (list, tuple)):
            return [metric_spec(v) for v in s]
        if isinstance(s, dict):
            return {k: metric_spec(v) for k, v in s.items()}
        if isinstance(s, metrics_mod.Metric) and _metric_class(type(s).__name__) is type(s):
            # with its config: AUC(curve='PR') must not come back as AUC()
            return {"__metric__": {"class_name": type(s).__name__, "config": s.get_config()}}
        if s is None or isinstance(s, str):
            return s
        raise ValueError(f"custom metric {s!r}")

    try:
        return {**cfg, "loss": loss_spec(cfg["loss"]), "metrics": metric_spec(cfg["metrics"]),
                "weighted_metrics": metric_spec(cfg["weighted_metrics"])}
    except ValueError as e:
        warnings.warn(f"model.save: the compile settings are not saved ({e}); compile the "
                      "loaded model again", stacklevel=4)
        return None


def _restore_losses(spec: Any) -> Any:
    if isinstance(spec, dict) and set(spec) == {"__loss__"}:
        return losses_mod.get(spec["__loss__"])
    if isinstance(spec, dict):
        return {k: _restore_losses(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_restore_losses(v) for v in spec]
    return spec


def _metric_class(name: str) -> Any:
    """A built-in metric class, or a Metric class registered with
    @register_keras_serializable, by class name."""
    cls = metrics_mod.CLASSES.get(name)
    if cls is None:
        cls = next((c for c in keras_saving.get_custom_objects().values()
                    if isinstance(c, type) and issubclass(c, metrics_mod.Metric)
                    and c.__name__ == name), None)
    return cls


def _restore_metrics(spec: Any) -> Any:
    if isinstance(spec, dict) and set(spec) == {"__metric__"}:
        entry = spec["__metric__"]
        cls = _metric_class(entry.get("class_name", ""))
        if cls is None:
            raise ValueError(f"unknown metric class {entry.get('class_name')!r}")
        return cls.from_config(dict(entry.get("config", {})))
    if isinstance(spec, dict):
        return {k: _restore_metrics(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_restore_metrics(v) for v in spec]
    return spec


def save_model(model: Any, filepath: Any, overwrite: bool = True,
               include_optimizer: bool = True) -> None:
    path = _check_path(filepath, overwrite)
    if not model.built:
        raise ValueError(f"model.save: model '{model.name}' is not built yet; give it an input "
                         "shape (Input(...) or input_shape=) or fit it first")
    doc: dict[str, Any] = {"format": FORMAT, "version": 1, "model": layer_config(model),
                           "weights": _weights_dict(model), "compile": _compile_config(model)}
    opt = model.optimizer
    if include_optimizer and opt is not None and opt.impl is not None:
        doc["optimizer_state"] = opt.impl.state_dict()
        doc["optimizer_iterations"] = opt.iterations
    io.save(doc, path)


def load_model(filepath: Any, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """The model saved by model.save(filepath): same architecture, weights and, with compile,
    the same compile settings and optimizer state. Every field is checked here, so a malformed
    file raises at load (CheckpointError for a damaged or tampered file, ModelFormatError, a
    ValueError as in Keras, naming the field, for one that cannot be rebuilt), never later at
    the first fit."""
    path = os.fspath(filepath)
    from chainrule.keras.models import keras_format

    if keras_format.is_keras_file(path):  # a file saved by real Keras 3
        return keras_format.load_keras_file(path, custom_objects)
    doc = io.load_raw(path)  # CheckpointError for truncated / damaged / tampered files
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a chainrule.keras model file (saved with "
                               "model.save()); weights-only files load with load_weights")
    if doc.get("version") != 1:
        raise ModelFormatError(f"{path}: field 'version' is {doc.get('version')!r}; this "
                               "chainrule reads chainrule.keras model files of version 1")
    budget = _stored_weights(doc.get("weights"), path)
    try:
        from chainrule.keras.saving import custom_object_scope

        # a forged config cannot allocate more than the file holds; custom_objects reach the
        # layers nested inside others (a custom cell in RNN), as in Keras
        with weight_budget(budget), custom_object_scope(custom_objects):
            model = deserialize(doc.get("model"), custom_objects)
    except ModelFormatError as e:
        raise ModelFormatError(f"{path}: field 'model': {e}") from None
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError) as e:
        raise ModelFormatError(f"{path}: field 'model': the saved architecture is malformed "
                               f"({e!r})") from None
    except (ValueError, OverflowError, MemoryError) as e:
        raise ModelFormatError(f"{path}: field 'model': the saved architecture cannot be "
                               f"rebuilt: {e!r}") from None
    if not isinstance(model, Layer) or not getattr(model, "built", False):
        raise ModelFormatError(f"{path}: field 'model' does not describe a built model")
    _set_weights(model, doc.get("weights"), path)
    if compile:
        _restore_training(model, doc, path)
    return model


def _restore_training(model: Any, doc: dict, path: str) -> None:
    """model.compile with the saved settings, and the optimizer's state loaded now (not at the
    first fit), each failure a ModelFormatError naming the field."""
    cfg = doc.get("compile")
    if cfg is None:
        return
    if not isinstance(cfg, dict) or not all(isinstance(k, str) for k in cfg):
        raise ModelFormatError(f"{path}: field 'compile' must be a dict of compile() "
                               f"arguments, got {type(cfg).__name__}")
    try:
        model.compile(**{**cfg, "loss": _restore_losses(cfg.get("loss")),
                         "metrics": _restore_metrics(cfg.get("metrics")),
                         "weighted_metrics": _restore_metrics(cfg.get("weighted_metrics"))})
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            NotImplementedError) as e:
        raise ModelFormatError(f"{path}: field 'compile' cannot be applied: {e}") from None
    if "optimizer_state" not in doc:
        return
    iterations = doc.get("optimizer_iterations", 0)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ModelFormatError(f"{path}: field 'optimizer_iterations' must be a count >= 0, "
                               f"got {iterations!r}")
    opt = model.optimizer
    opt.iterations = iterations
    opt.build(model._trainable_params())  # the state that fit() will use, made now
    try:
        opt.impl.load_state_dict(doc["optimizer_state"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ModelFormatError(f"{path}: field 'optimizer_state' does not fit the model: "
                               f"{e}") from None


def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    path = _check_path(filepath, overwrite)
    io.save({"format": WEIGHTS_FORMAT, "weights": _weights_dict(model)}, path)


def load_weights(model: Any, filepath: Any) -> None:
    path = os.fspath(filepath)
    doc = io.load_raw(path)
    if not isinstance(doc, dict) or doc.get("format") not in (WEIGHTS_FORMAT, FORMAT):
        raise ModelFormatError(f"{path}: not a chainrule.keras weights file")
    _set_weights(model, doc.get("weights"), path)


def save_training_state(model: Any, filepath: Any, extra: dict[str, Any]) -> None:
    """The weights, the optimizer's state and `extra` (JSON values) in one file, written
    atomically: what BackupAndRestore needs to resume an interrupted fit."""
    doc: dict[str, Any] = {"format": WEIGHTS_FORMAT, "weights": _weights_dict(model),
                           "extra": extra}
    opt = model.optimizer
    if opt is not None and opt.impl is not None:
        doc["optimizer_state"] = opt.impl.state_dict()
        doc["optimizer_iterations"] = opt.iterations
    io.save(doc, os.fspath(filepath))


def load_training_state(model: Any, filepath: Any) -> dict[str, Any]:
    """Restore what save_training_state wrote into `model` (weights and optimizer state);
    returns its `extra`."""
    path = os.fspath(filepath)
    doc = io.load_raw(path)
    if not isinstance(doc, dict) or doc.get("format") != WEIGHTS_FORMAT:
        raise ModelFormatError(f"{path}: not a chainrule.keras training backup")
    _set_weights(model, doc.get("weights"), path)
    opt = model.optimizer
    if "optimizer_state" in doc and opt is not None:
        opt.iterations = int(doc.get("optimizer_iterations", 0))
        opt.build(model._trainable_params())
        opt.impl.load_state_dict(doc["optimizer_state"])
    extra = doc.get("extra")
    return extra if isinstance(extra, dict) else {}
