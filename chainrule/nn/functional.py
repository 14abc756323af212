"""Stateless versions of the layers and the losses: F.relu, F.linear, F.conv2d, F.cross_entropy...

This module only gathers names; each family is defined next to its ops or layers.
"""

# -- activations and softmax (engine ops) -------------------------------------------------------
from chainrule.ops.elementwise import (  # noqa: F401
    elu, gelu, leaky_relu, relu, sigmoid, softplus, tanh,
)
from chainrule.ops.reduce import log_softmax, softmax  # noqa: F401

# -- linear, dropout, embedding, normalization (owner: layers-core) -----------------------------

# -- convolution and pooling (owner: conv) ------------------------------------------------------

# -- losses (owner: losses) -------------------------------------------------------------------
