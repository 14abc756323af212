"""Neural-network building blocks: Module, Parameter, layers, losses, init, functional."""

from chainrule.nn.module import Module, Parameter
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn import functional, utils

# -- layers-core: Linear, activations, Dropout, Embedding, norms, Residual, init ---------------
from chainrule.nn import init  # noqa: F401
from chainrule.nn.layers import (  # noqa: F401
    ELU, GELU, BatchNorm1d, BatchNorm2d, Dropout, Embedding, Flatten, Identity, LayerNorm,
    LeakyReLU, Linear, LogSoftmax, ReLU, Residual, Sigmoid, Softmax, Softplus, Tanh,
)

# -- conv: Conv1d, Conv2d, ConvTranspose2d, pooling ---------------------------------------------
from chainrule.nn.layers.conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: F401
from chainrule.nn.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: F401

# -- recurrent: RNN, LSTM, GRU ----------------------------------------------------------------
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401

# -- losses: loss modules -------------------------------------------------------------------
from chainrule.nn.loss_modules import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HingeEmbeddingLoss,
    HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
