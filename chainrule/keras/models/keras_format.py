"""Reading a real Keras 3 `.keras` file (a zip of config.json, metadata.json and
model.weights.h5): load_model rebuilds Sequential and functional models of built-in layers
from Keras' config and copies the weights from the HDF5 file, which needs h5py (an optional
dependency: `pip install h5py`; chainrule's own model files need nothing but NumPy).

Keras' config carries options chainrule leaves out (dtype policies, constraints,
quantization); those at their defaults are dropped, any other value is an error naming it.
Lambda layers and custom objects are refused unless given in custom_objects, as Keras'
safe_mode does; no code in the file is ever run."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from chainrule.keras.models.saving import ModelFormatError, deserialize

# options of Keras' configs that chainrule.keras layers do not take, with their defaults
_DROPPED = {"quantization_config": None, "kernel_constraint": None, "bias_constraint": None,
            "recurrent_constraint": None, "beta_constraint": None, "gamma_constraint": None,
            "embeddings_constraint": None, "depthwise_constraint": None,
            "pointwise_constraint": None, "activity_regularizer": None, "sparse": False,
            "ragged": False, "optional": False, "synchronized": False, "renorm": False,
            "renorm_clipping": None, "renorm_momentum": 0.99, "lora_rank": None,
            "lora_alpha": None, "use_cudnn": "auto", "implementation": 2,
            "embeddings_regularizer": None, "input_dim_names": None,
            "zero_output_for_mask": False, "rms_scaling": False}


def is_keras_file(path: str) -> bool:
    """Whether path is a Keras 3 native model file (not chainrule's format)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    return {"config.json", "model.weights.h5"} <= names


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError("load_model: this is a Keras 3 .keras file, whose weights are HDF5: "
                          "reading it needs h5py (pip install h5py); chainrule's own files "
                          "(model.save in chainrule.keras) need nothing more") from None
    return h5py


# Nothing read from a file is trusted: a zip entry may declare any size and inflate far past it
# (a zip bomb), so each entry is read in chunks up to a cap, whatever its header says.
MAX_CONFIG = 64 << 20  # bytes of config.json
MAX_WEIGHTS = 16 << 30  # bytes of model.weights.h5


def _read_capped(z: zipfile.ZipFile, name: str, cap: int) -> bytes:
    """The bytes of one zip entry, refused (ValueError) past `cap` bytes."""
    chunks, total = [], 0
    with z.open(name) as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
            if total > cap:
                raise ValueError(f"{name} inflates past {cap:,} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def load_keras_file(path: str, custom_objects: dict | None = None) -> Any:
    """The model in a Keras 3 .keras file, with its weights (not compiled)."""
    from chainrule.keras._layer import weight_budget
    from chainrule.keras.saving import custom_object_scope

    h5py = _h5py()
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(_read_capped(z, "config.json", MAX_CONFIG))
            blob = _read_capped(z, "model.weights.h5", MAX_WEIGHTS)
        with h5py.File(io.BytesIO(blob), "r") as f:
            stored = _layer_arrays(f)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ModelFormatError(f"{path}: a damaged Keras file ({e!r})") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelFormatError(f"{path}: config.json does not describe a Keras model")
    budget = sum(a.size for arrays in stored.values() for a in arrays)
    try:
        with weight_budget(budget), custom_object_scope(custom_objects):
            model = _model(config, custom_objects)
    except (KeyError, TypeError, IndexError) as e:
        raise ModelFormatError(f"{path}: config.json: a Keras model config chainrule cannot "
                               f"read ({e!r})") from None
    by_name = {layer.name: layer for layer in model.layers}
    for key, entry in _h5_keys(config):
        layer = by_name.get(entry["config"].get("name"))
        if layer is None:  # an InputLayer: no weights
            continue
        arrays = stored.get(key, [])
        if len(arrays) != len(layer.weights):
            raise ModelFormatError(f"{path}: layer '{layer.name}' has {len(layer.weights)} "
                                   f"weights, the file {len(arrays)} (under layers/{key})")
        if arrays:
            layer.set_weights(arrays)
    return model


def _h5_keys(config: dict[str, Any]) -> list[tuple[str, dict]]:
    """(group name in model.weights.h5, layer entry) for each layer: Keras names the groups
    by class (dense, dense_1, ...) in the order of model.layers (a Sequential's leaves its
    InputLayer out, a functional model's does not)."""
    from chainrule.keras._graph import snake_case

    entries = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        entries = [e for e in entries if e["class_name"] != "InputLayer"]
    seen: dict[str, int] = {}
    out = []
    for e in entries:
        base = snake_case(e["class_name"])
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append((base if n == 0 else f"{base}_{n}", e))
    return out


def _layer_arrays(f: Any) -> dict[str, list[np.ndarray]]:
    """layer name -> its arrays in Keras' order (own vars/0, 1, ..., then nested groups)."""
    out: dict[str, list[np.ndarray]] = {}
    group = f.get("layers")
    if group is None:
        return out
    for name in group:
        out[name] = _arrays(group[name])
    return out


def _arrays(g: Any) -> list[np.ndarray]:
    arrays = []
    if "vars" in g:
        v = g["vars"]
        arrays += [np.asarray(v[k]) for k in sorted(v, key=int)]
    # HDF5 lists the sub-objects by name; Keras' weight order puts a Bidirectional's
    # forward layer before its backward one
    for k in sorted(g, key=lambda k: (k != "forward_layer", k)):
        if k != "vars" and hasattr(g[k], "keys"):
            arrays += _arrays(g[k])
    return arrays


def _clean(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A Keras layer config as chainrule.keras's from_config takes it."""
    out = {}
    for k, v in config.items():
        if k in _DROPPED:
            if v != _DROPPED[k]:
                raise NotImplementedError(f"load_model: layer {class_name} "
                                          f"'{config.get('name')}' uses {k}={v!r}, which "
                                          "chainrule.keras does not support")
            continue
        if k == "dtype" and isinstance(v, dict):  # a DTypePolicy
            v = v.get("config", {}).get("name", "float32")
        out[k] = _plain(v)
    return out


def _plain(v: Any) -> Any:
    """Nested Keras objects ({module, class_name, config, registered_name}) as chainrule's
    {class_name, config}."""
    if isinstance(v, dict):
        if "class_name" in v and "config" in v:  # unset options (seed=None) left out
            cfg = v["config"]
            if isinstance(cfg, dict) and "trainable" in cfg:  # a layer inside a layer
                return {"class_name": v["class_name"], "config": _clean(v["class_name"], cfg)}
            if isinstance(cfg, dict):
                cfg = {k: a for k, a in cfg.items() if a is not None}
            return {"class_name": v["class_name"], "config": _plain(cfg)}
        return {k: _plain(a) for k, a in v.items() if k != "shared_object_id"}
    if isinstance(v, list):
        return [_plain(a) for a in v]
    return v


def _layer(entry: dict[str, Any], custom_objects: dict | None) -> Any:
    name = entry["class_name"]
    if name == "Lambda":
        raise ValueError("load_model: the file holds a Lambda layer, whose Python code Keras "
                         "stores as bytecode; chainrule never runs code from a file. Rebuild "
                         "the model in code and load the weights")
    if name in ("Sequential", "Functional"):
        return _model(entry, custom_objects)
    if str(entry.get("module", "")).startswith("keras.src.ops"):
        raise NotImplementedError(f"load_model: the file's graph records the Keras op {name} "
                                  "(keras.ops on symbolic tensors, e.g. a mask Keras computed "
                                  "between layers); chainrule reads graphs of layers only. "
                                  "Rebuild the model in code and load the weights")
    return deserialize({"class_name": name, "config": _clean(name, entry["config"]),
                        "registered_name": entry.get("registered_name")}, custom_objects)


def _model(entry: dict[str, Any], custom_objects: dict | None) -> Any:
    from chainrule.keras.layers.core import Input
    from chainrule.keras.models.functional import Model
    from chainrule.keras.models.sequential import Sequential

    name, cfg = entry["class_name"], entry["config"]
    if name == "Sequential":
        model = Sequential(name=cfg.get("name"))
        for e in cfg["layers"]:
            if e["class_name"] == "InputLayer":
                c = e["config"]
                model.add(Input(batch_shape=c["batch_shape"], dtype=c.get("dtype", "float32")))
            else:
                model.add(_layer(e, custom_objects))
        return model
    if name != "Functional":
        raise ModelFormatError(f"load_model: a Keras model of class {name!r} (a subclassed "
                               "model) has no config chainrule can rebuild; rebuild it in "
                               "code and load the weights")
    tensors: dict[str, list[Any]] = {}
    for e in cfg["layers"]:
        c = e["config"]
        if e["class_name"] == "InputLayer":
            tensors[c["name"]] = [Input(batch_shape=c["batch_shape"],
                                        dtype=c.get("dtype", "float32"), name=c["name"])]
            continue
        layer = _layer(e, custom_objects)
        for node in e.get("inbound_nodes", []):
            args = [_resolve(a, tensors) for a in node["args"]]
            kwargs = {k: _resolve(v, tensors) for k, v in node.get("kwargs", {}).items()}
            y = layer(*args, **kwargs)
            tensors.setdefault(layer.name, []).extend(y if isinstance(y, list) else [y])

    def pick(refs: Any) -> Any:
        if isinstance(refs, list) and refs and isinstance(refs[0], str):
            return tensors[refs[0]][refs[2]]
        return [pick(r) for r in refs]
    return Model(pick(cfg["input_layers"]), pick(cfg["output_layers"]), name=cfg.get("name"))


def _resolve(v: Any, tensors: dict[str, list[Any]]) -> Any:
    """Keras' __keras_tensor__ references (keras_history: layer, node, index) as tensors."""
    if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
        layer, _, index = v["config"]["keras_history"]
        return tensors[layer][index]
    if isinstance(v, list):
        return [_resolve(a, tensors) for a in v]
    return v
