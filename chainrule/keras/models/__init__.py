"""Keras models: Sequential, Model (functional and subclassed), load_model, model_from_json."""

from chainrule.keras.models.functional import Model
from chainrule.keras.models.saving import ModelFormatError, load_model, model_from_json
from chainrule.keras.models.sequential import Sequential

__all__ = ["Model", "ModelFormatError", "Sequential", "load_model", "model_from_json"]
