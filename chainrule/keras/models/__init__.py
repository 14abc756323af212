"""Keras models: Sequential, Model (functional and subclassed), load_model, model_from_json."""

from chainrule.keras.models.cloning import clone_model
from chainrule.keras.models.functional import Model
from chainrule.keras.models.saving import ModelFormatError, load_model, model_from_json
from chainrule.keras.models.sequential import Sequential
from chainrule.keras.saving import save_model

__all__ = ["Model", "ModelFormatError", "Sequential", "clone_model", "load_model",
           "model_from_json", "save_model"]
