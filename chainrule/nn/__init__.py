"""Neural-network building blocks: Module, Parameter, layers, losses, init, functional."""

from chainrule.nn.module import Module, Parameter
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn import functional

# -- layers-core: Linear, activations, Dropout, Embedding, norms, Residual, init ---------------

# -- conv: Conv1d, Conv2d, ConvTranspose2d, pooling ---------------------------------------------

# -- recurrent: RNN, LSTM, GRU ----------------------------------------------------------------

# -- losses: loss modules -------------------------------------------------------------------
