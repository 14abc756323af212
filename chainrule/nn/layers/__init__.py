"""Layers, one family per file: linear (Linear, Identity, Flatten, Dropout, Embedding),
activation, norm (BatchNorm1d, BatchNorm2d, LayerNorm), residual; convolution, pooling and
recurrent layers live in their own files beside these."""

from chainrule.nn.layers.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from chainrule.nn.layers.linear import Dropout, Embedding, Flatten, Identity, Linear
from chainrule.nn.layers.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.layers.residual import Residual

__all__ = [
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "Dropout", "Embedding", "Flatten", "Identity", "Linear", "BatchNorm1d", "BatchNorm2d",
    "LayerNorm", "Residual",
]
