"""chainrule.keras: the Keras-compatible front door.

Code written for Keras' documented API runs after changing only the imports::

    from chainrule.keras.models import Sequential
    from chainrule.keras.layers import Dense

Layers are thin adapters over chainrule.nn (channels-last, Keras' arguments, defaults and
weight layouts), optimizers run chainrule.optim with Keras' update rules, and fit() is the
plain chainrule training loop with Keras' bookkeeping around it.
"""

from chainrule.keras import (
    activations,
    backend,
    callbacks,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from chainrule.keras._graph import KerasTensor, clear_session
from chainrule.keras._weight import Variable
from chainrule.keras.layers import Input, Layer
from chainrule.keras.models import Model, Sequential, load_model

__all__ = [
    "Input", "KerasTensor", "Layer", "Model", "Sequential", "activations", "backend", "callbacks",
    "clear_session", "distribution", "initializers", "layers", "load_model", "losses", "metrics",
    "models",
    "ops", "optimizers", "random", "regularizers", "saving", "utils", "Variable",
]
